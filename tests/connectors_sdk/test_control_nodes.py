"""`core.switch` and `core.merge`: what they output, the ports they take, and the config
they accept."""

import pytest
from pydantic import ValidationError

from connectors_sdk import JoinMode, NodeResult, evaluate_node
from connectors_sdk.nodes.control import Merge, Switch

CASES = [
    {"port": "hot", "condition": False},
    {"port": "warm", "condition": 0},
    {"port": "mild", "condition": True},
]


@pytest.mark.parametrize(
    ("conditions", "port"),
    [
        ([True, True], "hot"),
        ([False, True], "warm"),
        ([None, False], "default"),
        ([0, None], "hot"),  # jq truthiness, as core.if: 0, "" and [] hold
        (["", None], "hot"),
        ([[], None], "hot"),
    ],
)
def test_switch_takes_the_first_case_whose_condition_holds_else_the_default(conditions, port):
    cases = [
        {"port": name, "condition": condition}
        for name, condition in zip(["hot", "warm"], conditions, strict=True)
    ]

    result = evaluate_node(Switch, {"cases": cases}, {"temp": 30})

    assert result == NodeResult(output={"temp": 30}, port=port)


def test_switch_routes_to_a_named_default_port():
    config = {"cases": [{"port": "hot", "condition": None}], "default": "other"}
    assert evaluate_node(Switch, config, {}).port == "other"


def test_switch_ports_are_the_case_ports_then_the_default():
    config = Switch.Config.model_validate({"cases": CASES, "default": "cold"})
    assert Switch.ports_for(config) == ("hot", "warm", "mild", "cold")
    assert Switch.ports == ()


def field_errors(model, data):
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return {
        ".".join(str(part) for part in error["loc"]): error["msg"]
        for error in caught.value.errors()
    }


@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        ({}, "cases", "Field required"),
        ({"cases": []}, "cases", "at least 1 item"),
        ({"cases": [{"port": "a"}]}, "cases.0.condition", "Field required"),
        ({"cases": [{"port": "Hot", "condition": 1}]}, "cases.0.port", "bad port name 'Hot'"),
        ({"cases": [{"port": "error", "condition": 1}]}, "cases.0.port", "reserved for error"),
        ({"cases": [{"port": "default", "condition": 1}]}, "cases.0.port", "default port"),
        (
            {"cases": [{"port": "a", "condition": 1}, {"port": "a", "condition": 2}]},
            "cases",
            "port 'a' is taken by cases[0] and cases[1]; give each case its own port",
        ),
        (
            {"cases": [{"port": "a", "condition": 1}], "default": "a"},
            "default",
            "default port 'a' is also the port of a case; rename one",
        ),
        ({"cases": [{"port": "a", "condition": 1}], "default": "error"}, "default", "reserved"),
        ({"cases": [{"port": "a", "condition": 1, "when": 2}]}, "cases.0.when", "Extra inputs"),
    ],
)
def test_switch_config_errors_name_the_field(config, field, message):
    errors = field_errors(Switch.Config, config)
    assert list(errors) == [field]
    assert message in errors[field]


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"cases": "${ .input.cases }"}, "cases"),
        ({"cases": ["${ .input.case }"]}, "cases.0"),
        ({"cases": [{"port": "${ .input.port }", "condition": 1}]}, "cases.0.port"),
        ({"cases": [{"port": "a", "condition": 1}], "default": "${ .input.d }"}, "default"),
    ],
)
def test_switch_ports_must_be_literal(config, field):
    errors = field_errors(Switch.Config, config)
    assert list(errors) == [field]
    assert "is an expression; write it literally: the ports of core.switch" in errors[field]


def test_merge_passes_its_input_through_in_every_mode():
    joined = {"a": {"n": 1}, "b": {"n": 2}}
    for mode in JoinMode:
        assert evaluate_node(Merge, {"mode": mode.value}, joined) == NodeResult(output=joined)
    assert Merge.Config().mode is JoinMode.ALL


def test_merge_mode_is_one_of_the_join_modes_and_literal():
    assert [mode.value for mode in JoinMode] == ["all", "not_skipped", "first"]
    assert (
        "Input should be 'all', 'not_skipped' or 'first'"
        in field_errors(Merge.Config, {"mode": "any"})["mode"]
    )
    assert (
        "is an expression; write it literally"
        in field_errors(Merge.Config, {"mode": "${ .input.mode }"})["mode"]
    )
