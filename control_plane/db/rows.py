"""Statements both databases run alike, where their SQL dialects differ."""

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from control_plane.db.models import Base


async def insert_if_missing(
    session: AsyncSession,
    model: type[Base],
    unique: list[InstrumentedAttribute[Any]],
    **values: Any,
) -> None:
    """Insert a row unless one with the same `unique` columns exists (INSERT ... ON
    CONFLICT DO NOTHING): concurrent first writes of one key all go on, and the caller
    then locks the one row that exists."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(model).values(**values).on_conflict_do_nothing(index_elements=unique)
    )
