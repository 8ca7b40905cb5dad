"""Human tasks through the API, with no data plane: what the events of a `core.approval`
node make of its task, how tasks are listed, and what completeTask records, publishes
and refuses."""

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from control_plane.db.models import ControlRequest
from data_plane.protocol import RunEvent, TaskInfo, WaitInfo

from fixtures.api import Api
from fixtures.stack import assert_eventually

FLOW = {
    "apiVersion": "flowforge/v1",
    "name": "asks",
    "nodes": [{"id": "ask", "type": "core.approval", "config": {"assignees": ["token:alice"]}}],
}
FORM = {
    "allOf": [
        {
            "type": "object",
            "required": ["approved"],
            "properties": {"approved": {"type": "boolean"}},
        },
        {"type": "object", "properties": {"comment": {"type": "string", "maxLength": 20}}},
    ]
}
TASK_FIELDS = """id runId nodeId iteration title assignees required form status dueAt
  escalations openedAt closedAt
  decisions { decidedBy decidedAt decision delivery reason }"""
TASK = f"query($id: ID!) {{ task(id: $id) {{ {TASK_FIELDS} }} }}"
TASKS = """query($p: ID!, $a: String, $s: TaskStatus, $f: Int!, $after: String) {
  tasks(projectId: $p, assignee: $a, status: $s, first: $f, after: $after) {
    nodes { id status assignees } pageInfo { hasNextPage endCursor } } }"""
COMPLETE = f"""mutation($t: ID!, $d: JSON!) {{ completeTask(taskId: $t, decision: $d) {{
  __typename
  ... on Task {{ {TASK_FIELDS} }}
  ... on NotFound {{ message }}
  ... on ValidationFailed {{ errors {{ field message }} }} }} }}"""
AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def waiting(
    run_id: str,
    node_id: str = "ask",
    assignees: tuple[str, ...] = ("token:alice", "token:bob"),
    **task: Any,
) -> RunEvent:
    escalations = task.get("escalations", 0)
    info = TaskInfo(
        task_id=f"{run_id}:{node_id}",
        title=task.get("title", "Approve?"),
        assignees=list(assignees),
        required=task.get("required", 1),
        form=FORM,
        escalations=escalations,
    )
    wait = WaitInfo(kind="approval", until=AT + timedelta(hours=1 + escalations), task=info)
    at = AT + timedelta(minutes=escalations)
    return RunEvent.create(run_id, "node.waiting", at, node_id, attempt=escalations + 1, wait=wait)


def ended(run_id: str, kind: Any = "node.succeeded", **fields: Any) -> RunEvent:
    node_id = None if kind.startswith("run.") else "ask"
    return RunEvent.create(run_id, kind, AT + timedelta(hours=2), node_id, **fields)


async def asking(api: Api, *events: RunEvent) -> str:
    """A run whose approval node reported `events` (a first wait unless given)."""
    run_id = await api.queued_run(await api.publish(FLOW))
    await api.apply(events or [waiting(run_id)])
    return run_id


async def task_of(api: Api, task_id: str) -> dict[str, Any]:
    return dict((await api.data(TASK, id=task_id))["task"])


async def complete(api: Api, task_id: str, decision: Any, as_: str = "alice") -> dict[str, Any]:
    """completeTask with the token of `as_` (an operator of the default workspace)."""
    token = (await api.credential(as_)).token
    return dict((await api.data(COMPLETE, token, t=task_id, d=decision))["completeTask"])


async def project(api: Api) -> str:
    return str((await api.data("{ projects { id } }"))["projects"][0]["id"])


async def test_a_waiting_approval_opens_a_task_its_assignees_see(api: Api) -> None:
    run_id = await asking(api)

    task = await task_of(api, f"{run_id}:ask")

    assert task == {
        "id": f"{run_id}:ask",
        "runId": run_id,
        "nodeId": "ask",
        "iteration": "",
        "title": "Approve?",
        "assignees": ["token:alice", "token:bob"],
        "required": 1,
        "form": FORM,
        "status": "OPEN",
        "dueAt": (AT + timedelta(hours=1)).isoformat(),
        "escalations": 0,
        "openedAt": AT.isoformat(),
        "closedAt": None,
        "decisions": [],
    }
    listed = await api.data(TASKS, p=await project(api), a="token:bob", s="OPEN", f=10)
    assert [t["id"] for t in listed["tasks"]["nodes"]] == [f"{run_id}:ask"]
    nobody = await api.data(TASKS, p=await project(api), a="carol", f=10)
    assert nobody["tasks"]["nodes"] == []


async def test_an_escalation_replaces_the_assignees_and_an_older_wait_does_not(api: Api) -> None:
    run_id = await api.queued_run(await api.publish(FLOW))
    first = waiting(run_id)
    await api.apply([first, waiting(run_id, assignees=("group:leads",), escalations=1)])
    # The first wait redelivered under another id (as a re-emitted batch could be).
    await api.apply([first.model_copy(update={"event_id": f"{first.event_id}:again"})])

    task = await task_of(api, f"{run_id}:ask")

    assert (task["assignees"], task["escalations"]) == (["group:leads"], 1)
    assert task["dueAt"] == (AT + timedelta(hours=2)).isoformat()
    listed = await api.data(TASKS, p=await project(api), a="token:alice", f=10)
    assert listed["tasks"]["nodes"] == []


async def test_the_node_s_end_closes_the_task_with_its_outcome(api: Api) -> None:
    outcomes = {
        "APPROVED": {"approved": True, "decisions": []},
        "REJECTED": {"approved": False, "decisions": []},
        "TIMED_OUT": {"decisions": [], "timed_out_at": AT.isoformat()},
    }
    for status, output in outcomes.items():
        run_id = await asking(api)
        await api.apply([ended(run_id, output=output)])

        task = await task_of(api, f"{run_id}:ask")

        assert (task["status"], task["closedAt"]) == (status, (AT + timedelta(hours=2)).isoformat())


async def test_a_cancelled_run_cancels_its_open_tasks_and_the_node_s_outcome_still_counts(
    api: Api,
) -> None:
    run_id = await asking(api)
    await api.apply([ended(run_id, "run.cancelled")])
    assert (await task_of(api, f"{run_id}:ask"))["status"] == "CANCELLED"
    # A wait reported late never reopens it; the node's own outcome, arriving last, wins.
    await api.apply([waiting(run_id, escalations=1)])
    assert (await task_of(api, f"{run_id}:ask"))["status"] == "CANCELLED"

    other = await asking(api)
    await api.apply([ended(other, "run.failed"), ended(other, output={"approved": True})])
    assert (await task_of(api, f"{other}:ask"))["status"] == "APPROVED"

    node_cancelled = await asking(api)
    await api.apply([ended(node_cancelled, "node.cancelled")])
    assert (await task_of(api, f"{node_cancelled}:ask"))["status"] == "CANCELLED"


async def test_a_decision_is_recorded_with_who_and_published_as_a_decide(api: Api) -> None:
    await api.ready()
    run_id = await asking(api)

    task = await complete(api, f"{run_id}:ask", {"approved": True, "comment": "fine"})

    token = (await api.credential("alice")).principal_id
    assert task["__typename"] == "Task", task
    [decision] = task["decisions"]
    assert decision["decidedBy"] == token
    assert decision["decision"] == {"approved": True, "comment": "fine"}
    assert decision["delivery"] == "PENDING"
    assert datetime.fromisoformat(decision["decidedAt"]) > AT

    async def dispatched() -> list[dict[str, Any]] | None:
        data = await api.data(
            "query($id: ID!) { run(id: $id) { controlRequests { action status requestedBy "
            "dispatchedAt } } }",
            id=run_id,
        )
        found: list[dict[str, Any]] = data["run"]["controlRequests"]
        return found if found and found[0]["dispatchedAt"] else None

    [request] = await assert_eventually(dispatched)
    assert (request["action"], request["requestedBy"]) == ("DECIDE", token)
    async with api.sessions() as session:
        row = await session.scalar(select(ControlRequest).where(ControlRequest.run_id == run_id))
    assert row is not None and row.payload == {
        "task_id": f"{run_id}:ask",
        "decided_by": token,
        "decision": {"approved": True, "comment": "fine"},
    }


async def test_a_second_decision_by_the_same_principal_is_refused(api: Api) -> None:
    run_id = await asking(api)
    first = await complete(api, f"{run_id}:ask", {"approved": True})

    again = await complete(api, f"{run_id}:ask", {"approved": False})

    [decided] = first["decisions"]
    assert again["__typename"] == "ValidationFailed"
    [error] = again["errors"]
    assert error["field"] == "taskId"
    assert error["message"] == (
        f"taskId: {decided['decidedBy']} already decided task {run_id}:ask at "
        f"{datetime.fromisoformat(decided['decidedAt']).isoformat()}; each principal decides "
        "a task once"
    )
    assert len((await task_of(api, f"{run_id}:ask"))["decisions"]) == 1


async def test_a_decision_that_does_not_fit_the_form_names_the_field(api: Api) -> None:
    run_id = await asking(api)
    cases = {
        "decision['comment']": {"approved": True, "comment": 5},
        "decision": {"comment": "no approved"},
        "decision['approved']": {"approved": "yes"},
    }
    for field, decision in cases.items():
        result = await complete(api, f"{run_id}:ask", decision)

        assert result["__typename"] == "ValidationFailed", result
        [error] = result["errors"]
        assert error["field"] == field
        assert error["message"].startswith(f"{field}: ")
    not_an_object = await complete(api, f"{run_id}:ask", [True])
    assert not_an_object["errors"][0]["field"] == "decision"
    assert (await task_of(api, f"{run_id}:ask"))["decisions"] == []


async def test_unknown_and_closed_tasks_take_no_decision(api: Api) -> None:
    unknown = await complete(api, "no-run:ask", {"approved": True})
    assert unknown == {"__typename": "NotFound", "message": "task 'no-run:ask' does not exist"}
    missing = await api.graphql(TASK, id="no-run:ask")
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    run_id = await asking(api)
    await api.apply([ended(run_id, output={"approved": True, "decisions": []})])
    closed = await complete(api, f"{run_id}:ask", {"approved": True})

    assert closed["__typename"] == "ValidationFailed"
    assert closed["errors"][0]["message"] == (
        f"taskId: task {run_id}:ask is APPROVED (closed at "
        f"{(AT + timedelta(hours=2)).isoformat()}); only an OPEN task takes decisions"
    )


async def test_tasks_are_listed_newest_first_in_pages(api: Api) -> None:
    workflow_id = await api.publish(FLOW)
    run_ids = [await api.queued_run(workflow_id) for _ in range(5)]
    for n, run_id in enumerate(run_ids):
        event = waiting(run_id)
        await api.apply([event.model_copy(update={"at": AT + timedelta(seconds=n)})])
    project_id = await project(api)

    seen: list[str] = []
    after = None
    for _ in range(3):
        page = (await api.data(TASKS, p=project_id, f=2, after=after))["tasks"]
        seen += [t["id"] for t in page["nodes"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break

    assert seen == [f"{r}:ask" for r in reversed(run_ids)]
    too_many = await api.graphql(TASKS, p=project_id, f=1000)
    assert too_many["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    bad = await api.graphql(TASKS, p=project_id, f=2, after="nonsense")
    assert "is not a cursor returned by tasks" in bad["errors"][0]["message"]
