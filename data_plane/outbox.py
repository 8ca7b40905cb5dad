"""The event outbox: run events wait on disk for the bus, in order, and none is lost.

Everything a data-plane process reports (its activities' node events, the events the
workflow hands to its activities, the agent's refusals) is written here first, and a
publisher task sends it on, oldest first, deleting each batch once its stream has
acknowledged it. Writing never waits for NATS, so a bus outage of any length fails no
node and no run: the events are delivered when the bus returns, and a process that
restarts meanwhile sends what it left here when it starts again.

A batch published just before a crash may be published again; its `Nats-Msg-Id` and the
event ids make the second copy harmless.

The file is SQLite in WAL mode with `synchronous=NORMAL`: a commit survives the process
dying (the case that matters here); only the loss of the machine itself may take the last
few. Its calls are made on the event loop on purpose: an insert or a delete of one small
row takes tens of microseconds, less than handing it to a thread.
"""

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from data_plane.errors import MessageTooLargeError
from data_plane.protocol import Bus, RunEvent, batches, events_subject

logger = logging.getLogger(__name__)

# The largest message NATS accepts by default; used until the server has told its own.
_DEFAULT_MAX_PAYLOAD = 1024 * 1024
_READ_AHEAD = 64
_RETRY_WAIT = 1.0


class EventOutbox:
    """Events of pool `pool` waiting for the bus, kept in the SQLite file at `path`."""

    def __init__(self, path: Path, bus: Bus, pool: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox ("
            " seq INTEGER PRIMARY KEY AUTOINCREMENT, msg_id TEXT NOT NULL, body BLOB NOT NULL)"
        )
        self._bus = bus
        self._subject = events_subject(pool)
        self._max_payload = _DEFAULT_MAX_PAYLOAD
        self._wake = asyncio.Event()

    @property
    def pending(self) -> int:
        """How many batches wait for the bus."""
        (count,) = self._db.execute("SELECT count(*) FROM outbox").fetchone()
        return int(count)

    def put(self, events: Sequence[RunEvent]) -> None:
        """Keep events to publish, as batches that each fit in one message."""
        if not events:
            return
        if self._bus.connected:
            self._max_payload = self._bus.max_payload
        rows = [
            (batch.message_id, batch.to_bytes()) for batch in batches(events, self._max_payload)
        ]
        with self._transaction():
            self._db.executemany("INSERT INTO outbox (msg_id, body) VALUES (?, ?)", rows)
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Publish what waits, oldest first, until `stop` is set."""
        while not stop.is_set():
            if not await self.publish_pending():
                await _wait(stop, _RETRY_WAIT)
                continue
            self._wake.clear()
            if self.pending == 0:
                await _wait(stop, 1.0, self._wake)

    async def publish_pending(self) -> bool:
        """Publish every waiting batch; False when the bus stopped it (they stay here)."""
        while rows := self._db.execute(
            "SELECT seq, msg_id, body FROM outbox ORDER BY seq LIMIT ?", (_READ_AHEAD,)
        ).fetchall():
            for seq, msg_id, body in rows:
                try:
                    await self._bus.publish(self._subject, body, headers={"Nats-Msg-Id": msg_id})
                except MessageTooLargeError as exc:
                    # Cut for a larger maximum than this server's: it can never be sent.
                    logger.error("dropping an event batch the bus cannot carry: %s", exc)
                except Exception as exc:
                    logger.info("events wait for the bus (%d batches): %s", self.pending, exc)
                    return False
                self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
        return True

    async def close(self, within: float = 5.0) -> None:
        """Send what is left if the bus allows it within `within` seconds; the rest stays
        on disk for the next start."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self.publish_pending()
        left = self.pending
        if left:
            logger.warning("%d event batches wait in the outbox for the next start", left)
        self._db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


async def _wait(stop: asyncio.Event, seconds: float, wake: asyncio.Event | None = None) -> None:
    waiters = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waiters.append(asyncio.ensure_future(wake.wait()))
    _, pending = await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    for waiter in pending:
        waiter.cancel()
