"""The events a run's workflow reports itself, kept until they leave.

They leave with a local activity the workflow starts (which hands them to its worker's
outbox first thing), or by a `publish_events` local activity of their own as soon as the
workflow waits for anything but a local activity: a change is never held back waiting
for a node that may come much later, or never. While local activities follow one another
(lightweight nodes, chains), events ride along at most every `CARRY_EVERY` of run time,
so a line of fast nodes does not pay a publish per node. Event times come from
`workflow.now()`, moved forward to the last finish time an activity reported, since
workflow time stands still while local activities run inside one workflow task. Pure;
imported by the workflow.
"""

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

from data_plane.activities.nodes import NodeActivities
from data_plane.messages import PublishEventsInput
from data_plane.protocol import EventKind, RunEvent
from data_plane.workflows.state import RunState

CARRY_EVERY = timedelta(milliseconds=250)


class Watchers:
    """Callbacks to call when something changed (scopes waking up, see `interpreter.py`)."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[], None]] = []

    def __bool__(self) -> bool:
        return bool(self._callbacks)

    @contextlib.contextmanager
    def watching(self, callback: Callable[[], None]) -> Iterator[None]:
        """Call `callback` on every `notify` while inside."""
        self._callbacks.append(callback)
        try:
            yield
        finally:
            self._callbacks.remove(callback)

    def notify(self) -> None:
        for callback in self._callbacks:
            callback()


class EventBuffer:
    """One per workflow execution, shared by every scope of it."""

    def __init__(self, run_id: str, pool: str, protocol: int, state: RunState) -> None:
        self._run_id = run_id
        self._pool = pool
        self._protocol = protocol
        self._state = state
        self._pending: list[RunEvent] = []
        self._sending: asyncio.Task[None] | None = None
        self._carried = False
        self._local = 0
        # Told whenever events may have become `waiting`.
        self.watchers = Watchers()

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    @property
    def waiting(self) -> bool:
        """Events are pending, nothing is sending them, and no local activity is running
        that the next one could carry them with."""
        idle = self._sending is None or self._sending.done()
        return bool(self._pending) and idle and self._local == 0

    def _changed(self) -> None:
        if self.watchers and self.waiting:
            self.watchers.notify()

    def carry(self) -> list[RunEvent]:
        """The events a local activity about to start takes along: the run's first ones
        at once, later ones once the oldest has waited `CARRY_EVERY`."""
        if not self._pending:
            return []
        if self._carried and self.now() - self._pending[0].at < CARRY_EVERY:
            return []
        self._carried = True
        return self.take()

    @contextlib.contextmanager
    def local_activity(self) -> Iterator[None]:
        """Mark a local activity running (see `waiting`)."""
        self._local += 1
        try:
            yield
        finally:
            self._local -= 1
            self._changed()

    def send_waiting(self) -> None:
        """Start a local activity for the pending events unless one is sending already."""
        if self._sending is not None and self._sending.done():
            self._sending.result()
            self._sending = None
        if self._pending and self._sending is None:
            self._sending = asyncio.create_task(self._send())
            self._sending.add_done_callback(lambda _: self._changed())

    async def drain(self, always: bool = False) -> None:
        """Send every pending event, and wait until they left; `always`: by a local
        activity even when none is pending."""
        if self._sending is not None:
            await self._sending
            self._sending = None
        await self._send(always)

    async def _send(self, always: bool = False) -> None:
        events = self.take()
        if events or always:
            await workflow.execute_local_activity_method(
                NodeActivities.publish_events,
                PublishEventsInput(pool=self._pool, events=events),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=10)),
            )

    def emit(
        self, kind: EventKind, node_id: str | None = None, at: datetime | None = None, **fields: Any
    ) -> None:
        self._pending.append(
            RunEvent.create(
                self._run_id, kind, at or self.now(), node_id, protocol=self._protocol, **fields
            )
        )
        self._changed()

    def emit_for(self, run_id: str, kind: EventKind, **fields: Any) -> None:
        """Report an event of another run (the start of a sub-workflow's run)."""
        self._pending.append(
            RunEvent.create(run_id, kind, self.now(), protocol=self._protocol, **fields)
        )
        self._changed()

    def observe(self, finished_at: datetime | None) -> None:
        """Note an activity's reported finish time (see the module docstring)."""
        clock = self._state.clock
        if finished_at is not None and (clock is None or finished_at > clock):
            self._state.clock = finished_at

    def now(self) -> datetime:
        now = workflow.now()
        clock = self._state.clock
        return clock if clock is not None and clock > now else now

    def take(self) -> list[RunEvent]:
        events, self._pending = self._pending, []
        return events

    def give_back(self, events: list[RunEvent]) -> None:
        """Events whose carrier failed before sending them go out with what comes next
        (their ids make a second copy harmless)."""
        self._pending[:0] = events
        self._changed()
