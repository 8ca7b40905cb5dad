"""`${ ... }` expressions: jq programs embedded in definition values.

Evaluation is deterministic and does no I/O, so it can run inside the Temporal workflow
sandbox. Syntax, inside any string value of a node's `config` or `inputs`, or of the
workflow's `output`:

- a string that is exactly one expression (surrounding whitespace aside),
  `"${ .input.temp > 25 }"`, evaluates to the JSON value the program produces, of any type;
- expressions embedded in other text, `"Hello ${ .input.name }!"`, are each evaluated and
  interpolated: strings as they are, other values as compact JSON.

A program producing no value gives None; one producing several is an error (collect them
with `[ ... ]`). There is no escape for a literal `${` in a value.

The context the interpreter evaluates against::

    {
        "input": <the run input>,
        "nodes": {<node id>: <that node's output>, ...},   # nodes that have finished
        "node": {"input": <this node's input>},             # only while evaluating config
    }

so `${ .nodes.fetch.status }`, `${ .nodes["fetch-2"].body }`, `${ .node.input.url }`.

The builtins that read the clock, the environment or other inputs (`now`, `localtime`,
`env`, `$ENV`, `input`, ...) raise, and `debug`/`stderr` are silent. A program can still
loop forever (`repeat(.)`), and the `jq` binding holds the GIL while it runs: `evaluate`
itself has no limits. The data plane runs only the bounded subset of `_inline.py` in
process, and every other program through `run_program` in an evaluator process with
time, memory and output limits (`evaluate_with` puts the results back in place).
"""

import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import jq
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from connectors_sdk._errors import ExpressionError
from connectors_sdk._syntax import syntax_only

_OPEN = "${"

_NOT_DETERMINISTIC = "is not allowed in expressions: they must be deterministic"
# Shadows the builtins that break determinism or do I/O. It stays on one line so that the
# positions in jq's messages about the user's program only move by one line.
_PRELUDE = " ".join(
    [
        f'def now: error("now {_NOT_DETERMINISTIC}; pass the time in the run input");',
        f'def localtime: error("localtime {_NOT_DETERMINISTIC}; use gmtime");',
        f'def strflocaltime($f): error("strflocaltime {_NOT_DETERMINISTIC}; use strftime");',
        f'def env: error("env {_NOT_DETERMINISTIC}; pass values in the run input");',
        'def input: error("input is not available in expressions; use .input");',
        'def inputs: error("inputs is not available in expressions; use .input");',
        "def debug: .; def debug($m): .; def stderr: .;",
        'def input_filename: null; def halt: error("halt is not allowed in expressions");',
        'def halt_error: error("halt_error is not allowed; use error");',
        'def halt_error($c): error("halt_error is not allowed; use error");',
        'def get_search_list: error("modules are not available in expressions");',
        'def modulemeta: error("modules are not available in expressions");',
    ]
)
_ENV_VARIABLE = re.compile(r"\$ENV\b")
# jq reads modules from the file system while compiling, so these never reach jq. jq only
# accepts the directives at the top of a program.
_MODULE_DIRECTIVE = re.compile(r"^\s*(?:#[^\n]*\n\s*)*(?:import|include|module)\b")


class _Expression(NamedTuple):
    program: str


def _split(text: str) -> list[str | _Expression]:
    """Cut a string into literal text and expressions.

    The scanner tracks jq strings (with `\\(...)` interpolation) and braces, so programs
    such as `${ {a: .x, b: "}"} }` end at the right `}`.
    """
    parts: list[str | _Expression] = []
    pos = 0
    while (start := text.find(_OPEN, pos)) != -1:
        if start > pos:
            parts.append(text[pos:start])
        end = _find_close(text, start + len(_OPEN))
        parts.append(_Expression(text[start + len(_OPEN) : end].strip()))
        pos = end + 1
    if pos < len(text):
        parts.append(text[pos:])
    return parts


def _find_close(text: str, i: int) -> int:
    # Each stack entry is a mode: "{" (code, counting braces), '"' (a jq string),
    # "(" (code inside a string's \( ... ), counting parentheses).
    stack = ["{"]
    while i < len(text):
        char, mode = text[i], stack[-1]
        if mode == '"':
            if char == "\\" and text[i + 1 : i + 2] == "(":
                stack.append("(")
                i += 1
            elif char == "\\":
                i += 1
            elif char == '"':
                stack.pop()
        elif char == '"':
            stack.append('"')
        elif char == mode:
            stack.append(mode)
        elif (mode, char) in (("{", "}"), ("(", ")")):
            stack.pop()
            if not stack:
                return i
        i += 1
    raise ExpressionError(
        f"unterminated expression in {text!r}: a `${{` has no matching `}}`; "
        "close it, and balance the braces and quotes inside"
    )


def is_expression(value: object) -> bool:
    """Tell whether a value is a string holding at least one `${ ... }` expression.

    Args:
        value: Any value of a definition.

    Returns:
        True for a string containing `${` (even an unterminated one, which
        `check_expression_syntax` then reports).
    """
    return isinstance(value, str) and _OPEN in value


LITERAL_REQUIRED = "literal_required"
"""The pydantic error type of `literal_only`; validation reports these errors even though
the value is an expression (it drops every other error under an expression)."""


CONFLICTING_FIELDS = "conflicting_fields"
"""The pydantic error type of a config that gives two fields which exclude each other
(`core.loop`'s `until` and `while`). Validation reports it even when the values are
expressions: whether both are given does not depend on what they evaluate to."""


def literal_only(reason: str) -> BeforeValidator:
    """A validator for config fields that are read from the definition itself, before
    any expression is evaluated (the ports of `core.switch`, the mode of `core.merge`).

    Args:
        reason: Why the field must be literal, completing "write it literally: ...".

    Returns:
        A `BeforeValidator` to put in the field's `Annotated[...]`; it refuses a value
        that holds an expression with the error type `LITERAL_REQUIRED`.
    """

    def refuse_expressions(value: object) -> object:
        if is_expression(value):
            raise PydanticCustomError(
                LITERAL_REQUIRED,
                "{value} is an expression; write it literally: {reason}",
                {"value": repr(value), "reason": reason},
            )
        return value

    return BeforeValidator(refuse_expressions)


@functools.lru_cache(maxsize=4096)
def _check(program: str) -> None:
    if not program:
        raise ExpressionError("empty expression `${}`: write a jq program, e.g. `${ .input }`")
    if _MODULE_DIRECTIVE.search(program):
        raise ExpressionError(f"`{program}`: import, include and module are not available")
    if _ENV_VARIABLE.search(program):
        raise ExpressionError(f"`{program}`: $ENV {_NOT_DETERMINISTIC}")
    # Without the prelude, so that jq's positions are those of the user's text; and in the
    # form jq cannot fold into a large constant (see `_syntax`).
    try:
        jq.compile(syntax_only(program))
    except ValueError as exc:
        raise ExpressionError(f"`{program}`: {_reason(exc)}") from exc


@functools.lru_cache(maxsize=4096)
def _compile(program: str) -> Any:
    _check(program)
    return jq.compile(f"{_PRELUDE}\n({program}\n)")


def _reason(exc: Exception) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return first.removeprefix("jq: error: ").rstrip(":")


def check_expression_syntax(text: str) -> None:
    """Check the syntax of every expression in a string, without evaluating any part of it.

    Args:
        text: A string value, possibly with `${ ... }` expressions.

    Raises:
        ExpressionError: For the first expression that is unterminated, empty or not a
            valid jq program; the message holds the program and jq's reason.
    """
    for part in _split(text):
        if isinstance(part, _Expression):
            _check(part.program)


def find_expressions(value: Any) -> Iterator[tuple[str, str]]:
    """Walk a value and yield every expression in it.

    Args:
        value: A definition value: dicts, lists and scalars.

    Yields:
        (location, program): the location is a path like `a.b[0]` ("" for `value`
        itself), the program the jq text between `${` and `}`, stripped.

    Raises:
        ExpressionError: A string holds an unterminated `${`.
    """
    for location, text in _strings(value, ""):
        if _OPEN in text:
            for part in _split(text):
                if isinstance(part, _Expression):
                    yield location, part.program


def iter_expression_strings(value: Any) -> Iterator[tuple[str, str]]:
    """Yield (location, string) for every string of `value` that holds an expression."""
    for location, text in _strings(value, ""):
        if _OPEN in text:
            yield location, text


def join_location(prefix: str, location: str) -> str:
    """Append a location from `find_expressions` to a field path: `config` + `a[0]`."""
    if not location:
        return prefix
    if not prefix or location.startswith("["):
        return f"{prefix}{location}"
    return f"{prefix}.{location}"


def _strings(value: Any, location: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield location, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, join_location(location, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{location}[{index}]")


def evaluate(value: Any, context: Mapping[str, Any]) -> Any:
    """Evaluate every expression in a value against a context.

    Args:
        value: A definition value; dicts and lists are walked, keys are never evaluated.
        context: The JSON-compatible context described in this module's docstring.

    Returns:
        A copy of `value` with each expression string replaced by its result;
        values holding no expression are returned as they are.

    Raises:
        ExpressionError: An expression does not compile, fails at run time (the message
            names the program), or produces several values.
    """
    return _Evaluator(_ContextRunner(context)).walk(value)


def evaluate_with(value: Any, run: Callable[[str], Any]) -> Any:
    """Evaluate every expression in a value with a function that runs one program.

    Args:
        value: A definition value, as for `evaluate`.
        run: Given a program (the text inside `${ }`), returns its one value, e.g. one
            computed earlier by `run_program` in another process.

    Returns:
        A copy of `value` with each expression replaced, interpolated as `evaluate` does.
    """
    return _Evaluator(run).walk(value)


def run_program(program: str, context_json: str) -> Any:
    """Run one program against a context given as JSON text.

    Args:
        program: The jq text inside `${ }`.
        context_json: The context, as described in this module's docstring, in JSON.

    Returns:
        The program's one value, or None when it produces none.

    Raises:
        ExpressionError: The program does not compile, fails, or produces several values.
    """
    compiled = _compile(program)
    try:
        results = compiled.input_text(context_json).all()
    except ValueError as exc:
        raise ExpressionError(f"`{program}` failed: {_reason(exc)}") from exc
    if len(results) > 1:
        raise ExpressionError(
            f"`{program}` produced {len(results)} values; an expression must produce "
            "one: collect them with `[ ... ]` or pick one with `first(...)`"
        )
    return results[0] if results else None


class _ContextRunner:
    def __init__(self, context: Mapping[str, Any]) -> None:
        self._context = context
        self._context_json: str | None = None

    def __call__(self, program: str) -> Any:
        _compile(program)
        if self._context_json is None:
            try:
                self._context_json = json.dumps(self._context, ensure_ascii=False)
            except (TypeError, ValueError) as exc:
                raise ExpressionError(f"the expression context is not JSON: {exc}") from exc
        return run_program(program, self._context_json)


class _Evaluator:
    def __init__(self, run: Callable[[str], Any]) -> None:
        self._run = run

    def walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._string(value) if _OPEN in value else value
        if isinstance(value, Mapping):
            return {key: self.walk(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.walk(item) for item in value]
        return value

    def _string(self, text: str) -> Any:
        parts = _split(text)
        expressions = [part for part in parts if isinstance(part, _Expression)]
        literal = [part for part in parts if isinstance(part, str)]
        if len(expressions) == 1 and all(not part.strip() for part in literal):
            return self._run(expressions[0].program)
        return "".join(
            part if isinstance(part, str) else _stringify(self._run(part.program)) for part in parts
        )


def _stringify(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
