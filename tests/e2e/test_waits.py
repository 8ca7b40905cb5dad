"""`core.wait` on the real stack: timers for durations and times, conditions for signals,
a timeout routed to its port, and the run shown WAITING while it waits."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import WorkflowHandle

from data_plane.messages import CONTROL_UPDATE, ControlOutcome, ControlRequest
from data_plane.workflows.state import Signal

from fixtures.replay import record, replay
from fixtures.stack import Stack, assert_eventually


def waiting_between(name: str, **wait: Any) -> dict[str, Any]:
    """first -> hold (the wait) -> go, and hold -> late on a timeout (if it has one)."""
    timeout = "timeout" in wait
    return {
        "apiVersion": "flowforge/v1",
        "name": name,
        "nodes": [
            {"id": "first", "type": "test.count"},
            {"id": "hold", "type": "core.wait", "config": wait},
            {"id": "go", "type": "test.count"},
            *([{"id": "late", "type": "test.count"}] if timeout else []),
        ],
        "edges": [
            {"from": "first", "to": "hold"},
            {"from": "hold", **({"port": "done"} if timeout else {}), "to": "go"},
            *([{"from": "hold", "port": "timeout", "to": "late"}] if timeout else []),
        ],
    }


async def start(stack: Stack, definition: dict[str, Any], input: Any = None) -> str:
    published = await stack.publish(definition)
    assert published["__typename"] == "WorkflowVersion", published
    started = await stack.start_run(published["workflowId"], input)
    return str(started["data"]["startRun"]["id"])


async def waiting(stack: Stack, run_id: str) -> dict[str, Any]:
    async def shown() -> dict[str, Any] | None:
        run = await stack.run(run_id)
        nodes = {n["nodeId"]: n["status"] for n in run["nodes"]}
        return run if run["status"] == "WAITING" and nodes.get("hold") == "WAITING" else None

    return await assert_eventually(shown, within=20)


async def signal(
    handle: WorkflowHandle[Any, Any], name: str, payload: Any, correlation: str | None = None
) -> ControlOutcome:
    request = ControlRequest(
        control_id=str(uuid.uuid4()),
        sequence=1,
        action="signal",
        signal=Signal(name=name, correlation=correlation, payload=payload),
    )
    return await handle.execute_update(
        CONTROL_UPDATE, request, id=f"{request.control_id}:1", result_type=ControlOutcome
    )


def statuses(run: dict[str, Any]) -> dict[str, str]:
    return {n["nodeId"]: n["status"] for n in run["nodes"]}


async def test_a_wait_for_a_duration_shows_the_run_waiting_then_goes_on(stack: Stack) -> None:
    run_id = await start(stack, waiting_between("wait-duration", duration="1s"))

    await waiting(stack, run_id)
    run = await stack.wait_for_run(run_id)

    assert run["status"] == "SUCCEEDED", run
    assert statuses(run) == {
        "first": "SUCCEEDED",
        "hold": "SUCCEEDED",
        "go": "SUCCEEDED",
    }
    hold = next(n for n in run["nodes"] if n["nodeId"] == "hold")
    waited_until = datetime.fromisoformat(hold["output"]["waited_until"])
    assert waited_until >= datetime.fromisoformat(hold["startedAt"]) + timedelta(seconds=1)


async def test_a_wait_until_a_time_reads_the_time_from_an_expression(stack: Stack) -> None:
    at = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    definition = waiting_between("wait-until", until="${ .input.at }")
    run_id = await start(stack, definition, {"at": at})

    run = await stack.wait_for_run(run_id)

    assert run["status"] == "SUCCEEDED", run
    hold = next(n for n in run["nodes"] if n["nodeId"] == "hold")
    assert datetime.fromisoformat(hold["output"]["waited_until"]) == datetime.fromisoformat(at)


async def test_a_signal_with_the_right_correlation_ends_the_wait_with_its_payload(
    stack: Stack,
) -> None:
    definition = waiting_between(
        "wait-signal", signal="order.paid", correlation="${ .input.order }", timeout="10m"
    )
    run_id = await start(stack, definition, {"order": "A-17"})
    handle = stack.temporal.get_workflow_handle(run_id)
    await waiting(stack, run_id)
    # A wait of the workflow in flight replays on a worker of another version.
    await replay(await handle.fetch_history())

    assert (await signal(handle, "order.paid", {"amount": 3}, correlation="B-2")).applied
    assert (await signal(handle, "order.paid", {"amount": 5}, correlation="A-17")).applied
    run = await stack.wait_for_run(run_id)

    assert run["status"] == "SUCCEEDED", run
    assert statuses(run)["go"] == "SUCCEEDED" and statuses(run)["late"] == "SKIPPED"
    hold = next(n for n in run["nodes"] if n["nodeId"] == "hold")
    assert hold["output"]["signal"] == "order.paid"
    assert hold["output"]["payload"] == {"amount": 5}
    history = await handle.fetch_history()
    await replay(history)
    record(history, "wait-signal")


async def test_a_signal_that_never_comes_takes_the_timeout_port(stack: Stack) -> None:
    definition = waiting_between("wait-timeout", signal="never", timeout="1s")
    run_id = await start(stack, definition)

    run = await stack.wait_for_run(run_id)

    assert run["status"] == "SUCCEEDED", run
    assert statuses(run) == {
        "first": "SUCCEEDED",
        "hold": "SUCCEEDED",
        "go": "SKIPPED",
        "late": "SUCCEEDED",
    }
    hold = next(n for n in run["nodes"] if n["nodeId"] == "hold")
    assert "timed_out_at" in hold["output"]


async def test_a_signal_sent_before_the_wait_is_reached_is_kept_for_it(stack: Stack) -> None:
    # Long enough that the poll below sees `hold` waiting even on a loaded machine: the
    # signal must arrive before `then` is reached.
    definition = waiting_between("wait-early-signal", duration="4s")
    definition["nodes"].insert(
        2, {"id": "then", "type": "core.wait", "config": {"signal": "ready"}}
    )
    definition["edges"] = [
        {"from": "first", "to": "hold"},
        {"from": "hold", "to": "then"},
        {"from": "then", "to": "go"},
    ]
    run_id = await start(stack, definition)
    handle = stack.temporal.get_workflow_handle(run_id)
    await waiting(stack, run_id)

    assert (await signal(handle, "ready", "early")).applied
    run = await stack.wait_for_run(run_id)

    assert run["status"] == "SUCCEEDED", run
    then = next(n for n in run["nodes"] if n["nodeId"] == "then")
    assert then["output"]["payload"] == "early"
