"""Checking an expression's syntax never evaluates it, not even jq's folding of literals."""

import subprocess
import sys
import textwrap

import jq
import pytest

from connectors_sdk import ExpressionError, check_expression_syntax, evaluate
from connectors_sdk._syntax import syntax_only

PROGRAMS = [
    '"x" * 2000000000 | length',
    ".a[1:20] | .[-1] * 2",
    r'"a1 \(.x * 100) b\"2" + @base64 "\(3)"',
    r'"x\(1 + ("y\(2)" | length))z" * 2',
    '{"a": 1, b: 2.5e3} * {c: .5}',
    ".a == 1and .b * 3",
    "# 10 * 10\n.x1 * $__loc__.line",
    "reduce .[] as $i (0; . + $i * 1.e2)",
    "def f(x): x * 2; f(3)",
]


@pytest.mark.parametrize("program", PROGRAMS)
def test_the_checked_form_compiles_where_the_program_does_and_keeps_its_columns(program):
    checked = syntax_only(program)

    jq.compile(checked)
    if "1and" not in program:
        assert [len(line) for line in checked.splitlines()] == [
            len(line) for line in program.splitlines()
        ]


def test_the_checked_form_has_no_number_literal_but_keeps_the_strings():
    checked = syntax_only(PROGRAMS[2])

    assert checked == r'"a1 \(.x * (.)) b\"2" + @base64 "\(.)"'


def test_a_program_without_star_is_checked_as_written():
    program = ".a 12"

    assert syntax_only(program) == program
    with pytest.raises(ExpressionError, match="unexpected LITERAL"):
        check_expression_syntax("${ .a 12 }")


def test_a_syntax_error_after_a_number_is_where_jq_puts_it_in_the_program():
    with pytest.raises(ValueError, match="column") as by_jq:
        jq.compile(".a * 1000 | |")
    position = by_jq.value.args[0].splitlines()[0].rsplit(" at ", 1)[1]

    with pytest.raises(ExpressionError) as checked:
        check_expression_syntax("${ .a * 1000 | | }")
    assert str(checked.value).endswith(position.rstrip(":"))


def test_checking_a_string_repetition_allocates_nothing():
    # Under an address-space limit far below the 2 GB jq would build if it folded
    # `"x" * 2000000000` while compiling: the check must pass, in a process of its own.
    script = textwrap.dedent(
        """
        import resource
        limit = 768 * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        from connectors_sdk import check_expression_syntax, default_registry
        from connectors_sdk import validate_definition
        check_expression_syntax('${ "x" * 2000000000 | length }')
        value = '${ ["x" * 1500000000, "y" * 1500000000] }'
        definition = {
            "apiVersion": "flowforge/v1",
            "name": "hungry",
            "nodes": [{"id": "t", "type": "core.transform", "config": {"value": value}}],
        }
        _, issues = validate_definition(definition, default_registry())
        print("checked", issues)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )

    assert done.stdout.strip() == "checked []", done.stderr[-2000:]


def test_the_program_as_written_is_what_evaluates():
    assert evaluate('${ "ab" * 3 }', {}) == "ababab"
    assert evaluate("${ [1.5e1, .5, 2] | add * 2 }", {}) == 35
