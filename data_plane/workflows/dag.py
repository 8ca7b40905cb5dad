"""`DagRunWorkflow`: the deterministic interpreter of a workflow definition.

A thin shell: the agent's plan says how each node executes (`plan.py`), the run's
progress is plain data (`state.py`), pure functions decide what runs next
(`scheduler.py`), and one step per execution kind runs a node (`steps/`). The main loop
starts the nodes the scheduler names, waits for any to end, settles them and asks again,
until nothing runs; events the workflow produces leave at once (`events.py`). When its
history grows past `history_limit`, the run starts no more nodes, lets the running ones
finish, and continues as new with its state.

Failures are of two kinds. A node failing because of its definition or its data (an
expression, a validation, the connector) fails that node; its error edges receive it, or
the run fails. A fault of the interpreter itself (a bug a fixed worker would not have)
must not end the run: it is reported as `run.stalled` and fails the workflow task, which
Temporal retries until a worker without the fault continues the run where it was.

Runs started before plans existed carry none and keep their interpreter
(`legacy.py`), so their recorded histories replay as they ran.
"""

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from connectors_sdk import ExpressionError
    from data_plane.messages import DagRunInput, DagRunResult
    from data_plane.protocol import EventKind
    from data_plane.workflows.expressions import VISITS_PER_ACTIVATION, json_size
    from data_plane.workflows.legacy import LegacyInterpreter
    from data_plane.workflows.plan import ExecutionPlan
    from data_plane.workflows.runtime import Runtime, Settlement
    from data_plane.workflows.scheduler import advance, record_failure, unsettled
    from data_plane.workflows.state import RunState
    from data_plane.workflows.steps import STEPS


class RunFailedError(Exception):
    pass


@workflow.defn
class DagRunWorkflow:
    def __init__(self) -> None:
        # The local activity sending the workflow's own events, while one does.
        self._flush: asyncio.Task[None] | None = None

    @workflow.run
    async def run(self, params: DagRunInput) -> DagRunResult:
        if params.plan is None:
            return await LegacyInterpreter().run(params)
        return await self._run(params, params.plan)

    async def _run(self, params: DagRunInput, plan: ExecutionPlan) -> DagRunResult:
        rt = Runtime(params, plan, params.resume or RunState())
        if params.resume is None:
            rt.events.emit("run.started", input=params.input)
        try:
            output = await self._interpret(rt)
        except RunFailedError as exc:
            await self._finish(rt, "run.failed", error=str(exc))
            raise ApplicationError(str(exc), type="RunFailed", non_retryable=True) from None
        except Exception as exc:
            if isinstance(exc, FailureError):
                raise
            await self._stall(rt, exc)
            raise
        await self._finish(rt, "run.succeeded", output=output)
        return DagRunResult(status="SUCCEEDED", output=output)

    async def _interpret(self, rt: Runtime) -> Any:
        plan = rt.topology.plan
        running: dict[str, asyncio.Task[list[Settlement]]] = {}
        candidates = unsettled(rt.topology, rt.state)
        visits = 0
        while True:
            if visits >= VISITS_PER_ACTIVATION:
                # End the workflow task now and then, so that no activation grows with the
                # definition past the deadlock detector's 2 s.
                await workflow.sleep(timedelta(milliseconds=1))
                visits = 0
            if self._history_full(rt):
                if not running:
                    await self._continue_as_new(rt)
                candidates = []
            decided = advance(rt.topology, rt.state, candidates, running.keys())
            for node_id in decided.skipped:
                rt.events.emit("node.skipped", node_id)
            for node_id in decided.start:
                step = STEPS[plan.nodes[node_id].step]
                running[node_id] = asyncio.create_task(step(rt, node_id))
            visits += len(decided.start) + len(decided.skipped)
            if not running:
                break
            await workflow.wait_condition(
                lambda: (
                    any(task.done() for task in running.values())
                    or (rt.events.pending and self._flush is None)
                )
            )
            if self._flush is not None and self._flush.done():
                self._flush.result()
                self._flush = None
            if rt.events.pending and self._flush is None:
                self._flush = asyncio.create_task(rt.publish_events())
            done = [n for n in plan.order if n in running and running[n].done()]
            candidates = []
            for node_id in done:
                for settlement in running.pop(node_id).result():
                    self._settle(rt, settlement)
                    candidates += rt.topology.successors(settlement.node_id)
        if self._flush is not None:
            await self._flush
            self._flush = None
        left = unsettled(rt.topology, rt.state)
        if left:
            raise RuntimeError(f"the interpreter left nodes undecided: {', '.join(left[:10])}")
        if rt.state.failure is not None:
            raise RunFailedError(rt.state.failure)
        try:
            return await self._run_output(rt)
        except ExpressionError as exc:
            raise RunFailedError(f"workflow output: {exc}") from exc

    @staticmethod
    def _history_full(rt: Runtime) -> bool:
        info = workflow.info()
        length = info.get_current_history_length()
        return length >= rt.params.history_limit or info.is_continue_as_new_suggested()

    async def _continue_as_new(self, rt: Runtime) -> None:
        if self._flush is not None:
            await self._flush
            self._flush = None
        await rt.publish_events()
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(rt.params.model_copy(update={"resume": rt.state}))

    @staticmethod
    def _settle(rt: Runtime, settlement: Settlement) -> None:
        if settlement.error is not None:
            record_failure(rt.topology, rt.state, settlement.error)
            return
        output = settlement.output
        rt.state.settle(settlement.node_id, settlement.outcome, output, json_size(output))

    @staticmethod
    async def _run_output(rt: Runtime) -> Any:
        definition = rt.definition
        if definition.output is not None:
            return await rt.evaluate(definition.output, "output")
        outputs = rt.state.outputs
        return {
            node.id: outputs[node.id]
            for node in definition.nodes
            if not definition.successors(node.id) and node.id in outputs
        }

    @staticmethod
    async def _finish(rt: Runtime, kind: EventKind, **fields: Any) -> None:
        rt.events.emit(kind, **fields)
        await rt.publish_events()

    @staticmethod
    async def _stall(rt: Runtime, exc: Exception) -> None:
        message = (
            f"interpreter error: {type(exc).__name__}: {exc}; the run waits for a worker "
            "without this fault"
        )
        workflow.logger.exception("run %s stalled", rt.params.run_id)
        # Numbered by the history's length, so that a stall at another point is a new
        # event, while the same stall retried is the same one.
        attempt = workflow.info().get_current_history_length()
        rt.events.emit("run.stalled", error=message, attempt=attempt)
        await rt.publish_events()
