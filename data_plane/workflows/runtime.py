"""What every step of a run works with: the scope's definition, plan and state, the
workflow's event buffer, and the preparation of a node (evaluating its inputs and config).

A scope is the run's own graph, or one iteration of a body (a map item, a loop
iteration): its nodes' execution keys carry its iteration path, their expressions see
the scope's extra context (`.item`, `.index`, `.previous`) and the outputs of the
enclosing scopes, and its first nodes take the scope's input.

Expressions (see `workflows/expressions.py`): only bounded ("inline") expressions on
small data are evaluated here; the others run in the `evaluate_expressions` local
activity, under time, memory and output limits, with their result recorded.
Orchestration only; imported by the workflow.
"""

import contextlib
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from connectors_sdk import (
    ExpressionError,
    JoinMode,
    NodeFailure,
    NodeSpec,
    evaluate,
)
from connectors_sdk.nodes.control import Merge
from data_plane.activities.expressions import SHUTTING_DOWN, ExpressionActivities
from data_plane.errors import OutputTooLargeError
from data_plane.messages import BodyInput, ChildRun, EvaluateExpressionsInput, SecretGrants
from data_plane.protocol import EventKind, WaitInfo, as_artefact_ref, execution_key
from data_plane.workflows.events import EventBuffer
from data_plane.workflows.expressions import (
    INLINE_MAX_CONTEXT_BYTES,
    MAX_CONTEXT_BYTES,
    json_size,
    outer_names,
    plan_expressions,
    visible_outputs,
)
from data_plane.workflows.retry import failure_message, reraise_cancellation
from data_plane.workflows.scheduler import Topology, edge_active
from data_plane.workflows.state import Outcome, RunState, Settled


class NodeFailedError(Exception):
    """A node cannot run because of its definition or its data (not the interpreter's
    fault): it fails, and the run goes on as its error edges say."""

    def __init__(self, message: str, error_type: str) -> None:
        super().__init__(message)
        self.error_type = error_type


ConfigT = TypeVar("ConfigT", bound=BaseModel)


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
    error: NodeFailure | None = None

    @property
    def outcome(self) -> Outcome:
        return Outcome(status=self.status, port=self.port, error=self.error)


@dataclass(frozen=True)
class RunInfo:
    """What every scope of a run shares."""

    run_id: str
    pool: str
    protocol: int
    max_output_bytes: int
    input: Any
    # The workflows sub-workflow nodes call, by reference key.
    calls: Mapping[str, ChildRun] = field(default_factory=dict)
    # The secrets the run may read.
    grants: SecretGrants | None = None

    @cached_property
    def input_size(self) -> int:
        return json_size(self.input)


@dataclass(frozen=True)
class Scope:
    """Where a scope sits: empty for the run's own graph."""

    iteration: str = ""
    # The input of the scope's nodes without predecessors (default: the run input).
    input: Any = None
    # Names the scope's expressions see besides .input and .nodes (.item, .index, ...).
    context: dict[str, Any] = field(default_factory=dict)
    # Outputs of the enclosing scopes' nodes, read-only, and their sizes.
    outer: dict[str, Any] = field(default_factory=dict)
    outer_sizes: dict[str, int] = field(default_factory=dict)


def run_info(params: BodyInput) -> RunInfo:
    """The run a body's child workflow belongs to."""
    return RunInfo(
        run_id=params.run_id,
        pool=params.pool,
        protocol=params.protocol,
        max_output_bytes=params.max_output_bytes,
        input=params.run_input,
        calls=params.subworkflows,
        grants=params.grants,
    )


class Runtime:
    def __init__(
        self,
        run: RunInfo,
        topology: Topology,
        state: RunState,
        events: EventBuffer,
        scope: Scope | None = None,
    ) -> None:
        # The topology is built once per graph and shared by every scope running it (each
        # item of a map, each iteration of a loop).
        self.run = run
        self.definition = topology.definition
        self.topology = topology
        self.state = state
        self.events = events
        self.scope = scope or Scope(input=run.input)
        self._fixed_size = run.input_size + json_size(self.scope.context)
        # The nodes whose steps run (kept by `interpreter.drive`), and those of them that
        # wait for time, an event or a person.
        self.running: Collection[str] = ()
        self._waiting: set[str] = set()
        self._reported_waiting = False

    def node(self, node_id: str) -> NodeSpec:
        return self.definition.node(node_id)

    def key(self, node_id: str) -> str:
        """The execution key of a node of this scope."""
        return execution_key(node_id, self.scope.iteration)

    def emit(self, kind: EventKind, node_id: str, **fields: Any) -> None:
        """Report an event of a node of this scope."""
        self.events.emit(kind, node_id, iteration=self.scope.iteration, **fields)

    @contextlib.contextmanager
    def waiting(self, node_id: str, info: WaitInfo, attempt: int = 1) -> Iterator[None]:
        """Report a node waiting, and the run if nothing else runs, while inside;
        `attempt` numbers a node's successive waits (an escalated task)."""
        self.emit("node.waiting", node_id, wait=info, attempt=attempt)
        self._waiting.add(node_id)
        self.report_if_waiting()
        try:
            yield
        finally:
            self._waiting.discard(node_id)

    def report_if_waiting(self) -> None:
        """Report `run.waiting` once each time every running node of the run's own
        graph comes to wait (inside a body, the node running the body stands for it)."""
        only_waits = bool(self.running) and all(n in self._waiting for n in self.running)
        if not only_waits:
            self._reported_waiting = False
        elif not self._reported_waiting and not self.scope.iteration:
            self._reported_waiting = True
            self.state.waited += 1
            self.events.emit("run.waiting", attempt=self.state.waited)

    def outputs(self) -> dict[str, Any]:
        """What `.nodes` holds for this scope: the enclosing scopes' outputs and its own."""
        if not self.scope.outer:
            return self.state.outputs
        return {**self.scope.outer, **self.state.outputs}

    def _size_of(self, name: str) -> int:
        return self.state.sizes.get(name, self.scope.outer_sizes.get(name, 0))

    async def prepare(self, node: NodeSpec, later: Collection[str] = ()) -> Prepared:
        """Evaluate a node's input and config; config fields named in `later` are left
        as written (a loop's conditions, evaluated after each iteration).

        Raises:
            NodeFailedError: An expression failed or went over its limits.
        """
        try:
            node_input = (
                await self.evaluate(
                    node.inputs, f"{self.key(node.id)}-inputs", part=(node.id, "inputs")
                )
                if node.inputs is not None
                else self._default_input(node)
            )
            now = {k: v for k, v in node.config.items() if k not in later}
            label = f"{self.key(node.id)}-config"
            part = (node.id, "config", *sorted(later))
            config = await self.evaluate(now, label, {"input": node_input}, part)
        except ExpressionError as exc:
            raise NodeFailedError(str(exc), "ExpressionError") from exc
        config |= {k: node.config[k] for k in later if k in node.config}
        return Prepared(config, node_input)

    async def prepare_config(
        self, node: NodeSpec, model: type[ConfigT], later: Collection[str] = ()
    ) -> tuple[Prepared, ConfigT]:
        """`prepare`, then the config validated by the node type's model.

        Raises:
            NodeFailedError: An expression failed, or the config does not fit the model.
        """
        prepared = await self.prepare(node, later)
        try:
            return prepared, model.model_validate(prepared.config)
        except ValidationError as exc:
            message = f"invalid {node.type} config: {exc}"
            raise NodeFailedError(message, "InvalidNodeData") from exc

    def succeeded(
        self, node: NodeSpec, output: dict[str, Any], port: str | None = None
    ) -> Settlement:
        """Report a node's output and settle it, or fail it if the output is too large
        to travel inline (nodes the workflow runs itself cannot store it)."""
        size = json_size(output)
        if size > self.run.max_output_bytes:
            error = OutputTooLargeError(node.id, size, self.run.max_output_bytes)
            return self.failed(node, str(error), error.code)
        self.emit("node.succeeded", node.id, output=output)
        return Settlement(node.id, "SUCCEEDED", output, port)

    def body_input(self, node: NodeSpec, *more: Any) -> dict[str, Any]:
        """The `BodyInput` fields of a node's body: the definition, its plan, and only the
        enclosing outputs its expressions (and `more` values) read."""
        plan = self.topology.plan.nodes[node.id].body
        if node.body is None or plan is None:
            raise RuntimeError(f"node {node.id!r} of type {node.type} has no planned body")
        body = node.body.definition()
        names = outer_names(body, *more)
        outer = {k: v for k, v in self.outputs().items() if names is None or k in names}
        return {
            "run_id": self.run.run_id,
            "pool": self.run.pool,
            "protocol": self.run.protocol,
            "max_output_bytes": self.run.max_output_bytes,
            "run_input": self.run.input,
            "node_id": node.id,
            "enclosing": self.scope.iteration,
            "body": body.canonical(),
            "plan": plan,
            "subworkflows": dict(self.run.calls),
            "outer": outer,
            "outer_sizes": {k: self._size_of(k) for k in outer},
            "grants": self.run.grants,
        }

    def _default_input(self, node: NodeSpec) -> Any:
        join = self.topology.plan.nodes[node.id].join
        if node.type != Merge.type:
            return self.definition.default_input(node.id, self.scope.input, self.state.outputs)
        # A merge takes what arrived: {source: output} of the branches that reached it,
        # or, joining the first, that branch's output.
        arrived = [
            edge.source
            for edge in self.definition.predecessors(node.id)
            if edge_active(edge, self.state.outcomes.get(edge.source))
        ]
        arrived = list(dict.fromkeys(arrived))
        if join == JoinMode.FIRST:
            return self.state.outputs.get(arrived[0]) if arrived else None
        return {source: self.state.outputs.get(source) for source in arrived}

    def failed(
        self, node: NodeSpec, message: str, error_type: str, attempts: int = 1
    ) -> Settlement:
        """Report a node's failure and settle it as failed."""
        self.emit("node.failed", node.id, error=message, attempt=attempts)
        error = NodeFailure(message=message, type=error_type, attempts=attempts, node_id=node.id)
        return Settlement(node.id, "FAILED", error=error)

    async def evaluate(
        self,
        value: Any,
        label: str,
        node: dict[str, Any] | None = None,
        part: tuple[str, ...] | None = None,
    ) -> Any:
        """Evaluate a value's expressions: here, or in the evaluator (see the docstring).
        `part` names the part of the definition `value` is (see `Topology.expressions`).

        Raises:
            ExpressionError: An expression failed, or reads more than it may.
        """
        plan = plan_expressions(value) if part is None else self.topology.expressions(part, value)
        if plan is None:
            return value
        nodes, names = visible_outputs(plan, self.outputs())
        context: dict[str, Any] = {**self.scope.context, "input": self.run.input, "nodes": nodes}
        if node is not None:
            context["node"] = node
        size = self._fixed_size + sum(self._size_of(name) for name in names)
        if node is not None:
            size += json_size(node)
        if size > MAX_CONTEXT_BYTES:
            raise ExpressionError(
                f"the expressions in {label} read {size} bytes of run input and node "
                f"outputs, over the limit of {MAX_CONTEXT_BYTES} bytes; name only the "
                "nodes they need, as .nodes.<id>"
            )
        # A node output stored by reference is read where I/O is allowed.
        by_reference = any(as_artefact_ref(nodes[name]) is not None for name in names)
        if plan.inline and size <= INLINE_MAX_CONTEXT_BYTES and not by_reference:
            return evaluate(value, context)
        while True:
            carried = self.events.carry()
            try:
                with self.events.local_activity():
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
                reraise_cancellation(exc)
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
