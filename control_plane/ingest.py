"""Ingesting data-plane events into Run / NodeRun rows.

Each pool reports on its own stream (`FF_EVENTS_<pool>`), which only that pool's
credentials may write to; the ingest reads each with a durable consumer, so events
published while the control plane was down are applied when it comes back. Events are
acknowledged after their transaction commits and applied once thanks to their ids.

Nothing a pool sends can stop the ingest:

- a message with an event of a protocol version this release does not read is
  dead-lettered (`unsupported_protocol`) at once, naming that version and those it reads;
- a message that is not a valid event batch is dead-lettered (`malformed`) at once;
- events about a run whose descriptor does not name the pool they came from are refused
  and the message is dead-lettered (`wrong_pool`);
- a message that cannot be applied while the database takes others is retried a few
  times, then dead-lettered (`unappliable`) with the error; while the database itself is
  unreachable nothing is dead-lettered, everything waits.
"""

import asyncio
import functools
import json
import logging

from nats.aio.msg import Msg
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from control_plane.runs.progress import apply_events
from data_plane.protocol import (
    INGEST_CONSUMER,
    SUPPORTED_PROTOCOLS,
    Bus,
    EventBatch,
    RunEvent,
    consume,
    dead_events_subject,
    dead_letter,
    events_stream,
)

logger = logging.getLogger(__name__)

# Deliveries of one message before it is set aside as unappliable.
MAX_ATTEMPTS = 5
_RETRY_DELAY = 1.0


class EventIngestor:
    def __init__(
        self, bus: Bus, sessions: async_sessionmaker[AsyncSession], pools: list[str]
    ) -> None:
        self._bus = bus
        self._sessions = sessions
        self._pools = pools
        # The pools' streams are read side by side, but their transactions run one at a
        # time: on SQLite a transaction reads before it takes the write lock, so two at
        # once could each move a run from the state it read (row locks do this on
        # PostgreSQL, for several control planes).
        self._applying = asyncio.Lock()

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(
            *(
                consume(
                    self._bus,
                    events_stream(pool),
                    INGEST_CONSUMER,
                    functools.partial(self._ingest, pool),
                    stop,
                    batch=64,
                )
                for pool in self._pools
            )
        )

    async def _ingest(self, pool: str, messages: list[Msg]) -> None:
        """Apply a fetched batch in one transaction (one commit for many events); when
        that fails, apply its messages one by one to find the one at fault."""
        readable: list[tuple[Msg, list[RunEvent]]] = []
        for message in messages:
            unsupported = unsupported_protocol(message.data)
            if unsupported is not None:
                await self._set_aside(pool, message, "unsupported_protocol", unsupported)
                continue
            try:
                readable.append((message, EventBatch.model_validate_json(message.data).events))
            except ValidationError as exc:
                await self._set_aside(pool, message, "malformed", str(exc))
        try:
            async with self._applying, self._sessions.begin() as session:
                applied = await apply_events(
                    session, pool, [event for _, events in readable for event in events]
                )
        except Exception:
            logger.info(
                "a batch of %d event messages failed; applying them one by one", len(readable)
            )
        else:
            for message, events in readable:
                await self._acknowledge(pool, message, events, applied.refused)
            return
        for message, events in readable:
            await self._apply_one(pool, message, events)

    async def _apply_one(self, pool: str, message: Msg, events: list[RunEvent]) -> None:
        for _ in range(3):
            try:
                async with self._applying, self._sessions.begin() as session:
                    applied = await apply_events(session, pool, events)
            except IntegrityError:
                # Another control-plane replica applied some of them first: read again.
                continue
            except Exception as exc:
                await self._failed(pool, message, exc)
                return
            await self._acknowledge(pool, message, events, applied.refused)
            return
        await message.nak(delay=_RETRY_DELAY)

    async def _acknowledge(
        self, pool: str, message: Msg, events: list[RunEvent], refused: list[RunEvent]
    ) -> None:
        refused_ids = {event.event_id for event in refused}
        mine = [event for event in events if event.event_id in refused_ids]
        if mine:
            runs = sorted({event.run_id for event in mine})
            reason = (
                f"pool {pool!r} reported {len(mine)} events about runs it was not given: "
                f"{', '.join(runs)}"
            )
            logger.warning("refused events: %s", reason)
            await self._set_aside(pool, message, "wrong_pool", reason)
            return
        await message.ack()

    async def _failed(self, pool: str, message: Msg, exc: Exception) -> None:
        if not await self._database_answers():
            logger.warning("the registry database is unreachable; events wait: %s", exc)
            await message.nak(delay=_RETRY_DELAY)
            return
        attempts = message.metadata.num_delivered or 1
        if attempts < MAX_ATTEMPTS:
            logger.warning(
                "could not apply an event message (attempt %d of %d): %r",
                attempts,
                MAX_ATTEMPTS,
                exc,
            )
            await message.nak(delay=_RETRY_DELAY)
            return
        await self._set_aside(
            pool, message, "unappliable", f"failed {attempts} times: {type(exc).__name__}: {exc}"
        )

    async def _set_aside(self, pool: str, message: Msg, reason: str, error: str) -> None:
        logger.warning("dead-lettering an event message from pool %s (%s): %s", pool, reason, error)
        await dead_letter(self._bus, dead_events_subject(pool), message, reason, error)
        await message.ack()

    async def _database_answers(self) -> bool:
        try:
            async with self._sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception:
            return False
        return True


def unsupported_protocol(data: bytes) -> str | None:
    """Why a message cannot be read if one of its events is of a protocol version this
    release does not know (an event without a version is of protocol 1), else None.

    Checked before the events are validated: a newer protocol may add fields this release
    would refuse as malformed, and the operator must learn that it is a version mismatch.
    """
    try:
        body = json.loads(data)
    except ValueError:
        return None
    events = body.get("events") if isinstance(body, dict) else None
    for position, event in enumerate(events if isinstance(events, list) else []):
        version = event.get("protocol", 1) if isinstance(event, dict) else 1
        # Only the integers themselves: True or "2" would slip through a set lookup or
        # pydantic's coercion, and a list is not hashable at all.
        if type(version) is int and version in SUPPORTED_PROTOCOLS:
            continue
        known = " and ".join(str(v) for v in sorted(SUPPORTED_PROTOCOLS))
        event_id = event.get("event_id") if isinstance(event, dict) else None
        return (
            f"event {position} ({event_id!r}) speaks protocol {version!r}; this control plane "
            f"reads protocol {known}: upgrade the control plane to a release that reads it"
        )
    return None
