"""The interpreter on the real stack: fused chains, events that leave at once, and faults
of the interpreter itself that stall a run instead of ending it."""

from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType

from data_plane.workflows.scheduler import Topology

from fixtures.stack import Stack, assert_eventually


def line(name: str, node_type: str, count: int, **extra: Any) -> dict[str, Any]:
    nodes = [{"id": f"n{i}", "type": node_type, **extra} for i in range(count)]
    edges = [{"from": f"n{i}", "to": f"n{i + 1}"} for i in range(count - 1)]
    return {"apiVersion": "flowforge/v1", "name": name, "nodes": nodes, "edges": edges}


async def test_a_chain_of_lightweight_nodes_runs_as_one_local_activity(stack: Stack) -> None:
    run = await stack.run_to_end(line("fused", "test.count", 5))
    assert run["status"] == "SUCCEEDED", run
    assert run["output"] == {"n4": {"count": 5}}

    history = await stack.temporal.get_workflow_handle(run["id"]).fetch_history()
    markers = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    ]
    activity_types = [
        str(m.marker_recorded_event_attributes.details["data"].payloads[0].data) for m in markers
    ]
    assert sum("run_chain" in t for t in activity_types) == 1
    assert not any("run_node" in t for t in activity_types)
    assert all(n["status"] == "SUCCEEDED" for n in run["nodes"]) and len(run["nodes"]) == 5


async def test_the_workflows_own_events_are_visible_while_no_activity_follows(
    two_pools: tuple[Stack, str],
) -> None:
    stack, idle_pool = two_pools
    definition = {
        "apiVersion": "flowforge/v1",
        "name": "stuck-after-pure",
        "nodes": [
            {"id": "shape", "type": "core.transform", "config": {"value": {"a": 1}}},
            {"id": "far", "type": "core.log", "config": {"message": "x"}, "pool": idle_pool},
        ],
        "edges": [{"from": "shape", "to": "far"}],
    }
    published = await stack.publish(definition)
    started = await stack.start_run(published["workflowId"])
    run_id = started["data"]["startRun"]["id"]

    async def shape_succeeded_in_a_running_run() -> dict[str, Any] | None:
        run = await stack.run(run_id)
        nodes = {n["nodeId"]: n for n in run["nodes"]}
        shape = nodes.get("shape", {}).get("status")
        # The run's and the node's events may be ingested from different batches.
        return run if (run["status"], shape) == ("RUNNING", "SUCCEEDED") else None

    # No worker serves the other pool: nothing will ever carry these events but the
    # workflow itself.
    await assert_eventually(shape_succeeded_in_a_running_run, within=10)
    await stack.temporal.get_workflow_handle(run_id).terminate("test over")


async def test_an_interpreter_fault_stalls_the_run_until_a_fixed_worker_resumes_it(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Topology.successors

    def faulty(self: Topology, node_id: str) -> list[str]:
        if node_id == "n1":
            raise KeyError("a planted fault")
        return original(self, node_id)

    monkeypatch.setattr(Topology, "successors", faulty)
    published = await stack.publish(line("faulty", "core.transform", 3, config={"value": {}}))
    started = await stack.start_run(published["workflowId"])
    run_id = started["data"]["startRun"]["id"]

    async def stalled() -> dict[str, Any] | None:
        run = await stack.run(run_id)
        return run if run["error"] else None

    run = await assert_eventually(stalled, within=20)
    assert run["status"] == "RUNNING"
    assert "interpreter error: KeyError" in run["error"]
    assert "planted fault" in run["error"]

    monkeypatch.undo()
    # The worker retries the workflow task on its own, now without the fault.
    run = await stack.wait_for_run(run_id, within=60)
    assert run["status"] == "SUCCEEDED", run
    assert run["error"] is None
    assert [n["status"] for n in run["nodes"]] == ["SUCCEEDED"] * 3
