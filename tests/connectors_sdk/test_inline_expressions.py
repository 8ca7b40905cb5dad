"""Hardening #7: which expressions are inline (bounded, evaluated inside the workflow) and
which node outputs an expression reads."""

import pytest

from connectors_sdk import check_expression_syntax, is_inline_program, referenced_nodes

INLINE = [
    ".input.temp > 25",
    ".nodes.fetch.status == 200",
    '.nodes["fetch-2"].body',
    ".nodes.fetch.body.items[0].name",
    ".nodes.fetch.body.items[-1]?",
    "{city: .input.city, ok: true}",
    '{"a-b": .input.x, c: null}',
    '[.input.a, .input.b, 1, "x"]',
    '.input.name + " " + .input.surname',
    ".input.n + 1",
    ".input.price / 100",
    ".input.n % 2 == 0",
    ".input.count - 1",
    '.input.x // "default"',
    'if .input.n > 2 then "big" elif .input.n > 1 then "mid" else "small" end',
    ".input.ok and (.input.n > 1 or .input.m < 1)",
    ".input.items | length",
    ".input.items | map(.price + 1) | sort",
    ".input.items | map(select(.ok)) | length > 0",
    ".input.items | sort_by(.n) | first",
    '.input.tags | has("x")',
    '.input.name | ascii_downcase | startswith("a")',
    ".input.flag | not",
    "(.input.items | length) + 1",
]

NOT_INLINE = [
    "last(range(1e15))",
    "[repeat(1)]",
    '"x" * 50000000',
    ".input.n * 2",
    ".input.a - .input.b",
    "def f: f; f",
    ".input as $x | $x",
    "reduce .input.items[] as $i (0; . + $i)",
    "[.input.items[]]",
    "[..]",
    "[limit(3; repeat(1))]",
    "[recurse]",
    "until(false; .)",
    '.input.items | join(",")',
    ".input.items | add",
    ".input.n | tostring",
    ".input.a, .input.b",
    ".input | . + .",
    ".input.items | map([., .])",
    '"\\(.input.name)"',
    "$__loc__",
    "@base64",
    '.input.s | test("a+")',
    "{(.input.k): 1}",
    "{a: .input.x | length}",
]


@pytest.mark.parametrize("program", INLINE)
def test_bounded_programs_are_inline(program: str) -> None:
    check_expression_syntax(f"${{ {program} }}")
    assert is_inline_program(program)


@pytest.mark.parametrize("program", NOT_INLINE)
def test_other_programs_are_not_inline(program: str) -> None:
    assert not is_inline_program(program)


def test_a_program_naming_too_much_of_the_context_is_not_inline() -> None:
    assert is_inline_program("[" + ", ".join([".input"] * 16) + "]")
    assert not is_inline_program("[" + ", ".join([".input"] * 17) + "]")


def test_deep_nesting_is_not_inline_rather_than_an_error() -> None:
    assert not is_inline_program("(" * 2000 + "." + ")" * 2000)


@pytest.mark.parametrize(
    ("program", "nodes"),
    [
        (".input.n", frozenset()),
        (".nodes.fetch.status", frozenset({"fetch"})),
        ('.nodes["fetch-2"].body + .nodes.other', frozenset({"fetch-2", "other"})),
        (".nodes | keys", None),
        ('getpath(["nodes", "fetch"])', None),
        ('.["nodes"].fetch', None),
        ("{nodes}", None),
    ],
)
def test_the_node_outputs_a_program_names(program: str, nodes: frozenset[str] | None) -> None:
    assert referenced_nodes(program) == nodes
