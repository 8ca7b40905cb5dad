"""A node's `compensation`: another node of the top level that runs only to undo it,
checked at publish time with the node, the field and the fix."""

from typing import Any

from connectors_sdk import WorkflowDefinition


def log(node_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "core.log", "config": {"message": node_id}, **fields}


def test_a_node_names_the_node_that_undoes_it(issues, make_definition) -> None:
    nodes = [log("charge", compensation="refund"), log("refund")]
    assert issues(nodes) == []
    assert WorkflowDefinition.model_validate(make_definition(nodes)).compensators() == {"refund"}


def test_a_compensation_must_name_another_node_of_the_workflow(issues) -> None:
    assert issues([log("charge", compensation="nowhere")]) == [
        (
            "charge",
            "compensation",
            "unknown node 'nowhere'; name a node of the workflow that undoes 'charge'",
        )
    ]
    [(_, field, message)] = issues([log("charge", compensation="charge")])
    assert field == "compensation" and "cannot compensate itself" in message


def test_a_compensating_node_has_no_edges_and_no_compensation(issues) -> None:
    nodes = [
        log("charge", compensation="refund"),
        log("refund", compensation="charge"),
        log("notify"),
    ]
    found = issues(nodes, [{"from": "refund", "to": "notify"}])
    assert (
        "refund",
        "id",
        "node 'refund' compensates other nodes, so it runs only as a "
        "compensation: remove its edges",
    ) in found
    assert any(n == "refund" and f == "compensation" and "of its own" in m for n, f, m in found)


def test_nodes_inside_a_body_are_not_compensated(issues) -> None:
    mapped = {
        "id": "each",
        "type": "core.map",
        "config": {"items": [1]},
        "body": {"nodes": [log("inner", compensation="undo"), log("undo")], "edges": []},
    }
    [(node, field, message)] = issues([mapped])
    assert (node, field) == ("inner", "compensation")
    assert "give 'each' a compensation instead" in message


def test_an_unset_compensation_keeps_the_definition_hash(make_definition) -> None:
    plain = WorkflowDefinition.model_validate(make_definition([log("a")]))
    assert "compensation" not in plain.canonical()["nodes"][0]
