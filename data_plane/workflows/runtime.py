"""What every step of a run works with: the definition, the plan, the state, the event
buffer, and the preparation of a node (evaluating its inputs and config).

Expressions (see `workflows/expressions.py`): only bounded ("inline") expressions on
small data are evaluated here; the others run in the `evaluate_expressions` local
activity, under time, memory and output limits, with their result recorded.
Orchestration only; imported by the workflow.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from connectors_sdk import ExpressionError, NodeSpec, WorkflowDefinition, evaluate
from data_plane.activities.expressions import SHUTTING_DOWN, ExpressionActivities
from data_plane.activities.nodes import NodeActivities
from data_plane.messages import DagRunInput, EvaluateExpressionsInput, PublishEventsInput
from data_plane.workflows.events import EventBuffer
from data_plane.workflows.expressions import (
    INLINE_MAX_CONTEXT_BYTES,
    MAX_CONTEXT_BYTES,
    json_size,
    plan_expressions,
    visible_outputs,
)
from data_plane.workflows.plan import ExecutionPlan
from data_plane.workflows.retry import failure_message
from data_plane.workflows.scheduler import Topology
from data_plane.workflows.state import NodeError, Outcome, RunState, Settled


class NodeFailedError(Exception):
    """A node cannot run because of its definition or its data (not the interpreter's
    fault): it fails, and the run goes on as its error edges say."""

    def __init__(self, message: str, error_type: str) -> None:
        super().__init__(message)
        self.error_type = error_type


@dataclass(frozen=True)
class Prepared:
    config: Any
    input: Any


@dataclass(frozen=True)
class Settlement:
    """How a step ended for one node."""

    node_id: str
    status: Settled
    output: Any = None
    port: str | None = None
    error: NodeError | None = None

    @property
    def outcome(self) -> Outcome:
        return Outcome(status=self.status, port=self.port, error=self.error)


class Runtime:
    def __init__(self, params: DagRunInput, plan: ExecutionPlan, state: RunState) -> None:
        self.params = params
        self.definition = WorkflowDefinition.model_validate(params.definition)
        self.topology = Topology.of(self.definition, plan)
        self.state = state
        self.events = EventBuffer(params.run_id, params.protocol, state)
        self._input_size = json_size(params.input)

    def node(self, node_id: str) -> NodeSpec:
        return self.definition.node(node_id)

    async def prepare(self, node: NodeSpec) -> Prepared:
        """Evaluate a node's input and config.

        Raises:
            NodeFailedError: An expression failed or went over its limits.
        """
        try:
            node_input = (
                await self.evaluate(node.inputs, f"{node.id}-inputs")
                if node.inputs is not None
                else self.definition.default_input(node.id, self.params.input, self.state.outputs)
            )
            config = await self.evaluate(node.config, f"{node.id}-config", {"input": node_input})
        except ExpressionError as exc:
            raise NodeFailedError(str(exc), "ExpressionError") from exc
        return Prepared(config, node_input)

    def failed(
        self, node: NodeSpec, message: str, error_type: str, attempts: int = 1
    ) -> Settlement:
        """Report a node's failure and settle it as failed."""
        self.events.emit("node.failed", node.id, error=message, attempt=attempts)
        error = NodeError(message=message, type=error_type, attempts=attempts, node_id=node.id)
        return Settlement(node.id, "FAILED", error=error)

    async def evaluate(self, value: Any, label: str, node: dict[str, Any] | None = None) -> Any:
        """Evaluate a value's expressions: here, or in the evaluator (see the docstring).

        Raises:
            ExpressionError: An expression failed, or reads more than it may.
        """
        outputs = self.state.outputs
        context: dict[str, Any] = {"input": self.params.input, "nodes": outputs}
        if node is not None:
            context["node"] = node
        plan = plan_expressions(value)
        if plan is None:
            return value
        nodes, names = visible_outputs(plan, outputs)
        context["nodes"] = nodes
        size = self._input_size + sum(self.state.sizes.get(name, 0) for name in names)
        if node is not None:
            size += json_size(node)
        if size > MAX_CONTEXT_BYTES:
            raise ExpressionError(
                f"the expressions in {label} read {size} bytes of run input and node "
                f"outputs, over the limit of {MAX_CONTEXT_BYTES} bytes; name only the "
                "nodes they need, as .nodes.<id>"
            )
        if plan.inline and size <= INLINE_MAX_CONTEXT_BYTES:
            return evaluate(value, context)
        while True:
            carried = self.events.take()
            try:
                result = await workflow.execute_local_activity_method(
                    ExpressionActivities.evaluate_expressions,
                    EvaluateExpressionsInput(value=value, context=context, events=carried),
                    activity_id=f"expressions-{label}",
                    start_to_close_timeout=timedelta(minutes=5),
                    retry_policy=RetryPolicy(maximum_attempts=3),
                )
                break
            except (ActivityError, ApplicationError) as exc:
                self.events.give_back(carried)
                # A local activity cut short by a worker shutdown may resolve with its own
                # failure rather than an ActivityError around it.
                cause = exc.cause if isinstance(exc, ActivityError) else exc
                if isinstance(cause, ApplicationError) and cause.type == SHUTTING_DOWN:
                    # Not the expression's fault: evaluate again once a worker runs.
                    await workflow.sleep(timedelta(seconds=1))
                    continue
                message = failure_message(exc) if isinstance(exc, ActivityError) else exc.message
                raise ExpressionError(f"evaluating expressions failed: {message}") from exc
        if result.error is not None:
            raise ExpressionError(result.error)
        return result.value

    async def publish_events(self) -> None:
        """Send the pending events by a local activity of their own."""
        events = self.events.take()
        if events:
            await workflow.execute_local_activity_method(
                NodeActivities.publish_events,
                PublishEventsInput(pool=self.params.pool, events=events),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=10)),
            )
