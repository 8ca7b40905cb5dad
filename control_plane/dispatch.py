"""Signing run descriptors and publishing them to the data plane.

A run row is committed first (QUEUED, `dispatched_at` empty) and published after; the
sweep re-publishes any run whose publish did not complete (a crash, NATS down), so a run
is never lost. `Nats-Msg-Id` = run id and the agent's workflow id = run id make a second
publish harmless. A run that can never be published (its signed descriptor would be over
the bus's maximum message size, or cannot be serialised) fails at once with the reason,
so that neither it nor the runs queued after it wait for ever.
"""

import asyncio
import logging
import secrets
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from control_plane.db.models import Project, Run, Workflow, WorkflowVersion
from control_plane.runs.progress import fail_run
from data_plane.errors import BusUnavailableError, MessageTooLargeError
from data_plane.protocol import (
    PROTOCOL_VERSION,
    Bus,
    ChildWorkflow,
    RunDescriptor,
    RunStatus,
    runs_subject,
    sign_descriptor,
)

logger = logging.getLogger(__name__)


class Dispatcher:
    def __init__(
        self,
        bus: Bus,
        signing_key: Ed25519PrivateKey,
        sessions: async_sessionmaker[AsyncSession],
        ttl: timedelta,
    ) -> None:
        self._bus = bus
        self._key = signing_key
        self._sessions = sessions
        self._ttl = ttl

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
                envelope = sign_descriptor(await self._descriptor(session, run), self._key)
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
            pool=run.pool,
            issued_at=now,
            expires_at=now + self._ttl,
            nonce=secrets.token_hex(16),
            subworkflows=await _called(session, run),
        )

    async def sweep(self, older_than: timedelta = timedelta(seconds=2)) -> int:
        """Publish every queued run whose earlier publish did not complete; one run that
        fails to publish never holds back the others."""
        cutoff = datetime.now(UTC) - older_than
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
        for run_id in run_ids:
            try:
                await self.dispatch(run_id)
            except BusUnavailableError:
                return 0
            except Exception:
                logger.exception("could not dispatch run %s; the next sweep retries", run_id)
        return len(run_ids)

    async def sweep_forever(self, interval: float) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                logger.exception("dispatch sweep failed; retrying in %.0f s", interval)
            await asyncio.sleep(interval)


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
