"""What a FlowForge map costs, against the same map written by hand on Temporal.

Runs, in one process on one Temporal dev server, for each number of items N:

- a hand-written map: a parent workflow running child workflows of 100 items each, each
  child running its items as local activities of the fibo(10) step, `--concurrency` at
  once, results gathered in item order (`FiboMapWorkflow` in `bench/baseline.py`);
- FlowForge: a published workflow of one `core.map` over `${ [range(N)] }` with the same
  concurrency, whose body is one `bench.fibo` node (lightweight: a local activity per item);
- FlowForge with a pure body: one `core.transform` (`${ .item + 1 }`, evaluated in the
  workflow, no activity per item);
- for reference, the hand-written map computing `item + 1` in its children instead of
  running a local activity: the cost of the parent and child workflows alone;

with the control plane in its own process and the data plane in this one, as
`bench.overhead` does. Each figure is the median of `--repeat` runs of Temporal's own
start-to-close time of the run's workflow, and for FlowForge with the fibo body also the
time from the `startRun` mutation until the API reports SUCCEEDED. The variants take
turns, so that a change in the machine's load hits them alike, and the ratios within
each repeat are printed too. Then, for each variant, the CPU time per item its runs took
in each process (from /proc: Linux only), this one split into its workflow threads, the
SDK's Rust core and the rest (the event loop: activities, the client, the SDK's Python
side), and the shape of one run's histories (the map's workflow and its first batch).

Usage: python -m bench.map [--items 1000 10000] [--repeat 3] [--concurrency 100]
"""

import argparse
import asyncio
import collections
import itertools
import os
import statistics
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.baseline import FiboBatchWorkflow, FiboMapInput, FiboMapWorkflow, fibo, fibo_step
from bench.overhead import engine_seconds, workflow_result
from bench.stack import BASELINE_QUEUE, bench_stack
from data_plane.protocol import TERMINAL_RUN_STATUSES
from flowforge.inprocess import Stack, wait_until

FIBO_BODY: dict[str, Any] = {
    "nodes": [{"id": "fib", "type": "bench.fibo", "config": {"n": 10}}],
    "output": "${ .nodes.fib.value }",
}
PURE_BODY: dict[str, Any] = {
    "nodes": [{"id": "inc", "type": "core.transform", "config": {"value": "${ .item + 1 }"}}],
    "output": "${ .nodes.inc.value }",
}


def mapped(items: int, concurrency: int, body: dict[str, Any], name: str) -> dict[str, Any]:
    node = {
        "id": "each",
        "type": "core.map",
        "config": {"items": f"${{ [range({items})] }}", "concurrency": concurrency},
        "body": body,
    }
    return {"apiVersion": "flowforge/v1", "name": f"{name}-{items}", "nodes": [node]}


async def hand_written(client: Client, params: FiboMapInput) -> tuple[str, float]:
    workflow_id = f"bench-map-{uuid.uuid4()}"
    results = await client.execute_workflow(
        FiboMapWorkflow.run, params, id=workflow_id, task_queue=BASELINE_QUEUE
    )
    expected = [i + 1 for i in range(params.items)] if params.in_workflow else [55] * params.items
    assert results == expected, results[:10]
    return workflow_id, await engine_seconds(client, workflow_id)


async def flowforge_engine(
    stack: Stack, workflow_id: str, expected: list[int], within: float
) -> tuple[str, float]:
    """Temporal's start-to-close time of a run. Returns once the API shows the run ended,
    so that its events are not still being ingested while the next variant runs."""
    run_id = (await stack.start_run(workflow_id))["data"]["startRun"]["id"]
    result = await workflow_result(stack.temporal, run_id)
    assert result["status"] == "SUCCEEDED", result
    assert result["output"]["each"]["results"] == expected, result["output"]["each"]["results"][:10]
    await ended(stack, run_id, within, interval=0.1)
    return run_id, await engine_seconds(stack.temporal, run_id)


async def flowforge_end_to_end(stack: Stack, workflow_id: str, within: float) -> tuple[str, float]:
    """From the mutation until the API reports the run SUCCEEDED, polling every 50 ms
    (more often, the polling itself takes a good share of the control plane's CPU)."""
    began = time.perf_counter()
    run_id = (await stack.start_run(workflow_id))["data"]["startRun"]["id"]
    await ended(stack, run_id, within, interval=0.05)
    return run_id, time.perf_counter() - began


async def ended(stack: Stack, run_id: str, within: float, interval: float) -> None:
    """Poll until the API shows the run SUCCEEDED, asking for the status alone (the run's
    node summaries would grow with the items)."""

    async def finished() -> str | None:
        data = await stack.data("query($id: ID!) { run(id: $id) { status } }", id=run_id)
        status: str = data["run"]["status"]
        return status if status in TERMINAL_RUN_STATUSES else None

    status = await wait_until(finished, within=within, interval=interval)
    assert status == "SUCCEEDED", status


async def history_shape(client: Client, workflow_id: str) -> str:
    """Events of a workflow's history: the total and the commonest kinds."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    kinds = collections.Counter(EventType.Name(e.event_type) for e in history.events)
    common = ", ".join(
        f"{count} {name.removeprefix('EVENT_TYPE_').lower()}"
        for name, count in kinds.most_common(4)
    )
    return f"{len(history.events)} events ({common})"


async def batch_timing(client: Client, workflow_id: str) -> str:
    """Where a map's time went, from its workflow's history: before the first batch
    started, inside each batch (child started to completed), between one batch's end
    and the next one's start, and after the last."""
    events = (await client.get_workflow_handle(workflow_id).fetch_history()).events
    started: dict[int, datetime] = {}
    spans: list[tuple[datetime, datetime]] = []
    for event in events:
        if event.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
            attributes = event.child_workflow_execution_started_event_attributes
            started[attributes.initiated_event_id] = event.event_time.ToDatetime()
        elif event.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
            initiated = event.child_workflow_execution_completed_event_attributes
            spans.append((started[initiated.initiated_event_id], event.event_time.ToDatetime()))
    spans.sort()
    first, last = events[0].event_time.ToDatetime(), events[-1].event_time.ToDatetime()

    def ms(delta: timedelta | float) -> str:
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else delta
        return f"{seconds * 1000:.0f} ms"

    inside = statistics.median((end - start).total_seconds() for start, end in spans)
    gaps = [(b[0] - a[1]).total_seconds() for a, b in itertools.pairwise(spans)]
    between = f", {ms(statistics.median(gaps))} between two" if gaps else ""
    return (
        f"{ms(spans[0][0] - first)} before the first batch, {ms(inside)} inside one"
        f"{between}, {ms(last - spans[-1][1])} after the last (medians)"
    )


class CpuMeter:
    """CPU seconds used so far, by this process's parts and by its child processes (the
    Temporal server, NATS, the control plane), read from /proc.

    The parts of this process: `workflows`, the SDK's workflow threads (workflow code in
    its sandbox); `core`, the threads Python does not know, those of the SDK's Rust core;
    `loop`, the event loop's thread and any other Python thread (activities, the client,
    the SDK's Python side: payload conversion, activations handed to and from the core).
    """

    _TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self) -> None:
        self.available = Path("/proc/self/task").is_dir()

    def read(self) -> dict[str, float]:
        if not self.available:
            return {}
        parts: dict[str, float] = collections.defaultdict(float)
        python = {t.native_id: t.name for t in threading.enumerate()}
        this = self._cpu(Path("/proc/self"))
        for task in Path("/proc/self/task").iterdir():
            name = python.get(int(task.name))
            if name is None:
                parts["core"] += self._cpu(task)
            elif name.startswith("temporal_workflow_"):
                parts["workflows"] += self._cpu(task)
        parts["loop"] = this - parts["workflows"] - parts["core"]
        for child in self._children(os.getpid()):
            command = self._text(Path(f"/proc/{child}/cmdline")).replace("\0", " ")
            name = "control plane" if "serve_control_plane" in command else "other"
            name = "temporal" if "temporal server" in command else name
            parts[name] += self._cpu(Path(f"/proc/{child}"))
        return parts

    def _cpu(self, proc: Path) -> float:
        try:
            fields = self._text(proc / "stat").rpartition(")")[2].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / self._TICK

    def _children(self, pid: int) -> list[int]:
        """Descendants of a process; each thread lists the children it started."""
        found: list[int] = []
        try:
            for task in Path(f"/proc/{pid}/task").iterdir():
                found += [int(c) for c in self._text(task / "children").split()]
        except OSError:
            return found
        return found + [grandchild for child in found for grandchild in self._children(child)]

    @staticmethod
    def _text(path: Path) -> str:
        return path.read_text(errors="replace").strip()


CPU_PARTS = ("workflows", "core", "loop", "temporal", "control plane", "other")


def fibo_seconds() -> float:
    """The work of one item: fibo(10) in this process, best of 200."""
    best = float("inf")
    for _ in range(200):
        began = time.perf_counter()
        fibo(10)
        best = min(best, time.perf_counter() - began)
    return best


def line(label: str, seconds: float, items: int, reference: float | None = None) -> str:
    per_item = seconds * 1e6 / items
    text = f"  {label:<48} {seconds * 1000:9.0f} ms  {per_item:7.0f} µs/item"
    if reference:
        text += f"  ratio {seconds / reference:5.2f}"
    return text


async def measure(
    stack: Stack, items: int, concurrency: int, repeat: int, report: bool = True
) -> None:
    client = stack.temporal
    fibo_flow = (await stack.publish(mapped(items, concurrency, FIBO_BODY, "map-fibo")))[
        "workflowId"
    ]
    pure_flow = (await stack.publish(mapped(items, concurrency, PURE_BODY, "map-pure")))[
        "workflowId"
    ]
    within = max(120.0, items / 10)
    fibos, increments = [55] * items, [i + 1 for i in range(items)]
    variants: dict[str, Callable[[], Awaitable[tuple[str, float]]]] = {
        "hand": lambda: hand_written(client, FiboMapInput(items, concurrency)),
        "ff": lambda: flowforge_engine(stack, fibo_flow, fibos, within),
        "ff_e2e": lambda: flowforge_end_to_end(stack, fibo_flow, within),
        "ff_pure": lambda: flowforge_engine(stack, pure_flow, increments, within),
        "hand_pure": lambda: hand_written(client, FiboMapInput(items, concurrency, True)),
    }
    meter = CpuMeter()
    times: dict[str, list[float]] = collections.defaultdict(list)
    cpu: dict[str, list[dict[str, float]]] = collections.defaultdict(list)
    last: dict[str, str] = {}
    for _ in range(repeat):
        for name, variant in variants.items():
            before = meter.read()
            last[name], seconds = await variant()
            after = meter.read()
            times[name].append(seconds)
            cpu[name].append({part: after[part] - before.get(part, 0.0) for part in after})
    if not report:
        return

    median = {name: statistics.median(values) for name, values in times.items()}
    hand = median["hand"]
    print(f"{items} items, concurrency {concurrency}, median of {repeat} runs each:")
    print(line("hand-written, fibo local activities", hand, items))
    print(line("FlowForge, fibo body (Temporal start-to-close)", median["ff"], items, hand))
    print(line("FlowForge, fibo body (startRun to SUCCEEDED)", median["ff_e2e"], items, hand))
    print(line("FlowForge, pure body (Temporal start-to-close)", median["ff_pure"], items, hand))
    print(line("hand-written, item + 1 in the workflow", median["hand_pure"], items))
    print("  all runs (s): " + "; ".join(f"{n} {_seconds(v)}" for n, v in times.items()))
    # Runs of one repeat ran one after the other: their ratios vary less with the load.
    for name in ("ff", "ff_e2e", "ff_pure"):
        paired = [ff / by_hand for ff, by_hand in zip(times[name], times["hand"], strict=True)]
        print(f"  {name} / hand, repeat by repeat: {_ratios(paired)}")
    if meter.available:
        print("  CPU µs/item, median:  " + "  ".join(f"{p:>13}" for p in CPU_PARTS))
        for name, runs in cpu.items():
            parts = [statistics.median(run.get(p, 0.0) for run in runs) for p in CPU_PARTS]
            print(f"    {name:<19}" + "  ".join(f"{v * 1e6 / items:13.0f}" for v in parts))
    for label, name, batch in (
        ("hand-written", "hand", f"{last['hand']}:0"),
        ("FlowForge, fibo", "ff", f"{last['ff']}:each:0"),
        ("FlowForge, pure", "ff_pure", f"{last['ff_pure']}:each:0"),
    ):
        print(f"  {label}, one run:")
        print(f"    the map's workflow: {await history_shape(client, last[name])}")
        print(f"    its first batch:    {await history_shape(client, batch)}")
        print(f"    time: {await batch_timing(client, last[name])}")


def _seconds(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def _ratios(values: list[float]) -> str:
    return f"{' '.join(f'{v:.2f}' for v in values)} (median {statistics.median(values):.2f})"


async def main(sizes: list[int], repeat: int, concurrency: int) -> None:
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"fibo(10) itself: {fibo_seconds() * 1e6:.0f} µs")
    async with bench_stack([FiboMapWorkflow, FiboBatchWorkflow], [fibo_step]) as stack:
        # Warm both paths once so imports and connections are not measured.
        await measure(stack, 200, concurrency, 1, report=False)
        for items in sizes:
            await measure(stack, items, concurrency, repeat)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.items, args.repeat, args.concurrency))
