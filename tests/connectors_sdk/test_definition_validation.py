"""One test per kind of bad definition: each asserts the node, the field and the message."""

import pytest

from connectors_sdk import (
    AnyObject,
    DefinitionInvalidError,
    DefinitionIssue,
    Node,
    NodeContext,
    NodeSpec,
    WorkflowDefinition,
    parse_definition,
    validate_definition,
)

HTTP = {"id": "fetch", "type": "core.http", "config": {"url": "https://example.com"}}
LOG = {"id": "log", "type": "core.log", "config": {"message": "done"}}
IF = {"id": "check", "type": "core.if", "config": {"condition": "${ .nodes.fetch.status }"}}


@pytest.fixture
def check(registry, make_definition):
    def check(nodes, edges=(), **fields):
        return validate_definition(make_definition(nodes, edges, **fields), registry)[1]

    return check


def only(issues: list[DefinitionIssue]) -> DefinitionIssue:
    assert len(issues) == 1, issues
    return issues[0]


def test_a_valid_definition_has_no_issues(registry, make_definition):
    data = make_definition(
        [HTTP, IF, LOG, {"id": "other", "type": "core.log", "config": {"message": "no"}}],
        [
            {"from": "fetch", "to": "check"},
            {"from": "check", "port": "true", "to": "log"},
            {"from": "check", "port": "false", "to": "other"},
        ],
        output={"status": "${ .nodes.fetch.status }"},
    )
    defn, issues = validate_definition(data, registry)
    assert issues == []
    assert isinstance(defn, WorkflowDefinition)
    assert parse_definition(data, registry) == defn


def test_structure_errors_stop_validation_and_name_the_workflow_field(registry, make_definition):
    data = make_definition([HTTP], name="Bad Name")
    del data["apiVersion"]
    defn, issues = validate_definition(data, registry)
    assert defn is None
    by_field = {issue.field: issue for issue in issues}
    assert set(by_field) == {"apiVersion", "name"}
    assert by_field["apiVersion"].node_id is None
    assert "Field required" in by_field["apiVersion"].message
    assert "should match pattern" in by_field["name"].message


def test_structure_errors_inside_a_node_name_the_node(check):
    issues = check([{**HTTP, "timeout": "soon", "colour": "red", "retry": {"max_attempts": 0}}])
    by_field = {issue.field: issue for issue in issues}
    assert set(by_field) == {"timeout", "colour", "retry.max_attempts"}
    assert all(issue.node_id == "fetch" for issue in issues)
    assert "bad duration 'soon'" in by_field["timeout"].message
    assert "Extra inputs are not permitted" in by_field["colour"].message
    assert "greater than or equal to 1" in by_field["retry.max_attempts"].message


def test_breaker_errors_name_the_node_and_the_field_of_the_policy(check):
    issues = check(
        [
            {**HTTP, "breaker": {"failures": 0, "cool_down": "later"}},
            {**LOG, "breaker": True},
        ]
    )

    assert [(issue.node_id, issue.field) for issue in issues] == [
        ("fetch", "breaker.failures"),
        ("fetch", "breaker.cool_down"),
        ("log", "breaker"),
    ]
    assert "greater than or equal to 1" in issues[0].message
    assert "bad duration 'later'" in issues[1].message
    assert "true is not a breaker policy" in issues[2].message


def test_a_breaker_on_a_node_that_makes_no_calls_is_refused(check):
    rows = {
        "id": "rows",
        "type": "core.map",
        "config": {"items": [1, 2]},
        "breaker": {"failures": 2},
        "body": {"nodes": [{**HTTP, "breaker": {"failures": 2}}]},
    }
    issues = check([{**IF, "breaker": False}, rows])

    assert [(issue.node_id, issue.field) for issue in issues] == [
        ("check", "breaker"),
        ("rows", "breaker"),
    ]
    assert issues[0].message == (
        "core.if is pure: it makes no calls, so no breaker can guard them; remove `breaker`"
    )
    assert "core.map is run by the interpreter itself" in issues[1].message
    assert "give the nodes of its body their breakers instead" in issues[1].message


def test_a_node_without_an_id_is_located_by_index(check):
    issue = only(check([{"type": "core.log", "config": {"message": "m"}}]))
    assert (issue.node_id, issue.field, issue.message) == (None, "nodes[0].id", "Field required")


def test_a_bad_node_id_is_reported_on_that_node(check):
    issue = only(check([{"id": "has space", "type": "core.log"}]))
    assert (issue.node_id, issue.field) == ("has space", "id")
    assert "should match pattern" in issue.message


def test_an_empty_node_list_is_refused(check):
    issue = only(check([]))
    assert (issue.node_id, issue.field) == (None, "nodes")
    assert "at least 1 item" in issue.message


def test_a_definition_that_is_not_a_mapping_is_refused(registry):
    defn, issues = validate_definition(["nodes"], registry)
    assert defn is None
    assert "mapping, not list" in only(issues).message


def test_an_invalid_input_schema_is_reported(check):
    issue = only(check([LOG], input={"type": "objekt"}))
    assert (issue.node_id, issue.field) == (None, "input")
    assert "not a valid JSON Schema" in issue.message


def test_duplicate_node_ids(check):
    issue = only(check([LOG, {**LOG, "config": {"message": "again"}}]))
    assert (issue.node_id, issue.field) == ("log", "id")
    assert "duplicate node id 'log' (nodes[0] and nodes[1])" in issue.message


def test_unknown_node_type_lists_the_known_types(check):
    issue = only(check([{"id": "x", "type": "acme.nope"}]))
    assert (issue.node_id, issue.field) == ("x", "type")
    assert "unknown node type 'acme.nope'" in issue.message
    assert (
        "core.http, core.if, core.log, core.loop, core.map, core.merge, core.subworkflow, "
        "core.switch, core.transform" in issue.message
    )


def test_missing_required_config(check):
    issue = only(check([{"id": "fetch", "type": "core.http", "config": {"method": "GET"}}]))
    assert (issue.node_id, issue.field, issue.message) == ("fetch", "config.url", "Field required")
    assert str(issue) == "node 'fetch': config.url: Field required"


def test_literal_config_of_the_wrong_type(check):
    issue = only(check([{**HTTP, "config": {"url": "u", "method": "FETCH", "timeout_seconds": 2}}]))
    assert (issue.node_id, issue.field) == ("fetch", "config.method")
    assert "'GET'" in issue.message


def test_config_expressions_are_left_to_run_time(check):
    config = {
        "url": "${ .input.url }",
        "method": "${ .input.method }",
        "timeout_seconds": "${ .input.timeout }",
        "headers": {"X-Id": "${ .input.id }"},
    }
    assert check([{"id": "fetch", "type": "core.http", "config": config}]) == []


def test_edge_from_an_unknown_node(check):
    issue = only(check([LOG], [{"from": "ghost", "to": "log"}]))
    assert (issue.node_id, issue.field) == (None, "edges[0].from")
    assert "unknown node 'ghost'" in issue.message


def test_edge_to_an_unknown_node(check):
    issue = only(check([LOG], [{"from": "log", "to": "ghost"}]))
    assert (issue.node_id, issue.field) == ("log", "edges[0].to")
    assert "unknown node 'ghost'" in issue.message


def test_duplicate_edge(check):
    other = {**LOG, "id": "other"}
    issue = only(check([LOG, other], [{"from": "log", "to": "other"}] * 2))
    assert (issue.node_id, issue.field) == ("log", "edges[1]")
    assert "duplicate of edges[0]" in issue.message


def test_self_loop(check):
    issue = only(check([LOG], [{"from": "log", "to": "log"}]))
    assert (issue.node_id, issue.field) == ("log", "edges[0]")
    assert "self loop on 'log'" in issue.message


def test_edge_from_a_node_with_ports_must_name_one(check):
    issue = only(
        check([HTTP, IF, LOG], [{"from": "fetch", "to": "check"}, {"from": "check", "to": "log"}])
    )
    assert (issue.node_id, issue.field) == ("check", "edges[1].port")
    assert "routes by port: name one of 'true', 'false'" in issue.message


def test_edge_port_must_be_a_port_of_the_source(check):
    edges = [{"from": "fetch", "to": "check"}, {"from": "check", "port": "maybe", "to": "log"}]
    issue = only(check([HTTP, IF, LOG], edges))
    assert (issue.node_id, issue.field) == ("check", "edges[1].port")
    assert "'maybe' is not a port of core.if" in issue.message


def test_edge_port_on_a_node_without_ports(check):
    issue = only(check([HTTP, LOG], [{"from": "fetch", "port": "true", "to": "log"}]))
    assert (issue.node_id, issue.field) == ("fetch", "edges[0].port")
    assert "has no ports; remove port 'true'" in issue.message


def test_cycle_names_its_nodes(check):
    nodes = [{**LOG, "id": name} for name in ("a", "b", "c", "d")]
    edges = [("a", "b"), ("b", "c"), ("c", "b"), ("c", "d")]
    issue = only(check(nodes, [{"from": s, "to": t} for s, t in edges]))
    assert (issue.node_id, issue.field) == ("b", "edges")
    assert issue.message.startswith("cycle: b -> c -> b")


def test_expression_syntax_in_config(check):
    issue = only(check([{**LOG, "config": {"message": "t=${ .input.temp + }"}}]))
    assert (issue.node_id, issue.field) == ("log", "config.message")
    assert "`.input.temp +`: syntax error" in issue.message


def test_expression_syntax_in_inputs(check):
    issue = only(check([{**LOG, "inputs": {"items": ["${ .input | }"]}}]))
    assert (issue.node_id, issue.field) == ("log", "inputs.items[0]")
    assert "syntax error" in issue.message


def test_expression_syntax_in_output(check):
    issue = only(check([LOG], output={"temp": "${ .nodes.log. }"}))
    assert (issue.node_id, issue.field) == (None, "output.temp")
    assert "syntax error" in issue.message


def test_unterminated_expression(check):
    issue = only(check([{**LOG, "config": {"message": "${ .input"}}]))
    assert (issue.node_id, issue.field) == ("log", "config.message")
    assert "unterminated" in issue.message


def test_predecessor_output_missing_a_required_input_port(check):
    nodes = [
        {"id": "fetch", "type": "core.http", "config": {"url": "u"}},
        {"id": "alert", "type": "test.alert", "config": {"channel": "ops"}},
    ]
    issues = check(nodes, [{"from": "fetch", "to": "alert"}])
    assert [(i.node_id, i.field) for i in issues] == [
        ("alert", "inputs.city"),
        ("alert", "inputs.temp"),
    ]
    assert issues[0].message == (
        "input port 'city' (string) is not provided by 'fetch' output (has: status, headers, body)"
    )


def test_predecessor_output_of_an_incompatible_type(check):
    nodes = [
        {"id": "weather", "type": "test.weather", "inputs": {"city": "Oslo"}},
        {"id": "count", "type": "test.count"},
    ]
    issue = only(check(nodes, [{"from": "weather", "to": "count"}]))
    assert (issue.node_id, issue.field) == ("count", "inputs.samples")
    assert issue.message == "input port 'samples' (string) gets integer from 'weather' output"


def test_integer_output_fits_a_number_input_and_nullable_fits(check):
    nodes = [
        {"id": "weather", "type": "test.weather", "inputs": {"city": "Oslo"}},
        {"id": "alert", "type": "test.alert", "config": {"channel": "ops"}},
    ]
    assert check(nodes, [{"from": "weather", "to": "alert"}]) == []


def test_an_untyped_predecessor_output_satisfies_any_input(check):
    nodes = [LOG, {"id": "alert", "type": "test.alert", "config": {"channel": "ops"}}]
    assert check(nodes, [{"from": "log", "to": "alert"}]) == []


def test_root_node_input_is_checked_against_the_workflow_input_schema(check):
    schema = {
        "type": "object",
        "properties": {"city": {"type": "integer"}},
        "additionalProperties": False,
    }
    issues = check([{"id": "weather", "type": "test.weather"}], input=schema)
    assert only(issues).field == "inputs.city"
    assert only(issues).message == "input port 'city' (string) gets integer from the workflow input"
    assert check([{"id": "weather", "type": "test.weather"}]) == []


def test_several_predecessors_provide_an_object_keyed_by_node_id(check):
    nodes = [{**LOG, "id": "a"}, {**LOG, "id": "b"}, {"id": "count", "type": "test.count"}]
    issue = only(check(nodes, [{"from": "a", "to": "count"}, {"from": "b", "to": "count"}]))
    assert (issue.node_id, issue.field) == ("count", "inputs.samples")
    assert "not provided by the predecessors (a, b) (has: a, b)" in issue.message


def test_explicit_inputs_literals_are_checked_and_expressions_skipped(check):
    node = {
        "id": "alert",
        "type": "test.alert",
        "config": {"channel": "ops"},
        "inputs": {"city": "${ .input.city }", "level": "high"},
    }
    issues = check([node])
    assert [(i.node_id, i.field) for i in issues] == [
        ("alert", "inputs.temp"),
        ("alert", "inputs.level"),
    ]
    assert issues[0].message == "Field required"
    assert "valid integer" in issues[1].message


def test_bad_secret_name(check):
    issue = only(check([{**HTTP, "secrets": ["api_key", "bad name"]}]))
    assert (issue.node_id, issue.field) == ("fetch", "secrets[1]")
    assert "bad secret name 'bad name'" in issue.message


class _NeedsToken(Node):
    """Reads an API token."""

    type = "test.needs_token"
    secrets = ("token",)

    async def run(self, ctx: NodeContext, config: AnyObject, input: AnyObject) -> AnyObject:
        return AnyObject()


def test_a_secret_the_node_type_needs_must_be_mapped(registry, make_definition):
    registry.register(_NeedsToken)
    node = {"id": "call", "type": "test.needs_token"}
    definition = make_definition([node])
    issue = only(validate_definition(definition, registry)[1])
    assert (issue.node_id, issue.field) == ("call", "secrets")
    assert "needs the secret 'token'" in issue.message
    assert "secrets: {token: <project secret name>}" in issue.message
    for given in (["token"], {"token": "acme_prod_token"}):
        mapped = make_definition([{**node, "secrets": given}])
        assert validate_definition(mapped, registry)[1] == []


def test_a_mapping_of_secrets_names_the_bad_name_on_either_side(check):
    issues = check([{**HTTP, "secrets": {"ok": "bad name", "bad/key": "fine"}}])
    assert [(i.field, i.message.split(":")[0]) for i in issues] == [
        ("secrets.ok", "bad secret name 'bad name'"),
        ("secrets.bad/key", "bad secret name 'bad/key'"),
    ]


def test_the_secret_map_of_a_list_names_each_secret_as_itself():
    listed = NodeSpec(id="a", type="core.http", secrets=["x", "y"])
    mapped = NodeSpec(id="a", type="core.http", secrets={"x": "prod_x"})
    assert (listed.secret_map, mapped.secret_map) == ({"x": "x", "y": "y"}, {"x": "prod_x"})


def test_all_issues_are_collected_and_raised_together(registry, make_definition):
    data = make_definition(
        [LOG, LOG, {"id": "x", "type": "acme.nope"}], [{"from": "log", "to": "ghost"}]
    )
    with pytest.raises(DefinitionInvalidError) as caught:
        parse_definition(data, registry)
    error = caught.value
    assert error.code == "invalid_definition"
    assert [issue.field for issue in error.issues] == ["id", "type", "edges[0].to"]
    assert str(error).startswith("invalid workflow definition (3 issues):\n  - node 'log': id:")
