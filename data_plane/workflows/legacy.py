"""The interpreter of runs started without an execution plan (before the plan existed).

Frozen: it replays the runs that were in flight when their workers were upgraded, so it
must keep issuing exactly the commands it issued then. Nothing new goes here; it can be
removed once no run started by a release without plans is still running. (It still finds
chains with `workflows/chains.py`: if those rules ever change, keep a copy of today's
here.) New runs go through `DagRunWorkflow` and the plan the agent builds.

Orchestration only: no I/O, no clocks but `workflow.now()`. Every node gets a task at start;
a node waits for the outcome of each predecessor, then runs or is skipped:

- it runs when it has no predecessors, or when at least one incoming edge is active (the
  source succeeded and the edge's port, if any, is the port the source chose);
- it is skipped when no incoming edge is active (an if-branch not taken), or when the run
  has already failed.

Pure nodes (`core.if`, `core.transform`) are evaluated here with no activity at all;
lightweight nodes run as local activities; the rest as activities on the pool's task queue.
Events the workflow produces itself travel with the next activity call, or are published
by one local activity when the run ends.

Expressions (see `workflows/expressions.py`): in runs started with the `PATCH_ID` patch,
only bounded ("inline") expressions on small data are evaluated here; the others run in
the `evaluate_expressions` local activity, under time, memory and output limits, with
their result recorded. Such runs also check the output size of pure nodes, and wait for a
1 ms timer every `VISITS_PER_ACTIVATION` node visits so that no workflow activation grows
with the definition. Runs started before the patch keep the old way on replay.
"""

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

with workflow.unsafe.imports_passed_through():
    from connectors_sdk import (
        ExpressionError,
        NodeSpec,
        WorkflowDefinition,
        evaluate,
    )
    from connectors_sdk.nodes.control import If, Transform
    from data_plane.activities.expressions import SHUTTING_DOWN, ExpressionActivities
    from data_plane.activities.nodes import NodeActivities
    from data_plane.errors import OutputTooLargeError
    from data_plane.messages import (
        ChainStepFailure,
        DagRunInput,
        DagRunResult,
        EvaluateExpressionsInput,
        PublishEventsInput,
        RunChainInput,
        RunNodeInput,
        RunNodeResult,
    )
    from data_plane.protocol import EventKind, RunEvent, task_queue
    from data_plane.workflows.chains import find_chains
    from data_plane.workflows.expressions import (
        INLINE_MAX_CONTEXT_BYTES,
        MAX_CONTEXT_BYTES,
        PATCH_ID,
        VISITS_PER_ACTIVATION,
        json_size,
        plan_expressions,
        visible_outputs,
    )

PURE_NODES = {If.type: If, Transform.type: Transform}


@dataclass
class NodeOutcome:
    status: str  # SUCCEEDED | FAILED | SKIPPED
    port: str | None = None


class NodeFailedError(Exception):
    def __init__(self, node_id: str, message: str) -> None:
        super().__init__(f"node {node_id!r} failed: {message}")
        self.node_id = node_id


class LegacyInterpreter:
    def __init__(self) -> None:
        self._pending: list[RunEvent] = []
        self._outcomes: dict[str, asyncio.Future[NodeOutcome]] = {}
        self._outputs: dict[str, dict[str, Any]] = {}
        self._failure: NodeFailedError | None = None
        self._latest: datetime | None = None
        self._prefetched: dict[str, RunNodeResult] = {}
        self._announced = False
        self._chain_failures: dict[str, ChainStepFailure] = {}
        self._bounded = False
        self._sizes: dict[str, int] = {}
        self._input_size = 0
        self._visits = 0
        self._pause: asyncio.Task[None] | None = None

    async def run(self, params: DagRunInput) -> DagRunResult:
        self._params = params
        self._bounded = workflow.patched(PATCH_ID)
        self._emit("run.started", input=params.input)
        try:
            output = await self._interpret()
        except (NodeFailedError, ExpressionError) as exc:
            await self._finish("run.failed", error=str(exc))
            raise ApplicationError(str(exc), type="RunFailed", non_retryable=True) from None
        except Exception as exc:
            # A fault of the interpreter itself (or a definition it cannot read): fail the
            # run visibly instead of retrying the workflow task forever.
            message = f"interpreter error: {type(exc).__name__}: {exc}"
            await self._finish("run.failed", error=message)
            raise ApplicationError(message, type="InterpreterError", non_retryable=True) from exc
        await self._finish("run.succeeded", output=output)
        return DagRunResult(status="SUCCEEDED", output=output)

    async def _interpret(self) -> Any:
        self._definition = WorkflowDefinition.model_validate(self._params.definition)
        if self._bounded:
            self._input_size = json_size(self._params.input)
        modes = self._params.modes
        self._chains = find_chains(self._definition, lambda n: modes.get(n.type) == "local")
        loop = asyncio.get_running_loop()
        order = self._definition.topological_order()
        self._outcomes = {node_id: loop.create_future() for node_id in order}
        await asyncio.gather(*(self._visit(self._definition.node(n)) for n in order))
        if self._failure is not None:
            raise self._failure
        try:
            return await self._run_output()
        except ExpressionError as exc:
            raise ExpressionError(f"workflow output: {exc}") from exc

    async def _visit(self, node: NodeSpec) -> None:
        incoming = self._definition.predecessors(node.id)
        active = not incoming
        for edge in incoming:
            outcome = await self._outcomes[edge.source]
            if outcome.status == "SUCCEEDED" and edge.port in (None, outcome.port):
                active = True
        if self._bounded:
            await self._pace()
        # A node that already ran inside a chain is recorded even if another branch failed
        # meanwhile: it did run.
        stopped = self._failure is not None and node.id not in self._prefetched
        if not active or stopped:
            self._emit("node.skipped", node.id)
            self._outcomes[node.id].set_result(NodeOutcome("SKIPPED"))
            return
        try:
            result = await self._execute(node)
        except NodeFailedError as exc:
            self._failure = self._failure or exc
            self._outcomes[node.id].set_result(NodeOutcome("FAILED"))
            return
        self._outputs[node.id] = result.output
        if self._bounded:
            self._sizes[node.id] = json_size(result.output)
        self._outcomes[node.id].set_result(NodeOutcome("SUCCEEDED", result.port))

    async def _execute(self, node: NodeSpec) -> RunNodeResult:
        try:
            node_input = (
                await self._evaluate(node.inputs, f"{node.id}-inputs")
                if node.inputs is not None
                else self._definition.default_input(node.id, self._params.input, self._outputs)
            )
            config = await self._evaluate(node.config, f"{node.id}-config", {"input": node_input})
        except ExpressionError as exc:
            self._emit("node.failed", node.id, error=str(exc))
            raise NodeFailedError(node.id, str(exc)) from exc

        mode = self._params.modes.get(node.type, "activity")
        if mode == "pure":
            return self._evaluate_pure(node, config, node_input)
        if node.id in self._chains:
            await self._run_chain(self._chains[node.id], config, node_input)
        if (done := self._prefetched.pop(node.id, None)) is not None:
            self._record_local(node, node_input, done)
            return done
        first_failure = self._chain_failures.pop(node.id, None)
        return await self._run_activity(node, mode, config, node_input, first_failure)

    async def _run_chain(self, chain: list[NodeSpec], config: Any, node_input: Any) -> None:
        """Run a chain of lightweight nodes in one local activity; its followers then find
        their results here. If the chain activity itself fails (a worker crash, a timeout),
        its nodes simply run one by one."""
        head, *followers = chain
        steps = [self._node_request(head, config, node_input)]
        steps += [self._node_request(n, n.config, None) for n in followers]
        announcement = self._announcement()
        try:
            result = await workflow.execute_local_activity_method(
                NodeActivities.run_chain,
                RunChainInput(steps=steps, events=announcement),
                activity_id=f"chain-{head.id}",
                start_to_close_timeout=sum((n.timeout for n in chain), timedelta()),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
        except ActivityError:
            # Send the first events again with what comes next (event ids dedupe them).
            self._pending[:0] = announcement
            return
        for node, step in zip(chain, result.results, strict=False):
            self._prefetched[node.id] = step
        if result.failure is not None:
            self._chain_failures[chain[len(result.results)].id] = result.failure

    def _evaluate_pure(self, node: NodeSpec, config: Any, node_input: Any) -> RunNodeResult:
        self._emit("node.started", node.id, input=node_input)
        node_cls = PURE_NODES[node.type]
        try:
            result = node_cls().evaluate(
                node_cls.Config.model_validate(config), node_cls.Input.model_validate(node_input)
            )
        except Exception as exc:
            # Pure nodes only validate and compute; any error is the definition's or the data's.
            self._emit("node.failed", node.id, error=str(exc))
            raise NodeFailedError(node.id, str(exc)) from exc
        if self._bounded:
            size = json_size(result.output)
            limit = self._params.max_output_bytes
            if size > limit:
                message = str(OutputTooLargeError(node.id, size, limit))
                self._emit("node.failed", node.id, error=message)
                raise NodeFailedError(node.id, message)
        self._emit("node.succeeded", node.id, output=result.output)
        return RunNodeResult(output=result.output, port=result.port)

    def _node_request(self, node: NodeSpec, config: Any, node_input: Any) -> RunNodeInput:
        return RunNodeInput(
            run_id=self._params.run_id,
            pool=self._params.pool,
            node_id=node.id,
            node_type=node.type,
            config=config,
            input=node_input,
            max_attempts=node.retry.max_attempts,
            timeout_seconds=node.timeout.total_seconds(),
        )

    async def _run_activity(
        self,
        node: NodeSpec,
        mode: str,
        config: Any,
        node_input: Any,
        first_failure: ChainStepFailure | None = None,
    ) -> RunNodeResult:
        retry = node.retry
        request = self._node_request(node, config, node_input)
        request.defer_events = mode == "local"
        request.events = self._take_pending() if mode != "local" else self._announcement()
        if first_failure is not None:
            # The first attempt already ran inside a chain: report it, then retry as usual.
            self._emit("node.started", node.id, at=first_failure.started_at, input=node_input)
            if not first_failure.retryable or retry.max_attempts == 1:
                self._emit("node.failed", node.id, error=first_failure.message)
                raise NodeFailedError(node.id, first_failure.message)
            self._emit("node.retrying", node.id, error=first_failure.message)
            await workflow.sleep(retry.initial_interval)
            request.attempt_offset = 1
        longest = max(retry.max_interval, retry.initial_interval)
        # After a first attempt made in a chain (and the wait above), the backoff goes on
        # from the second interval.
        first_wait = retry.initial_interval * retry.backoff**request.attempt_offset
        policy = RetryPolicy(
            initial_interval=min(first_wait, longest),
            backoff_coefficient=retry.backoff,
            maximum_interval=longest,
            maximum_attempts=retry.max_attempts - request.attempt_offset,
        )
        try:
            if mode == "local":
                result = await workflow.execute_local_activity_method(
                    NodeActivities.run_node,
                    request,
                    activity_id=node.id,
                    start_to_close_timeout=node.timeout,
                    retry_policy=policy,
                )
            else:
                result = await workflow.execute_activity_method(
                    NodeActivities.run_node,
                    request,
                    activity_id=node.id,
                    task_queue=task_queue(node.pool or self._params.pool),
                    start_to_close_timeout=node.timeout,
                    retry_policy=policy,
                )
        except ActivityError as exc:
            message = _failure_message(exc)
            # A timed-out attempt cannot report itself; timeouts are retried, so a run of
            # them, like a run of retryable errors, used every attempt.
            used_all = exc.retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED or isinstance(
                exc.cause, TemporalTimeoutError
            )
            attempts = retry.max_attempts if used_all else 1
            self._emit("node.failed", node.id, error=message, attempt=attempts)
            raise NodeFailedError(node.id, message) from exc
        if mode == "local":
            self._record_local(node, node_input, result)
        elif result.finished_at is not None:
            self._latest = max(self._latest or result.finished_at, result.finished_at)
        return result

    def _record_local(self, node: NodeSpec, node_input: Any, result: RunNodeResult) -> None:
        """Local activities leave their started/succeeded events to the workflow."""
        if result.finished_at is not None:
            self._latest = max(self._latest or result.finished_at, result.finished_at)
        started = result.started_at
        self._emit("node.started", node.id, at=started, attempt=result.attempt, input=node_input)
        self._emit("node.succeeded", node.id, attempt=result.attempt, output=result.output)

    async def _evaluate(self, value: Any, label: str, node: dict[str, Any] | None = None) -> Any:
        """Evaluate a value's expressions: here, or in the evaluator (see the docstring)."""
        context: dict[str, Any] = {"input": self._params.input, "nodes": self._outputs}
        if node is not None:
            context["node"] = node
        plan = plan_expressions(value) if self._bounded else None
        if plan is None:
            return evaluate(value, context)
        nodes, names = visible_outputs(plan, self._outputs)
        context["nodes"] = nodes
        size = self._input_size + sum(self._sizes.get(name, 0) for name in names)
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
            announcement = self._announcement()
            try:
                result = await workflow.execute_local_activity_method(
                    ExpressionActivities.evaluate_expressions,
                    EvaluateExpressionsInput(value=value, context=context, events=announcement),
                    activity_id=f"expressions-{label}",
                    start_to_close_timeout=timedelta(minutes=5),
                    retry_policy=RetryPolicy(maximum_attempts=3),
                )
                break
            except (ActivityError, ApplicationError) as exc:
                # Send the first events again with what comes next (event ids dedupe them).
                self._pending[:0] = announcement
                self._announced = self._announced and not announcement
                # A local activity cut short by a worker shutdown may resolve with its own
                # failure rather than an ActivityError around it.
                cause = exc.cause if isinstance(exc, ActivityError) else exc
                if isinstance(cause, ApplicationError) and cause.type == SHUTTING_DOWN:
                    # Not the expression's fault: evaluate again once a worker runs.
                    await workflow.sleep(timedelta(seconds=1))
                    continue
                message = _failure_message(exc) if isinstance(exc, ActivityError) else exc.message
                raise ExpressionError(f"evaluating expressions failed: {message}") from exc
        if result.error is not None:
            raise ExpressionError(result.error)
        return result.value

    async def _pace(self) -> None:
        """Let the workflow task end every VISITS_PER_ACTIVATION visits (all branches
        together wait for one timer), keeping each activation's work bounded."""
        while self._visits >= VISITS_PER_ACTIVATION:
            if self._pause is None:
                self._pause = asyncio.create_task(self._next_activation())
            await self._pause
        self._visits += 1

    async def _next_activation(self) -> None:
        await workflow.sleep(timedelta(milliseconds=1))
        self._visits = 0
        self._pause = None

    async def _run_output(self) -> Any:
        if self._definition.output is not None:
            return await self._evaluate(self._definition.output, "output")
        return {
            node.id: self._outputs[node.id]
            for node in self._definition.nodes
            if not self._definition.successors(node.id) and node.id in self._outputs
        }

    def _emit(
        self,
        kind: EventKind,
        node_id: str | None = None,
        at: datetime | None = None,
        **fields: Any,
    ) -> None:
        self._pending.append(
            RunEvent.create(self._params.run_id, kind, at or self._now(), node_id, **fields)
        )

    def _now(self) -> datetime:
        # Workflow time stands still while local activities run within one workflow task;
        # the activities' own (recorded) finish times keep event times in order.
        now = workflow.now()
        return max(now, self._latest) if self._latest is not None else now

    def _take_pending(self) -> list[RunEvent]:
        events, self._pending = self._pending, []
        self._announced = True
        return events

    def _announcement(self) -> list[RunEvent]:
        """The pending events if none went out yet (`run.started` first of all), else none:
        local activities publish only that first batch, to stay as cheap as they are."""
        return [] if self._announced else self._take_pending()

    async def _finish(self, kind: EventKind, **fields: Any) -> None:
        self._emit(kind, **fields)
        await workflow.execute_local_activity_method(
            NodeActivities.publish_events,
            PublishEventsInput(pool=self._params.pool, events=self._take_pending()),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=10)),
        )


def _failure_message(exc: ActivityError) -> str:
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause or exc)
