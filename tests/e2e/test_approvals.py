"""`core.approval` in the interpreter: decisions, as the control update delivers them,
end a human task by its rule (n of m), and a task that comes due is escalated or routed
to its timeout port."""

import uuid
from typing import Any

from temporalio.client import WorkflowHandle

from data_plane.messages import CONTROL_UPDATE, ControlOutcome, ControlRequest
from data_plane.workflows.state import Decision

from fixtures.replay import record, replay
from fixtures.stack import Stack, assert_eventually


def approval_flow(name: str, **config: Any) -> dict[str, Any]:
    return {
        "apiVersion": "flowforge/v1",
        "name": name,
        "nodes": [
            {"id": "ask", "type": "core.approval", "config": config},
            {"id": "yes", "type": "test.count"},
            {"id": "no", "type": "test.count"},
            {"id": "late", "type": "test.count"},
        ],
        "edges": [
            {"from": "ask", "port": "approved", "to": "yes"},
            {"from": "ask", "port": "rejected", "to": "no"},
            {"from": "ask", "port": "timeout", "to": "late"},
        ],
    }


async def start(stack: Stack, definition: dict[str, Any]) -> tuple[str, WorkflowHandle[Any, Any]]:
    published = await stack.publish(definition)
    assert published["__typename"] == "WorkflowVersion", published
    run_id = str((await stack.start_run(published["workflowId"]))["data"]["startRun"]["id"])

    async def asking() -> bool:
        run = await stack.run(run_id)
        return run["status"] == "WAITING"

    await assert_eventually(asking, within=20)
    return run_id, stack.temporal.get_workflow_handle(run_id)


async def decide(
    handle: WorkflowHandle[Any, Any],
    run_id: str,
    who: str,
    approved: bool,
    control_id: str | None = None,
    **fields: Any,
) -> ControlOutcome:
    decision = Decision(
        task_id=f"{run_id}:ask", decided_by=who, decision={"approved": approved, **fields}
    )
    request = ControlRequest(
        control_id=control_id or str(uuid.uuid4()), sequence=1, action="decide", decision=decision
    )
    return await handle.execute_update(
        CONTROL_UPDATE, request, id=f"{request.control_id}:1", result_type=ControlOutcome
    )


def taken(run: dict[str, Any]) -> set[str]:
    return {n["nodeId"] for n in run["nodes"] if n["status"] == "SUCCEEDED"}


async def test_two_of_two_approvers_approve_and_each_decides_once(stack: Stack) -> None:
    run_id, handle = await start(
        stack, approval_flow("approve-two", assignees=["alice", "bob"], required=2)
    )

    same = str(uuid.uuid4())
    assert (await decide(handle, run_id, "alice", True, same, note="ok")).applied
    # The same message again: the same answer, applied once.
    assert (await decide(handle, run_id, "alice", True, same, note="ok")).applied
    again = await decide(handle, run_id, "alice", False)
    assert not again.applied and again.reason == f"alice already decided task {run_id}:ask"
    run = await stack.run(run_id)
    assert run["status"] == "WAITING"

    assert (await decide(handle, run_id, "bob", True)).applied
    run = await stack.wait_for_run(run_id)

    assert run["status"] == "SUCCEEDED", run
    assert taken(run) == {"ask", "yes"}
    ask = next(n for n in run["nodes"] if n["nodeId"] == "ask")
    assert ask["output"]["approved"] is True
    assert [d["decided_by"] for d in ask["output"]["decisions"]] == ["alice", "bob"]
    assert ask["output"]["decisions"][0]["decision"] == {"approved": True, "note": "ok"}
    history = await handle.fetch_history()
    await replay(history)
    record(history, "approval-two-of-two")


async def test_one_rejection_rejects_a_task_of_two_required(stack: Stack) -> None:
    run_id, handle = await start(
        stack, approval_flow("approve-rejected", assignees=["alice", "bob"], required=2)
    )

    assert (await decide(handle, run_id, "bob", False, reason="too dear")).applied
    run = await stack.wait_for_run(run_id)

    assert run["status"] == "SUCCEEDED", run
    assert taken(run) == {"ask", "no"}


async def test_a_task_that_comes_due_is_escalated_once_then_times_out(stack: Stack) -> None:
    definition = approval_flow(
        "approve-escalated", assignees=["role:technician"], due="1s", escalate_to=["role:lead"]
    )
    run_id, handle = await start(stack, definition)

    run = await stack.wait_for_run(run_id)

    assert run["status"] == "SUCCEEDED", run
    assert taken(run) == {"ask", "late"}
    ask = next(n for n in run["nodes"] if n["nodeId"] == "ask")
    assert ask["output"]["decisions"] == [] and "timed_out_at" in ask["output"]
    # Due twice: once assigned to the technicians, once to the lead.
    history = await handle.fetch_history()
    fired = [e for e in history.events if e.HasField("timer_fired_event_attributes")]
    assert len(fired) == 2


async def test_an_escalated_task_is_decided_by_its_new_assignees(stack: Stack) -> None:
    definition = approval_flow(
        "approve-after-escalation",
        assignees=["role:technician"],
        due="1s",
        escalate_to=["role:lead"],
    )
    run_id, handle = await start(stack, definition)

    async def escalated() -> bool:
        history = await handle.fetch_history()
        return sum(1 for e in history.events if e.HasField("timer_fired_event_attributes")) >= 1

    await assert_eventually(escalated, within=20)
    assert (await decide(handle, run_id, "lena", True)).applied
    run = await stack.wait_for_run(run_id)

    assert run["status"] == "SUCCEEDED", run
    assert taken(run) == {"ask", "yes"}
