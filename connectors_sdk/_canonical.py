"""Canonical JSON: the one byte form of a value that is hashed and signed."""

import json
from typing import Any


def canonical_json(obj: Any) -> bytes:
    """Serialise a JSON-compatible value canonically.

    Keys sorted, no whitespace, UTF-8 without escapes, NaN and infinities refused, so
    equal values always give equal bytes.

    Args:
        obj: Dicts, lists, strings, numbers, booleans and None.

    Returns:
        The UTF-8 bytes.

    Raises:
        TypeError: `obj` holds a value JSON cannot represent.
        ValueError: `obj` holds NaN or an infinity.
    """
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")
