"""Pause, resume and cancel, as the agent delivers them: the `control` update of the run's
workflow (here sent straight to Temporal; the signed messages that carry them are tested
with the agent)."""

import uuid
from typing import Any

from temporalio.client import WorkflowHandle

from data_plane.messages import CONTROL_UPDATE, ControlOutcome, ControlRequest
from data_plane.protocol import ControlAction

from fixtures.http_peer import HttpPeer
from fixtures.replay import record, replay
from fixtures.stack import Stack, assert_eventually


def slow_then_count(
    peer: HttpPeer, name: str, seconds: float, path: str | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "flowforge/v1",
        "name": name,
        "nodes": [
            {"id": "first", "type": "test.count"},
            {
                "id": "slow",
                "type": "core.http",
                "config": {"method": "GET", "url": peer.url(path or f"/slow?seconds={seconds}")},
            },
            {"id": "after", "type": "test.count"},
        ],
        "edges": [{"from": "first", "to": "slow"}, {"from": "slow", "to": "after"}],
    }


async def control(
    handle: WorkflowHandle[Any, Any], action: ControlAction, sequence: int = 1, **extra: Any
) -> ControlOutcome:
    control_id = str(uuid.uuid4())
    return await send(
        handle, ControlRequest(control_id=control_id, sequence=sequence, action=action, **extra)
    )


async def send(handle: WorkflowHandle[Any, Any], request: ControlRequest) -> ControlOutcome:
    return await handle.execute_update(
        CONTROL_UPDATE,
        request,
        id=f"{request.control_id}:{request.sequence}",
        result_type=ControlOutcome,
    )


async def started(stack: Stack, definition: dict[str, Any]) -> tuple[str, WorkflowHandle[Any, Any]]:
    published = await stack.publish(definition)
    run_id = (await stack.start_run(published["workflowId"]))["data"]["startRun"]["id"]

    async def node_running() -> bool:
        nodes = {n["nodeId"]: n for n in (await stack.run(run_id))["nodes"]}
        return nodes.get("slow", {}).get("status") == "RUNNING"

    await assert_eventually(node_running, within=20)
    return run_id, stack.temporal.get_workflow_handle(run_id)


async def status_is(stack: Stack, run_id: str, status: str) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        run = await stack.run(run_id)
        return run if run["status"] == status else None

    return await assert_eventually(reached, within=20)


async def test_a_paused_run_lets_its_running_node_finish_and_starts_none_until_resumed(
    sqlite_stack: Stack, http_peer: HttpPeer
) -> None:
    stack = sqlite_stack
    run_id, handle = await started(stack, slow_then_count(http_peer, "control-pause-resume", 1))

    assert (await control(handle, "pause")).applied
    await status_is(stack, run_id, "PAUSED")

    async def slow_finished() -> dict[str, Any] | None:
        run = await stack.run(run_id)
        nodes = {n["nodeId"]: n for n in run["nodes"]}
        return run if nodes["slow"]["status"] == "SUCCEEDED" else None

    run = await assert_eventually(slow_finished, within=20)
    # Past the running node, nothing started: the run holds.
    assert run["status"] == "PAUSED"
    assert "after" not in {n["nodeId"] for n in run["nodes"]}
    again = await control(handle, "pause")
    assert not again.applied and again.reason == "the run is already paused"

    assert (await control(handle, "resume")).applied
    run = await status_is(stack, run_id, "SUCCEEDED")
    assert run["output"] == {"after": {"count": 1}}

    history = await handle.fetch_history()
    await replay(history)
    record(history, "control-pause-resume")


async def test_a_cancelled_run_cancels_its_running_node_and_starts_no_other(
    sqlite_stack: Stack, http_peer: HttpPeer
) -> None:
    stack = sqlite_stack
    definition = slow_then_count(http_peer, "control-cancel", 60, "/effect?hold=60")
    run_id, handle = await started(stack, definition)

    assert (await control(handle, "cancel")).applied
    run = await status_is(stack, run_id, "CANCELLED")
    # The node's request was cut off, not left to finish in the worker.

    async def cut_off() -> bool:
        # A GET: core.http sends no Idempotency-Key with it.
        return http_peer.abandoned == [None]

    await assert_eventually(cut_off, within=20)

    nodes = {n["nodeId"]: n["status"] for n in run["nodes"]}
    assert nodes == {"first": "SUCCEEDED", "slow": "CANCELLED"}
    assert run["finishedAt"] is not None

    history = await handle.fetch_history()
    await replay(history)
    record(history, "control-cancel")


async def test_a_control_message_published_again_is_refused_as_replayed(
    sqlite_stack: Stack, http_peer: HttpPeer
) -> None:
    stack = sqlite_stack
    run_id, handle = await started(stack, slow_then_count(http_peer, "control-replayed", 1))
    pause = ControlRequest(control_id=str(uuid.uuid4()), sequence=7, action="pause")

    assert (await send(handle, pause)).applied
    # Delivered again from the same stream message: the same answer.
    assert (await send(handle, pause)).applied
    replayed = await send(handle, pause.model_copy(update={"sequence": 8}))
    assert not replayed.applied and replayed.reason == "replayed"

    resume = await control(handle, "resume")
    assert resume.applied
    await status_is(stack, run_id, "SUCCEEDED")


async def test_a_run_cancelled_with_compensation_undoes_what_it_completed(
    sqlite_stack: Stack, http_peer: HttpPeer
) -> None:
    stack = sqlite_stack
    definition = slow_then_count(http_peer, "control-cancel-compensate", 60)
    definition["nodes"][0]["compensation"] = "undo"
    definition["nodes"].append({"id": "undo", "type": "test.count"})
    run_id, handle = await started(stack, definition)

    assert (await control(handle, "cancel", compensate=True)).applied
    run = await status_is(stack, run_id, "COMPENSATED")

    nodes = {n["nodeId"]: n["status"] for n in run["nodes"]}
    assert nodes == {"first": "COMPENSATED", "slow": "CANCELLED", "undo": "SUCCEEDED"}
    assert run["error"] == "cancelled on request"

    history = await handle.fetch_history()
    await replay(history)
    record(history, "control-cancel-compensate")
