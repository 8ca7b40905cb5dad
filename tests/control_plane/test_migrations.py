"""The registry's migrations: they build what the models describe, on both backends."""

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from annotated_types import MaxLen
from sqlalchemy.engine import Connection

from control_plane.db.engine import alembic_config, create_engine, migrate
from control_plane.db.models import EVENT_ID_LENGTH, Base
from data_plane.protocol import RunEvent


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def _schema_differences(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_differences)
    finally:
        await engine.dispose()


async def test_migrations_build_the_schema_the_models_describe(database_url: str) -> None:
    await migrate(database_url)

    assert await _schema_differences(database_url) == []


async def test_the_latest_migration_can_be_undone_and_done_again(database_url: str) -> None:
    await migrate(database_url)
    config = alembic_config(database_url)

    await asyncio.to_thread(command.downgrade, config, "0002")
    await migrate(database_url)

    assert await _schema_differences(database_url) == []


def test_the_registry_keeps_the_longest_event_id_the_protocol_accepts() -> None:
    [limit] = [
        m.max_length for m in RunEvent.model_fields["event_id"].metadata if isinstance(m, MaxLen)
    ]

    assert limit <= EVENT_ID_LENGTH
