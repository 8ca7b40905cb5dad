"""Reading rego-cpp's error texts: S-expressions such as

    (rego-errorseq (error 6:a.rego|75|1 (errormsg 27:Invalid assignment operator) ...))

where a string is prefixed with its length in bytes and `|75|1` is the byte offset and
length of the offending text in the module.
"""

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class _Error:
    message: str
    offset: int | None


_ERROR = re.compile(rb"\(error(?=[\s)])")
_LOCATION = re.compile(rb"\s*(\d+):")
_OFFSET = re.compile(rb"\|(\d+)\|\d+")
_ERRORMSG = re.compile(rb"\(errormsg (\d+):")


def _errors(text: str) -> list[_Error]:
    raw = text.encode()
    errors: list[_Error] = []
    for start in _ERROR.finditer(raw):
        position, offset = start.end(), None
        location = _LOCATION.match(raw, position)
        if location is not None:
            position = location.end() + int(location[1])
            found = _OFFSET.match(raw, position)
            offset = int(found[1]) if found is not None else None
        message = _ERRORMSG.search(raw, position)
        if message is not None:
            end = message.end() + int(message[1])
            errors.append(_Error(raw[message.end() : end].decode(errors="replace"), offset))
    return errors


def error_messages(text: str) -> str:
    """The messages of a rego-cpp error text, `; `-separated; the text itself if unparsed."""
    return "; ".join(error.message for error in _errors(text)) or text.strip()


def locate_errors(text: str, source: str) -> str:
    """Like `error_messages`, each prefixed with its line and column in `source`."""
    located = "; ".join(_located(error, source) for error in _errors(text))
    return located or text.strip()


def _located(error: _Error, source: str) -> str:
    if error.offset is None:
        return error.message
    before = source.encode()[: error.offset].decode(errors="replace")
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    return f"line {line}, column {column}: {error.message}"
