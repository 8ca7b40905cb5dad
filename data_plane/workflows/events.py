"""The events a run's workflow reports itself, kept until they leave.

They leave with the next local activity the workflow starts (which hands them to its
worker's outbox first thing), or, when none starts in the same workflow activation, by a
`publish_events` local activity of their own: a change is never held back waiting for a
node that may come much later, or never. Event times come from `workflow.now()`, moved
forward to the last finish time an activity reported, since workflow time stands still
while local activities run inside one workflow task. Pure; imported by the workflow.
"""

from datetime import datetime
from typing import Any

from temporalio import workflow

from data_plane.protocol import EventKind, RunEvent
from data_plane.workflows.state import RunState


class EventBuffer:
    def __init__(self, run_id: str, protocol: int, state: RunState) -> None:
        self._run_id = run_id
        self._protocol = protocol
        self._state = state
        self._pending: list[RunEvent] = []

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def emit(
        self,
        kind: EventKind,
        node_id: str | None = None,
        at: datetime | None = None,
        **fields: Any,
    ) -> None:
        self._pending.append(
            RunEvent.create(
                self._run_id, kind, at or self.now(), node_id, protocol=self._protocol, **fields
            )
        )

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
