"""Control requests: cancel, pause, resume, signals and decisions for a run, from the
request to its outcome.

A request is a row (`ControlRequest`) committed first and published after, as a signed
control message to the run's pool (`dispatch.py`); its status is PENDING until the data
plane reports it applied or refused (`control.applied`, `control.refused`, applied by the
ingest through `settle`) or until it expires (`expire`, called by the dispatch sweep).
A status set from a report never changes again; UNDELIVERED, the control plane's own
conclusion, still gives way to a report of a delivery made in time.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.db.models import ControlRequest, ControlStatus, Run
from control_plane.errors import InvalidInputError, NotFoundError
from control_plane.pagination import ListPage, page_of
from data_plane.protocol import (
    TERMINAL_RUN_STATUSES,
    ControlAction,
    ControlDecision,
    ControlSignal,
    RunEvent,
    RunStatus,
)

# What each action needs of the run, as the control plane last heard of it.
_UNSTOPPED = frozenset({RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING, RunStatus.PAUSED})
_FITS: dict[ControlAction, frozenset[RunStatus]] = {
    "pause": frozenset({RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING}),
    "resume": frozenset({RunStatus.PAUSED}),
    "cancel": _UNSTOPPED,
    "signal": _UNSTOPPED,
    "decide": _UNSTOPPED,
}
# Actions that may be pending several at once: each signal and decision is its own.
_MANY = frozenset({"signal", "decide"})
_REPORTED = frozenset({ControlStatus.APPLIED, ControlStatus.REFUSED})


async def request_control(
    session: AsyncSession,
    run_id: str,
    action: ControlAction,
    compensate: bool,
    requested_by: str,
    now: datetime,
    ttl: timedelta,
    payload: ControlSignal | ControlDecision | None = None,
) -> ControlRequest:
    """Record a request to `action` the run (with the signal's event or the decision
    `payload`); the caller publishes it after the commit.

    Raises:
        NotFoundError: no run has that id.
        InvalidInputError: the action does not fit the run's status (it has ended, a
            resume of a run that is not paused, ...), or the same action is still pending.
    """
    # Locked, so that two requests at once cannot both pass the checks below.
    run = await session.get(Run, run_id, with_for_update=True)
    if run is None:
        raise NotFoundError(f"run {run_id!r} does not exist")
    _check_fits(run, action)
    if action not in _MANY:
        await _check_not_pending(session, run, action)
    request = ControlRequest(
        run_id=run.id,
        action=action,
        compensate=compensate,
        payload=payload.model_dump(mode="json") if payload is not None else None,
        status=ControlStatus.PENDING,
        requested_by=requested_by,
        requested_at=now,
        expires_at=now + ttl,
    )
    session.add(request)
    await session.flush()
    return request


async def _check_not_pending(session: AsyncSession, run: Run, action: ControlAction) -> None:
    pending = await session.scalar(
        select(ControlRequest).where(
            ControlRequest.run_id == run.id,
            ControlRequest.action == action,
            ControlRequest.status == ControlStatus.PENDING,
        )
    )
    if pending is not None:
        raise InvalidInputError(
            f"id: a {action} of run {run.id} requested at {pending.requested_at.isoformat()} "
            f"has not been answered yet (it expires at {pending.expires_at.isoformat()}); "
            "follow it in Run.controlRequests",
            field="id",
        )


def _check_fits(run: Run, action: ControlAction) -> None:
    status = RunStatus(run.status)
    if status in _FITS[action]:
        return
    if status in TERMINAL_RUN_STATUSES:
        why = f"it has already ended ({status})"
    elif status in (RunStatus.CANCELLING, RunStatus.COMPENSATING):
        why = f"it is being cancelled ({status})"
    elif action == "pause":
        why = "it is already paused; resume it with resumeRun"
    else:
        why = f"it is {status}, not PAUSED: only a paused run resumes"
    raise InvalidInputError(f"id: run {run.id} cannot be {_DONE[action]}: {why}", field="id")


_DONE: dict[ControlAction, str] = {
    "pause": "paused",
    "resume": "resumed",
    "cancel": "cancelled",
    "signal": "signalled",
    "decide": "given a decision",
}


async def requests_of(
    session: AsyncSession, run_id: str, page: ListPage
) -> Sequence[ControlRequest]:
    """A page of the run's control requests, oldest first."""
    of_run = ControlRequest.run_id == run_id
    return await page_of(
        session,
        select(ControlRequest).where(of_run),
        (ControlRequest.requested_at, ControlRequest.id),
        page,
        lambda id: of_run & (ControlRequest.id == id),
    )


def settle(request: ControlRequest, event: RunEvent) -> None:
    """Apply the data plane's report of what became of a request (`control.applied` or
    `control.refused`); a request already reported on keeps its first report."""
    if ControlStatus(request.status) in _REPORTED:
        return
    applied = event.kind == "control.applied"
    request.status = ControlStatus.APPLIED if applied else ControlStatus.REFUSED
    request.reason = None if applied else event.error
    request.settled_at = event.at


async def expire(session: AsyncSession, now: datetime) -> int:
    """Mark the pending requests past their expiry UNDELIVERED; returns how many."""
    expired = (
        await session.scalars(
            select(ControlRequest)
            .where(
                ControlRequest.status == ControlStatus.PENDING,
                ControlRequest.expires_at <= now,
            )
            .order_by(ControlRequest.id)
            .with_for_update()
        )
    ).all()
    for request in expired:
        request.status = ControlStatus.UNDELIVERED
        request.settled_at = now
        request.reason = (
            f"the run's data plane did not take it before it expired at "
            f"{request.expires_at.isoformat()} (FLOWFORGE_CP_CONTROL_TTL_SECONDS); "
            "request it again if it still applies"
        )
    return len(expired)
