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

from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from connectors_sdk import ExpressionError, WorkflowDefinition
    from data_plane.messages import (
        CONTROL_UPDATE,
        ControlOutcome,
        ControlRequest,
        DagRunInput,
        DagRunResult,
    )
    from data_plane.protocol import EventKind
    from data_plane.workflows.compensation import compensate
    from data_plane.workflows.control import Gate, apply_control, history_full
    from data_plane.workflows.events import EventBuffer
    from data_plane.workflows.interpreter import Pacer, drive
    from data_plane.workflows.legacy import LegacyInterpreter
    from data_plane.workflows.plan import ExecutionPlan
    from data_plane.workflows.runtime import RunInfo, Runtime
    from data_plane.workflows.scheduler import Topology
    from data_plane.workflows.state import RunState


class RunFailedError(Exception):
    pass


class RunCancelledError(Exception):
    pass


@workflow.defn
class DagRunWorkflow:
    @workflow.init
    def __init__(self, params: DagRunInput) -> None:
        # Built before any handler runs: a control message may arrive with the start.
        self._state = params.resume or RunState()
        self._events = EventBuffer(params.run_id, params.pool, params.protocol, self._state)
        self._gate = Gate(self._state, params.history_limit)
        self._legacy = params.plan is None

    @workflow.run
    async def run(self, params: DagRunInput) -> DagRunResult:
        if params.plan is None:
            return await LegacyInterpreter().run(params)
        return await self._run(params, params.plan)

    @workflow.update(name=CONTROL_UPDATE)
    def control(self, request: ControlRequest) -> ControlOutcome:
        """Pause, resume or cancel the run (see `workflows/control.py`)."""
        if self._legacy:
            reason = "the run started before control messages existed: it cannot be controlled"
            return ControlOutcome(applied=False, reason=reason)
        return apply_control(self._gate, self._events, request)

    async def _run(self, params: DagRunInput, plan: ExecutionPlan) -> DagRunResult:
        state, events = self._state, self._events
        run = RunInfo(
            run_id=params.run_id,
            pool=params.pool,
            protocol=params.protocol,
            max_output_bytes=params.max_output_bytes,
            input=params.input,
            calls=params.subworkflows,
            grants=params.grants,
        )
        # A sub-workflow's run.started comes from the run that calls it (see
        # `steps/subworkflow.py`).
        if params.resume is None and params.parent is None:
            events.emit("run.started", input=params.input)
        try:
            definition = WorkflowDefinition.model_validate(params.definition)
            rt = Runtime(run, Topology.of(definition, plan), state, events)
            output = await self._interpret(rt, params)
        except RunCancelledError:
            reason = "cancelled on request"
            if state.compensate and await self._compensated(rt, reason):
                return DagRunResult(status="COMPENSATED")
            await self._finish(events, "run.cancelled", error=reason)
            return DagRunResult(status="CANCELLED")
        except RunFailedError as exc:
            if not await self._compensated(rt, str(exc)):
                await self._finish(events, "run.failed", error=str(exc))
            raise ApplicationError(str(exc), type="RunFailed", non_retryable=True) from None
        except Exception as exc:
            if isinstance(exc, FailureError):
                raise
            await self._stall(events, params.run_id, exc)
            raise
        await self._finish(events, "run.succeeded", output=output)
        return DagRunResult(status="SUCCEEDED", output=output)

    async def _interpret(self, rt: Runtime, params: DagRunInput) -> Any:
        pacer = Pacer(rt.events)
        state = rt.state
        while not await drive(rt, pacer, self._gate):
            if state.cancelled:
                raise RunCancelledError
            if history_full(params.history_limit):
                await rt.events.drain()
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(params.model_copy(update={"resume": state}))
            # Paused, and every running node finished.
            await workflow.wait_condition(lambda: not state.paused or state.cancelled)
        if rt.state.failure is not None:
            raise RunFailedError(rt.state.failure)
        try:
            return await self._run_output(rt)
        except ExpressionError as exc:
            raise RunFailedError(f"workflow output: {exc}") from exc

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

    async def _compensated(self, rt: Runtime, reason: str) -> bool:
        """Run the compensations of the completed nodes, if any; the run then ends
        COMPENSATED, with the reason it did not complete."""
        if not rt.state.completed:
            return False
        rt.events.emit("run.compensating")
        await compensate(rt)
        await self._finish(rt.events, "run.compensated", error=reason)
        return True

    @staticmethod
    async def _finish(events: EventBuffer, kind: EventKind, **fields: Any) -> None:
        events.emit(kind, **fields)
        await events.drain()

    @staticmethod
    async def _stall(events: EventBuffer, run_id: str, exc: Exception) -> None:
        message = (
            f"interpreter error: {type(exc).__name__}: {exc}; the run waits for a worker "
            "without this fault"
        )
        workflow.logger.exception("run %s stalled", run_id)
        # Numbered by the history's length, so that a stall at another point is a new
        # event, while the same stall retried is the same one.
        attempt = workflow.info().get_current_history_length()
        events.emit("run.stalled", error=message, attempt=attempt)
        await events.drain()
