"""Signals for `core.wait` nodes: checking the event, and finding the runs of a project
that wait for it.

A signal to one run (`signalRun`) is recorded whatever the run is doing: the run's
workflow keeps an event no wait has taken yet until one does. A signal to a project
(`sendSignal`) reaches only the runs with a node WAITING for it right now, as the
control plane last heard (`node_runs.wait`); a run that has not reached its wait yet is
reached only by `signalRun`.
"""

from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.db.models import ControlRequest, NodeRun, Project, Run
from control_plane.errors import InvalidInputError, NotFoundError
from control_plane.runs.control import request_control
from data_plane.protocol import (
    MAX_CORRELATION_LENGTH,
    MAX_SIGNAL_NAME_LENGTH,
    ControlSignal,
    NodeStatus,
    RunStatus,
)

# The most runs one sendSignal signals: each is a request row and a control message, all
# in one transaction.
MAX_SIGNALLED_RUNS = 1000

# The API's argument names for the event's fields, and what to do about each.
_FIELDS = {"name": "signal", "correlation": "correlation", "payload": "payload"}
_FIXES = {
    "name": f"give the name the wait's `signal` names (1 to {MAX_SIGNAL_NAME_LENGTH} characters)",
    "correlation": f"give the key the wait's `correlation` names (1 to "
    f"{MAX_CORRELATION_LENGTH} characters), or leave it out",
    "payload": "",
}
# Runs a signal may still reach (as `control.request_control` accepts them).
_SIGNALLABLE = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING, RunStatus.PAUSED)


def signal_event(name: str, correlation: str | None, payload: Any) -> ControlSignal:
    """The event as the control message carries it.

    Raises:
        InvalidInputError: a field is out of bounds (the first one, by its API name).
    """
    try:
        return ControlSignal(name=name, correlation=correlation, payload=payload)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "payload"
        reason = error["msg"].removeprefix("Value error, ")
        fix = _FIXES.get(field, "")
        message = f"{_FIELDS.get(field, field)}: {reason}" + (f"; {fix}" if fix else "")
        raise InvalidInputError(message, field=_FIELDS.get(field, field)) from None


async def waiting_for(
    session: AsyncSession, project_id: str, event: ControlSignal, limit: int
) -> list[str]:
    """The ids of the project's unfinished runs with a node WAITING for `event`, oldest
    first, at most `limit`: the matching rule is the workflow's own (a wait takes an event
    of its signal name, and of its correlation key when it names one)."""
    wait_correlation = NodeRun.wait["correlation"].as_string()
    correlations = [wait_correlation.is_(None)]
    if event.correlation is not None:
        correlations.append(wait_correlation == event.correlation)
    query = (
        select(Run.id)
        .join(NodeRun, NodeRun.run_id == Run.id)
        .where(
            Run.project_id == project_id,
            Run.status.in_(_SIGNALLABLE),
            NodeRun.status == NodeStatus.WAITING,
            NodeRun.wait["kind"].as_string() == "signal",
            NodeRun.wait["signal"].as_string() == event.name,
            or_(*correlations),
        )
        .group_by(Run.id, Run.created_at)
        .order_by(Run.created_at, Run.id)
        .limit(limit)
    )
    return list(await session.scalars(query))


async def send_signal(
    session: AsyncSession,
    project_id: str,
    event: ControlSignal,
    requested_by: str,
    now: datetime,
    ttl: timedelta,
) -> list[ControlRequest]:
    """Record a signal request for each run of the project waiting for `event`; the
    caller publishes them after the commit. None waiting: none recorded.

    Raises:
        NotFoundError: no project has that id.
        InvalidInputError: more than MAX_SIGNALLED_RUNS runs wait for it.
    """
    if await session.get(Project, project_id) is None:
        raise NotFoundError(f"project {project_id!r} does not exist")
    run_ids = await waiting_for(session, project_id, event, MAX_SIGNALLED_RUNS + 1)
    if len(run_ids) > MAX_SIGNALLED_RUNS:
        raise InvalidInputError(
            f"signal: more than {MAX_SIGNALLED_RUNS} runs wait for {event.name!r}, more than "
            "one sendSignal reaches; give each wait a correlation key and send one per key, "
            "or signal runs one by one with signalRun",
            field="signal",
        )
    requests = []
    for run_id in run_ids:
        try:
            requests.append(
                await request_control(
                    session, run_id, "signal", False, requested_by, now, ttl, event
                )
            )
        except InvalidInputError:
            # It ended (or is being cancelled) since it was found: nothing waits any more.
            continue
    return requests
