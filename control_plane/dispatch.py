"""Signing run descriptors and publishing them to the data plane.

A run row is committed first (QUEUED, `dispatched_at` empty) and published after; the
sweep re-publishes any run whose publish did not complete (a crash, NATS down), so a run
is never lost. `Nats-Msg-Id` = run id and the agent's workflow id = run id make a second
publish harmless.
"""

import asyncio
import logging
import secrets
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nats.js import JetStreamContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from control_plane.db.models import Project, Run, Workflow, WorkflowVersion
from data_plane.protocol import RunDescriptor, runs_subject, sign_descriptor

logger = logging.getLogger(__name__)


class Dispatcher:
    def __init__(
        self,
        js: JetStreamContext,
        signing_key: Ed25519PrivateKey,
        sessions: async_sessionmaker[AsyncSession],
        ttl: timedelta,
    ) -> None:
        self._js = js
        self._key = signing_key
        self._sessions = sessions
        self._ttl = ttl

    async def dispatch(self, run_id: str) -> None:
        """Publish the run's signed descriptor and record that NATS accepted it."""
        async with self._sessions.begin() as session:
            run = await session.get(Run, run_id)
            if run is None or run.dispatched_at is not None:
                return
            descriptor = await self._descriptor(session, run)
            await self._js.publish(
                runs_subject(run.pool),
                sign_descriptor(descriptor, self._key),
                headers={"Nats-Msg-Id": run.id},
            )
            run.dispatched_at = datetime.now(UTC)
        logger.info("dispatched run %s", run_id, extra={"run_id": run_id})

    async def _descriptor(self, session: AsyncSession, run: Run) -> RunDescriptor:
        version = await session.get_one(WorkflowVersion, run.version_id)
        workflow = await session.get_one(Workflow, run.workflow_id)
        project = await session.get_one(Project, run.project_id)
        now = datetime.now(UTC)
        return RunDescriptor(
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
        )

    async def sweep(self, older_than: timedelta = timedelta(seconds=2)) -> int:
        """Publish every queued run whose earlier publish did not complete."""
        cutoff = datetime.now(UTC) - older_than
        async with self._sessions() as session:
            run_ids = (
                await session.scalars(
                    select(Run.id).where(
                        Run.dispatched_at.is_(None),
                        Run.status == "QUEUED",
                        Run.created_at < cutoff,
                    )
                )
            ).all()
        for run_id in run_ids:
            await self.dispatch(run_id)
        return len(run_ids)

    async def sweep_forever(self, interval: float) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                logger.exception("dispatch sweep failed; retrying in %.0f s", interval)
            await asyncio.sleep(interval)
