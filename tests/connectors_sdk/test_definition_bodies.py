"""Bodies of `core.map` and `core.loop`: the model's scopes, and validation applied to every
body as to the top level, each issue naming the node, the field and the fix."""

from typing import Any

import pytest
from pydantic import ValidationError

from connectors_sdk import DefinitionIssue, NodeRegistry, WorkflowDefinition, validate_definition
from connectors_sdk._definition import MAX_BODY_DEPTH, MAX_NODES
from connectors_sdk.nodes.iteration import Loop

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


# Valid bodies


def test_a_map_and_a_loop_with_their_own_graphs_are_valid(check):
    rows = map_node(
        "rows",
        [
            {"id": "get", "type": "core.http", "config": {"url": "${ .item.url }"}},
            {
                "id": "route",
                "type": "core.switch",
                "config": {"cases": [{"port": "ok", "condition": "${ .nodes.get.status < 400 }"}]},
            },
            log("keep", "row ${ .index } of ${ .nodes.fetch.body.count }"),
            log("drop"),
            log("failed", "${ .node.input.error.message }"),
            {"id": "join", "type": "core.merge", "config": {"mode": "not_skipped"}},
        ],
        [
            edge("get", "route"),
            edge("route", "keep", "ok"),
            edge("route", "drop", "default"),
            edge("get", "failed", "error"),
            edge("keep", "join"),
            edge("drop", "join"),
        ],
        output="${ .nodes.get.body }",
    )
    poll = loop_node(
        "poll",
        [
            {
                "id": "status",
                "type": "core.http",
                "config": {"url": "${ .previous.next // .input.url }"},
            }
        ],
        until="${ .previous.status.body.done }",
        wait="5s",
    )

    assert check([FETCH, rows, poll], [edge("fetch", "rows"), edge("rows", "poll")]) == []


def test_bodies_nest_three_deep(check):
    assert MAX_BODY_DEPTH == 3
    assert check([nested(3)]) == []


def test_a_fourth_body_is_refused_naming_the_bodies_that_hold_it(check):
    assert only(check([nested(4)])) == (
        "map4",
        "body",
        "bodies nest at most 3 deep, and 'map1' > 'map2' > 'map3' already hold one another, "
        "so 'map4' cannot hold a body; flatten the iteration (map over the combined items in "
        "one body) or split the workflow",
    )


# Bodies where they belong


@pytest.mark.parametrize("node_type", ["core.map", "core.loop"])
def test_a_node_type_with_a_body_requires_one(check, node_type):
    config = {"items": []} if node_type == "core.map" else {"max_iterations": 3}
    node_id, field, message = only(check([{"id": "x", "type": node_type, "config": config}]))

    assert (node_id, field) == ("x", "body")
    assert message.startswith(f"{node_type} runs a body")
    assert "add one: `body: {nodes: [...], edges: [...]}`" in message


def test_a_body_on_a_node_type_without_one_is_refused(check):
    assert only(check([log("say", body=body([log("inner")]))])) == (
        "say",
        "body",
        "core.log has no body; remove `body`, or give the node a type that runs one "
        "(core.loop, core.map)",
    )


def test_an_empty_body_is_refused(check):
    assert only(check([map_node("rows", [])])) == (
        "rows",
        "body.nodes",
        "List should have at least 1 item after validation, not 0",
    )


# Body nodes are checked as top-level nodes are, and named by their own ids


def test_an_unknown_node_type_in_a_body_names_the_body_node(check):
    node_id, field, message = only(check([map_node("rows", [{"id": "pick", "type": "core.iff"}])]))

    assert (node_id, field) == ("pick", "type")
    assert message.startswith("unknown node type 'core.iff'; known types: core.approval, core.http")


def test_a_bad_config_of_a_body_node_names_that_node_and_field(check):
    rows = map_node("rows", [{"id": "get", "type": "core.http", "config": {"method": "FETCH"}}])

    issues = check([rows])

    assert [(node_id, field) for node_id, field, _ in issues] == [
        ("get", "config.method"),
        ("get", "config.url"),
    ]


def test_a_bad_config_of_a_deeply_nested_node_names_that_node(check):
    outer = nested(3)
    outer["body"]["nodes"][0]["body"]["nodes"][0]["body"]["nodes"] = [
        {"id": "deep", "type": "core.log", "config": {"level": "loud"}}
    ]

    assert [(node_id, field) for node_id, field, _ in check([outer])] == [
        ("deep", "config.message"),
        ("deep", "config.level"),
    ]


def test_structure_errors_in_a_body_node_name_that_node(check):
    rows = map_node("rows", [log("get", timeout="soon", colour="red")])

    assert {(node_id, field) for node_id, field, _ in check([rows])} == {
        ("get", "timeout"),
        ("get", "colour"),
    }


def test_a_body_node_without_an_id_is_located_from_the_node_holding_the_body(check):
    rows = map_node("rows", [log("a"), {"type": "core.log", "config": {"message": "m"}}])

    assert only(check([rows])) == ("rows", "body.nodes[1].id", "Field required")


def test_a_cycle_in_a_body_names_its_nodes(check):
    rows = map_node(
        "rows", [log("a"), log("b"), log("c")], [edge("a", "b"), edge("b", "c"), edge("c", "a")]
    )

    assert only(check([rows])) == (
        "a",
        "edges",
        "cycle: a -> b -> c -> a; remove an edge to break it",
    )


def test_a_merge_in_a_body_needs_two_branches_of_that_body(check):
    rows = map_node("rows", [log("a"), {"id": "join", "type": "core.merge"}], [edge("a", "join")])

    node_id, field, message = only(check([rows]))

    assert (node_id, field) == ("join", "edges")
    assert "needs edges from at least 2 nodes; its only edges come from 'a'" in message


def test_expression_syntax_in_body_nodes_and_the_body_output(check):
    rows = map_node("rows", [log("a", "${ .item | }")], output={"x": "${ .nodes.a. }"})

    issues = check([rows])

    assert [(node_id, field) for node_id, field, _ in issues] == [
        ("a", "config.message"),
        ("rows", "body.output.x"),
    ]
    assert all("syntax error" in message for _, _, message in issues)


def test_bad_secret_names_in_a_body_name_the_body_node(check):
    rows = map_node("rows", [log("a", secrets=["ok", "bad name"])])

    assert only(check([rows])) == (
        "a",
        "secrets[1]",
        "bad secret name 'bad name': use letters, digits, '_', '.' and '-'",
    )


# Ports inside a body


def test_what_flows_between_body_nodes_is_checked_against_their_inputs(check):
    rows = map_node(
        "rows",
        [
            FETCH | {"id": "get"},
            {"id": "alert", "type": "test.alert", "config": {"channel": "ops"}},
        ],
        [edge("get", "alert")],
    )

    assert [(node_id, field) for node_id, field, _ in check([rows])] == [
        ("alert", "inputs.city"),
        ("alert", "inputs.temp"),
    ]


def test_a_body_node_without_predecessors_takes_the_item_so_it_is_not_compared_with_the_run_input(
    check,
):
    schema = {"type": "object", "properties": {"city": {"type": "integer"}}}
    weather = {"id": "weather", "type": "test.weather"}

    assert [field for _, field, _ in check([weather], input=schema)] == ["inputs.city"]
    assert check([{**weather, "id": "top"}, map_node("rows", [weather])], input=schema) == [
        ("top", "inputs.city", "input port 'city' (string) gets integer from the workflow input")
    ]


def test_literal_inputs_of_a_body_node_are_checked(check):
    rows = map_node("rows", [{"id": "weather", "type": "test.weather", "inputs": {"city": 3}}])

    assert only(check([rows])) == ("weather", "inputs.city", "Input should be a valid string")


def test_an_error_edge_in_a_body_delivers_the_failure(check):
    rows = map_node(
        "rows",
        [FETCH | {"id": "get"}, {"id": "alert", "type": "test.alert", "config": {"channel": "o"}}],
        [edge("get", "alert", "error")],
    )

    assert check([rows])[0] == (
        "alert",
        "inputs.city",
        "input port 'city' (string) is not provided by the error edge from 'get' (has: error)",
    )


def test_ports_of_body_edges_are_fields_of_the_node_holding_the_body(check):
    rows = map_node(
        "rows",
        [{"id": "check", "type": "core.if", "config": {"condition": True}}, log("a"), log("b")],
        [edge("check", "a"), edge("a", "b", "maybe")],
    )

    assert check([rows]) == [
        (
            "rows",
            "body.edges[0].port",
            "node 'check' (core.if) routes by port: name one of 'true', 'false'",
        ),
        (
            "rows",
            "body.edges[1].port",
            "node 'a' (core.log) has no ports; remove port 'maybe' (only 'error' is allowed: "
            "it routes the node's failures)",
        ),
    ]


def test_the_ports_of_a_switch_in_a_body_come_from_its_config(check):
    route = {
        "id": "route",
        "type": "core.switch",
        "config": {"cases": [{"port": "hot", "condition": "${ .item.temp > 25 }"}]},
    }
    rows = map_node(
        "rows",
        [route, log("cool"), log("idle")],
        [edge("route", "cool", "hot"), edge("route", "idle", "warm")],
    )

    assert only(check([rows])) == (
        "rows",
        "body.edges[1].port",
        "'warm' is not a port of node 'route' (core.switch); its config gives it the ports "
        "'hot', 'default'",
    )


def test_the_body_of_a_node_of_an_unknown_type_is_checked_too(check):
    custom = {
        "id": "each",
        "type": "acme.each",
        "body": body([{"id": "inner", "type": "core.http"}]),
    }

    assert [(node_id, field) for node_id, field, _ in check([custom])] == [
        ("each", "type"),
        ("inner", "config.url"),
    ]


# Scopes: ids across them, edges within them


def test_node_ids_are_unique_across_scopes(check):
    rows = map_node("rows", [log("fetch"), loop_node("again", [log("rows")])])

    assert check([FETCH, rows]) == [
        (
            "fetch",
            "id",
            "duplicate node id 'fetch' (nodes[0] and nodes[1].body.nodes[0]); node ids must be "
            "unique across the definition, bodies included",
        ),
        (
            "rows",
            "id",
            "duplicate node id 'rows' (nodes[1] and nodes[1].body.nodes[1].body.nodes[0]); node "
            "ids must be unique across the definition, bodies included",
        ),
    ]


def test_node_ids_are_unique_across_sibling_bodies(check):
    issue = only(check([map_node("a", [log("same")]), map_node("b", [log("same")])]))

    assert issue[:2] == ("same", "id")
    assert "(nodes[0].body.nodes[0] and nodes[1].body.nodes[0])" in issue[2]


def test_an_edge_from_the_top_level_into_a_body_is_refused(check):
    rows = map_node("rows", [log("each")])

    assert only(check([FETCH, rows], [edge("fetch", "each")])) == (
        "fetch",
        "edges[0].to",
        "edge to 'each', a node of the body of 'rows', at the top level: an edge joins two "
        "nodes of one scope; connect 'rows' instead: its output holds its body's results",
    )


def test_an_edge_from_a_body_to_an_enclosing_node_is_refused(check):
    rows = map_node("rows", [loop_node("again", [log("each")], [edge("fetch", "each")])])

    assert only(check([FETCH, rows])) == (
        "again",
        "body.edges[0].from",
        "edge from 'fetch', a node of the top level, in the body of 'again': an edge joins two "
        "nodes of one scope; a body reads the outputs of enclosing nodes in expressions "
        "instead: `${ .nodes.fetch }`",
    )


def test_an_edge_across_sibling_bodies_is_refused(check):
    nodes = [map_node("a", [log("in_a")]), map_node("b", [log("in_b")], [edge("in_b", "in_a")])]

    assert only(check(nodes)) == (
        "b",
        "body.edges[0].to",
        "edge to 'in_a', a node of the body of 'a', in the body of 'b': an edge joins two nodes "
        "of one scope; move the nodes into one body, or read the other's output after it",
    )


def test_an_edge_to_an_unknown_node_in_a_body_lists_that_body_s_nodes(check):
    rows = map_node(
        "rows", [log("a"), log("b")], [edge("a", "ghost"), edge("a", "b"), edge("a", "b")]
    )

    assert check([rows]) == [
        (
            "rows",
            "body.edges[0].to",
            "edge to unknown node 'ghost'; the nodes of the body of 'rows' are: a, b",
        ),
        ("rows", "body.edges[2]", "duplicate of body.edges[1]; remove one"),
    ]


# core.loop's config


def test_a_loop_needs_max_iterations(check):
    poll = loop_node("poll", [log("a")])
    del poll["config"]["max_iterations"]

    assert only(check([poll])) == ("poll", "config.max_iterations", "Field required")


def test_a_loop_with_until_and_while_is_refused_even_when_both_are_expressions(check):
    poll = loop_node("poll", [log("a")])
    poll["config"] = {"until": "${ .previous.a.done }", "while": "${ .index < 3 }"}

    assert check([poll]) == [
        (
            "poll",
            "config.while",
            "give `until` or `while`, not both: `until` stops the loop once it holds, `while` "
            "goes on while it holds; keep one (negate the condition to turn one into the other)",
        ),
        ("poll", "config.max_iterations", "Field required"),
    ]


def test_the_loop_config_refuses_both_conditions_once_evaluated_too():
    with pytest.raises(ValidationError, match="give `until` or `while`, not both"):
        Loop.Config.model_validate({"until": False, "while": True, "max_iterations": 3})

    config = Loop.Config.model_validate({"until": None, "while": True, "max_iterations": 3})

    assert (config.until, config.while_) == (None, True)
