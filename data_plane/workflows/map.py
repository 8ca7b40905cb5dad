"""`MapBatchWorkflow`: one batch of a map's items, each run through the map's body.

A map's items run in child workflows of `steps.map.BATCH_SIZE` items each, so that no history
holds more than one batch: a 10,000-item map is 100 children of the run's workflow, each
with a history of a few hundred events, and the run's own history grows by a few events
per child. Items of a batch run side by side, at most `concurrency` at once; results come
back in item order. Orchestration only.
"""

import asyncio

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from connectors_sdk import WorkflowDefinition
    from data_plane.messages import ItemFailure, MapBatchInput, MapBatchResult
    from data_plane.workflows.bodies import IterationResult, iteration_scope, run_iteration
    from data_plane.workflows.events import EventBuffer
    from data_plane.workflows.interpreter import Pacer
    from data_plane.workflows.runtime import run_info
    from data_plane.workflows.scheduler import Topology
    from data_plane.workflows.state import RunState


@workflow.defn
class MapBatchWorkflow:
    @workflow.run
    async def run(self, params: MapBatchInput) -> MapBatchResult:
        run = run_info(params)
        body = Topology.of(WorkflowDefinition.model_validate(params.body), params.plan)
        events = EventBuffer(params.run_id, params.pool, params.protocol, RunState())
        pacer = Pacer(events)
        results: dict[int, IterationResult] = {}
        slots = asyncio.Semaphore(params.concurrency)
        stop = False

        async def one(index: int, item: object) -> None:
            nonlocal stop
            async with slots:
                if stop:
                    return
                scope = iteration_scope(params, index, item, item=item)
                result = await run_iteration(run, body, scope, events, pacer)
                results[index] = result
                if result.error is not None and not params.collect_failures:
                    stop = True

        first = params.first_index
        await asyncio.gather(*(one(first + i, item) for i, item in enumerate(params.items)))
        await events.drain()
        failures = [
            ItemFailure(index=i, error=r.error)
            for i, r in sorted(results.items())
            if r.error is not None
        ]
        return MapBatchResult(
            results=[
                results[first + i].output if first + i in results else None
                for i in range(len(params.items))
            ],
            failures=failures,
        )
