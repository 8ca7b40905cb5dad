"""`core.approval` on the real stack, decided through completeTask: only an assignee
decides (an API token named in `assignees`, a user of a group), decisions end a human
task by its rule (n of m) and are recorded under the caller's principal, each principal
decides once, and a task that comes due is escalated (to new assignees) or routed to its
timeout port."""

from typing import Any

from fixtures.approvals import (
    Principal,
    approval_flow,
    complete_task,
    decide,
    forbidden,
    principal,
    task,
    wait_for_task,
)
from fixtures.replay import record, replay
from fixtures.stack import Stack

LISTED = """query($p: ID!, $a: String) { tasks(projectId: $p, assignee: $a, status: OPEN) {
  nodes { id } } }"""


async def start(stack: Stack, definition: dict[str, Any]) -> str:
    published = await stack.publish(definition)
    assert published["__typename"] == "WorkflowVersion", published
    return str((await stack.start_run(published["workflowId"]))["data"]["startRun"]["id"])


def taken(run: dict[str, Any]) -> set[str]:
    return {n["nodeId"] for n in run["nodes"] if n["status"] == "SUCCEEDED"}


async def listed_for(stack: Stack, assignee: str) -> list[str]:
    data = await stack.data(LISTED, p=await stack.project_id(), a=assignee)
    return [t["id"] for t in data["tasks"]["nodes"]]


async def test_two_of_two_approve_each_once_as_their_own_principal(stack: Stack) -> None:
    alice, bob = await principal(stack, "alice"), await principal(stack, "bob")
    carol = await principal(stack, "carol")
    run_id = await start(
        stack, approval_flow("approve-two", assignees=["token:alice", "token:bob"], required=2)
    )
    opened = await wait_for_task(stack, run_id, "ask")
    assert opened["id"] in await listed_for(stack, "token:bob")

    refusal = await forbidden(stack, opened["id"], True, carol)
    first = await decide(stack, opened["id"], True, alice, note="ok")
    again = await complete_task(stack, opened["id"], False, alice)

    assert refusal.endswith(
        f"is assigned to token:alice, token:bob; carol ({carol.id}) is none of them"
    )
    assert first["decidedBy"] == alice.id
    assert again["__typename"] == "ValidationFailed"
    assert again["errors"][0]["message"].startswith(f"taskId: {alice.id} already decided task")
    assert (await stack.run(run_id))["status"] == "WAITING"
    await decide(stack, opened["id"], True, bob)
    run = await stack.wait_for_run(run_id)

    assert run["status"] == "SUCCEEDED", run
    assert taken(run) == {"ask", "yes"}
    ask = next(n for n in run["nodes"] if n["nodeId"] == "ask")
    assert ask["output"]["approved"] is True
    assert [d["decided_by"] for d in ask["output"]["decisions"]] == [alice.id, bob.id]
    assert ask["output"]["decisions"][0]["decision"] == {"approved": True, "note": "ok"}
    closed = await task(stack, opened["id"])
    assert closed["status"] == "APPROVED" and closed["closedAt"] is not None
    assert [d["decidedBy"] for d in closed["decisions"]] == [alice.id, bob.id]
    assert await listed_for(stack, "token:bob") == []
    history = await stack.temporal.get_workflow_handle(run_id).fetch_history()
    await replay(history)
    record(history, "approval-two-of-two")


async def test_one_rejection_rejects_a_task_of_two_required(stack: Stack) -> None:
    run_id = await start(
        stack, approval_flow("approve-rejected", assignees=["token:alice", "token:bob"], required=2)
    )
    opened = await wait_for_task(stack, run_id, "ask")

    await decide(stack, opened["id"], False, await principal(stack, "bob"), reason="too dear")
    run = await stack.wait_for_run(run_id)

    assert run["status"] == "SUCCEEDED", run
    assert taken(run) == {"ask", "no"}
    assert (await task(stack, opened["id"]))["status"] == "REJECTED"


async def test_a_task_that_comes_due_is_escalated_once_then_times_out(stack: Stack) -> None:
    definition = approval_flow(
        "approve-escalated", assignees=["group:technicians"], due="1s", escalate_to=["group:leads"]
    )
    run_id = await start(stack, definition)

    run = await stack.wait_for_run(run_id)

    assert run["status"] == "SUCCEEDED", run
    assert taken(run) == {"ask", "late"}
    ask = next(n for n in run["nodes"] if n["nodeId"] == "ask")
    assert ask["output"]["decisions"] == [] and "timed_out_at" in ask["output"]
    timed_out = await task(stack, f"{run_id}:ask")
    assert (timed_out["status"], timed_out["escalations"]) == ("TIMED_OUT", 1)
    assert timed_out["assignees"] == ["group:leads"]
    # Due twice: once assigned to the technicians, once to the leads.
    history = await stack.temporal.get_workflow_handle(run_id).fetch_history()
    fired = [e for e in history.events if e.HasField("timer_fired_event_attributes")]
    assert len(fired) == 2


async def test_an_escalated_task_shows_and_is_decided_by_its_new_assignees(stack: Stack) -> None:
    tom = await principal(stack, "tom", groups=["technicians"])
    lena: Principal = await principal(stack, "lena", groups=["leads"])
    definition = approval_flow(
        "approve-after-escalation",
        assignees=["group:technicians"],
        due="3s",
        escalate_to=["group:leads"],
    )
    run_id = await start(stack, definition)
    first = await wait_for_task(stack, run_id, "ask")
    assert first["assignees"] == ["group:technicians"]

    escalated = await wait_for_task(stack, run_id, "ask", escalations=1)

    assert escalated["assignees"] == ["group:leads"]
    assert await listed_for(stack, "group:technicians") == []
    refusal = await forbidden(stack, escalated["id"], True, tom)
    assert refusal.endswith(f"is assigned to group:leads; Tom ({tom.id}) is none of them")
    decision = await decide(stack, escalated["id"], True, lena)
    assert decision["decidedBy"] == lena.id and lena.id.startswith("user:")
    run = await stack.wait_for_run(run_id)
    assert run["status"] == "SUCCEEDED", run
    assert taken(run) == {"ask", "yes"}
