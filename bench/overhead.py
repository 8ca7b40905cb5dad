"""What a FlowForge node costs, against hand-written Temporal workflows on the same server.

Runs, in one process on one Temporal dev server:

- 40 sequential `bench.fibo` nodes (lightweight: local activities) as a FlowForge run,
- the same 40 steps as ordinary activities in a hand-written workflow (baseline a),
- the same 40 steps as local activities in a hand-written workflow (baseline b),

with the control plane in its own process (as in production) and the data plane in this
one, and prints the median time of each (Temporal's own start-to-close time, and for FlowForge
also the time from the `startRun` mutation until GraphQL shows SUCCEEDED), with ratios.
Then the latency from starting a run to its first node starting, median of 30, beside the
same figure for a hand-written `start_workflow`, plain and with eager start (which the
FlowForge agent uses).

With `--policies PATH` (a `.rego` file or a directory of them, e.g. `examples/policies`)
the control plane starts with those policies in force (its `policy_paths` setting), so the
figures include asking them before each publish and start.

Usage: python -m bench.overhead [--steps 40] [--repeat 5] [--samples 30] [--policies PATH]
"""

import argparse
import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from bench.baseline import STARTS, ActivityChainWorkflow, LocalActivityChainWorkflow, fibo_step
from bench.stack import BASELINE_QUEUE, bench_stack
from flowforge.inprocess import Stack, wait_until


def chain(steps: int, mapped: bool = False) -> dict[str, Any]:
    """`steps` fibo nodes in a row. With `mapped`, each node maps its input from the one
    before with an expression, which keeps the nodes out of a fused chain: one local
    activity per node, the cost of a lightweight node on its own."""
    nodes: list[dict[str, Any]] = [
        {"id": f"f{i}", "type": "bench.fibo", "config": {"n": 10}} for i in range(steps)
    ]
    if mapped:
        for i, node in enumerate(nodes[1:]):
            node["inputs"] = {"previous": f"${{ .nodes.f{i}.value }}"}
    edges = [{"from": f"f{i}", "to": f"f{i + 1}"} for i in range(steps - 1)]
    name = f"fibo-{steps}{'-mapped' if mapped else ''}"
    return {"apiVersion": "flowforge/v1", "name": name, "nodes": nodes, "edges": edges}


async def engine_seconds(client: Client, workflow_id: str) -> float:
    """Temporal's own start-to-close time of a finished workflow."""
    described = await client.get_workflow_handle(workflow_id).describe()
    assert described.close_time is not None
    return (described.close_time - described.start_time).total_seconds()


async def baseline(client: Client, workflow: Any, steps: int, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        workflow_id = f"bench-{uuid.uuid4()}"
        await client.execute_workflow(workflow, steps, id=workflow_id, task_queue=BASELINE_QUEUE)
        times.append(await engine_seconds(client, workflow_id))
    return times


async def baseline_start_latency(client: Client, samples: int, eager: bool) -> list[float]:
    latencies = []
    for _ in range(samples):
        workflow_id = f"bench-{uuid.uuid4()}"
        began = time.perf_counter()
        handle = await client.start_workflow(
            LocalActivityChainWorkflow.run,
            1,
            id=workflow_id,
            task_queue=BASELINE_QUEUE,
            request_eager_start=eager,
        )
        await handle.result()
        latencies.append(STARTS[workflow_id] - began)
    return latencies


async def flowforge_runs(
    stack: Stack, definition: dict[str, Any], repeat: int
) -> tuple[list[float], list[float]]:
    """Temporal start-to-close times, then (in separate runs, since polling the API costs
    this process CPU) times from the mutation until the API reports SUCCEEDED."""
    published = await stack.publish(definition)
    engine, end_to_end = [], []
    for _ in range(repeat):
        run_id = (await stack.start_run(published["workflowId"]))["data"]["startRun"]["id"]
        await workflow_result(stack.temporal, run_id)
        engine.append(await engine_seconds(stack.temporal, run_id))
    for _ in range(repeat):
        began = time.perf_counter()
        run_id = (await stack.start_run(published["workflowId"]))["data"]["startRun"]["id"]
        run = await stack.wait_for_run(run_id, within=120, interval=0.005)
        end_to_end.append(time.perf_counter() - began)
        assert run["status"] == "SUCCEEDED", run
    return engine, end_to_end


async def workflow_result(client: Client, workflow_id: str) -> Any:
    """Wait for a workflow that the agent may not have started yet."""
    while True:
        try:
            return await client.get_workflow_handle(workflow_id).result()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            await asyncio.sleep(0.002)


async def flowforge_start_latency(stack: Stack, samples: int) -> list[float]:
    published = await stack.publish(chain(1))
    latencies = []
    for _ in range(samples):
        began = time.perf_counter()
        run_id = (await stack.start_run(published["workflowId"]))["data"]["startRun"]["id"]
        await wait_until(lambda run_id=run_id: _started(run_id), within=30, interval=0.001)
        latencies.append(STARTS[run_id] - began)
        await stack.wait_for_run(run_id, interval=0.01)
    return latencies


async def _started(run_id: str) -> bool:
    return run_id in STARTS


def line(label: str, seconds: float, steps: int, reference: float | None = None) -> str:
    text = f"  {label:<44} {seconds * 1000:9.1f} ms  {seconds * 1000 / steps:7.2f} ms/step"
    if reference:
        text += f"  ratio {seconds / reference:5.2f}"
    return text


@dataclass(frozen=True)
class Overhead:
    """The figures of one run of the benchmark, in seconds: medians of the repeats."""

    steps: int
    repeat: int
    samples: int
    activities: float
    local_activities: float
    flowforge: float
    flowforge_end_to_end: float
    unfused: float
    start: float
    eager_start: float
    flowforge_start: float


async def measure(steps: int, repeat: int, samples: int, policies: Path | None = None) -> Overhead:
    """Run every variant on one stack; with `policies` (an absolute path: the control plane
    is a child process), its control plane has them in force."""
    baselines = [ActivityChainWorkflow, LocalActivityChainWorkflow]
    options = {"policy_paths": [policies]} if policies is not None else None
    async with bench_stack(baselines, [fibo_step], control_plane_options=options) as stack:
        if policies is not None:
            await _check_policies_in_force(stack)
        client = stack.temporal
        # Warm both paths once so imports and connections are not measured.
        await baseline(client, LocalActivityChainWorkflow.run, 2, 1)
        await flowforge_runs(stack, chain(2), 1)

        a = await baseline(client, ActivityChainWorkflow.run, steps, repeat)
        b = await baseline(client, LocalActivityChainWorkflow.run, steps, repeat)
        ff_engine, ff_total = await flowforge_runs(stack, chain(steps), repeat)
        unfused, _ = await flowforge_runs(stack, chain(steps, mapped=True), repeat)
        base_latency = await baseline_start_latency(client, samples, eager=False)
        eager_latency = await baseline_start_latency(client, samples, eager=True)
        ff_latency = await flowforge_start_latency(stack, samples)
    median = statistics.median
    return Overhead(
        steps,
        repeat,
        samples,
        median(a),
        median(b),
        median(ff_engine),
        median(ff_total),
        median(unfused),
        median(base_latency),
        median(eager_latency),
        median(ff_latency),
    )


async def _check_policies_in_force(stack: Stack) -> None:
    policies = (await stack.data("{ policies { name } }"))["policies"]
    assert policies, "the control plane started with no policy in force"


def report(figures: Overhead) -> None:
    steps, repeat, samples = figures.steps, figures.repeat, figures.samples
    ma, mb = figures.activities, figures.local_activities
    ff, ff_e2e = figures.flowforge, figures.flowforge_end_to_end
    print(f"{steps} sequential fibo(10) steps, median of {repeat} runs each:")
    print(line("(a) Temporal, ordinary activities", ma, steps))
    print(line("(b) Temporal, local activities", mb, steps))
    print(line("FlowForge run (Temporal start-to-close)", ff, steps, mb))
    print(line("FlowForge run (startRun to SUCCEEDED in API)", ff_e2e, steps, mb))
    print(line("FlowForge, inputs mapped: no fusion", figures.unfused, steps, mb))
    print(f"  FlowForge vs (a): {ff / ma:.2f}   FlowForge vs (b): {ff / mb:.2f}")
    bl, el, fl = figures.start, figures.eager_start, figures.flowforge_start
    print(f"Start to first node running, median of {samples}:")
    print(f"  hand-written start_workflow          {bl * 1000:7.1f} ms")
    print(f"  hand-written, eager start            {el * 1000:7.1f} ms")
    print(
        f"  FlowForge startRun mutation          {fl * 1000:7.1f} ms  "
        f"ratio {fl / bl:.2f} (to eager: {fl / el:.2f})"
    )


async def main(steps: int, repeat: int, samples: int, policies: Path | None) -> None:
    report(await measure(steps, repeat, samples, policies))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument(
        "--policies", type=Path, default=None, help="Rego policies the control plane enforces"
    )
    args = parser.parse_args()
    policies = args.policies.resolve() if args.policies is not None else None
    asyncio.run(main(args.steps, args.repeat, args.samples, policies))
