"""Hand-written Temporal workflows, the baselines FlowForge is measured against.

Kept in their own module: Temporal's sandbox re-imports workflow modules by name.
"""

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
