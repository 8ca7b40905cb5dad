"""The executions of a run's nodes as the API reads them: one summary per node, counted in
SQL, and pages of one node's executions.

A node inside a map runs once per item, so a run may hold thousands of executions of one
node. A summary never loads them: its counts and bounds come from one GROUP BY, and only
the top-level execution of each node (iteration "") is read whole.
"""

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.db.models import NodeRun
from control_plane.errors import InvalidInputError
from data_plane.protocol import TERMINAL_NODE_STATUSES, NodeStatus

MAX_PAGE = 200

# A node with only iterations is RUNNING while any of them is at work (being retried or
# not yet started included); otherwise it shows the first of these that any of them is in.
_AT_WORK = frozenset({NodeStatus.RUNNING, NodeStatus.RETRYING, NodeStatus.PENDING})
_PRECEDENCE = (
    NodeStatus.COMPENSATING,
    NodeStatus.WAITING,
    NodeStatus.FAILED,
    NodeStatus.CANCELLED,
    NodeStatus.COMPENSATED,
    NodeStatus.SUCCEEDED,
    NodeStatus.SKIPPED,
)


@dataclass(frozen=True)
class NodeSummary:
    """One node of a run: its top-level execution if it has one, and counts of all."""

    run_id: str
    node_id: str
    top: NodeRun | None
    counts: Mapping[NodeStatus, int]
    max_attempts: int
    first_started_at: datetime | None
    last_finished_at: datetime | None

    @property
    def status(self) -> NodeStatus:
        return NodeStatus(self.top.status) if self.top is not None else derived_status(self.counts)


def derived_status(counts: Mapping[NodeStatus, int]) -> NodeStatus:
    """The status of a node that has only iterations, from those reported so far:
    RUNNING while any is at work, then COMPENSATING or WAITING while any is, then the
    gravest outcome (FAILED, CANCELLED, COMPENSATED, SUCCEEDED, SKIPPED in that order)."""
    present = {status for status, count in counts.items() if count > 0}
    if present & _AT_WORK:
        return NodeStatus.RUNNING
    return next((status for status in _PRECEDENCE if status in present), NodeStatus.PENDING)


async def node_summaries_of(
    session: AsyncSession, run_ids: Sequence[str]
) -> dict[str, list[NodeSummary]]:
    """The nodes of each run, in the order they were first reported."""
    grouped = (
        select(
            NodeRun.run_id,
            NodeRun.node_id,
            NodeRun.status,
            func.count(),
            func.min(NodeRun.id),
            func.max(NodeRun.attempts),
            func.min(NodeRun.started_at),
            func.max(NodeRun.finished_at),
        )
        .where(NodeRun.run_id.in_(run_ids))
        .group_by(NodeRun.run_id, NodeRun.node_id, NodeRun.status)
    )
    tops = select(NodeRun).where(NodeRun.run_id.in_(run_ids), NodeRun.iteration == "")
    top_rows = {(row.run_id, row.node_id): row for row in await session.scalars(tops)}
    nodes: dict[tuple[str, str], _Tally] = {}
    for run_id, node_id, status, count, first_id, attempts, started, finished in (
        await session.execute(grouped)
    ).all():
        tally = nodes.setdefault((run_id, node_id), _Tally(first_id))
        tally.add(NodeStatus(status), count, first_id, attempts, started, finished)
    found: dict[str, list[NodeSummary]] = {run_id: [] for run_id in run_ids}
    for (run_id, node_id), tally in sorted(nodes.items(), key=lambda item: item[1].first_id):
        found[run_id].append(tally.summary(run_id, node_id, top_rows.get((run_id, node_id))))
    return found


@dataclass
class _Tally:
    first_id: int
    counts: dict[NodeStatus, int] = field(default_factory=dict)
    max_attempts: int = 0
    first_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    unfinished: bool = False

    def add(
        self,
        status: NodeStatus,
        count: int,
        first_id: int,
        attempts: int,
        started: datetime | None,
        finished: datetime | None,
    ) -> None:
        self.counts[status] = count
        self.first_id = min(self.first_id, first_id)
        self.max_attempts = max(self.max_attempts, attempts)
        if started is not None:
            self.first_started_at = min(self.first_started_at or started, started)
        if finished is not None:
            self.last_finished_at = max(self.last_finished_at or finished, finished)
        self.unfinished = self.unfinished or status not in TERMINAL_NODE_STATUSES

    def summary(self, run_id: str, node_id: str, top: NodeRun | None) -> NodeSummary:
        return NodeSummary(
            run_id=run_id,
            node_id=node_id,
            top=top,
            counts={s: self.counts[s] for s in NodeStatus if s in self.counts},
            max_attempts=self.max_attempts,
            first_started_at=self.first_started_at,
            last_finished_at=None if self.unfinished else self.last_finished_at,
        )


@dataclass(frozen=True)
class ExecutionPage:
    executions: Sequence[NodeRun]
    has_next_page: bool
    end_cursor: str | None


def check_page_size(first: int) -> None:
    if not 1 <= first <= MAX_PAGE:
        raise InvalidInputError(f"first: must be between 1 and {MAX_PAGE}", field="first")


async def executions_of(
    session: AsyncSession, run_id: str, node_id: str, first: int, after_id: int | None
) -> ExecutionPage:
    """A page of one node's executions, in the order they were first reported."""
    query = select(NodeRun).where(NodeRun.run_id == run_id, NodeRun.node_id == node_id)
    if after_id is not None:
        query = query.where(NodeRun.id > after_id)
    rows = (await session.scalars(query.order_by(NodeRun.id).limit(first + 1))).all()
    page = rows[:first]
    end = _encode_cursor(page[-1].id) if page else None
    return ExecutionPage(page, len(rows) > first, end)


# Names what the cursor points into, so that a cursor of `runs` is refused here.
_CURSOR_KIND = "execution"


def _encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_KIND}:{row_id}".encode()).decode()


def decode_execution_cursor(cursor: str) -> int:
    """The row id an `iterations` cursor stands for.

    Raises:
        InvalidInputError: not a cursor that `iterations` returned.
    """
    try:
        kind, _, row_id = base64.urlsafe_b64decode(cursor).decode().partition(":")
        if kind != _CURSOR_KIND:
            raise ValueError(kind)
        return int(row_id)
    except ValueError:
        raise InvalidInputError(
            f"after: {cursor[:100]!r} is not a cursor returned by iterations; pass "
            "pageInfo.endCursor as it was given",
            field="after",
        ) from None
