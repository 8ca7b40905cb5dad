"""The cap on a GraphQL response body: past it the client gets an error, not the body.

What a response may hold is bounded per field (list sizes, definition and input sizes),
but aliases and nesting multiply those bounds; this is the backstop.
"""

import json

from control_plane.errors import InvalidInputError
from control_plane.limits import setting


def encode_within(data: object, max_bytes: int) -> bytes:
    """`data` as compact JSON, or an error body when that is over `max_bytes`."""
    body = json.dumps(data, separators=(",", ":")).encode()
    if len(body) <= max_bytes:
        return body
    error = InvalidInputError(
        f"the response would be {len(body)} bytes; at most {max_bytes} are sent "
        f"({setting('max_response_bytes')}): ask for fewer fields, fewer items or no aliases",
        field="query",
    )
    return json.dumps(
        {"data": None, "errors": [{"message": str(error), "extensions": error.extensions()}]}
    ).encode()
