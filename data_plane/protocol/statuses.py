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
    # Every node the run has running waits for time, an event or a person; any node
    # starting moves it back to RUNNING.
    "run.waiting",
    # Asked to pause: running nodes finish, none starts until run.resumed.
    "run.paused",
    "run.resumed",
    # Asked to cancel: waits end, running nodes are cancelled; then run.compensating (if
    # asked, and some completed node has a compensation) and run.cancelled, or
    # run.compensated once the compensations ran.
    "run.cancelling",
    "run.compensating",
    "run.cancelled",
    "run.compensated",
    "node.started",
    "node.retrying",
    # The node waits (`RunEvent.wait` says for what, and until when).
    "node.waiting",
    "node.succeeded",
    "node.failed",
    "node.skipped",
    "node.cancelled",
    # A completed node's compensation started, and ended (`error` set if it failed).
    "node.compensating",
    "node.compensated",
    # What became of a control message (`RunEvent.control_id`), reported by the agent:
    # applied, or refused with the reason in `error`.
    "control.applied",
    "control.refused",
]
