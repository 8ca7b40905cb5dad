"""Validation of switches, merges and error edges: each bad case names the node, the field
and the fix."""

import pytest
from pydantic import BaseModel

from connectors_sdk import (
    ERROR_PORT,
    AnyObject,
    DefinitionIssue,
    Node,
    NodeContext,
    NodeDefinitionError,
    NodeFailure,
    NodeRegistry,
    NodeResult,
    validate_definition,
)

FETCH = {"id": "fetch", "type": "core.http", "config": {"url": "https://example.com"}}
ROUTE = {
    "id": "route",
    "type": "core.switch",
    "config": {
        "cases": [
            {"port": "hot", "condition": "${ .nodes.fetch.body.temp > 25 }"},
            {"port": "cold", "condition": "${ .nodes.fetch.body.temp < 5 }"},
        ],
        "default": "mild",
    },
}


def log(node_id: str) -> dict:
    return {"id": node_id, "type": "core.log", "config": {"message": node_id}}


class Lanes(Node):
    """Ports named by a count in its config (a test node with config-dependent ports)."""

    type = "test.lanes"
    pure = True

    class Config(BaseModel):
        lanes: int

    @classmethod
    def ports_for(cls, config: Config) -> tuple[str, ...]:
        return tuple(f"lane{i}" for i in range(config.lanes))

    def evaluate(self, config: Config, input: AnyObject) -> NodeResult:
        return NodeResult(output={}, port="lane0")


class Page(Node):
    """Needs a person to page (a test node with a required input)."""

    type = "test.page"

    class Input(BaseModel):
        person: str

    async def run(self, ctx: NodeContext, config: AnyObject, input: Input) -> AnyObject:
        return AnyObject()


class Report(Node):
    """Reports a failure it is given (a test node whose input is an error edge's)."""

    type = "test.report"

    class Input(BaseModel):
        error: NodeFailure

    async def run(self, ctx: NodeContext, config: AnyObject, input: Input) -> AnyObject:
        return AnyObject()


@pytest.fixture(scope="module")
def flow_registry(registry: NodeRegistry) -> NodeRegistry:
    own = NodeRegistry()
    for cls in (*registry.types(), Lanes, Page, Report):
        own.register(cls)
    return own


@pytest.fixture
def check(flow_registry, make_definition):
    def check(nodes, edges=(), **fields):
        return validate_definition(make_definition(nodes, edges, **fields), flow_registry)[1]

    return check


def only(issues: list[DefinitionIssue]) -> DefinitionIssue:
    assert len(issues) == 1, issues
    return issues[0]


def test_edges_from_a_switch_name_its_case_ports_and_its_default(check):
    edges = [
        {"from": "fetch", "to": "route"},
        {"from": "route", "port": "hot", "to": "a"},
        {"from": "route", "port": "cold", "to": "b"},
        {"from": "route", "port": "mild", "to": "c"},
    ]
    assert check([FETCH, ROUTE, log("a"), log("b"), log("c")], edges) == []


def test_an_edge_from_a_switch_naming_another_port_is_refused(check):
    edges = [{"from": "route", "port": "warm", "to": "a"}]

    issue = only(check([ROUTE, log("a")], edges))

    assert (issue.node_id, issue.field) == ("route", "edges[0].port")
    assert issue.message == (
        "'warm' is not a port of node 'route' (core.switch); its config gives it the ports "
        "'hot', 'cold', 'mild'"
    )


def test_an_edge_from_a_switch_without_a_port_is_refused(check):
    issue = only(check([ROUTE, log("a")], [{"from": "route", "to": "a"}]))
    assert (issue.node_id, issue.field) == ("route", "edges[0].port")
    assert "routes by port: name one of 'hot', 'cold', 'mild'" in issue.message


def test_a_switch_port_written_as_an_expression_is_refused_and_its_edges_left_unchecked(check):
    route = {
        "id": "route",
        "type": "core.switch",
        "config": {"cases": [{"port": "${ .input.port }", "condition": True}]},
    }

    issue = only(check([route, log("a")], [{"from": "route", "port": "anything", "to": "a"}]))

    assert (issue.node_id, issue.field) == ("route", "config.cases[0].port")
    assert "'${ .input.port }' is an expression; write it literally" in issue.message


def test_config_dependent_ports_hidden_by_an_expression_are_reported_once(check):
    lanes = {"id": "split", "type": "test.lanes", "config": {"lanes": "${ .input.n }"}}
    edges = [
        {"from": "split", "port": "lane0", "to": "a"},
        {"from": "split", "port": "x", "to": "b"},
    ]

    issue = only(check([lanes, log("a"), log("b")], edges))

    assert (issue.node_id, issue.field) == ("split", "config")
    assert "the ports of test.lanes depend on its config" in issue.message
    assert "write those fields literally" in issue.message


def test_config_dependent_ports_are_read_from_the_literal_config(check):
    lanes = {"id": "split", "type": "test.lanes", "config": {"lanes": 2}}
    edges = [
        {"from": "split", "port": "lane1", "to": "a"},
        {"from": "split", "port": "lane2", "to": "b"},
    ]

    issue = only(check([lanes, log("a"), log("b")], edges))

    assert (issue.node_id, issue.field) == ("split", "edges[1].port")
    assert "its config gives it the ports 'lane0', 'lane1'" in issue.message


@pytest.mark.parametrize(
    "source",
    [
        FETCH,  # an activity
        log("fetch"),  # a lightweight node
        {"id": "fetch", "type": "core.transform", "config": {"value": "${ .input }"}},  # pure
        {"id": "fetch", "type": "core.if", "config": {"condition": True}},  # pure, with ports
        {**ROUTE, "id": "fetch"},  # ports from its config
    ],
    ids=["activity", "lightweight", "pure", "ports", "config-ports"],
)
def test_an_error_edge_may_leave_any_node(check, source):
    assert (
        check([source, log("alert")], [{"from": "fetch", "port": ERROR_PORT, "to": "alert"}]) == []
    )


def test_a_node_without_ports_may_only_name_the_error_port(check):
    issue = only(check([FETCH, log("a")], [{"from": "fetch", "port": "ok", "to": "a"}]))
    assert issue.message == (
        "node 'fetch' (core.http) has no ports; remove port 'ok' (only 'error' is allowed: it "
        "routes the node's failures)"
    )


def test_a_node_type_cannot_declare_the_error_port():
    with pytest.raises(NodeDefinitionError, match="ports must not include 'error'"):

        class Bad(Node):
            type = "test.bad"
            pure = True
            ports = ("ok", "error")

            def evaluate(self, config: AnyObject, input: AnyObject) -> NodeResult:
                return NodeResult(output={}, port="ok")


def test_the_target_of_an_error_edge_is_checked_against_the_failure_it_gets(check):
    nodes = [FETCH, {"id": "page", "type": "test.page"}, {"id": "report", "type": "test.report"}]
    edges = [
        {"from": "fetch", "port": "error", "to": "page"},
        {"from": "fetch", "port": "error", "to": "report"},
    ]

    issue = only(check(nodes, edges))

    assert (issue.node_id, issue.field) == ("page", "inputs.person")
    assert issue.message == (
        "input port 'person' (string) is not provided by the error edge from 'fetch' (has: error)"
    )


def test_the_failure_an_error_edge_gives_is_an_error_object():
    failure = NodeFailure(message="GET x -> 503", type="execution_failed", attempts=3, node_id="a")
    assert failure.as_input() == {
        "error": {
            "message": "GET x -> 503",
            "type": "execution_failed",
            "attempts": 3,
            "node_id": "a",
        }
    }


def test_a_merge_of_two_branches_is_valid(check):
    merge = {"id": "join", "type": "core.merge", "config": {"mode": "not_skipped"}}
    edges = [
        {"from": "fetch", "to": "route"},
        {"from": "route", "port": "hot", "to": "a"},
        {"from": "route", "port": "mild", "to": "b"},
        {"from": "a", "to": "join"},
        {"from": "b", "to": "join"},
    ]
    assert check([FETCH, ROUTE, log("a"), log("b"), merge], edges) == []


@pytest.mark.parametrize(
    ("edges", "has"),
    [
        ([], "it has none"),
        ([{"from": "route", "port": "hot", "to": "join"}], "its only edges come from 'route'"),
        (
            [
                {"from": "route", "port": "hot", "to": "join"},
                {"from": "route", "port": "cold", "to": "join"},
            ],
            "its only edges come from 'route'",
        ),
    ],
    ids=["none", "one", "two-from-one-node"],
)
def test_a_merge_needs_edges_from_at_least_two_nodes(check, edges, has):
    issue = only(check([ROUTE, {"id": "join", "type": "core.merge"}], edges))

    assert (issue.node_id, issue.field) == ("join", "edges")
    assert issue.message == (
        f"node 'join' (core.merge) joins branches, so it needs edges from at least 2 nodes; "
        f"{has}. Add an edge from each branch it joins, or remove the merge"
    )


def test_a_merge_mode_must_be_written_literally(check):
    merge = {"id": "join", "type": "core.merge", "config": {"mode": "${ .input.mode }"}}
    edges = [{"from": "a", "to": "join"}, {"from": "b", "to": "join"}]

    issue = only(check([log("a"), log("b"), merge], edges))

    assert (issue.node_id, issue.field) == ("join", "config.mode")
    assert "write it literally: the interpreter reads core.merge's mode" in issue.message


def test_retry_fields_are_located_on_their_node(check):
    node = {**FETCH, "retry": {"non_retryable_errors": ["ok", "no spaces"], "total_timeout": "0s"}}

    issues = check([node])

    assert {(issue.node_id, issue.field) for issue in issues} == {
        ("fetch", "retry.non_retryable_errors[1]"),
        ("fetch", "retry.total_timeout"),
    }
