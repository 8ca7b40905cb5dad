"""Inline expressions: the subset of jq whose cost is bounded by its text and its input.

The data plane evaluates an inline expression inside the workflow (no activity, no
process) when the data it reads is small; every other expression runs in an evaluator
process with time, memory and output limits. Whether a program is inline is decided from
its text alone, by the recognizer below, and never by running it.

The subset (anything else is not inline, never an error):

- paths with literal steps: `.`, `.a`, `.a.b`, `.a["k-1"]`, `.a[0]`, `.a[-1]`, `?`;
- literals: numbers, strings without `\\(...)`, `true`, `false`, `null`;
- `==`, `!=`, `<`, `<=`, `>`, `>=`, `and`, `or`, `//`, `if ... then ... (elif ...)
  (else ...) end`, parentheses;
- `+` of anything, and `-`, `/`, `%` with a number literal on one side;
- objects `{a: v, "b": v, c}` and arrays `[v, ...]`;
- `a | f`, where `f` (and the argument of every builtin) is a *filter*: an expression of
  the above without objects, arrays, commas or `+` other than with a number literal,
  and the builtins `length`, `utf8bytelength`, `not`, `keys`, `keys_unsorted`, `type`,
  `tonumber`, `floor`, `ceil`, `round`, `sqrt`, `ascii_downcase`, `ascii_upcase`,
  `sort`, `unique`, `min`, `max`, `first`, `last`, `any`, `all`, `empty`, `values`,
  `has(f)`, `startswith(f)`, `endswith(f)`, `ltrimstr(f)`, `rtrimstr(f)`, `map(f)`,
  `select(f)`, `sort_by(f)`, `any(f)`, `all(f)`.

Why that bounds the cost: there are no definitions, variables, recursion or generators
(`range`, `repeat`, `.[]`, `..`, `limit` ...), so every part produces at most one value;
only the parts evaluated against the context itself can build larger values, each at most
as large as the data it names, and the filters never make a value larger (string
repetition, `tostring`, `join`, `add` and `-` of arrays are left out: they grow a value or
take quadratic time). A value is thus at most `MAX_INLINE_REFERENCES` times the data the
expression reads, and the time linear in it (times a log for sorting).

Changing this subset changes which expressions a running workflow evaluates in an
activity: the data plane fixes it per run with `INLINE_SUBSET_VERSION` (a
`workflow.patched` id); bump it with any change here.
"""

import functools
import re
from typing import NamedTuple

INLINE_SUBSET_VERSION = 1
MAX_INLINE_REFERENCES = 16
MAX_INLINE_TOKENS = 400

_FILTERS_0 = frozenset(
    {
        *("length", "utf8bytelength", "not", "keys", "keys_unsorted", "type", "tonumber"),
        *("floor", "ceil", "round", "sqrt", "ascii_downcase", "ascii_upcase", "sort"),
        *("unique", "min", "max", "first", "last", "any", "all", "empty", "values"),
    }
)
_FILTERS_1 = frozenset(
    {"has", "startswith", "endswith", "ltrimstr", "rtrimstr", "map", "select", "sort_by"}
    | {"any", "all"}
)
_KEYWORDS = frozenset(["if", "then", "elif", "else", "end", "and", "or", "true", "false", "null"])
_CMP = frozenset({"==", "!=", "<", "<=", ">", ">="})

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)
  | (?P<string>"(?:[^"\\]|\\[^(])*")
  | (?P<field>\.[A-Za-z_][A-Za-z0-9_]*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\?//|\.\.|==|!=|<=|>=|//=|\|=|\+=|-=|\*=|/=|%=|//|[.\[\](){}|,:<>+\-*/%?=$@;])
    """,
    re.VERBOSE,
)


class _Token(NamedTuple):
    kind: str
    text: str


class _NotInline(Exception):
    pass


def _tokens(program: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(program):
        match = _TOKEN.match(program, pos)
        if match is None or match.lastgroup is None:
            raise _NotInline
        pos = match.end()
        if match.lastgroup != "space":
            tokens.append(_Token(match.lastgroup, match.group()))
    if len(tokens) > MAX_INLINE_TOKENS:
        raise _NotInline
    return tokens


class _Recognizer:
    """Recursive descent over jq's precedence (`|` < `,` < `//` < `or` < `and` < comparisons
    < `+ -` < `* / %` < postfix); `root` tells whether `.` is the context itself."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.references = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos].text if self.pos < len(self.tokens) else None

    def take(self, *expected: str) -> str:
        text = self.peek()
        if text is None or (expected and text not in expected):
            raise _NotInline
        self.pos += 1
        return text

    def program(self) -> None:
        self.pipe(root=True, commas=False)
        if self.peek() is not None:
            raise _NotInline

    def pipe(self, root: bool, commas: bool) -> None:
        self.alternative(root)
        while commas and self.peek() == ",":
            self.take()
            self.alternative(root)
        while self.peek() == "|":
            self.take()
            self.alternative(root=False)

    def alternative(self, root: bool) -> None:
        self.disjunction(root)
        while self.peek() == "//":
            self.take()
            self.disjunction(root)

    def disjunction(self, root: bool) -> None:
        self.conjunction(root)
        while self.peek() == "or":
            self.take()
            self.conjunction(root)

    def conjunction(self, root: bool) -> None:
        self.comparison(root)
        while self.peek() == "and":
            self.take()
            self.comparison(root)

    def comparison(self, root: bool) -> None:
        self.sum(root)
        if self.peek() in _CMP:
            self.take()
            self.sum(root)

    def sum(self, root: bool) -> None:
        literal = self.product(root)
        while (op := self.peek()) in ("+", "-"):
            self.take()
            right = self.product(root)
            if not (literal or right or (op == "+" and root)):
                raise _NotInline
            literal = False

    def product(self, root: bool) -> bool:
        """Returns whether the operand is a bare number literal."""
        literal = self.unary(root)
        while (op := self.peek()) in ("*", "/", "%"):
            self.take()
            right = self.unary(root)
            if op == "*" or not (literal or right):
                raise _NotInline
            literal = False
        return literal

    def unary(self, root: bool) -> bool:
        if self.peek() == "-":
            self.take()
            return self.unary(root)
        return self.postfix(root)

    def postfix(self, root: bool) -> bool:
        literal = self._next_is(0, "number")
        self.primary(root)
        while True:
            nxt = self.tokens[self.pos] if self.pos < len(self.tokens) else None
            if nxt is None:
                return literal
            if nxt.kind == "field":
                self.take()
            elif nxt.text == "." and self._next_is(1, "string"):
                self.pos += 2
            elif nxt.text == "[":
                self.take()
                self._index()
                self.take("]")
            elif nxt.text == "?":
                self.take()
            else:
                return literal
            literal = False

    def _next_is(self, offset: int, kind: str) -> bool:
        at = self.pos + offset
        return at < len(self.tokens) and self.tokens[at].kind == kind

    def _index(self) -> None:
        if self.peek() == "-":
            self.take()
        token = self.tokens[self.pos] if self.pos < len(self.tokens) else None
        if token is None or token.kind not in ("number", "string"):
            raise _NotInline
        self.pos += 1

    def primary(self, root: bool) -> None:
        if self.pos >= len(self.tokens):
            raise _NotInline
        kind, text = self.tokens[self.pos]
        if kind in ("number", "string") or text in ("true", "false", "null"):
            self.pos += 1
        elif kind == "field" or text == ".":
            self.pos += 1
            self._reference(root)
        elif text == "(":
            self.take()
            self.pipe(root, commas=False)
            self.take(")")
        elif text == "if":
            self._conditional(root)
        elif text == "[" and root:
            self.take()
            if self.peek() != "]":
                self.pipe(root, commas=True)
            self.take("]")
        elif text == "{" and root:
            self._object()
        elif kind == "name" and text not in _KEYWORDS:
            self._builtin(text)
        else:
            raise _NotInline

    def _reference(self, root: bool) -> None:
        if root:
            self.references += 1
            if self.references > MAX_INLINE_REFERENCES:
                raise _NotInline

    def _conditional(self, root: bool) -> None:
        self.take("if")
        self.pipe(root, commas=False)
        self.take("then")
        self.pipe(root, commas=False)
        while self.peek() == "elif":
            self.take()
            self.pipe(root, commas=False)
            self.take("then")
            self.pipe(root, commas=False)
        if self.peek() == "else":
            self.take()
            self.pipe(root, commas=False)
        self.take("end")

    def _object(self) -> None:
        self.take("{")
        while self.peek() != "}":
            token = self.tokens[self.pos] if self.pos < len(self.tokens) else None
            if token is None or token.kind not in ("name", "string"):
                raise _NotInline
            self.pos += 1
            if self.peek() == ":":
                self.take()
                self.alternative(root=True)
            elif token.kind == "name":
                self._reference(root=True)  # `{a}` is `{a: .a}`
            else:
                raise _NotInline
            if self.peek() != ",":
                break
            self.take()
        self.take("}")

    def _builtin(self, name: str) -> None:
        self.pos += 1
        if self.peek() == "(":
            if name not in _FILTERS_1:
                raise _NotInline
            self.take("(")
            self.pipe(root=False, commas=False)
            self.take(")")
        elif name not in _FILTERS_0:
            raise _NotInline


@functools.lru_cache(maxsize=4096)
def is_inline_program(program: str) -> bool:
    """Tell whether a jq program (the text inside `${ }`) is in the inline subset.

    Args:
        program: A jq program; it need not compile (a program jq refuses is reported by
            `check_expression_syntax`, whatever this answers).

    Returns:
        True when the program's cost is bounded as this module's docstring describes.
    """
    try:
        recognizer = _Recognizer(_tokens(program))
        recognizer.program()
    except (_NotInline, RecursionError):
        return False
    return True


_NODES_WORD = re.compile(r"\bnodes\b")
_NODE_REFERENCE = re.compile(
    r"""\.nodes\s*(?:\.\s*(?P<field>[A-Za-z_][A-Za-z0-9_]*)|\[\s*"(?P<key>[^"\\]*)"\s*\])"""
)


@functools.lru_cache(maxsize=4096)
def referenced_nodes(program: str) -> frozenset[str] | None:
    """The node outputs a program names, when it names them only as `.nodes.<id>` or
    `.nodes["<id>"]`.

    Args:
        program: A jq program.

    Returns:
        The node ids, or None when the program mentions `nodes` in any other way (it may
        read any node's output, e.g. `.nodes | keys`).
    """
    found: set[str] = set()
    covered: set[int] = set()
    for match in _NODE_REFERENCE.finditer(program):
        found.add(match.group("field") or match.group("key") or "")
        covered.add(match.start() + 1)
    for word in _NODES_WORD.finditer(program):
        if word.start() not in covered:
            return None
    return frozenset(found)
