"""Hardening #7: expressions cannot hang the data plane.

Expressions outside the inline subset run in evaluator processes: past a time, memory or
output limit the node fails with an error naming the limit and its setting, the result
is recorded in history (a replay never evaluates again), and stopping the data plane
kills a program still running. Pure nodes evaluated in the workflow have their output
capped too.
"""

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHistory

from fixtures.replay import replay
from fixtures.stack import Stack, assert_eventually

ENDLESS = "${ last(range(1e15)) }"
CHECKOUT = str(Path(__file__).resolve().parents[2])


def transform_flow(name: str, value: Any) -> dict[str, Any]:
    return {
        "apiVersion": "flowforge/v1",
        "name": name,
        "nodes": [
            {"id": "shape", "type": "core.transform", "config": {"value": value}},
            {"id": "after", "type": "core.transform", "config": {"value": {"ok": True}}},
        ],
        "edges": [{"from": "shape", "to": "after"}],
    }


def nodes_by_id(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {node["nodeId"]: node for node in run["nodes"]}


def evaluator_processes(parent: int | None = None) -> list[int]:
    """PIDs of the evaluator children of `parent` (this process by default)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if b"data_plane.evaluator_process" in cmdline and ppid == (parent or os.getpid()):
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def recorded_expression_results(history: WorkflowHistory) -> list[dict[str, Any]]:
    """The results of `evaluate_expressions` local activities, as recorded in markers."""
    results = []
    for event in history.events:
        marker = event.marker_recorded_event_attributes
        if marker.marker_name != "core_local_activity":
            continue
        details = marker.details
        data = json.loads(details["data"].payloads[0].data)
        if data.get("activity_type") == "evaluate_expressions":
            results.append(json.loads(details["result"].payloads[0].data))
    return results


async def failed_node(stack: Stack, flow: dict[str, Any], input: Any = None) -> dict[str, Any]:
    run = await stack.run_to_end(flow, input)
    assert run["status"] == "FAILED", run
    nodes = nodes_by_id(run)
    assert nodes["shape"]["status"] == "FAILED", nodes
    assert nodes["after"]["status"] == "SKIPPED", nodes
    return {"run": run, "error": nodes["shape"]["error"]}


async def test_an_endless_expression_fails_its_node_naming_the_time_limit(
    sqlite_stack: Stack,
) -> None:
    failed = await failed_node(sqlite_stack, transform_flow("endless", ENDLESS))

    assert "`last(range(1e15))` ran longer than 2 s" in failed["error"]
    assert "FLOWFORGE_DP_EXPRESSION_TIMEOUT_SECONDS" in failed["error"]
    history = await sqlite_stack.temporal.get_workflow_handle(failed["run"]["id"]).fetch_history()
    # The failure is recorded: a replay takes it from history instead of evaluating again.
    [recorded] = recorded_expression_results(history)
    assert recorded["error"] in failed["error"]
    await replay(history)


async def test_an_expression_over_the_memory_limit_fails_its_node(sqlite_stack: Stack) -> None:
    flow = transform_flow("hungry", '${ "x" * 2000000000 | length }')
    failed = await failed_node(sqlite_stack, flow)

    assert "used more than 512 MiB of memory" in failed["error"]
    assert "FLOWFORGE_DP_EXPRESSION_MEMORY_MB" in failed["error"]


async def test_a_growing_expression_fails_on_a_limit(sqlite_stack: Stack) -> None:
    failed = await failed_node(sqlite_stack, transform_flow("growing", "${ [repeat(1)] }"))

    assert "ran longer than 2 s" in failed["error"] or "MiB of memory" in failed["error"]


async def test_a_5_mb_string_fails_its_node_naming_the_output_limit(
    sqlite_stack: Stack,
) -> None:
    failed = await failed_node(sqlite_stack, transform_flow("huge", '${ "x" * 5000000 }'))

    assert "produced 5000002 bytes, over the limit of 1048576 bytes" in failed["error"]
    assert "FLOWFORGE_DP_EXPRESSION_MAX_OUTPUT_BYTES" in failed["error"]


async def test_a_pure_node_output_over_the_limit_fails_the_node_not_the_workflow_task(
    sqlite_stack: Stack,
) -> None:
    value = {"a": "${ .input.s }", "b": "${ .input.s }", "c": "${ .input.s }"}
    failed = await failed_node(sqlite_stack, transform_flow("wide", value), {"s": "x" * 100_000})

    assert "produced an output of 300" in failed["error"]
    assert "over the inline limit of 262144 bytes" in failed["error"]


async def test_inline_expressions_are_evaluated_in_the_workflow(sqlite_stack: Stack) -> None:
    flow = transform_flow("inline", {"hot": "${ .input.temp > 25 }", "city": "${ .input.city }"})
    run = await sqlite_stack.run_to_end(flow, {"temp": 30, "city": "Lyon"})

    assert run["status"] == "SUCCEEDED", run
    assert nodes_by_id(run)["shape"]["output"] == {"hot": True, "city": "Lyon"}
    history = await sqlite_stack.temporal.get_workflow_handle(run["id"]).fetch_history()
    assert recorded_expression_results(history) == []


async def test_other_expressions_are_evaluated_out_of_process_and_recorded(
    sqlite_stack: Stack,
) -> None:
    flow = transform_flow("pooled", {"double": "${ .input.n * 2 }", "n": "${ .input.n }"})
    run = await sqlite_stack.run_to_end(flow, {"n": 21})

    assert run["status"] == "SUCCEEDED", run
    assert nodes_by_id(run)["shape"]["output"] == {"double": 42, "n": 21}
    history = await sqlite_stack.temporal.get_workflow_handle(run["id"]).fetch_history()
    recorded = [r["value"] for r in recorded_expression_results(history)]
    assert recorded == [{"value": {"double": 42, "n": 21}}]
    await replay(history)


async def restart_data_plane(stack: Stack, **settings: Any) -> None:
    await stack.stop_data_plane()
    stack.dp_settings = stack.dp_settings.model_copy(update=settings)
    await stack.start_data_plane()


async def test_stopping_the_data_plane_kills_a_running_expression(sqlite_stack: Stack) -> None:
    """What SIGTERM does (`python -m data_plane` sets the same stop event): the data plane
    stops at once although the program would run for minutes, and after a restart the
    run ends instead of hanging again."""
    stack = sqlite_stack
    await restart_data_plane(stack, expression_timeout_seconds=600)
    published = await stack.publish(transform_flow("endless-stop", ENDLESS))
    started = await stack.start_run(published["workflowId"])
    run_id = started["data"]["startRun"]["id"]
    await assert_eventually(lambda_async(lambda: bool(evaluator_processes())))

    # Meanwhile the worker goes on: another run, with an expression of its own, finishes.
    other = await stack.run_to_end(transform_flow("meanwhile", "${ .input.n * 2 }"), {"n": 2})
    assert other["status"] == "SUCCEEDED", other
    assert (await stack.run(run_id))["status"] == "RUNNING"

    await stack.stop_data_plane()
    assert evaluator_processes() == []

    await restart_data_plane(stack, expression_timeout_seconds=1)
    run = await stack.wait_for_run(run_id)
    assert run["status"] == "FAILED", run
    assert "ran longer than 1 s" in run["error"], run
    assert "ran longer than 1 s" in nodes_by_id(run)["shape"]["error"], run


def lambda_async(check: Any) -> Any:
    async def call() -> Any:
        return check()

    return call


async def test_sigterm_stops_the_data_plane_process_with_an_expression_running(
    sqlite_stack: Stack, tmp_path: Path
) -> None:
    """The original symptom: `python -m data_plane` ignored SIGTERM while jq ran."""
    stack = sqlite_stack
    await stack.stop_data_plane()
    settings = stack.dp_settings
    env = {
        **os.environ,
        "PYTHONPATH": CHECKOUT,
        "FLOWFORGE_DP_POOL": settings.pool,
        "FLOWFORGE_DP_TEMPORAL_ADDRESS": settings.temporal_address,
        "FLOWFORGE_DP_NATS_URL": settings.nats_url,
        "FLOWFORGE_DP_NATS_CREDENTIALS": str(settings.nats_credentials),
        "FLOWFORGE_DP_TRUSTED_KEYS": ",".join(str(path) for path in settings.trusted_keys),
        "FLOWFORGE_DP_EXPRESSION_TIMEOUT_SECONDS": "600",
    }
    with (tmp_path / "data-plane.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "data_plane", env=env, stdout=log, stderr=log
        )
    try:
        published = await stack.publish(transform_flow("endless-sigterm", ENDLESS))
        started = await stack.start_run(published["workflowId"])
        run_id = started["data"]["startRun"]["id"]
        await assert_eventually(lambda_async(lambda: evaluator_processes(process.pid)))
        evaluators = evaluator_processes(process.pid)

        process.send_signal(signal.SIGTERM)
        returncode = await asyncio.wait_for(process.wait(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert returncode == 0, (tmp_path / "data-plane.log").read_text()
    assert not any(alive(pid) for pid in evaluators)
    await stack.temporal.get_workflow_handle(run_id).terminate("test over")
