"""`LoopWorkflow`: a `core.loop` node's iterations, one after the other.

Each iteration runs the body as a scope of its own (`bodies.py`) on the previous
iteration's output; after it, the condition is evaluated with `.previous` (the output just
produced) and `.index`. The loop runs in a child workflow of the run's, which continues
as new with its progress whenever its history passes `history_limit`, so a loop of any
length stays inside Temporal's limits. Orchestration only.
"""

from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from connectors_sdk import ExpressionError, WorkflowDefinition
    from data_plane.messages import LoopInput, LoopProgress, LoopResult
    from data_plane.workflows.bodies import iteration_scope, run_iteration
    from data_plane.workflows.control import history_full
    from data_plane.workflows.events import EventBuffer
    from data_plane.workflows.interpreter import Pacer
    from data_plane.workflows.runtime import RunInfo, Runtime, Scope, run_info
    from data_plane.workflows.scheduler import Topology
    from data_plane.workflows.state import RunState


@workflow.defn
class LoopWorkflow:
    @workflow.run
    async def run(self, params: LoopInput) -> LoopResult:
        run = run_info(params)
        body = Topology.of(WorkflowDefinition.model_validate(params.body), params.plan)
        events = EventBuffer(params.run_id, params.pool, params.protocol, RunState())
        pacer = Pacer(events)
        progress = params.progress.model_copy(deep=True)
        if params.collect and progress.outputs is None:
            progress.outputs = []
        while progress.count < params.max_iterations:
            index = progress.count
            scope = iteration_scope(params, index, progress.previous, previous=progress.previous)
            result = await run_iteration(run, body, scope, events, pacer)
            if result.error is not None:
                await events.drain()
                return LoopResult(count=index, error=f"iteration {index} failed: {result.error}")
            progress.count += 1
            progress.previous = result.output
            if progress.outputs is not None:
                progress.outputs.append(result.output)
            try:
                ended = await self._ended(run, body, params, events, scope, result.output)
            except ExpressionError as exc:
                await events.drain()
                return LoopResult(count=progress.count, error=f"loop condition: {exc}")
            if ended:
                await events.drain()
                return self._result(progress, exhausted=False)
            if progress.count < params.max_iterations and params.wait_seconds:
                await workflow.sleep(timedelta(seconds=params.wait_seconds))
            if history_full(params.history_limit):
                await events.drain()
                workflow.continue_as_new(params.model_copy(update={"progress": progress}))
        await events.drain()
        return self._result(progress, exhausted=True)

    @staticmethod
    async def _ended(
        run: RunInfo,
        body: Topology,
        params: LoopInput,
        events: EventBuffer,
        scope: Scope,
        output: Any,
    ) -> bool:
        if params.condition is None:
            return False
        after = Scope(
            iteration=scope.iteration,
            context={"index": scope.context["index"], "previous": output},
            outer=params.outer,
            outer_sizes=params.outer_sizes,
        )
        rt = Runtime(run, body, RunState(), events, after)
        value = await rt.evaluate(
            params.condition, f"{scope.iteration}-condition", part=("", "condition")
        )
        holds = value is not None and value is not False
        return holds == params.stop_when

    @staticmethod
    def _result(progress: LoopProgress, exhausted: bool) -> LoopResult:
        return LoopResult(
            count=progress.count,
            last=progress.previous,
            exhausted=exhausted,
            outputs=progress.outputs,
        )
