"""`core.approval`: assignees, a decision form that is a JSON Schema, n of m, a due time
and its escalation, each checked at publish time with the field and the fix."""

from typing import Any

import jsonschema
import pytest

from connectors_sdk.nodes.approval import decision_schema


def approval(**config: Any) -> dict[str, Any]:
    return {"id": "ask", "type": "core.approval", "config": config}


def test_a_two_of_three_approval_with_a_form_and_an_escalation_is_valid(issues) -> None:
    node = approval(
        assignees=["alice", "role:finance", "group:leads"],
        required=2,
        form={"type": "object", "properties": {"comment": {"type": "string"}}},
        due="48h",
        escalate_to=["role:cfo"],
    )
    assert issues([node]) == []


def test_the_form_must_be_a_json_schema(issues) -> None:
    [(_, field, message)] = issues([approval(assignees=["a"], form={"type": "nothing"})])
    assert field == "config.form"
    assert message.startswith("not a JSON Schema:")


def test_assignees_are_named_plainly_and_needed(issues) -> None:
    [(_, field, message)] = issues([approval(assignees=["role: x"])])
    assert field == "config.assignees"
    assert "bad assignee 'role: x'" in message
    [(_, field, _)] = issues([approval(assignees=[])])
    assert field == "config.assignees"


def test_an_escalation_needs_a_due_time(issues) -> None:
    [(_, field, message)] = issues([approval(assignees=["a"], escalate_to=["b"])])
    assert field == "config.escalate_to"
    assert "give `due` as well" in message
    due_from_input = approval(assignees=["a"], due="${ .input.due }", escalate_to=["b"])
    assert issues([due_from_input]) == []


def test_every_edge_from_an_approval_names_its_port(issues) -> None:
    nodes = [
        approval(assignees=["a"]),
        {"id": "go", "type": "core.log", "config": {"message": "x"}},
    ]
    [(_, field, message)] = issues(nodes, [{"from": "ask", "to": "go"}])
    assert field == "edges[0].port"
    assert "'approved', 'rejected', 'timeout'" in message


def test_a_decision_says_whether_it_approves_and_fits_the_form() -> None:
    schema = decision_schema({"type": "object", "properties": {"comment": {"type": "string"}}})
    jsonschema.validate({"approved": True, "comment": "fine"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"comment": "fine"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"approved": False, "comment": 3}, schema)


def test_an_approval_inside_a_body_is_refused(issues) -> None:
    mapped = {
        "id": "each",
        "type": "core.map",
        "config": {"items": [1, 2]},
        "body": {"nodes": [{**approval(assignees=["a"]), "id": "inner"}], "edges": []},
    }
    [(node, field, message)] = issues([mapped])
    assert (node, field) == ("inner", "type")
    assert message.startswith("an approval cannot be in the body of 'each'")
