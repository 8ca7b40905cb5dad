"""Runs: starting them, reading them, and applying the events the data plane reports."""

import asyncio
import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.db.models import IDEMPOTENCY_KEY_LENGTH, NodeRun, Run, RunEventRecord
from control_plane.errors import InvalidInputError, NotFoundError
from control_plane.input_schema import validate_run_input
from control_plane.limits import LimitSettings, check_json_value
from control_plane.workflows.service import get_version, get_workflow
from data_plane.protocol import (
    TERMINAL_NODE_STATUSES,
    TERMINAL_RUN_STATUSES,
    NodeStatus,
    RunEvent,
    RunStatus,
)


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
        created_at, run_id = _decode_cursor(after)
        query = query.where(
            or_(
                Run.created_at < created_at,
                and_(Run.created_at == created_at, Run.id < run_id),
            )
        )
    query = query.order_by(Run.created_at.desc(), Run.id.desc()).limit(first + 1)
    rows = (await session.scalars(query)).all()
    page = rows[:first]
    end = _encode_cursor(page[-1]) if page else None
    return RunPage(page, len(rows) > first, end)


def _encode_cursor(run: Run) -> str:
    return base64.urlsafe_b64encode(f"{run.created_at.isoformat()}|{run.id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, _, run_id = base64.urlsafe_b64decode(cursor).decode().partition("|")
        created_at = datetime.fromisoformat(created)
    except ValueError:
        created_at = None
    if created_at is None or created_at.tzinfo is None:
        raise InvalidInputError(
            f"after: {cursor[:100]!r} is not a cursor returned by runs; pass "
            "pageInfo.endCursor as it was given",
            field="after",
        )
    return created_at, run_id


async def node_runs_of(session: AsyncSession, run_ids: Sequence[str]) -> dict[str, list[NodeRun]]:
    query = select(NodeRun).where(NodeRun.run_id.in_(run_ids)).order_by(NodeRun.id)
    found: dict[str, list[NodeRun]] = {run_id: [] for run_id in run_ids}
    for node_run in await session.scalars(query):
        found[node_run.run_id].append(node_run)
    return found


@dataclass(frozen=True)
class Applied:
    """What `apply_events` did: how many events were new, and which it refused because
    their pool has no say in their run."""

    new: int
    refused: list[RunEvent]


async def apply_events(session: AsyncSession, pool: str, events: Sequence[RunEvent]) -> Applied:
    """Apply events that pool `pool` reported to their runs.

    Events already applied (by id) and events of unknown runs are skipped. An event about
    a run whose descriptor does not name `pool` is refused (and not remembered, so that it
    cannot shadow the genuine event with the same id). Status never moves backwards: a
    late or repeated event cannot reopen a finished run or node. The rows a batch touches
    are read with three queries, whatever its size.
    """
    event_ids = {e.event_id for e in events}
    seen = set(
        await session.scalars(
            select(RunEventRecord.event_id).where(RunEventRecord.event_id.in_(event_ids))
        )
    )
    run_ids = {e.run_id for e in events}
    # Locked (in one order, against deadlocks) so that replicas applying events of one run
    # at the same time cannot overwrite each other's transitions.
    runs = {
        r.id: r
        for r in await session.scalars(
            select(Run).where(Run.id.in_(run_ids)).order_by(Run.id).with_for_update()
        )
    }
    nodes = {
        (n.run_id, n.node_id): n
        for n in await session.scalars(
            select(NodeRun)
            .where(NodeRun.run_id.in_(run_ids))
            .order_by(NodeRun.id)
            .with_for_update()
        )
    }
    applied = 0
    refused: list[RunEvent] = []
    for event in events:
        run = runs.get(event.run_id)
        if event.event_id in seen or run is None:
            continue
        if pool not in (run.pools or [run.pool]):
            refused.append(event)
            continue
        seen.add(event.event_id)
        applied += 1
        session.add(
            RunEventRecord(
                event_id=event.event_id,
                run_id=event.run_id,
                kind=event.kind,
                node_id=event.node_id,
                at=event.at,
            )
        )
        _apply_run_event(run, event)
        if event.node_id is not None:
            node = nodes.get((event.run_id, event.node_id))
            if node is None:
                node = NodeRun(
                    run_id=event.run_id,
                    node_id=event.node_id,
                    status=NodeStatus.PENDING,
                    attempts=0,
                )
                nodes[(event.run_id, event.node_id)] = node
                session.add(node)
            _apply_node_event(node, event)
    await session.flush()
    return Applied(applied, refused)


def fail_run(run: Run, error: str | None, at: datetime) -> None:
    """Mark a run FAILED unless it already finished."""
    if run.status not in TERMINAL_RUN_STATUSES:
        run.status, run.error, run.finished_at = RunStatus.FAILED, error, at


def _apply_run_event(run: Run, event: RunEvent) -> None:
    if run.status in TERMINAL_RUN_STATUSES:
        return
    if event.kind == "run.succeeded":
        run.status, run.output, run.finished_at = RunStatus.SUCCEEDED, event.output, event.at
    elif event.kind == "run.failed":
        fail_run(run, event.error, event.at)
    elif run.status == RunStatus.QUEUED:
        run.status = RunStatus.RUNNING
    if run.started_at is None and event.kind != "run.failed":
        run.started_at = event.at


def _apply_node_event(node: NodeRun, event: RunEvent) -> None:
    if event.kind in ("node.started", "node.retrying", "node.failed"):
        node.attempts = max(node.attempts, event.attempt)
    if event.kind == "node.started":
        node.input = event.input
        node.started_at = node.started_at or event.at
    if node.status in TERMINAL_NODE_STATUSES:
        return
    match event.kind:
        case "node.started":
            node.status = NodeStatus.RUNNING
        case "node.retrying":
            node.status, node.error = NodeStatus.RETRYING, event.error
        case "node.succeeded":
            node.status, node.output, node.error = NodeStatus.SUCCEEDED, event.output, None
            node.finished_at = event.at
        case "node.failed":
            node.status, node.error, node.finished_at = NodeStatus.FAILED, event.error, event.at
        case "node.skipped":
            node.status = NodeStatus.SKIPPED
