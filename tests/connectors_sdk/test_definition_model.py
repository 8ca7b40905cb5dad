import hashlib
import json
from datetime import timedelta

import pytest
from pydantic import ValidationError

from connectors_sdk import (
    BreakerPolicy,
    ConnectorError,
    DefinitionInvalidError,
    EdgeSpec,
    NodeSpec,
    RetryPolicy,
    WorkflowDefinition,
    canonical_json,
    definition_sha256,
    load_definition_file,
    parse_duration,
)


def make(nodes, edges=(), **fields):
    return WorkflowDefinition.model_validate(
        {
            "apiVersion": "flowforge/v1",
            "name": "flow",
            "nodes": nodes,
            "edges": list(edges),
            **fields,
        }
    )


def ids(*names):
    return [{"id": name, "type": "core.log"} for name in names]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("1m", timedelta(minutes=1)),
        ("500ms", timedelta(milliseconds=500)),
        ("1h", timedelta(hours=1)),
        ("2h30m", timedelta(hours=2, minutes=30)),
        ("1.5s", timedelta(seconds=1.5)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "1d", "s", "-1s", "0s", "1 h"])
def test_parse_duration_refuses_bad_durations(text):
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)


def test_durations_accept_seconds_and_serialise_as_seconds():
    policy = RetryPolicy(initial_interval=0.5, max_interval="2m")
    assert policy.initial_interval == timedelta(milliseconds=500)
    assert policy.model_dump(mode="json") == {
        "max_attempts": 3,
        "initial_interval": "0.5s",
        "backoff": 2.0,
        "max_interval": "120s",
    }
    assert RetryPolicy.model_validate(policy.model_dump(mode="json")) == policy


def test_retry_policy_lists_error_types_that_fail_at_once_and_a_total_timeout():
    policy = RetryPolicy(
        non_retryable_errors=["bad_request", "InvalidNodeData"], total_timeout="5m"
    )
    assert policy.total_timeout == timedelta(minutes=5)
    assert policy.model_dump(mode="json")["total_timeout"] == "300s"
    assert RetryPolicy.model_validate(policy.model_dump(mode="json")) == policy


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"non_retryable_errors": ["a", "b", "a"]}, "'a' listed more than once"),
        ({"non_retryable_errors": [""]}, "at least 1 character"),
        ({"non_retryable_errors": ["bad request"]}, "should match pattern"),
        ({"total_timeout": "0s"}, "bad duration '0s'"),
        ({"total_timeout": "400d"}, "bad duration '400d'"),
    ],
)
def test_retry_policy_refuses_bad_error_types_and_total_timeouts(policy, message):
    with pytest.raises(ValidationError, match=message):
        RetryPolicy.model_validate(policy)


def test_retry_policy_refuses_extra_fields_and_inverted_intervals():
    with pytest.raises(ValidationError, match="Extra inputs"):
        RetryPolicy.model_validate({"attempts": 3})
    with pytest.raises(ValidationError, match="shorter than initial_interval"):
        RetryPolicy(initial_interval="1m", max_interval="1s")


def test_node_spec_defaults():
    spec = NodeSpec(id="a", type="core.log")
    assert spec.timeout == timedelta(seconds=30)
    assert spec.retry == RetryPolicy()
    assert (spec.config, spec.inputs, spec.secrets, spec.pool) == ({}, None, [], None)


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ({"failures": 3, "cool_down": "1m"}, {"failures": 3, "cool_down": "60s"}),
        ({"cool_down": 5}, {"cool_down": "5s"}),
        ({}, {}),
        (False, {"enabled": False}),
        ({"enabled": False}, {"enabled": False}),
    ],
)
def test_a_node_breaker_is_a_policy_or_false_and_is_stored_as_written(written, stored):
    definition = make([{"id": "a", "type": "core.http", "breaker": written}])

    node = definition.canonical()["nodes"][0]

    assert node["breaker"] == stored
    assert make([{"id": "a", "type": "core.http", "breaker": stored}]) == definition


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (True, "true is not a breaker policy: write {failures: 5, cool_down: 30s}"),
        ("30s", '"30s" is not a breaker policy'),
        ({"failures": 0}, "greater than or equal to 1"),
        ({"cool_down": "soon"}, "bad duration 'soon'"),
        ({"enabled": False, "failures": 3}, "a breaker turned off (enabled: false) takes no"),
        ({"threshold": 3}, "Extra inputs are not permitted"),
    ],
)
def test_breaker_policy_refuses_what_is_not_one(policy, message):
    with pytest.raises(ValidationError) as refused:
        BreakerPolicy.model_validate(policy)
    assert message in str(refused.value)


def test_edges_read_and_write_from():
    edge = EdgeSpec.model_validate({"from": "a", "to": "b"})
    assert edge.source == "a"
    assert EdgeSpec(source="a", to="b") == edge
    assert edge.model_dump() == {"from": "a", "port": None, "to": "b"}


def test_canonical_form_round_trips_with_every_field():
    defn = make(ids("a", "b"), [{"from": "a", "to": "b"}])
    data = defn.canonical()
    assert data["apiVersion"] == "flowforge/v1"
    assert data["edges"] == [{"from": "a", "port": None, "to": "b"}]
    assert data["nodes"][0]["timeout"] == "30s"
    assert data["input"] == {"type": "object"}
    assert WorkflowDefinition.model_validate(data) == defn


def test_canonical_json_is_sorted_compact_utf8():
    assert canonical_json({"b": 1, "a": ["é", None]}) == '{"a":["é",null],"b":1}'.encode()
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_definition_sha256_of_a_model_is_that_of_its_canonical_form():
    defn = make(ids("a"))
    expected = hashlib.sha256(canonical_json(defn.canonical())).hexdigest()
    assert definition_sha256(defn) == expected
    assert definition_sha256(defn.canonical()) == expected
    assert definition_sha256({**defn.canonical(), "name": "other"}) != expected


def test_graph_helpers():
    defn = make(
        ids("a", "b", "c", "d"),
        [{"from": "a", "to": "c"}, {"from": "b", "to": "c"}, {"from": "c", "to": "d"}],
    )
    assert defn.node("c").id == "c"
    with pytest.raises(KeyError):
        defn.node("zz")
    assert [e.source for e in defn.predecessors("c")] == ["a", "b"]
    assert [e.to for e in defn.successors("c")] == ["d"]
    assert defn.successors("d") == []


def test_topological_order_takes_the_first_ready_node_in_definition_order():
    defn = make(ids("d", "c", "b", "a"), [{"from": "b", "to": "d"}, {"from": "a", "to": "c"}])
    assert defn.topological_order() == ["b", "d", "a", "c"]


def test_topological_order_refuses_a_cycle():
    defn = make(ids("a", "b"), [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}])
    with pytest.raises(DefinitionInvalidError, match="cycle: a -> b -> a"):
        defn.topological_order()


def test_default_input_follows_the_predecessors():
    defn = make(
        ids("root", "fetch-2", "one", "many"),
        [
            {"from": "root", "to": "one"},
            {"from": "root", "to": "many"},
            {"from": "fetch-2", "to": "many"},
        ],
    )
    outputs = {"root": {"r": 1}, "fetch-2": {"f": 2}}
    assert defn.default_input("root", {"x": 1}, outputs) == {"x": 1}
    assert defn.default_input("one", {"x": 1}, outputs) == {"r": 1}
    assert defn.default_input("many", {"x": 1}, outputs) == {"root": {"r": 1}, "fetch-2": {"f": 2}}


def test_load_yaml_keeps_dates_as_strings(tmp_path):
    path = tmp_path / "flow.yaml"
    path.write_text("apiVersion: flowforge/v1\nname: flow\nwhen: 2024-01-02\nnodes: []\n")
    data = load_definition_file(path)
    assert data["when"] == "2024-01-02"
    assert load_definition_file(str(path)) == data


def test_load_json(tmp_path):
    path = tmp_path / "flow.json"
    path.write_text(json.dumps({"name": "flow"}))
    assert load_definition_file(path) == {"name": "flow"}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("flow.yaml", "name: flow\nnodes: [a, b\n", r"flow\.yaml:3:1: invalid YAML"),
        ("flow.yml", "- a\n- b\n", "holds list, not a mapping"),
        ("flow.json", '{"name": }', r"flow\.json:1:10: invalid JSON"),
        ("flow.toml", "", "unknown suffix '.toml'"),
    ],
)
def test_unreadable_files_name_the_file_and_line(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConnectorError, match=message) as caught:
        load_definition_file(path)
    assert caught.value.code == "unreadable_definition"


def test_a_missing_file_is_unreadable(tmp_path):
    with pytest.raises(ConnectorError, match="cannot read"):
        load_definition_file(tmp_path / "nope.yaml")


def test_fields_added_since_the_first_release_leave_the_canonical_form_alone():
    # Definitions published before them keep their canonical form, hence their hash.
    definition = WorkflowDefinition.model_validate(
        {"apiVersion": "flowforge/v1", "name": "old", "nodes": [{"id": "a", "type": "x.y"}]}
    )

    node = definition.canonical()["nodes"][0]

    assert set(node) == {
        "id",
        "type",
        "config",
        "inputs",
        "secrets",
        "retry",
        "timeout",
        "pool",
        "title",
    }
    assert set(node["retry"]) == {"max_attempts", "initial_interval", "backoff", "max_interval"}
