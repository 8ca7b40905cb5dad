import pytest

from connectors_sdk import (
    ExpressionError,
    check_expression_syntax,
    evaluate,
    find_expressions,
    is_expression,
)

CONTEXT = {
    "input": {"temp": 30, "city": "Oslo", "tags": ["a", "b"]},
    "nodes": {"fetch": {"status": 200, "body": {"ok": True}}, "fetch-2": {"status": 404}},
    "node": {"input": {"url": "https://example.com"}},
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("${ .input.temp > 25 }", True),
        ("${ .nodes.fetch.status }", 200),
        ("${.nodes.fetch.body}", {"ok": True}),
        ('${ .nodes["fetch-2"].status }', 404),
        ("${ .node.input.url }", "https://example.com"),
        ("  ${ .input.tags }\n", ["a", "b"]),
        ('${ {city: .input.city, brace: "}"} }', {"city": "Oslo", "brace": "}"}),
        ('${ "t=\\(.input.temp)}" }', "t=30}"),
    ],
)
def test_a_whole_string_expression_evaluates_to_a_json_value(value, expected):
    assert evaluate(value, CONTEXT) == expected


def test_embedded_expressions_are_interpolated_as_text_or_compact_json():
    value = "${ .input.city } is ${ .input.temp }C, tags ${ .input.tags }, ${ .missing }"
    assert evaluate(value, CONTEXT) == 'Oslo is 30C, tags ["a","b"], null'


def test_dicts_and_lists_are_walked_and_plain_values_kept():
    value = {"a": ["${ .input.temp }", 1, None, "plain"], "${ .key }": {"b": "${ .input.city }"}}
    assert evaluate(value, CONTEXT) == {"a": [30, 1, None, "plain"], "${ .key }": {"b": "Oslo"}}


def test_a_program_with_no_output_gives_none():
    assert evaluate("${ empty }", CONTEXT) is None


def test_a_program_with_several_outputs_is_refused():
    with pytest.raises(ExpressionError, match=r"produced 2 values.*\[ \.\.\. \]"):
        evaluate("${ .input.tags[] }", CONTEXT)


def test_a_runtime_error_names_the_program():
    with pytest.raises(ExpressionError, match=r"`\.input\.city\.x` failed: Cannot index string"):
        evaluate("${ .input.city.x }", CONTEXT)


@pytest.mark.parametrize("program", ["now", "localtime", "env.HOME", "$ENV.HOME", "input"])
def test_builtins_that_break_determinism_are_refused(program):
    with pytest.raises(ExpressionError, match=r"not (allowed|available)"):
        evaluate(f"${{ {program} }}", CONTEXT)


def test_modules_are_refused_before_jq_reads_any_file():
    with pytest.raises(ExpressionError, match="import, include and module are not available"):
        check_expression_syntax('${ import "lib" as lib; . }')


def test_debug_is_silent_and_keeps_the_value():
    assert evaluate("${ .input.temp | debug }", CONTEXT) == 30


def test_syntax_errors_carry_jqs_reason():
    with pytest.raises(ExpressionError) as caught:
        check_expression_syntax("ok ${ .a } then ${ .b | }")
    assert caught.value.code == "bad_expression"
    assert "`.b |`" in str(caught.value)
    assert "syntax error" in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [("${ .a", "unterminated"), ("${ {a: 1 }", "unterminated"), ("${ }", "empty expression")],
)
def test_malformed_expressions_are_reported(text, reason):
    with pytest.raises(ExpressionError, match=reason):
        check_expression_syntax(text)


def test_is_expression():
    assert is_expression("${ .a }")
    assert is_expression("x ${ .a } y")
    assert is_expression("${ unterminated")
    assert not is_expression("$ {.a}")
    assert not is_expression({"a": "${ .a }"})
    assert not is_expression(3)


def test_find_expressions_yields_locations_and_programs():
    value = {"url": "https://x/${ .input.city }", "list": [1, {"q": "${.a} and ${ .b }"}], "n": 2}
    assert list(find_expressions(value)) == [
        ("url", ".input.city"),
        ("list[1].q", ".a"),
        ("list[1].q", ".b"),
    ]
    assert list(find_expressions("${ .x }")) == [("", ".x")]


def test_a_context_that_is_not_json_is_an_expression_error():
    with pytest.raises(ExpressionError, match="not JSON"):
        evaluate("${ . }", {"input": object()})
