"""Cancel, pause and resume from the API to the run and back, on the real stack: the signed
control message, the agent, the run's workflow, its events and the request's outcome; and
what happens to a request while the data plane is down."""

from pathlib import Path
from typing import Any

from data_plane.protocol import dead_control_subject
from flowforge.inprocess import Stack
from flowforge.nats_accounts import BusAuthority
from flowforge.servers import ServerProcess

from fixtures.bus import messages_on
from fixtures.http_peer import HttpPeer
from fixtures.stack import (
    assert_eventually,
    slow_between,
    stack_of_processes,
    started_with_slow_node,
)

REQUEST = """__typename ... on ControlRequest { id status reason }
  ... on ValidationFailed { errors { message } }"""
CANCEL = f"mutation($id: ID!) {{ result: cancelRun(id: $id) {{ {REQUEST} }} }}"
CANCEL_COMPENSATING = (
    f"mutation($id: ID!) {{ result: cancelRun(id: $id, compensate: true) {{ {REQUEST} }} }}"
)
PAUSE = f"mutation($id: ID!) {{ result: pauseRun(id: $id) {{ {REQUEST} }} }}"
RESUME = f"mutation($id: ID!) {{ result: resumeRun(id: $id) {{ {REQUEST} }} }}"
REQUESTS = """query($id: ID!) { run(id: $id) { status
  nodes { nodeId status } controlRequests { id action status reason } } }"""


async def ask(stack: Stack, operation: str, run_id: str) -> str:
    result = (await stack.data(operation, id=run_id))["result"]
    assert result["__typename"] == "ControlRequest", result
    assert result["status"] == "PENDING"
    return str(result["id"])


async def seen(stack: Stack, run_id: str) -> dict[str, Any]:
    run: dict[str, Any] = (await stack.data(REQUESTS, id=run_id))["run"]
    return run


async def reaches(stack: Stack, run_id: str, status: str, within: float = 30) -> dict[str, Any]:
    async def there() -> dict[str, Any] | None:
        run = await seen(stack, run_id)
        return run if run["status"] == status else None

    run: dict[str, Any] = await assert_eventually(there, within=within)
    return run


def outcome(run: dict[str, Any], control_id: str) -> tuple[str, str | None]:
    [request] = [r for r in run["controlRequests"] if r["id"] == control_id]
    return request["status"], request["reason"]


async def settled(stack: Stack, run_id: str, control_id: str) -> tuple[str, str | None]:
    """The request's outcome once the data plane's report of it arrived (it travels apart
    from the run's own events: either may come first)."""

    async def answered() -> tuple[str, str | None] | None:
        found = outcome(await seen(stack, run_id), control_id)
        return found if found[0] != "PENDING" else None

    result: tuple[str, str | None] = await assert_eventually(answered, within=30)
    return result


async def test_a_paused_run_holds_after_its_running_node_until_it_is_resumed(
    sqlite_stack: Stack, http_peer: HttpPeer
) -> None:
    stack = sqlite_stack
    run_id = await started_with_slow_node(stack, http_peer, 2)

    paused_by = await ask(stack, PAUSE, run_id)
    await reaches(stack, run_id, "PAUSED")

    async def slow_done() -> dict[str, Any] | None:
        run = await seen(stack, run_id)
        nodes = {n["nodeId"]: n["status"] for n in run["nodes"]}
        return run if nodes["slow"] == "SUCCEEDED" else None

    held = await assert_eventually(slow_done, within=30)
    assert held["status"] == "PAUSED"
    assert "after" not in {n["nodeId"] for n in held["nodes"]}
    resumed_by = await ask(stack, RESUME, run_id)
    done = await reaches(stack, run_id, "SUCCEEDED")

    assert await settled(stack, run_id, paused_by) == ("APPLIED", None)
    assert await settled(stack, run_id, resumed_by) == ("APPLIED", None)
    assert {n["nodeId"]: n["status"] for n in done["nodes"]}["after"] == "SUCCEEDED"


async def test_a_cancelled_run_stops_its_running_node_and_ends_cancelled(
    stack: Stack, http_peer: HttpPeer
) -> None:
    run_id = await started_with_slow_node(stack, http_peer, 60)

    cancelled_by = await ask(stack, CANCEL, run_id)
    run = await reaches(stack, run_id, "CANCELLED")

    assert await settled(stack, run_id, cancelled_by) == ("APPLIED", None)
    assert {n["nodeId"]: n["status"] for n in run["nodes"]} == {
        "first": "SUCCEEDED",
        "slow": "CANCELLED",
    }
    # Ended: nothing more to ask of it.
    again = (await stack.data(PAUSE, id=run_id))["result"]
    assert again["__typename"] == "ValidationFailed"
    assert "already ended (CANCELLED)" in again["errors"][0]["message"]


async def test_a_run_cancelled_with_compensation_undoes_its_completed_node(
    sqlite_stack: Stack, http_peer: HttpPeer
) -> None:
    stack = sqlite_stack
    definition = slow_between(http_peer, 60)
    definition["name"] = "cancel-compensated"
    definition["nodes"][0]["compensation"] = "undo"
    definition["nodes"].append(
        {"id": "undo", "type": "core.transform", "config": {"value": {"undone": True}}}
    )
    published = await stack.publish(definition)
    assert published["__typename"] == "WorkflowVersion", published
    run_id = (await stack.start_run(published["workflowId"]))["data"]["startRun"]["id"]

    async def slow_running() -> bool:
        nodes = {n["nodeId"]: n["status"] for n in (await seen(stack, run_id))["nodes"]}
        return nodes.get("slow") == "RUNNING"

    await assert_eventually(slow_running, within=30)
    result = (await stack.data(CANCEL_COMPENSATING, id=run_id))["result"]
    run = await reaches(stack, run_id, "COMPENSATED")

    assert await settled(stack, run_id, result["id"]) == ("APPLIED", None)
    nodes = {n["nodeId"]: n["status"] for n in run["nodes"]}
    assert (nodes["first"], nodes["slow"], nodes["undo"]) == (
        "COMPENSATED",
        "CANCELLED",
        "SUCCEEDED",
    )
    assert "after" not in nodes


async def test_a_cancel_sent_while_the_data_plane_is_down_takes_effect_when_it_returns(
    sqlite_url: str,
    temporal_server: ServerProcess,
    nats_server: ServerProcess,
    bus_authority: BusAuthority,
    tmp_path: Path,
    http_peer: HttpPeer,
) -> None:
    async with stack_of_processes(
        sqlite_url, temporal_server, nats_server, bus_authority, tmp_path
    ) as stack:
        run_id = await started_with_slow_node(stack, http_peer, 60)
        await stack.stop_data_plane()

        cancelled_by = await ask(stack, CANCEL, run_id)
        assert outcome(await seen(stack, run_id), cancelled_by) == ("PENDING", None)
        await stack.start_data_plane()
        await reaches(stack, run_id, "CANCELLED", within=60)
        assert await settled(stack, run_id, cancelled_by) == ("APPLIED", None)


async def test_a_pause_whose_expiry_passes_while_the_data_plane_is_down_shows_undelivered(
    sqlite_url: str,
    temporal_server: ServerProcess,
    nats_server: ServerProcess,
    bus_authority: BusAuthority,
    tmp_path: Path,
    http_peer: HttpPeer,
) -> None:
    async with stack_of_processes(
        sqlite_url,
        temporal_server,
        nats_server,
        bus_authority,
        tmp_path,
        control_plane_options={"control_ttl_seconds": 2.0},
    ) as stack:
        run_id = await started_with_slow_node(stack, http_peer, 60)
        await stack.stop_data_plane()
        paused_by = await ask(stack, PAUSE, run_id)

        async def undelivered() -> dict[str, Any] | None:
            run = await seen(stack, run_id)
            return run if outcome(run, paused_by)[0] == "UNDELIVERED" else None

        await assert_eventually(undelivered, within=30)
        await stack.start_data_plane()

        async def set_aside() -> list[str]:
            found = await messages_on(stack.nats, dead_control_subject(stack.pool))
            return [(m.headers or {}).get("Flowforge-Reason", "") for m in found]

        # The agent that comes back refuses the stale message and reports nothing.
        assert await assert_eventually(set_aside, within=60) == ["expired"]
        run = await seen(stack, run_id)
        assert run["status"] == "RUNNING"
        status, reason = outcome(run, paused_by)
        # A fresh request goes through.
        cancelled_by = await ask(stack, CANCEL, run_id)
        await reaches(stack, run_id, "CANCELLED", within=60)
        assert await settled(stack, run_id, cancelled_by) == ("APPLIED", None)

    assert status == "UNDELIVERED"
    assert reason is not None and "did not take it before it expired" in reason
