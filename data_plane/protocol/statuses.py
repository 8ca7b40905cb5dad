"""The one vocabulary of run and node statuses, and of the events that move them.

The data plane reports events; the control plane applies them through its transition
table (`control_plane/runs/progress.py`), shows the statuses in its GraphQL enums and the
CLI prints them: all from the names defined here.
"""

from enum import StrEnum
from typing import Literal


class RunStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    # Every running branch waits for time, an event or a person.
    WAITING = "WAITING"
    PAUSED = "PAUSED"
    CANCELLING = "CANCELLING"
    COMPENSATING = "COMPENSATING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    # Failed or cancelled, and the compensations of its completed nodes ran.
    COMPENSATED = "COMPENSATED"


class NodeStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    RETRYING = "RETRYING"
    WAITING = "WAITING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CANCELLED = "CANCELLED"
    COMPENSATING = "COMPENSATING"
    COMPENSATED = "COMPENSATED"


TERMINAL_RUN_STATUSES = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.COMPENSATED}
)
# A node's outcome is settled in these; COMPENSATING may still follow SUCCEEDED (saga).
TERMINAL_NODE_STATUSES = frozenset(
    {
        NodeStatus.SUCCEEDED,
        NodeStatus.FAILED,
        NodeStatus.SKIPPED,
        NodeStatus.CANCELLED,
        NodeStatus.COMPENSATED,
    }
)

EventKind = Literal[
    "run.started",
    "run.succeeded",
    "run.failed",
    # The interpreter itself failed (a bug, not the definition's or the data's fault): the
    # run stays RUNNING, with the error shown, until a fixed worker continues it.
    "run.stalled",
    "node.started",
    "node.retrying",
    "node.succeeded",
    "node.failed",
    "node.skipped",
]
