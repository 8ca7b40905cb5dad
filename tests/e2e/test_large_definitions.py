"""Hardening #7: definitions as large as the format allows run, and replay, without
tripping Temporal's deadlock detector (2 s per workflow activation); larger ones are
refused at publish, naming the limit."""

from typing import Any

from data_plane.workflows.expressions import VISITS_PER_ACTIVATION

from fixtures.replay import replay
from fixtures.stack import Stack


def chain(count: int) -> dict[str, Any]:
    nodes = [{"id": "n0", "type": "core.transform", "config": {"value": "${ .input.start }"}}]
    nodes += [
        {
            "id": f"n{i}",
            "type": "core.transform",
            "config": {"value": f"${{ .nodes.n{i - 1}.value + 1 }}"},
        }
        for i in range(1, count)
    ]
    edges = [{"from": f"n{i - 1}", "to": f"n{i}"} for i in range(1, count)]
    return {
        "apiVersion": "flowforge/v1",
        "name": f"chain-{count}",
        "nodes": nodes,
        "edges": edges,
        "output": f"${{ .nodes.n{count - 1}.value }}",
    }


async def test_a_chain_of_a_thousand_nodes_runs_and_replays(sqlite_stack: Stack) -> None:
    stack = sqlite_stack
    run = await stack.run_to_end(chain(1000), {"start": 5})

    assert run["status"] == "SUCCEEDED", run["error"]
    assert run["output"] == 5 + 999
    assert len(run["nodes"]) == 1000
    assert {node["status"] for node in run["nodes"]} == {"SUCCEEDED"}
    history = await stack.temporal.get_workflow_handle(run["id"]).fetch_history()
    # The interpreter paced itself: its activations ended every VISITS_PER_ACTIVATION nodes,
    # each with the local activity that sends the events so far (no other runs here).
    pauses = [e for e in history.events if e.HasField("marker_recorded_event_attributes")]
    assert len(pauses) >= 1000 // VISITS_PER_ACTIVATION - 1
    await replay(history)


async def test_a_thousand_parallel_nodes_run(sqlite_stack: Stack) -> None:
    stack = sqlite_stack
    nodes = [{"id": "start", "type": "core.transform", "config": {"value": {"n": 1}}}]
    nodes += [
        {"id": f"p{i}", "type": "core.transform", "config": {"value": {"i": i}}} for i in range(999)
    ]
    edges = [{"from": "start", "to": f"p{i}"} for i in range(999)]
    flow = {"apiVersion": "flowforge/v1", "name": "wide", "nodes": nodes, "edges": edges}
    run = await stack.run_to_end(flow)

    assert run["status"] == "SUCCEEDED", run["error"]
    assert len(run["output"]) == 999


async def test_a_definition_over_the_node_limit_is_refused_at_publish(
    sqlite_stack: Stack,
) -> None:
    published = await sqlite_stack.publish(chain(1001))

    assert published["__typename"] == "ValidationFailed"
    assert any("at most 1000" in error["message"] for error in published["errors"]), published
