"""Compensation (saga) on the real stack: when a run fails, or is cancelled with
compensation asked for, the nodes that succeeded are undone, the last first."""

from typing import Any

from fixtures.http_peer import HttpPeer
from fixtures.replay import record, replay
from fixtures.stack import Stack


def booking(peer: HttpPeer, name: str, last_url: str) -> dict[str, Any]:
    """reserve -> charge -> ship; reserve is undone by release, charge by refund."""
    return {
        "apiVersion": "flowforge/v1",
        "name": name,
        "nodes": [
            {"id": "reserve", "type": "test.count", "compensation": "release"},
            {"id": "charge", "type": "test.count", "compensation": "refund"},
            {
                "id": "ship",
                "type": "core.http",
                "config": {"method": "POST", "url": last_url},
                "retry": {"max_attempts": 1},
            },
            {
                "id": "release",
                "type": "core.http",
                "config": {"method": "POST", "url": peer.url("/echo")},
                "inputs": {"body": "${ .compensating }"},
            },
            {
                "id": "refund",
                "type": "core.http",
                "config": {"method": "POST", "url": peer.url("/echo")},
                "inputs": {"body": "${ .compensating }"},
            },
        ],
        "edges": [{"from": "reserve", "to": "charge"}, {"from": "charge", "to": "ship"}],
    }


async def executions(stack: Stack, run_id: str, node_id: str) -> list[dict[str, Any]]:
    data = await stack.data(
        """query($id: ID!) { run(id: $id) { nodes { nodeId
             iterations { nodes { iteration status output startedAt } } } } }""",
        id=run_id,
    )
    node = next(n for n in data["run"]["nodes"] if n["nodeId"] == node_id)
    return list(node["iterations"]["nodes"])


async def test_a_failed_run_undoes_its_completed_nodes_newest_first(
    stack: Stack, http_peer: HttpPeer
) -> None:
    definition = booking(http_peer, "saga-failed", http_peer.url("/status/500"))

    run = await stack.run_to_end(definition)

    assert run["status"] == "COMPENSATED", run
    assert "node 'ship' failed" in run["error"]
    statuses = {n["nodeId"]: n["status"] for n in run["nodes"]}
    assert statuses == {
        "reserve": "COMPENSATED",
        "charge": "COMPENSATED",
        "ship": "FAILED",
        "release": "SUCCEEDED",
        "refund": "SUCCEEDED",
    }
    [refund] = await executions(stack, run["id"], "refund")
    [release] = await executions(stack, run["id"], "release")
    assert (refund["iteration"], release["iteration"]) == ("charge#0", "reserve#0")
    assert refund["output"]["body"]["body"] == {"node": "charge"}
    assert refund["startedAt"] < release["startedAt"]
    history = await stack.temporal.get_workflow_handle(run["id"]).fetch_history()
    await replay(history)
    record(history, "saga-failed")


async def test_a_failed_compensation_is_recorded_and_the_others_still_run(
    stack: Stack, http_peer: HttpPeer
) -> None:
    definition = booking(http_peer, "saga-refund-fails", http_peer.url("/status/500"))
    refund = next(n for n in definition["nodes"] if n["id"] == "refund")
    refund["config"]["url"] = http_peer.url("/status/400")

    run = await stack.run_to_end(definition)

    assert run["status"] == "COMPENSATED", run
    nodes = {n["nodeId"]: n for n in run["nodes"]}
    assert nodes["charge"]["status"] == "COMPENSATED"
    assert "compensation 'refund' failed" in nodes["charge"]["error"]
    assert nodes["reserve"]["status"] == "COMPENSATED" and nodes["reserve"]["error"] is None
    assert nodes["refund"]["status"] == "FAILED"


async def test_a_run_that_succeeds_runs_no_compensation(stack: Stack, http_peer: HttpPeer) -> None:
    definition = booking(http_peer, "saga-succeeded", http_peer.url("/echo"))

    run = await stack.run_to_end(definition)

    assert run["status"] == "SUCCEEDED", run
    assert {n["nodeId"] for n in run["nodes"]} == {"reserve", "charge", "ship"}
