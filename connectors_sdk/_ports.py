"""Static compatibility of two object JSON Schemas: what a node's input port needs against
what its data source (a predecessor's output, or the run input) provides.

Deliberately shallow: top-level properties, the `required` list, and JSON `type`s where
both sides declare them (through local `$ref`s and `anyOf`/`oneOf` of typed members).
"""

from collections.abc import Mapping
from typing import Any


def port_gaps(source: Any, target: Any, source_label: str) -> list[tuple[str, str]]:
    """List what `target` needs that `source` does not provide.

    Args:
        source: JSON Schema of the object flowing in.
        target: JSON Schema of the input port (usually `Input.model_json_schema()`).
        source_label: How messages name the source, e.g. "'fetch' output".

    Returns:
        (property, message) pairs, required properties missing first, then type
        mismatches, each in the target's order.
    """
    if not isinstance(target, Mapping):
        return []
    source_root, source = source, _resolve(source, source)
    target_props = _properties(target)
    source_props = _properties(source)
    gaps = []
    if not _is_open(source):
        has = ", ".join(source_props) or "nothing"
        for name in target.get("required") or []:
            if isinstance(name, str) and name not in source_props:
                label = _type_label(_types(target_props.get(name), target))
                gaps.append(
                    (
                        name,
                        f"input port {name!r} ({label}) is not provided by {source_label} "
                        f"(has: {has})",
                    )
                )
    for name, schema in target_props.items():
        if name not in source_props:
            continue
        wanted = _types(schema, target)
        given = _types(source_props[name], source_root)
        if wanted is None or given is None:
            continue
        # A nullable source field fits a non-nullable port: the value is usually there,
        # and insisting would flag every optional output.
        if given - {"null"}:
            given = given - {"null"}
        if not all(t in wanted or (t == "integer" and "number" in wanted) for t in given):
            gaps.append(
                (
                    name,
                    f"input port {name!r} ({_type_label(wanted)}) gets "
                    f"{_type_label(given)} from {source_label}",
                )
            )
    return gaps


def _is_open(schema: Any) -> bool:
    """True when the schema may carry properties it does not list."""
    if not isinstance(schema, Mapping) or "properties" not in schema:
        return True
    if "patternProperties" in schema or any(k in schema for k in ("anyOf", "oneOf", "allOf")):
        return True
    extra = schema.get("additionalProperties", False)
    return extra is not False


def _properties(schema: Any) -> dict[str, Any]:
    if not isinstance(schema, Mapping):
        return {}
    props = schema.get("properties")
    return dict(props) if isinstance(props, Mapping) else {}


def _resolve(schema: Any, root: Any) -> Any:
    seen = 0
    while isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str) and seen < 32:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            return {}
        node: Any = root
        for part in ref[2:].split("/"):
            node = node.get(part) if isinstance(node, Mapping) else None
        schema, seen = node, seen + 1
    return schema


def _types(schema: Any, root: Any) -> set[str] | None:
    schema = _resolve(schema, root)
    if not isinstance(schema, Mapping):
        return None
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list) and declared and all(isinstance(t, str) for t in declared):
        return set(declared)
    for key in ("anyOf", "oneOf"):
        members = schema.get(key)
        if isinstance(members, list) and members:
            member_types = [_types(member, root) for member in members]
            if any(t is None for t in member_types):
                return None
            return set().union(*(t for t in member_types if t is not None))
    return None


def _type_label(types: set[str] | None) -> str:
    return "|".join(sorted(types)) if types else "any"
