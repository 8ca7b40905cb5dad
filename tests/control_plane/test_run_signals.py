"""Waits and signals through the API, with no data plane: what a waiting node shows, what
signalRun and sendSignal refuse, and which runs sendSignal finds."""

from datetime import UTC, datetime, timedelta
from typing import Any

from control_plane.db.models import Run
from data_plane.protocol import MAX_CONTROL_PAYLOAD_BYTES, RunEvent, TaskInfo, WaitInfo

from fixtures.api import Api

FLOW = {
    "apiVersion": "flowforge/v1",
    "name": "waiting",
    "nodes": [{"id": "hold", "type": "core.wait", "config": {"signal": "order.paid"}}],
}
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WAIT = "wait { kind until signal correlation taskId }"
NODES = f"""query($id: ID!) {{ run(id: $id) {{ status
  nodes {{ nodeId status {WAIT} iterations {{ nodes {{ iteration status {WAIT} }} }} }} }} }}"""
REQUEST = """id runId action status signal { name correlation payload }"""
SIGNAL_RUN = f"""mutation($id: ID!, $s: String!, $c: String, $p: JSON) {{
  result: signalRun(id: $id, signal: $s, correlation: $c, payload: $p) {{
    __typename ... on ControlRequest {{ {REQUEST} }}
    ... on NotFound {{ message }} ... on ValidationFailed {{ errors {{ field message }} }} }} }}"""
SEND_SIGNAL = f"""mutation($p: ID!, $s: String!, $c: String, $payload: JSON) {{
  result: sendSignal(projectId: $p, signal: $s, correlation: $c, payload: $payload) {{
    __typename ... on SignalsSent {{ requests {{ {REQUEST} }} }}
    ... on NotFound {{ message }} ... on ValidationFailed {{ errors {{ field message }} }} }} }}"""


def waiting(run_id: str, node: str, wait: WaitInfo, seconds: int = 1, **fields: Any) -> RunEvent:
    return RunEvent.create(
        run_id, "node.waiting", T0 + timedelta(seconds=seconds), node, wait=wait, **fields
    )


async def waiting_run(api: Api, workflow_id: str, wait: WaitInfo | None) -> str:
    """A run whose node `hold` started and, with `wait`, waits for it."""
    run_id = await api.queued_run(workflow_id)
    events = [
        RunEvent.create(run_id, "run.started", T0, None),
        RunEvent.create(run_id, "node.started", T0, "hold"),
    ]
    if wait is not None:
        events += [waiting(run_id, "hold", wait), RunEvent.create(run_id, "run.waiting", T0, None)]
    await api.apply(events)
    return run_id


async def nodes_of(api: Api, run_id: str) -> dict[str, dict[str, Any]]:
    run = (await api.data(NODES, id=run_id))["run"]
    return {node["nodeId"]: node for node in run["nodes"]}


async def project_of(api: Api) -> str:
    return str((await api.data("{ projects { id } }"))["projects"][0]["id"])


async def test_a_waiting_node_shows_what_it_waits_for_until_it_goes_on(api: Api) -> None:
    run_id = await waiting_run(
        api,
        await api.publish(FLOW),
        WaitInfo(kind="signal", signal="order.paid", correlation="A-17", until=T0),
    )

    hold = (await nodes_of(api, run_id))["hold"]

    assert hold["status"] == "WAITING"
    assert hold["wait"] == {
        "kind": "SIGNAL",
        "until": T0.isoformat(),
        "signal": "order.paid",
        "correlation": "A-17",
        "taskId": None,
    }
    assert hold["iterations"]["nodes"][0]["wait"] == hold["wait"]
    await api.apply([RunEvent.create(run_id, "node.succeeded", T0 + timedelta(seconds=2), "hold")])
    assert (await nodes_of(api, run_id))["hold"]["wait"] is None


async def test_a_duration_wait_shows_its_end_and_an_approval_its_task(api: Api) -> None:
    workflow_id = await api.publish(FLOW)
    end = T0 + timedelta(minutes=10)
    timer = await waiting_run(api, workflow_id, WaitInfo(kind="duration", until=end))
    task = TaskInfo(task_id="r:hold", assignees=["role:operator"], form={"type": "object"})
    approval = await waiting_run(api, workflow_id, WaitInfo(kind="approval", task=task))

    timed = (await nodes_of(api, timer))["hold"]["wait"]
    asked = (await nodes_of(api, approval))["hold"]["wait"]

    assert (timed["kind"], timed["until"], timed["signal"]) == ("DURATION", end.isoformat(), None)
    assert (asked["kind"], asked["taskId"]) == ("APPROVAL", "r:hold")


async def test_a_node_waiting_only_in_iterations_shows_each_iteration_s_wait(api: Api) -> None:
    run_id = await waiting_run(api, await api.publish(FLOW), None)
    wait = WaitInfo(kind="duration", until=T0)
    await api.apply([waiting(run_id, "inner", wait, iteration="items#0")])

    inner = (await nodes_of(api, run_id))["inner"]

    assert (inner["status"], inner["wait"]) == ("WAITING", None)
    [execution] = inner["iterations"]["nodes"]
    assert execution["wait"]["kind"] == "DURATION"


async def test_a_signal_to_a_run_is_recorded_with_its_event(api: Api) -> None:
    run_id = await waiting_run(api, await api.publish(FLOW), None)

    result = (await api.data(SIGNAL_RUN, id=run_id, s="order.paid", c="A-17", p={"n": 5}))["result"]

    assert result["__typename"] == "ControlRequest", result
    assert (result["action"], result["status"]) == ("SIGNAL", "PENDING")
    assert result["signal"] == {"name": "order.paid", "correlation": "A-17", "payload": {"n": 5}}


async def test_a_malformed_signal_is_refused_naming_the_field_and_the_fix(api: Api) -> None:
    run_id = await waiting_run(api, await api.publish(FLOW), None)
    too_big = "x" * (MAX_CONTROL_PAYLOAD_BYTES + 1)

    async def refusal(**variables: Any) -> tuple[str, str]:
        result = (await api.data(SIGNAL_RUN, id=run_id, **variables))["result"]
        assert result["__typename"] == "ValidationFailed", result
        [issue] = result["errors"]
        return issue["field"], issue["message"]

    field, message = await refusal(s="")
    assert field == "signal" and "at least 1 character" in message
    assert "the wait's `signal`" in message
    field, message = await refusal(s="order.paid", c="k" * 501)
    assert field == "correlation" and "at most 500 characters" in message
    field, message = await refusal(s="order.paid", p=too_big)
    assert field == "payload" and "send a reference" in message
    assert "Value error" not in message
    assert (await api.data(NODES, id=run_id))["run"]["status"] == "RUNNING"


async def test_a_signal_to_an_ended_or_unknown_run_is_refused(api: Api) -> None:
    run_id = await waiting_run(api, await api.publish(FLOW), None)
    async with api.sessions.begin() as session:
        (await session.get_one(Run, run_id)).status = "SUCCEEDED"

    ended = (await api.data(SIGNAL_RUN, id=run_id, s="order.paid"))["result"]
    unknown = (await api.data(SIGNAL_RUN, id="no-such-run", s="order.paid"))["result"]

    assert ended["__typename"] == "ValidationFailed"
    assert ended["errors"] == [
        {
            "field": "id",
            "message": f"id: run {run_id} cannot be signalled: it has already ended (SUCCEEDED)",
        }
    ]
    assert unknown == {"__typename": "NotFound", "message": "run 'no-such-run' does not exist"}


async def test_send_signal_reaches_only_the_runs_waiting_for_it(api: Api) -> None:
    workflow_id = await api.publish(FLOW)

    def on(signal: str, correlation: str | None = None) -> WaitInfo:
        return WaitInfo(kind="signal", signal=signal, correlation=correlation)

    any_key = await waiting_run(api, workflow_id, on("order.paid"))
    same_key = await waiting_run(api, workflow_id, on("order.paid", "A-17"))
    await waiting_run(api, workflow_id, on("order.paid", "B-2"))
    await waiting_run(api, workflow_id, on("order.shipped", "A-17"))
    await waiting_run(api, workflow_id, WaitInfo(kind="duration", until=T0))
    await waiting_run(api, workflow_id, None)
    ended = await waiting_run(api, workflow_id, on("order.paid", "A-17"))
    async with api.sessions.begin() as session:
        (await session.get_one(Run, ended)).status = "CANCELLED"

    sent = (
        await api.data(SEND_SIGNAL, p=await project_of(api), s="order.paid", c="A-17", payload=1)
    )["result"]

    assert sent["__typename"] == "SignalsSent", sent
    assert {r["runId"] for r in sent["requests"]} == {any_key, same_key}
    assert {r["action"] for r in sent["requests"]} == {"SIGNAL"}
    assert sent["requests"][0]["signal"] == {
        "name": "order.paid",
        "correlation": "A-17",
        "payload": 1,
    }


async def test_send_signal_without_a_key_reaches_only_waits_that_name_none(api: Api) -> None:
    workflow_id = await api.publish(FLOW)
    any_key = await waiting_run(
        api, workflow_id, WaitInfo(kind="signal", signal="order.paid", correlation=None)
    )
    await waiting_run(
        api, workflow_id, WaitInfo(kind="signal", signal="order.paid", correlation="A-17")
    )

    sent = (await api.data(SEND_SIGNAL, p=await project_of(api), s="order.paid"))["result"]
    none = (await api.data(SEND_SIGNAL, p=await project_of(api), s="nobody.waits"))["result"]

    assert [r["runId"] for r in sent["requests"]] == [any_key]
    assert none == {"__typename": "SignalsSent", "requests": []}


async def test_send_signal_refuses_an_unknown_project_and_a_malformed_signal(api: Api) -> None:
    unknown = (await api.data(SEND_SIGNAL, p="no-such-project", s="order.paid"))["result"]
    malformed = (await api.data(SEND_SIGNAL, p=await project_of(api), s="x", c=""))["result"]

    assert unknown["message"] == "project 'no-such-project' does not exist"
    assert malformed["__typename"] == "ValidationFailed"
    assert malformed["errors"][0]["field"] == "correlation"
