"""Signing run descriptors and control messages and publishing them to the data plane.

A run row is committed first (QUEUED, `dispatched_at` empty) and published after; the
sweep re-publishes any run whose publish did not complete (a crash, NATS down), so a run
is never lost. `Nats-Msg-Id` = run id and the agent's workflow id = run id make a second
publish harmless. A run that can never be published (its signed descriptor would be over
the bus's maximum message size, or cannot be serialised) fails at once with the reason,
so that neither it nor the runs queued after it wait for ever.

Control requests (cancel, pause, resume) travel the same way: row first, message after,
the sweep for what was not published, `Nats-Msg-Id` = control id, and the run's workflow
applies a control id once. The message is built from the row alone, so every publish of
a request is the same signed message, with the same expiry. The sweep also marks the
requests past their expiry UNDELIVERED.
"""

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from control_plane.db.models import (
    ControlRequest,
    ControlStatus,
    Project,
    Run,
    Workflow,
    WorkflowVersion,
)
from control_plane.runs.control import expire
from control_plane.runs.progress import fail_run
from control_plane.secrets.grants import run_grants
from data_plane.errors import BusUnavailableError, MessageTooLargeError
from data_plane.protocol import (
    PROTOCOL_VERSION,
    Bus,
    ChildWorkflow,
    ControlMessage,
    RunDescriptor,
    RunStatus,
    Signer,
    control_subject,
    runs_subject,
    seal,
)

logger = logging.getLogger(__name__)


class Dispatcher:
    def __init__(
        self,
        bus: Bus,
        signer: Signer,
        sessions: async_sessionmaker[AsyncSession],
        ttl: timedelta,
    ) -> None:
        self._bus = bus
        self._signer = signer
        self._sessions = sessions
        self._ttl = ttl

    async def dispatch_soon(self, run_id: str) -> None:
        """Publish a committed run now if NATS answers; else the sweep publishes it."""
        try:
            await self.dispatch(run_id)
        except Exception:
            logger.warning("run %s queued; dispatch deferred", run_id, exc_info=True)

    async def dispatch(self, run_id: str) -> None:
        """Publish the run's signed descriptor and record that NATS accepted it.

        Raises:
            BusUnavailableError: not connected to NATS (the sweep tries again).
        """
        async with self._sessions.begin() as session:
            run = await session.get(Run, run_id)
            if run is None or run.dispatched_at is not None or run.status != RunStatus.QUEUED:
                return
            subject, headers = runs_subject(run.pool), {"Nats-Msg-Id": run.id}
            try:
                envelope = await seal(await self._descriptor(session, run), self._signer)
                await self._bus.publish(subject, envelope, headers=headers)
            except (MessageTooLargeError, ValueError, RecursionError) as exc:
                reason = f"the run cannot be dispatched: {exc}"
                logger.error("run %s: %s", run.id, reason, extra={"run_id": run.id})
                fail_run(run, reason, datetime.now(UTC))
                return
            run.dispatched_at = datetime.now(UTC)
        logger.info("dispatched run %s", run_id, extra={"run_id": run_id})

    async def _descriptor(self, session: AsyncSession, run: Run) -> RunDescriptor:
        version = await session.get_one(WorkflowVersion, run.version_id)
        workflow = await session.get_one(Workflow, run.workflow_id)
        project = await session.get_one(Project, run.project_id)
        called = await _called(session, run)
        definitions = [version.definition, *(child.definition for child in called.values())]
        # Parsing large definitions takes tens of ms: off the event loop.
        grants = await asyncio.to_thread(run_grants, definitions)
        now = datetime.now(UTC)
        return RunDescriptor(
            protocol=PROTOCOL_VERSION,
            run_id=run.id,
            workspace_id=project.workspace_id,
            project_id=project.id,
            workflow_id=workflow.id,
            workflow_name=workflow.name,
            version=version.version,
            sha256=version.sha256,
            definition=version.definition,
            input=run.input,
            secret_grants=grants,
            pool=run.pool,
            issued_at=now,
            expires_at=now + self._ttl,
            nonce=secrets.token_hex(16),
            subworkflows=called,
        )

    async def dispatch_control_soon(self, control_id: str) -> None:
        """Publish a committed request now if NATS answers; else the sweep publishes it."""
        try:
            await self.dispatch_control(control_id)
        except Exception:
            logger.warning("control %s recorded; dispatch deferred", control_id, exc_info=True)

    async def dispatch_control(self, control_id: str) -> None:
        """Publish the request's signed control message and record that NATS accepted it.

        Raises:
            BusUnavailableError: not connected to NATS (the sweep tries again).
        """
        async with self._sessions.begin() as session:
            request = await session.get(ControlRequest, control_id)
            now = datetime.now(UTC)
            if (
                request is None
                or request.dispatched_at is not None
                or request.status != ControlStatus.PENDING
                or request.expires_at <= now
            ):
                return
            run = await session.get_one(Run, request.run_id)
            message = control_message(request, run.pool)
            await self._bus.publish(
                control_subject(run.pool),
                await seal(message, self._signer),
                headers={"Nats-Msg-Id": request.id},
            )
            request.dispatched_at = now
        logger.info(
            "dispatched the %s of run %s (control %s)",
            message.action,
            run.id,
            control_id,
            extra={"run_id": run.id},
        )

    async def sweep(self, older_than: timedelta = timedelta(seconds=2)) -> int:
        """Publish every queued run and pending control request whose earlier publish did
        not complete, then mark the requests past their expiry UNDELIVERED; one that fails
        to publish never holds back the others. Returns how many were published."""
        now = datetime.now(UTC)
        cutoff = now - older_than
        async with self._sessions() as session:
            run_ids = (
                await session.scalars(
                    select(Run.id).where(
                        Run.dispatched_at.is_(None),
                        Run.status == RunStatus.QUEUED,
                        Run.created_at < cutoff,
                    )
                )
            ).all()
            control_ids = (
                await session.scalars(
                    select(ControlRequest.id)
                    .where(
                        ControlRequest.dispatched_at.is_(None),
                        ControlRequest.status == ControlStatus.PENDING,
                        ControlRequest.requested_at < cutoff,
                        ControlRequest.expires_at > now,
                    )
                    .order_by(ControlRequest.requested_at)
                )
            ).all()
        published = await _each(run_ids, self.dispatch, "run")
        published += await _each(control_ids, self.dispatch_control, "control request")
        async with self._sessions.begin() as session:
            undelivered = await expire(session, now)
        if undelivered:
            logger.warning("%d control requests expired undelivered", undelivered)
        return published

    async def sweep_forever(self, interval: float) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                logger.exception("dispatch sweep failed; retrying in %.0f s", interval)
            await asyncio.sleep(interval)


def control_message(request: ControlRequest, pool: str) -> ControlMessage:
    """The control message of a request, made from the row alone (so the same each time)."""
    return ControlMessage.model_validate(
        {
            "protocol": PROTOCOL_VERSION,
            "control_id": request.id,
            "run_id": request.run_id,
            "pool": pool,
            "action": request.action,
            "compensate": request.compensate,
            "issued_at": request.requested_at,
            "expires_at": request.expires_at,
            **_payload(request),
        }
    )


def _payload(request: ControlRequest) -> dict[str, Any]:
    """The field of the control message that carries the request's payload, if any."""
    if request.action == "signal":
        return {"signal": request.payload}
    if request.action == "decide":
        return {"decision": request.payload}
    return {}


async def _each(ids: Sequence[str], dispatch: Callable[[str], Awaitable[None]], what: str) -> int:
    """Dispatch each id in turn; how many were tried before NATS went away, if it did."""
    for done, item in enumerate(ids):
        try:
            await dispatch(item)
        except BusUnavailableError:
            return done
        except Exception:
            logger.exception("could not dispatch %s %s; the next sweep retries", what, item)
    return len(ids)


async def _called(session: AsyncSession, run: Run) -> dict[str, ChildWorkflow]:
    """The definitions the run calls, as resolved when it started."""
    called = {}
    for key, version_id in (run.subworkflows or {}).items():
        version = await session.get_one(WorkflowVersion, version_id)
        workflow = await session.get_one(Workflow, version.workflow_id)
        called[key] = ChildWorkflow(
            workflow_id=workflow.id,
            name=workflow.name,
            version=version.version,
            sha256=version.sha256,
            definition=version.definition,
        )
    return called
