"""Human tasks through the API: listing them, and recording a decision together with the
control request that carries it to the run (`runs/control.py`); `lifecycle.py` keeps the
rows in step with what the data plane reports.

A decision is checked here against the task's form and recorded once per principal;
the run's workflow checks again that the task is open and the principal has not decided
(it alone knows for certain), and its answer settles the control request, which is the
decision's delivery.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.access.principal import Principal, Scope
from control_plane.db.models import (
    ControlRequest,
    ControlStatus,
    Project,
    Task,
    TaskAssignee,
    TaskDecision,
    TaskStatus,
)
from control_plane.errors import ForbiddenError, InvalidInputError, NotFoundError
from control_plane.input_schema import validate_value
from control_plane.pagination import decode_cursor, encode_cursor
from control_plane.runs.control import request_control
from data_plane.protocol import ControlDecision

# A decision whose delivery failed may be given again: the run never took it.
_UNDELIVERED = frozenset({ControlStatus.REFUSED, ControlStatus.UNDELIVERED})


async def get_task(session: AsyncSession, task_id: str) -> Task:
    task = await session.get(Task, task_id)
    if task is None:
        raise NotFoundError(f"task {task_id!r} does not exist")
    return task


@dataclass(frozen=True)
class TaskPage:
    tasks: Sequence[Task]
    has_next_page: bool
    end_cursor: str | None


async def list_tasks(
    session: AsyncSession,
    project_id: str,
    assignee: str | None,
    status: TaskStatus | None,
    first: int,
    after: str | None,
) -> TaskPage:
    """Tasks of a project, newest first, paginated by an opaque cursor."""
    query = select(Task).where(Task.project_id == project_id)
    if assignee is not None:
        query = query.where(
            Task.id.in_(select(TaskAssignee.task_id).where(TaskAssignee.assignee == assignee))
        )
    if status is not None:
        query = query.where(Task.status == status)
    if after is not None:
        opened_at, task_id = decode_cursor(after, "tasks")
        query = query.where(
            or_(Task.opened_at < opened_at, and_(Task.opened_at == opened_at, Task.id < task_id))
        )
    query = query.order_by(Task.opened_at.desc(), Task.id.desc()).limit(first + 1)
    rows = (await session.scalars(query)).all()
    page = rows[:first]
    end = encode_cursor(page[-1].opened_at, page[-1].id) if page else None
    return TaskPage(page, len(rows) > first, end)


@dataclass(frozen=True)
class RecordedDecision:
    """A decision as the API shows it: the row, and what became of its control request."""

    decision: TaskDecision
    delivery: ControlStatus
    reason: str | None


async def complete_task(
    session: AsyncSession,
    task_id: str,
    decision: Any,
    principal: Principal,
    now: datetime,
    ttl: timedelta,
) -> tuple[Task, ControlRequest]:
    """Record `decided_by`'s decision on an open task and the control request that sends it
    to the run; the caller publishes the request after the commit.

    Raises:
        NotFoundError: no task has that id.
        ForbiddenError: the task is assigned, and not to the principal.
        InvalidInputError: the task is not open, the decision does not fit its form, or
            `decided_by` already decided it.
    """
    # Locked, so that two decisions at once by one principal cannot both pass the checks.
    task = await session.get(Task, task_id, with_for_update=True)
    if task is None:
        raise NotFoundError(f"task {task_id!r} does not exist")
    if task.status != TaskStatus.OPEN:
        closed = f" at {task.closed_at.isoformat()}" if task.closed_at else ""
        raise InvalidInputError(
            f"taskId: task {task_id} is {task.status} (closed{closed}); only an OPEN task "
            "takes decisions",
            field="taskId",
        )
    await _check_assignee(session, task, principal)
    decided_by = principal.id
    if not isinstance(decision, dict):
        raise InvalidInputError(
            'decision: must be a JSON object such as {"approved": true}', field="decision"
        )
    await asyncio.to_thread(
        validate_value,
        task.form,
        decision,
        "decision",
        "the task's form",
        "the workflow's author must fix the form and publish a new version",
    )
    earlier = await session.scalar(
        select(TaskDecision)
        .where(TaskDecision.task_id == task.id, TaskDecision.decided_by == decided_by)
        .with_for_update()
    )
    if earlier is not None:
        delivery = await session.get_one(ControlRequest, earlier.control_request_id)
        if ControlStatus(delivery.status) not in _UNDELIVERED:
            raise InvalidInputError(
                f"taskId: {decided_by} already decided task {task.id} at "
                f"{earlier.decided_at.isoformat()}; each principal decides a task once",
                field="taskId",
            )
    try:
        payload = ControlDecision(task_id=task.id, decided_by=decided_by, decision=decision)
    except ValidationError as exc:
        raise InvalidInputError(f"decision: {exc.errors()[0]['msg']}", field="decision") from exc
    try:
        request = await request_control(
            session, task.run_id, "decide", False, decided_by, now, ttl, payload
        )
    except InvalidInputError as exc:
        raise InvalidInputError(str(exc).removeprefix("id: "), field="taskId") from exc
    if earlier is None:
        session.add(
            TaskDecision(
                task_id=task.id,
                decided_by=decided_by,
                decided_at=now,
                decision=decision,
                control_request_id=request.id,
            )
        )
    else:
        earlier.decided_at, earlier.decision = now, decision
        earlier.control_request_id = request.id
    try:
        await session.flush()
    except IntegrityError as exc:
        # The lock above serialises decisions on PostgreSQL; this is the backstop.
        raise InvalidInputError(
            f"taskId: {decided_by} already decided task {task.id}; each principal decides a "
            "task once",
            field="taskId",
        ) from exc
    return task, request


async def _check_assignee(session: AsyncSession, task: Task, principal: Principal) -> None:
    """A task assigned to no one is any operator's of its project; else only an assignee's."""
    assignees = (await assignees_of(session, [task.id]))[task.id]
    workspace_id = await session.scalar(
        select(Project.workspace_id).where(Project.id == task.project_id)
    )
    scope = Scope(workspace_id or "", task.project_id)
    if assignees and not any(principal.answers_to(a, scope) for a in assignees):
        raise ForbiddenError(
            f"task {task.id} is assigned to {', '.join(assignees)}; {principal.name} "
            f"({principal.id}) is none of them"
        )


async def assignees_of(session: AsyncSession, task_ids: Sequence[str]) -> dict[str, list[str]]:
    """The assignees of each task, in name order."""
    found: dict[str, list[str]] = {task_id: [] for task_id in task_ids}
    rows = await session.execute(
        select(TaskAssignee.task_id, TaskAssignee.assignee)
        .where(TaskAssignee.task_id.in_(task_ids))
        .order_by(TaskAssignee.task_id, TaskAssignee.assignee)
    )
    for task_id, assignee in rows:
        found[task_id].append(assignee)
    return found


async def decisions_of(
    session: AsyncSession, task_ids: Sequence[str]
) -> dict[str, list[RecordedDecision]]:
    """The decisions of each task, oldest first, each with its delivery."""
    found: dict[str, list[RecordedDecision]] = {task_id: [] for task_id in task_ids}
    rows = await session.execute(
        select(TaskDecision, ControlRequest.status, ControlRequest.reason)
        .join(ControlRequest, ControlRequest.id == TaskDecision.control_request_id)
        .where(TaskDecision.task_id.in_(task_ids))
        .order_by(TaskDecision.decided_at, TaskDecision.id)
    )
    for decision, status, reason in rows:
        found[decision.task_id].append(RecordedDecision(decision, ControlStatus(status), reason))
    return found
