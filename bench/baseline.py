"""Hand-written Temporal workflows, the baselines FlowForge is measured against.

Kept in their own module: Temporal's sandbox re-imports workflow modules by name.
"""

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow

STARTS: dict[str, float] = {}
"""First-step start times by workflow id (perf_counter), for start-latency figures."""


def fibo(n: int) -> int:
    return n if n < 2 else fibo(n - 1) + fibo(n - 2)


@activity.defn
async def fibo_step(n: int) -> int:
    info = activity.info()
    if info.workflow_id not in STARTS:
        import time

        STARTS[info.workflow_id] = time.perf_counter()
    return fibo(n)


@workflow.defn
class ActivityChainWorkflow:
    @workflow.run
    async def run(self, steps: int) -> int:
        total = 0
        for _ in range(steps):
            total += await workflow.execute_activity(
                fibo_step, 10, start_to_close_timeout=timedelta(seconds=30)
            )
        return total


@workflow.defn
class LocalActivityChainWorkflow:
    @workflow.run
    async def run(self, steps: int) -> int:
        total = 0
        for _ in range(steps):
            total += await workflow.execute_local_activity(
                fibo_step, 10, start_to_close_timeout=timedelta(seconds=30)
            )
        return total


# Items per child workflow, as FlowForge's maps (`data_plane/workflows/steps/map.py`).
MAP_BATCH_SIZE = 100


@dataclass
class FiboMapInput:
    items: int
    concurrency: int
    # Compute each item in the workflow (item + 1) instead of a fibo local activity.
    in_workflow: bool = False


@dataclass
class FiboBatchInput:
    items: list[int]
    concurrency: int
    in_workflow: bool = False


@workflow.defn
class FiboBatchWorkflow:
    """One batch of a map: its items side by side, at most `concurrency` at once."""

    @workflow.run
    async def run(self, params: FiboBatchInput) -> list[int]:
        slots = asyncio.Semaphore(params.concurrency)

        async def one(item: int) -> int:
            async with slots:
                if params.in_workflow:
                    return item + 1
                return await workflow.execute_local_activity(
                    fibo_step, 10, start_to_close_timeout=timedelta(seconds=30)
                )

        return list(await asyncio.gather(*(one(item) for item in params.items)))


@workflow.defn
class FiboMapWorkflow:
    """range(items) mapped in child workflows of `MAP_BATCH_SIZE` items, enough of them at
    once for `concurrency` items to run side by side; results in item order."""

    @workflow.run
    async def run(self, params: FiboMapInput) -> list[int]:
        items = list(range(params.items))
        slots = asyncio.Semaphore(max(1, params.concurrency // MAP_BATCH_SIZE))
        batch_concurrency = min(params.concurrency, MAP_BATCH_SIZE)

        async def one(number: int, first: int) -> list[int]:
            async with slots:
                return await workflow.execute_child_workflow(
                    FiboBatchWorkflow.run,
                    FiboBatchInput(
                        items[first : first + MAP_BATCH_SIZE], batch_concurrency, params.in_workflow
                    ),
                    id=f"{workflow.info().workflow_id}:{number}",
                )

        starts = range(0, len(items), MAP_BATCH_SIZE)
        done = await asyncio.gather(*(one(i, first) for i, first in enumerate(starts)))
        return [result for batch in done for result in batch]


@workflow.defn
class SignalledWorkflow:
    """Waits for the `go` signal, then runs one fibo(10) step as a local activity: what a
    wait for an event, or a human decision, followed by a node, is on Temporal by hand."""

    def __init__(self) -> None:
        self._go = False

    @workflow.signal
    def go(self) -> None:
        self._go = True

    @workflow.query
    def waiting(self) -> bool:
        return not self._go

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self._go)
        return await workflow.execute_local_activity(
            fibo_step, 10, start_to_close_timeout=timedelta(seconds=30)
        )
