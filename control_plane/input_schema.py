"""A workflow's input schema: checked at publish, applied to each startRun input (and the
same checks for the forms of human tasks, applied to each decision).

Two things a schema could otherwise make the control plane do on a user's behalf are
ruled out (Hardening #8): fetching a remote `$ref` (validation resolves only inside the
schema, through a registry that retrieves nothing), and backtracking for seconds on a
`pattern` (patterns run on RE2, which is linear in the input; those RE2 cannot run, such
as back-references and look-arounds, are refused at publish).
"""

import functools
from collections.abc import Iterator
from typing import Any

import jsonschema
import re2
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from control_plane.errors import InvalidInputError

_REF_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


def input_schema_problems(schema: dict[str, Any]) -> list[str]:
    """What in a (valid) JSON Schema the control plane refuses to run; empty when none."""
    problems = []
    resolver = Registry().resolver_with_root(DRAFT202012.create_resource(schema))
    for keyword, ref in _keyword_values(schema, _REF_KEYWORDS):
        if not isinstance(ref, str):
            continue
        if not ref.startswith("#"):
            problems.append(
                f"{keyword} {ref!r} points outside the schema; nothing is fetched: put the "
                "definition under $defs and refer to it as '#/$defs/<name>'"
            )
            continue
        try:
            resolver.lookup(ref)
        except Unresolvable:
            problems.append(f"{keyword} {ref!r} does not resolve inside the schema")
    for keyword, value in _keyword_values(schema, ("pattern", "patternProperties")):
        patterns = [value] if keyword == "pattern" else list(value or {})
        for pattern in patterns:
            if not isinstance(pattern, str):
                continue
            try:
                _compile(pattern)
            except re2.error as exc:
                reason = exc.args[0].decode() if exc.args else "unsupported"
                problems.append(
                    f"{keyword} {pattern!r} is not supported ({reason}); write it without "
                    "back-references or look-arounds"
                )
    return problems


def validate_run_input(schema: dict[str, Any], value: Any) -> None:
    """Check a run input against the workflow's input schema.

    Raises:
        InvalidInputError: naming the path of the first mismatch.
    """
    validate_value(schema, value, "input", "the workflow's input schema", "publish a new version")


def validate_value(schema: dict[str, Any], value: Any, root: str, what: str, fix: str) -> None:
    """Check `value` (named `root` in errors) against `schema` (`what`, in errors), a schema
    that `input_schema_problems` let through; `fix` says what to do if it cannot be applied.

    Raises:
        InvalidInputError: naming the path of the first mismatch, e.g. `decision['note']`.
    """
    cls = _re2_validator(jsonschema.validators.validator_for(schema))
    try:
        error = best_match(cls(schema, registry=Registry()).iter_errors(value))
    except (Unresolvable, re2.error) as exc:
        # Only schemas accepted before these checks existed can get here.
        raise InvalidInputError(f"{what} cannot be applied: {exc}; {fix}") from exc
    if error is not None:
        where = root + "".join(f"[{p!r}]" for p in error.absolute_path)
        raise InvalidInputError(f"{where}: {error.message}", field=where)


def _keyword_values(node: Any, keywords: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    # Iterative, and over-inclusive (a property named "pattern" is visited too): what it
    # yields is only ever refused when it could not run.
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            for key, child in current.items():
                if key in keywords:
                    yield key, child
                stack.append(child)
        elif isinstance(current, list):
            stack.extend(current)


def _compile(pattern: str) -> Any:
    return re2.compile(pattern, _RE2_OPTIONS)


def _pattern(validator: Validator, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "string") and not _compile(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: dict[str, Any], instance: Any, schema: Any
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        compiled = _compile(pattern)
        for key, value in instance.items():
            if compiled.search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


@functools.cache
def _re2_validator(cls: type[Validator]) -> type[Validator]:
    extended: type[Validator] = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
        cls, validators={"pattern": _pattern, "patternProperties": _pattern_properties}
    )
    return extended
