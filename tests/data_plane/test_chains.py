"""Chains of lightweight nodes: found by shape, run in one local activity, and still
reported, retried and failed node by node."""

from typing import Any

from connectors_sdk import NodeRegistry, WorkflowDefinition
from data_plane.workflows.plan import build_plan

from fixtures.nodes import TEST_NODES
from fixtures.stack import Stack


def count(node_id: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "test.count", "config": config}


def flow(nodes: list[dict[str, Any]], edges: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "apiVersion": "flowforge/v1",
        "name": "chain",
        "nodes": nodes,
        "edges": [{"from": a, "to": b} for a, b in edges],
    }


def chains_of(data: dict[str, Any], pool: str = "default") -> dict[str, list[str]]:
    registry = NodeRegistry.from_entry_points()
    for node in TEST_NODES:
        registry.register(node)
    plan = build_plan(WorkflowDefinition.model_validate(data), registry, pool)
    return {head: node.chain for head, node in plan.nodes.items() if node.step == "chain"}


def test_a_straight_run_of_lightweight_nodes_is_one_chain() -> None:
    data = flow([count("a"), count("b"), count("c")], [("a", "b"), ("b", "c")])

    assert chains_of(data) == {"a": ["a", "b", "c"]}


def test_a_node_pinned_to_another_pool_is_never_chained() -> None:
    pinned = {**count("b"), "pool": "onprem"}
    data = flow([count("a"), pinned, count("c"), count("d")], [("a", "b"), ("b", "c"), ("c", "d")])

    assert chains_of(data) == {"c": ["c", "d"]}


def test_chains_stop_at_forks_joins_other_modes_and_expressions() -> None:
    data = flow(
        [
            count("a"),
            count("b"),
            count("c"),
            count("d"),
            {"id": "t", "type": "core.transform", "config": {"value": {"count": 1}}},
            count("e"),
            count("f", fail_attempts="${ .input.n }"),
        ],
        [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("d", "t"), ("t", "e"), ("e", "f")],
    )

    # a forks, d joins, t is pure, f's config holds an expression: no chain anywhere.
    assert chains_of(data) == {}


def test_a_node_with_explicit_inputs_starts_a_new_chain() -> None:
    data = flow(
        [count("a"), count("b"), {**count("c"), "inputs": {"count": 10}}, count("d")],
        [("a", "b"), ("b", "c"), ("c", "d")],
    )

    assert chains_of(data) == {"a": ["a", "b"], "c": ["c", "d"]}


async def test_chain_runs_every_node_and_reports_each(stack: Stack) -> None:
    nodes = [count(f"n{i}") for i in range(5)]
    run = await stack.run_to_end(flow(nodes, [(f"n{i}", f"n{i + 1}") for i in range(4)]))

    assert run["status"] == "SUCCEEDED", run
    assert run["output"] == {"n4": {"count": 5}}
    reported = {n["nodeId"]: n for n in run["nodes"]}
    assert [reported[f"n{i}"]["output"]["count"] for i in range(5)] == [1, 2, 3, 4, 5]
    assert all(n["status"] == "SUCCEEDED" and n["attempts"] == 1 for n in reported.values())
    assert reported["n3"]["input"] == {"count": 3}
    starts = [reported[f"n{i}"]["startedAt"] for i in range(5)]
    assert starts == sorted(starts)


async def test_failing_node_in_a_chain_is_retried_with_its_own_policy(stack: Stack) -> None:
    middle = {
        **count("b", fail_attempts=2),
        "retry": {"max_attempts": 3, "initial_interval": "50ms"},
    }
    run = await stack.run_to_end(flow([count("a"), middle, count("c")], [("a", "b"), ("b", "c")]))

    assert run["status"] == "SUCCEEDED", run
    reported = {n["nodeId"]: n for n in run["nodes"]}
    assert reported["b"]["attempts"] == 3
    assert reported["a"]["attempts"] == 1
    assert reported["c"]["attempts"] == 1
    assert run["output"] == {"c": {"count": 3}}


async def test_non_retryable_failure_in_a_chain_fails_the_run_once(stack: Stack) -> None:
    middle = count("b", fail_attempts=5, retryable=False)
    run = await stack.run_to_end(flow([count("a"), middle, count("c")], [("a", "b"), ("b", "c")]))

    assert run["status"] == "FAILED", run
    reported = {n["nodeId"]: n for n in run["nodes"]}
    assert reported["a"]["status"] == "SUCCEEDED"
    assert reported["b"]["status"] == "FAILED"
    assert reported["b"]["attempts"] == 1
    assert "planned failure on attempt 1" in reported["b"]["error"]
    assert reported["c"]["status"] == "SKIPPED"


async def test_node_past_its_timeout_inside_a_chain_is_cut_and_retried(stack: Stack) -> None:
    slow = {
        **count("b", sleep_seconds=5),
        "timeout": "300ms",
        "retry": {"max_attempts": 2, "initial_interval": "50ms"},
    }
    run = await stack.run_to_end(flow([count("a"), slow, count("c")], [("a", "b"), ("b", "c")]))

    assert run["status"] == "FAILED", run
    reported = {n["nodeId"]: n for n in run["nodes"]}
    assert reported["b"]["status"] == "FAILED"
    assert reported["b"]["attempts"] == 2
    assert "time" in reported["b"]["error"].lower()
    assert reported["c"]["status"] == "SKIPPED"


async def test_custom_pure_node_routes_by_its_port(stack: Stack) -> None:
    nodes = [
        count("one"),
        {"id": "parity", "type": "test.parity"},
        {"id": "even", "type": "core.transform", "config": {"value": {"was": "even"}}},
        {"id": "odd", "type": "core.transform", "config": {"value": {"was": "odd"}}},
    ]
    data = flow(nodes, [("one", "parity")])
    data["edges"] += [
        {"from": "parity", "port": "even", "to": "even"},
        {"from": "parity", "port": "odd", "to": "odd"},
    ]

    run = await stack.run_to_end(data)

    assert run["status"] == "SUCCEEDED", run
    assert run["output"] == {"odd": {"was": "odd"}}
    assert {n["nodeId"]: n["status"] for n in run["nodes"]}["even"] == "SKIPPED"
