"""Runs: starting them and reading them (`progress.py` applies what the data plane reports)."""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.db.models import IDEMPOTENCY_KEY_LENGTH, Run
from control_plane.errors import InvalidInputError, NotFoundError
from control_plane.input_schema import validate_run_input
from control_plane.limits import LimitSettings, check_json_value
from control_plane.pagination import decode_cursor, encode_cursor
from control_plane.runs.subworkflows import resolve_calls
from control_plane.workflows.service import get_version, get_workflow


async def start_run(
    session: AsyncSession,
    workflow_id: str,
    version: int | None,
    input: Any,
    idempotency_key: str | None,
    pool: str,
    limits: LimitSettings,
) -> tuple[Run, bool]:
    """Create a QUEUED run; returns it and whether it is new.

    A run already created with the same idempotency key in the project is returned as is.

    Raises:
        NotFoundError: unknown workflow or version.
        InvalidInputError: the input does not match the workflow's input schema, or the
            input or idempotency key is over a limit.
    """
    if idempotency_key is not None and len(idempotency_key) > IDEMPOTENCY_KEY_LENGTH:
        raise InvalidInputError(
            f"idempotencyKey: {len(idempotency_key)} characters; at most "
            f"{IDEMPOTENCY_KEY_LENGTH} are allowed",
            field="idempotencyKey",
        )
    check_json_value(
        input, "input", limits.max_run_input_bytes, limits.max_run_input_depth, "run_input"
    )
    workflow = await get_workflow(session, workflow_id)
    if idempotency_key is not None:
        existing = await _run_by_key(session, workflow.project_id, idempotency_key)
        if existing is not None:
            return existing, False
    found = await get_version(session, workflow_id, version)
    run_input = {} if input is None else input
    if not isinstance(run_input, dict):
        raise InvalidInputError("input: must be a JSON object", field="input")
    await asyncio.to_thread(validate_run_input, found.definition.get("input", {}), run_input)
    calls = await resolve_calls(session, workflow.project_id, workflow.name, found.definition)
    pinned = {node.get("pool") for node in found.definition.get("nodes", [])}
    run = Run(
        project_id=workflow.project_id,
        workflow_id=workflow.id,
        version_id=found.id,
        version=found.version,
        pool=pool,
        pools=[pool, *sorted(p for p in pinned if isinstance(p, str) and p != pool)],
        input=run_input,
        idempotency_key=idempotency_key,
        subworkflows=calls or None,
    )
    try:
        async with session.begin_nested():
            session.add(run)
    except IntegrityError:
        # A concurrent start with the same key won the race.
        existing = await _run_by_key(session, workflow.project_id, idempotency_key or "")
        if existing is None:
            raise
        return existing, False
    return run, True


async def _run_by_key(session: AsyncSession, project_id: str, key: str) -> Run | None:
    return await session.scalar(
        select(Run).where(Run.project_id == project_id, Run.idempotency_key == key)
    )


async def get_run(session: AsyncSession, run_id: str) -> Run:
    run = await session.get(Run, run_id)
    if run is None:
        raise NotFoundError(f"run {run_id!r} does not exist")
    return run


@dataclass(frozen=True)
class RunPage:
    runs: Sequence[Run]
    has_next_page: bool
    end_cursor: str | None


async def list_runs(
    session: AsyncSession, project_id: str, status: str | None, first: int, after: str | None
) -> RunPage:
    """Runs of a project, newest first, paginated by an opaque cursor."""
    query = select(Run).where(Run.project_id == project_id)
    if status is not None:
        query = query.where(Run.status == status)
    if after is not None:
        created_at, run_id = decode_cursor(after, "runs")
        query = query.where(
            or_(
                Run.created_at < created_at,
                and_(Run.created_at == created_at, Run.id < run_id),
            )
        )
    query = query.order_by(Run.created_at.desc(), Run.id.desc()).limit(first + 1)
    rows = (await session.scalars(query)).all()
    page = rows[:first]
    end = encode_cursor(page[-1].created_at, page[-1].id) if page else None
    return RunPage(page, len(rows) > first, end)
