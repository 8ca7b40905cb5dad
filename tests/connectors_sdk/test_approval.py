"""`core.approval`: assignees (roles among FlowForge's), a decision form that is a JSON
Schema, n of m, a due time and its escalation, each checked at publish time with the
field and the fix."""

from typing import Any

import jsonschema
import pytest

from connectors_sdk.nodes.approval import ROLES, Approval, decision_schema
from control_plane.access.roles import Role


def approval(**config: Any) -> dict[str, Any]:
    return {"id": "ask", "type": "core.approval", "config": config}


def test_a_two_of_three_approval_with_a_form_and_an_escalation_is_valid(issues) -> None:
    node = approval(
        assignees=["alice@example.com", "role:editor", "group:finance"],
        required=2,
        form={"type": "object", "properties": {"comment": {"type": "string"}}},
        due="48h",
        escalate_to=["group:cfo", "role:owner"],
    )
    assert issues([node]) == []


def test_the_form_must_be_a_json_schema(issues) -> None:
    [(_, field, message)] = issues([approval(assignees=["a"], form={"type": "nothing"})])
    assert field == "config.form"
    assert message.startswith("not a JSON Schema:")


def test_assignees_are_named_plainly_and_needed(issues) -> None:
    [(_, field, message)] = issues([approval(assignees=["alice", "role: x"])])
    assert field == "config.assignees[1]"
    assert "bad assignee 'role: x'" in message
    [(_, field, _)] = issues([approval(assignees=[])])
    assert field == "config.assignees"


def test_a_role_assignee_names_a_flowforge_role(issues) -> None:
    node = approval(
        assignees=["role:operator", "role:technician"], due="1h", escalate_to=["role:lead"]
    )

    found = issues([node])

    assert [(node_id, field) for node_id, field, _ in found] == [
        ("ask", "config.assignees[1]"),
        ("ask", "config.escalate_to[0]"),
    ]
    assert found[0][2] == (
        "'technician' is not a role, so nobody could decide the task; roles are viewer, "
        "operator, editor, owner (in the run's project); for a group of the identity "
        "provider write group:<name>"
    )
    assert found[1][2].startswith("'lead' is not a role")


def test_a_group_assignee_names_its_group(issues) -> None:
    [(_, field, message)] = issues([approval(assignees=["group:"])])
    assert field == "config.assignees[0]"
    assert message.startswith("'group:' names no group: write group:<name>")


def test_assignees_given_by_expressions_are_known_only_when_the_node_runs(issues) -> None:
    assert issues([approval(assignees=["${ .input.approver }", "group:leads"])]) == []


def test_the_sdks_roles_are_the_control_planes() -> None:
    # The SDK may not import control_plane: its copy of the role names, lowest first,
    # is kept equal to the control plane's here.
    assert tuple(role.value for role in Role) == ROLES


def test_a_running_approval_keeps_assignees_it_was_published_with() -> None:
    # The interpreter validates the config again on every replay of a run: a version
    # published before the role names were checked replays as it ran.
    config = Approval.Config.model_validate({"assignees": ["role:technician", "group:"]})
    assert config.assignees == ["role:technician", "group:"]


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
