"""examples/maintenance-alert.yaml against a local maintenance service: a critical alert
gets a ticket and a task for the group of technicians, which one of them fixes, or which
comes due twice (technicians, then supervisors) and is reported overdue; a warning that
clears is only logged, one that does not is handled as critical."""

from typing import Any

from fixtures.approvals import decide, principal, task, wait_for_task
from fixtures.examples import example, start
from fixtures.http_peer import HttpPeer
from fixtures.stack import Stack

CRITICAL_PATH = ["POST /notifications", "POST /tickets"]


def alarm(peer: HttpPeer, severity: str) -> dict[str, Any]:
    """The run input for an alarm of pump-3; the ticket opened is T-17."""
    peer.script("/tickets", {"id": "T-17"})
    alert = {"code": "E42", "severity": severity, "message": "bearing temperature high"}
    return {"api": peer.base_url, "device": "pump-3", "alert": alert}


def nodes(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["nodeId"]: n for n in run["nodes"]}


def sent(run: dict[str, Any], node_id: str) -> Any:
    """The body node `node_id` sent (the peer echoes it)."""
    return nodes(run)[node_id]["output"]["body"]["body"]


async def test_a_task_nobody_takes_is_escalated_then_reported_overdue(
    stack: Stack, http_peer: HttpPeer
) -> None:
    definition = example("maintenance-alert")
    approval = next(n for n in definition["nodes"] if n["id"] == "fix")
    approval["config"]["due"] = "1s"  # 4h for the technicians, 4h more for the supervisors

    run = await stack.run_to_end(definition, alarm(http_peer, "critical"))

    assert run["status"] == "SUCCEEDED", run
    assert run["output"] == {"device": "pump-3", "ticket": "T-17", "outcome": "overdue"}
    assert http_peer.requests == [*CRITICAL_PATH, "POST /notifications"]
    fix = nodes(run)["fix"]
    assert fix["output"]["decisions"] == [] and "timed_out_at" in fix["output"]
    # Due twice, each time for 1 s: assigned to the technicians, then the supervisors.
    history = await stack.temporal.get_workflow_handle(run["id"]).fetch_history()
    assert sum(e.HasField("timer_fired_event_attributes") for e in history.events) == 2
    assert sent(run, "overdue")["to"] == "group:maintenance-managers"


async def test_a_technician_reports_the_fix_and_the_ticket_is_closed(
    stack: Stack, http_peer: HttpPeer
) -> None:
    run_id = await start(stack, example("maintenance-alert"), alarm(http_peer, "critical"))
    fix = await wait_for_task(stack, run_id, "fix")
    ana = await principal(stack, "ana", groups=["technicians"])

    await decide(stack, fix["id"], True, ana, resolution="replaced the bearing", parts=["brg-6204"])
    run = await stack.wait_for_run(run_id)

    assert (await task(stack, fix["id"]))["status"] == "APPROVED"
    assert run["status"] == "SUCCEEDED", run
    assert run["output"] == {"device": "pump-3", "ticket": "T-17", "outcome": "fixed"}
    assert http_peer.requests == [*CRITICAL_PATH, "PATCH /tickets/T-17"]
    assert sent(run, "close") == {
        "status": "resolved",
        "resolution": "replaced the bearing",
        "parts": ["brg-6204"],
        "fixed_by": ana.id,
    }


async def test_a_warning_that_clears_is_only_logged(stack: Stack, http_peer: HttpPeer) -> None:
    http_peer.script("/devices/pump-3/status", {"state": "ok"})

    run = await stack.run_to_end(example("maintenance-alert"), alarm(http_peer, "warning"))

    assert run["status"] == "SUCCEEDED", run
    assert run["output"] == {"device": "pump-3", "ticket": None, "outcome": "cleared"}
    assert http_peer.requests == ["GET /devices/pump-3/status"]


async def test_a_warning_that_persists_is_handled_as_critical(
    stack: Stack, http_peer: HttpPeer
) -> None:
    http_peer.script("/devices/pump-3/status", {"state": "overheating"})
    run_id = await start(stack, example("maintenance-alert"), alarm(http_peer, "warning"))
    fix = await wait_for_task(stack, run_id, "fix")
    ana = await principal(stack, "ana", groups=["technicians"])

    await decide(stack, fix["id"], False, ana, resolution="needs a new pump")
    run = await stack.wait_for_run(run_id)

    assert run["status"] == "SUCCEEDED", run
    assert run["output"]["outcome"] == "not fixed"
    assert http_peer.requests == [
        "GET /devices/pump-3/status",
        *CRITICAL_PATH,
        "POST /notifications",
    ]
    assert sent(run, "escalate") == {
        "to": "group:supervisors",
        "text": f"ticket T-17 not fixed by {ana.id}: needs a new pump",
    }
