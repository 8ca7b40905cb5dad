"""The scheduler decides what runs next from the plan and the state alone (no Temporal)."""

from typing import Any

from connectors_sdk import JoinMode, NodeRegistry, WorkflowDefinition
from data_plane.workflows.plan import build_plan
from data_plane.workflows.scheduler import Topology, advance, record_failure
from data_plane.workflows.state import NodeFailure, Outcome, RunState


def topology(nodes: list[str], edges: list[dict[str, Any]], **joins: JoinMode) -> Topology:
    definition = WorkflowDefinition.model_validate(
        {
            "apiVersion": "flowforge/v1",
            "name": "scheduled",
            "nodes": [{"id": n, "type": "core.transform", "config": {"value": {}}} for n in nodes],
            "edges": edges,
        }
    )
    plan = build_plan(definition, NodeRegistry.from_entry_points(), "default")
    for node_id, join in joins.items():
        plan.nodes[node_id].join = join
    return Topology.of(definition, plan)


def succeed(state: RunState, node_id: str, port: str | None = None) -> None:
    state.settle(node_id, Outcome(status="SUCCEEDED", port=port), {}, 2)


def fail(top: Topology, state: RunState, node_id: str) -> None:
    record_failure(top, state, NodeFailure(message="boom", type="T", attempts=1, node_id=node_id))


def test_roots_start_first_and_successors_wait_for_their_sources() -> None:
    top = topology(["a", "b", "c"], [{"from": "a", "to": "c"}, {"from": "b", "to": "c"}])
    state = RunState()

    assert advance(top, state, top.roots(), set()).start == ["a", "b"]
    succeed(state, "a")
    assert advance(top, state, ["c"], {"b"}).start == []
    succeed(state, "b")
    assert advance(top, state, ["c"], set()).start == ["c"]


def test_a_branch_not_taken_is_skipped_down_to_the_join_which_still_runs() -> None:
    top = topology(
        ["check", "yes", "yes2", "no", "join"],
        [
            {"from": "check", "port": "true", "to": "yes"},
            {"from": "yes", "to": "yes2"},
            {"from": "check", "port": "false", "to": "no"},
            {"from": "yes2", "to": "join"},
            {"from": "no", "to": "join"},
        ],
    )
    state = RunState()
    succeed(state, "check", port="false")

    decided = advance(top, state, ["yes", "no"], set())

    assert decided.skipped == ["yes", "yes2"]
    assert decided.start == ["no"]
    succeed(state, "no")
    assert advance(top, state, ["join"], set()).start == ["join"]


def test_an_all_join_is_skipped_when_one_branch_did_not_arrive() -> None:
    top = topology(
        ["check", "yes", "no", "join"],
        [
            {"from": "check", "port": "true", "to": "yes"},
            {"from": "check", "port": "false", "to": "no"},
            {"from": "yes", "to": "join"},
            {"from": "no", "to": "join"},
        ],
        join=JoinMode.ALL,
    )
    state = RunState()
    succeed(state, "check", port="true")
    advance(top, state, ["yes", "no"], set())
    succeed(state, "yes")

    assert advance(top, state, ["join"], set()).skipped == ["join"]


def test_a_first_join_runs_when_the_first_branch_arrives() -> None:
    top = topology(
        ["a", "b", "join"],
        [{"from": "a", "to": "join"}, {"from": "b", "to": "join"}],
        join=JoinMode.FIRST,
    )
    state = RunState()
    succeed(state, "b")

    assert advance(top, state, ["join"], {"a"}).start == ["join"]


def test_a_failure_with_an_error_edge_routes_to_it_and_the_run_goes_on() -> None:
    top = topology(
        ["fetch", "use", "alert"],
        [{"from": "fetch", "to": "use"}, {"from": "fetch", "port": "error", "to": "alert"}],
    )
    state = RunState()
    fail(top, state, "fetch")

    decided = advance(top, state, ["use", "alert"], set())

    assert state.failure is None
    assert decided.skipped == ["use"]
    assert decided.start == ["alert"]
    assert state.outputs["fetch"]["error"]["message"] == "boom"


def test_a_failure_without_an_error_edge_fails_the_run_and_nothing_more_starts() -> None:
    top = topology(["a", "b", "after"], [{"from": "a", "to": "after"}])
    state = RunState()
    fail(top, state, "a")

    decided = advance(top, state, ["after", "b"], set())

    assert state.failure == "node 'a' failed: boom"
    assert decided.start == []
    assert decided.skipped == ["b", "after"]


def test_followers_of_a_chain_are_never_started_on_their_own() -> None:
    top = topology(["a", "b"], [{"from": "a", "to": "b"}])
    top.plan.nodes["b"].chained_in = "a"
    state = RunState()
    succeed(state, "a")

    assert advance(top, state, ["b"], set()).start == []


def test_run_state_round_trips_as_data() -> None:
    top = topology(["a", "b"], [{"from": "a", "port": "error", "to": "b"}])
    state = RunState()
    fail(top, state, "a")

    assert RunState.model_validate_json(state.model_dump_json()) == state
