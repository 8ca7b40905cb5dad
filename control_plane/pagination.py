"""Cursors of the lists that run newest first (runs, tasks): a timestamp and an id,
opaque to clients."""

import base64
from datetime import datetime

from control_plane.errors import InvalidInputError


def encode_cursor(at: datetime, row_id: str) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{row_id}".encode()).decode()


def decode_cursor(cursor: str, listed_by: str) -> tuple[datetime, str]:
    """The timestamp and id of a cursor that `listed_by` (a query's name) returned.

    Raises:
        InvalidInputError: it is not such a cursor.
    """
    try:
        at_text, _, row_id = base64.urlsafe_b64decode(cursor).decode().partition("|")
        at = datetime.fromisoformat(at_text)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise InvalidInputError(
            f"after: {cursor[:100]!r} is not a cursor returned by {listed_by}; pass "
            "pageInfo.endCursor as it was given",
            field="after",
        )
    return at, row_id
