"""Ingesting data-plane events into Run / NodeRun rows.

A durable JetStream consumer survives control-plane restarts: events published while the
control plane was down are applied when it comes back. Each event is acknowledged after
its transaction commits, and applied once thanks to its event id.
"""

import asyncio
import logging

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from control_plane.runs.service import apply_events
from data_plane.protocol import EventBatch, dead_events_subject, dead_letter

logger = logging.getLogger(__name__)


class EventIngestor:
    def __init__(
        self,
        js: JetStreamContext,
        sessions: async_sessionmaker[AsyncSession],
        subject: str,
        durable: str,
    ) -> None:
        self._js = js
        self._sessions = sessions
        self._subject = subject
        self._durable = durable

    async def run(self) -> None:
        subscription = await self._js.pull_subscribe(
            self._subject,
            durable=self._durable,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=30.0),
        )
        try:
            while True:
                try:
                    messages = await subscription.fetch(64, timeout=1.0)
                except (NatsTimeoutError, TimeoutError):
                    continue
                try:
                    await self._ingest(messages)
                    for message in messages:
                        await message.ack()
                except Exception:
                    # Unacknowledged messages come back after ack_wait; applying is idempotent.
                    logger.exception("event ingest failed; the batch will be redelivered")
                    await asyncio.sleep(1.0)
        finally:
            await subscription.unsubscribe()

    async def _ingest(self, messages: list[Msg]) -> None:
        """Apply a fetched batch in one transaction (one commit for many events)."""
        events = []
        for message in messages:
            try:
                events.extend(EventBatch.model_validate_json(message.data).events)
            except ValidationError as exc:
                logger.warning("malformed event message on %s: %s", message.subject, exc)
                pool = message.subject.rsplit(".", 1)[-1]
                await dead_letter(
                    self._js, dead_events_subject(pool), message, "malformed", str(exc)
                )
        while True:
            try:
                async with self._sessions.begin() as session:
                    await apply_events(session, events)
                return
            except IntegrityError:
                # Another control-plane replica applied some of them first: one at a time.
                break
            except Exception:
                logger.exception("could not apply %d events; retrying", len(events))
                await asyncio.sleep(1.0)
        for event in events:
            try:
                async with self._sessions.begin() as session:
                    await apply_events(session, [event])
            except IntegrityError:
                pass
