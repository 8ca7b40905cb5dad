"""`RunState`: everything the interpreter knows about a run, as plain serialisable data.

Nothing of a run's progress lives in asyncio objects: the state is what continue-as-new
carries whole, and what the scheduler's pure functions read. Keys are execution keys
(`data_plane.protocol.execution_key`): a node id at top level, plus an iteration path
inside maps and loops. Pure; imported by the workflow.
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from connectors_sdk import NodeFailure

Settled = Literal["SUCCEEDED", "FAILED", "SKIPPED"]


class Outcome(BaseModel):
    status: Settled
    # The port a node with ports took.
    port: str | None = None
    error: NodeFailure | None = None


class Signal(BaseModel):
    """An event sent to the run, kept until a `core.wait` for it takes it."""

    name: str
    correlation: str | None = None
    payload: Any = None
    received_at: datetime | None = None


class Decision(BaseModel):
    """One person's decision on a human task, checked by the control plane against the
    task's form before it was sent."""

    task_id: str
    decided_by: str
    decision: dict[str, Any]
    decided_at: datetime | None = None

    @property
    def approved(self) -> bool:
        return self.decision.get("approved") is True


class RunState(BaseModel):
    outcomes: dict[str, Outcome] = Field(default_factory=dict)
    # Outputs of the nodes that succeeded; for a failed node with an error edge, its
    # {"error": NodeFailure}. What `.nodes.<id>` reads.
    outputs: dict[str, Any] = Field(default_factory=dict)
    # Sizes of `outputs` as compact JSON, to bound what expressions read.
    sizes: dict[str, int] = Field(default_factory=dict)
    # The first failure no error edge handles: the run fails with it once running nodes
    # finish; no other node starts.
    failure: str | None = None
    # The latest finish time an activity reported: events never go back in time.
    clock: datetime | None = None
    # Control messages applied (`workflows/control.py`): control id -> stream sequence.
    controls: dict[str, int] = Field(default_factory=dict)
    # Paused: no node starts until resumed.
    paused: bool = False
    # Cancelled: running nodes are cancelled, none starts; then the compensations, if asked.
    cancelled: bool = False
    compensate: bool = False
    # Nodes with a compensation that succeeded, in the order they did: compensated
    # newest first.
    completed: list[str] = Field(default_factory=list)
    # Signals no wait has taken yet, oldest first.
    signals: list[Signal] = Field(default_factory=list)
    # Decisions on the run's human tasks, by task id, in the order they came.
    decisions: dict[str, list[Decision]] = Field(default_factory=dict)
    # The human tasks waiting for decisions.
    open_tasks: list[str] = Field(default_factory=list)
    # How many times the run reported that it only waits (numbers its run.waiting events).
    waited: int = 0

    def has_signal(self, name: str, correlation: str | None) -> bool:
        return self._signal_index(name, correlation) is not None

    def take_signal(self, name: str, correlation: str | None) -> Signal | None:
        """The oldest signal of that name (and correlation key, if given), removed."""
        index = self._signal_index(name, correlation)
        return None if index is None else self.signals.pop(index)

    def _signal_index(self, name: str, correlation: str | None) -> int | None:
        for index, signal in enumerate(self.signals):
            if signal.name == name and correlation in (None, signal.correlation):
                return index
        return None

    def settle(self, key: str, outcome: Outcome, output: Any = None, size: int = 0) -> None:
        self.outcomes[key] = outcome
        if output is not None:
            self.outputs[key] = output
            self.sizes[key] = size
