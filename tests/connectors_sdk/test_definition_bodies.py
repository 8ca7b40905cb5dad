"""Bodies of `core.map` and `core.loop`: the model's scopes, and validation applied to every
body as to the top level, each issue naming the node, the field and the fix."""

from typing import Any

import pytest

from connectors_sdk import DefinitionIssue, NodeRegistry, WorkflowDefinition, validate_definition
from connectors_sdk._definition import MAX_NODES

FETCH = {"id": "fetch", "type": "core.http", "config": {"url": "https://example.com/rows"}}


def log(node_id: str, message: str = "m", **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "core.log", "config": {"message": message}, **fields}


def body(nodes: list[dict[str, Any]], edges=(), **fields: Any) -> dict[str, Any]:
    return {"nodes": nodes, "edges": list(edges), **fields}


def map_node(node_id: str, nodes: list[dict[str, Any]], edges=(), **fields: Any) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "core.map",
        "config": {"items": "${ .nodes.fetch.body.rows }"},
        "body": body(nodes, edges, **fields),
    }


def loop_node(node_id: str, nodes: list[dict[str, Any]], edges=(), **config: Any) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "core.loop",
        "config": {"max_iterations": 10, **config},
        "body": body(nodes, edges),
    }


def edge(source: str, to: str, port: str | None = None) -> dict[str, Any]:
    return {"from": source, "to": to, **({"port": port} if port else {})}


@pytest.fixture
def check(registry: NodeRegistry, make_definition):
    def check(nodes, edges=(), **fields) -> list[tuple[str | None, str, str]]:
        issues = validate_definition(make_definition(nodes, edges, **fields), registry)[1]
        return [(issue.node_id, issue.field, issue.message) for issue in issues]

    return check


def only(issues: list[tuple[str | None, str, str]]) -> tuple[str | None, str, str]:
    assert len(issues) == 1, issues
    return issues[0]


def nested(depth: int) -> dict[str, Any]:
    """Maps holding one another, `depth` bodies deep, the innermost body one core.log."""
    node = log(f"leaf{depth}")
    for level in range(depth, 0, -1):
        node = {
            "id": f"map{level}",
            "type": "core.map",
            "config": {"items": [1, 2]},
            "body": body([node]),
        }
    return node


# The model: scopes


def test_all_nodes_lists_every_scope_depth_first_in_definition_order():
    defn = WorkflowDefinition.model_validate(
        {
            "apiVersion": "flowforge/v1",
            "name": "scopes",
            "nodes": [
                FETCH,
                map_node("rows", [log("a"), loop_node("retry", [log("b")]), log("c")]),
                log("after"),
            ],
        }
    )

    assert [spec.id for spec in defn.all_nodes()] == [
        "fetch",
        "rows",
        "a",
        "retry",
        "b",
        "c",
        "after",
    ]


def test_graph_helpers_see_the_top_level_only():
    defn = WorkflowDefinition.model_validate(
        {
            "apiVersion": "flowforge/v1",
            "name": "scopes",
            "nodes": [FETCH, map_node("rows", [log("a"), log("b")], [edge("a", "b")])],
            "edges": [edge("fetch", "rows")],
        }
    )

    assert defn.topological_order() == ["fetch", "rows"]
    assert defn.successors("a") == []
    with pytest.raises(KeyError):
        defn.node("a")
    inner = defn.node("rows").body
    assert inner is not None
    assert inner.definition().topological_order() == ["a", "b"]


def test_nodes_in_bodies_count_toward_the_node_limit(registry, make_definition):
    nodes = [FETCH, map_node("rows", [log(f"n{i}") for i in range(MAX_NODES - 2)])]
    assert validate_definition(make_definition(nodes), registry)[1] == []

    nodes[1]["body"]["nodes"].append(log("one_more"))
    defn, issues = validate_definition(make_definition(nodes), registry)

    assert defn is None
    assert issues == [
        DefinitionIssue(
            None,
            "nodes",
            "1001 nodes, 999 of them in bodies; a definition holds at most 1000 in all: "
            "split the workflow",
        )
    ]
