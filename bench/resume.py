"""How fast a waiting run goes on: from a decision, and from an event, to the next node.

Runs, in one process on one Temporal dev server, `--samples` times each, in turns:

- a hand-written workflow waiting on `workflow.wait_condition` for a Temporal signal,
  then running one fibo(10) local activity (`SignalledWorkflow` in `bench/baseline.py`):
  the time from `handle.signal()` to the activity starting;
- a FlowForge run of a `core.approval` node followed by a `bench.fibo` node: the time
  from the `completeTask` mutation to the fibo node starting;
- a FlowForge run of a `core.wait` for a signal with a correlation key, followed by a
  `bench.fibo` node: the time from the `sendSignal` mutation (which finds the runs
  waiting for that signal and key) to the fibo node starting;

with the control plane in its own process and the data plane in this one, as
`bench.overhead` does. A sample starts once the run is seen waiting (the API shows its
task open, or its node WAITING). The FlowForge path is GraphQL mutation, commit, signed
control message on NATS, the agent's verification, a Temporal update, the workflow's
next task; the hand-written path is one Temporal signal. Prints the median and p99 of each.

Usage: python -m bench.resume [--samples 20]
"""

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from bench.baseline import STARTS, SignalledWorkflow, fibo_step
from bench.stack import BASELINE_QUEUE, bench_stack
from flowforge.inprocess import Stack, wait_until

APPROVAL: dict[str, Any] = {
    "apiVersion": "flowforge/v1",
    "name": "bench-approval",
    "nodes": [
        {"id": "approve", "type": "core.approval", "config": {"assignees": ["bench"]}},
        {"id": "fib", "type": "bench.fibo", "config": {"n": 10}},
    ],
    "edges": [{"from": "approve", "port": "approved", "to": "fib"}],
}
SIGNAL: dict[str, Any] = {
    "apiVersion": "flowforge/v1",
    "name": "bench-signal",
    "input": {"type": "object", "properties": {"key": {"type": "string"}}},
    "nodes": [
        {
            "id": "event",
            "type": "core.wait",
            "config": {"signal": "go", "correlation": "${ .input.key }"},
        },
        {"id": "fib", "type": "bench.fibo", "config": {"n": 10}},
    ],
    "edges": [{"from": "event", "to": "fib"}],
}

COMPLETE_TASK = """
mutation($taskId: ID!, $decision: JSON!) {
  completeTask(taskId: $taskId, decision: $decision) { __typename }
}"""
SEND_SIGNAL = """
mutation($projectId: ID!, $signal: String!, $correlation: String) {
  sendSignal(projectId: $projectId, signal: $signal, correlation: $correlation) { __typename }
}"""
TASKS = """
query($projectId: ID!) { tasks(projectId: $projectId, status: OPEN) { nodes { id runId } } }"""
NODE_STATUS = """
query($id: ID!) { run(id: $id) { nodes { nodeId status } } }"""

Sample = Callable[[], Awaitable[float]]


async def baseline_sample(stack: Stack) -> float:
    handle = await stack.temporal.start_workflow(
        SignalledWorkflow.run, id=f"bench-{uuid.uuid4()}", task_queue=BASELINE_QUEUE
    )
    await wait_until(lambda: handle.query(SignalledWorkflow.waiting), within=30, interval=0.01)
    began = time.perf_counter()
    await handle.signal(SignalledWorkflow.go)
    await handle.result()
    return STARTS[handle.id] - began


async def approval_sample(stack: Stack, workflow_id: str, project_id: str) -> float:
    run_id = (await stack.start_run(workflow_id))["data"]["startRun"]["id"]

    async def task_open() -> str | None:
        tasks = (await stack.data(TASKS, projectId=project_id))["tasks"]["nodes"]
        return next((t["id"] for t in tasks if t["runId"] == run_id), None)

    task_id = await wait_until(task_open, within=30, interval=0.01)
    began = time.perf_counter()
    decided = await stack.data(COMPLETE_TASK, taskId=task_id, decision={"approved": True})
    assert decided["completeTask"]["__typename"] == "Task", decided
    return await _next_node(stack, run_id, began)


async def signal_sample(stack: Stack, workflow_id: str, project_id: str) -> float:
    key = str(uuid.uuid4())
    run_id = (await stack.start_run(workflow_id, input={"key": key}))["data"]["startRun"]["id"]

    async def waiting() -> bool:
        nodes = (await stack.data(NODE_STATUS, id=run_id))["run"]["nodes"]
        return any(n["nodeId"] == "event" and n["status"] == "WAITING" for n in nodes)

    await wait_until(waiting, within=30, interval=0.01)
    began = time.perf_counter()
    sent = await stack.data(SEND_SIGNAL, projectId=project_id, signal="go", correlation=key)
    assert sent["sendSignal"]["__typename"] == "SignalsSent", sent
    return await _next_node(stack, run_id, began)


async def _next_node(stack: Stack, run_id: str, began: float) -> float:
    async def started() -> bool:
        return run_id in STARTS

    await wait_until(started, within=30, interval=0.001)
    latency = STARTS[run_id] - began
    run = await stack.wait_for_run(run_id, interval=0.01)
    assert run["status"] == "SUCCEEDED", run
    return latency


def summary(label: str, latencies: list[float], reference: list[float] | None = None) -> str:
    median = statistics.median(latencies)
    p99 = statistics.quantiles(latencies, n=100, method="inclusive")[98]
    text = f"  {label:<44} median {median * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms"
    if reference:
        text += f"   ratio {median / statistics.median(reference):5.2f}"
    return text


async def main(samples: int) -> None:
    async with bench_stack([SignalledWorkflow], [fibo_step]) as stack:
        project_id = await stack.project_id()
        approval = (await stack.publish(APPROVAL))["workflowId"]
        signal = (await stack.publish(SIGNAL))["workflowId"]
        variants: dict[str, Sample] = {
            "hand-written Temporal signal": lambda: baseline_sample(stack),
            "FlowForge completeTask to next node": lambda: approval_sample(
                stack, approval, project_id
            ),
            "FlowForge sendSignal to next node": lambda: signal_sample(stack, signal, project_id),
        }
        # One warm-up each, so that imports and connections are not measured.
        for sample in variants.values():
            await sample()
        latencies: dict[str, list[float]] = {label: [] for label in variants}
        for _ in range(samples):
            for label, sample in variants.items():
                latencies[label].append(await sample())
    reference = latencies["hand-written Temporal signal"]
    print(f"From the decision or event to the next node starting, {samples} samples each:")
    for label, figures in latencies.items():
        print(summary(label, figures, None if figures is reference else reference))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.samples))
