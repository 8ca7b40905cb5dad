"""Pages of lists: cursors of the lists that run newest first (runs, tasks), a timestamp
and an id opaque to clients; and `ListPage`, the pages of the lists read by name
(workspaces, projects, members, tokens, workflows), each after the last item read."""

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from control_plane.errors import InvalidInputError

T = TypeVar("T")


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


@dataclass(frozen=True)
class ListPage:
    """How much of a list to give: at most `first` items, after the item `after` names
    (its id, or for members the member). Lists too long for one answer are read page by
    page; a page shorter than `first` is the last."""

    first: int
    after: str | None

    def __post_init__(self) -> None:
        if not 1 <= self.first <= MAX_LIST_PAGE:
            raise InvalidInputError(f"first: must be between 1 and {MAX_LIST_PAGE}", field="first")


MAX_LIST_PAGE = 200
DEFAULT_LIST_PAGE = 100


async def page_of(
    session: AsyncSession,
    query: Select[T],
    order: Sequence[InstrumentedAttribute[Any]],
    page: ListPage,
    locate: Callable[[str], ColumnElement[bool]],
) -> Sequence[T]:
    """One page of `query` in `order` (unique over the list): the `page.first` rows after
    the one `locate(page.after)` picks.

    Raises:
        InvalidInputError: `after` names nothing of the list.
    """
    if page.after is not None:
        key = (await session.execute(select(*order).where(locate(page.after)))).first()
        if key is None:
            raise InvalidInputError(
                f"after: {page.after[:100]!r} is not an item of this list; pass the id of "
                "the last item of the page before",
                field="after",
            )
        query = query.where(tuple_(*order) > tuple_(*key))
    return (await session.scalars(query.order_by(*order).limit(page.first))).all()
