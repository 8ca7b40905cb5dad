from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from control_plane.db.models import ControlRequest as ControlRequestRow
from control_plane.db.models import ControlStatus
from control_plane.db.models import NodeRun as NodeRunRow
from control_plane.db.models import Run as RunRow
from control_plane.graphql.context import ExecutionPageKey, Info, ListKey
from control_plane.graphql.results import NotFound
from control_plane.pagination import DEFAULT_LIST_PAGE, ListPage
from control_plane.runs.executions import NodeSummary, check_page_size, decode_execution_cursor
from control_plane.workflows.types import ValidationFailed
from data_plane.protocol import ControlSignal, NodeStatus, RunStatus, WaitInfo

# The GraphQL enums are the protocol's own: the API shows the names the data plane reports.
strawberry.enum(
    RunStatus,
    description="Where a run is (docs/concepts.md#statuses). A run that has not finished "
    "and has an error is stalled: the data plane could not go on interpreting it and will "
    "when a fixed worker picks it up.",
)
strawberry.enum(NodeStatus, description="Where one execution of a node is.")
strawberry.enum(
    ControlStatus,
    description="What became of a control request: PENDING until the run's data plane "
    "reports it APPLIED or REFUSED (reason says why), or UNDELIVERED when it expired "
    "before the data plane took it.",
)


@strawberry.enum(description="What a control request asks of a run.")
class ControlAction(Enum):
    CANCEL = "cancel"
    PAUSE = "pause"
    RESUME = "resume"
    SIGNAL = "signal"
    DECIDE = "decide"


@strawberry.type(description="The event a signal request carries to the run.")
class SentSignal:
    name: str
    correlation: str | None
    payload: JSON | None


@strawberry.type(
    description="A cancel, pause, resume or signal of a run (or a decision on one of its "
    "human tasks), sent to its data plane as a signed control message."
)
class ControlRequest:
    id: strawberry.ID
    run_id: strawberry.ID
    action: ControlAction
    compensate: bool = strawberry.field(
        description="A cancel that runs the compensations of the run's completed nodes."
    )
    status: ControlStatus
    reason: str | None = strawberry.field(description="Why it was refused or undelivered.")
    requested_by: str = strawberry.field(
        description='Who asked: "user:<id>" or "token:<id>" (Query.me gives your own).'
    )
    requested_at: datetime
    expires_at: datetime = strawberry.field(
        description="Until when the data plane may still take it."
    )
    dispatched_at: datetime | None = strawberry.field(
        description="When the bus took its message; null until then."
    )
    settled_at: datetime | None = strawberry.field(
        description="When it became APPLIED, REFUSED or UNDELIVERED."
    )
    signal: SentSignal | None = strawberry.field(description="For a signal: the event.")

    @classmethod
    def from_row(cls, row: ControlRequestRow) -> "ControlRequest":
        sent = None
        if row.action == "signal" and row.payload is not None:
            event = ControlSignal.model_validate(row.payload)
            sent = SentSignal(name=event.name, correlation=event.correlation, payload=event.payload)
        return cls(
            id=strawberry.ID(row.id),
            run_id=strawberry.ID(row.run_id),
            action=ControlAction(row.action),
            compensate=row.compensate,
            status=ControlStatus(row.status),
            reason=row.reason,
            requested_by=row.requested_by,
            requested_at=row.requested_at,
            expires_at=row.expires_at,
            dispatched_at=row.dispatched_at,
            settled_at=row.settled_at,
            signal=sent,
        )


# What cancelRun, pauseRun, resumeRun and signalRun return: the request, or why there is
# none (no such run; the action does not fit the run; a malformed signal).
ControlRunResult = Annotated[
    ControlRequest | NotFound | ValidationFailed, strawberry.union("ControlRunResult")
]


@strawberry.enum(description="What a waiting node waits for.")
class WaitKind(Enum):
    DURATION = "duration"
    UNTIL = "until"
    SIGNAL = "signal"
    APPROVAL = "approval"


@strawberry.type(
    description="What a WAITING node waits for, as its data plane reported when the wait "
    "began: shown at once, null once the node goes on."
)
class Wait:
    kind: WaitKind
    until: datetime | None = strawberry.field(
        description="When the wait ends by itself: a duration's end, the time, a signal's "
        "timeout or a task's due; null: never."
    )
    signal: str | None = strawberry.field(
        description="The name of the signal it waits for (kind SIGNAL)."
    )
    correlation: str | None = strawberry.field(
        description="The correlation key the signal must carry; null: any signal of that "
        "name ends the wait."
    )
    task_id: strawberry.ID | None = strawberry.field(
        description="The human task it waits on (kind APPROVAL)."
    )

    @classmethod
    def from_column(cls, wait: dict[str, object] | None) -> "Wait | None":
        if wait is None:
            return None
        info = WaitInfo.model_validate(wait)
        return cls(
            kind=WaitKind(info.kind),
            until=info.until,
            signal=info.signal,
            correlation=info.correlation,
            task_id=strawberry.ID(info.task.task_id) if info.task is not None else None,
        )


@strawberry.type(
    description="The signal requests sendSignal made, one per run waiting for the signal "
    "(none: no run waited for it)."
)
class SignalsSent:
    requests: list[ControlRequest]


SendSignalResult = Annotated[
    SignalsSent | NotFound | ValidationFailed, strawberry.union("SendSignalResult")
]


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="How many executions of a node are in one status.")
class NodeStatusCount:
    status: NodeStatus
    count: int


@strawberry.type(
    description='One execution of a node: the top-level one (iteration "") or one '
    "iteration inside a map, a loop or a sub-workflow."
)
class NodeExecution:
    iteration: str = strawberry.field(
        description='Its iteration path, e.g. "items#3/retry#0"; "" at top level.'
    )
    status: NodeStatus
    attempts: int
    input: JSON | None
    output: JSON | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    wait: Wait | None = strawberry.field(description="What it waits for, while WAITING.")

    @classmethod
    def from_row(cls, row: NodeRunRow) -> "NodeExecution":
        return cls(
            iteration=row.iteration,
            wait=Wait.from_column(row.wait),
            status=NodeStatus(row.status),
            attempts=row.attempts,
            input=row.input,
            output=row.output,
            error=row.error,
            started_at=row.started_at,
            finished_at=row.finished_at,
        )


@strawberry.type
class NodeExecutionConnection:
    nodes: list[NodeExecution]
    page_info: PageInfo


@strawberry.type(
    description="A node of a run: the fields of its top-level execution or, for a node "
    "that only runs in iterations, a status derived from them (attempts, startedAt and "
    "finishedAt their bounds; input, output and error null); counts and iterations cover "
    "every execution."
)
class NodeRun:
    node_id: str
    status: NodeStatus
    attempts: int
    input: JSON | None
    output: JSON | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    counts: list[NodeStatusCount] = strawberry.field(
        description="Executions by status, the statuses with none left out."
    )
    wait: Wait | None = strawberry.field(
        description="What its top-level execution waits for, while WAITING (null for a "
        "node that only runs in iterations: see each iteration's wait)."
    )
    run_id: strawberry.Private[str]

    @classmethod
    def from_summary(cls, summary: NodeSummary) -> "NodeRun":
        top = summary.top
        counts = [NodeStatusCount(status=s, count=n) for s, n in summary.counts.items()]
        if top is not None:
            return cls(
                node_id=summary.node_id,
                status=NodeStatus(top.status),
                attempts=top.attempts,
                input=top.input,
                output=top.output,
                error=top.error,
                started_at=top.started_at,
                finished_at=top.finished_at,
                counts=counts,
                wait=Wait.from_column(top.wait),
                run_id=summary.run_id,
            )
        return cls(
            node_id=summary.node_id,
            status=summary.status,
            attempts=summary.max_attempts,
            input=None,
            output=None,
            error=None,
            started_at=summary.first_started_at,
            finished_at=summary.last_finished_at,
            counts=counts,
            wait=None,
            run_id=summary.run_id,
        )

    @strawberry.field(
        description="The node's executions, in the order they were first reported, the "
        "top-level one included."
    )
    async def iterations(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> NodeExecutionConnection:
        check_page_size(first)
        after_id = decode_execution_cursor(after) if after is not None else None
        page = await info.context.executions.load(
            ExecutionPageKey(self.run_id, self.node_id, first, after_id)
        )
        return NodeExecutionConnection(
            nodes=[NodeExecution.from_row(row) for row in page.executions],
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
        )


@strawberry.type
class Run:
    id: strawberry.ID
    project_id: strawberry.ID
    workflow_id: strawberry.ID
    version: int
    status: RunStatus
    pool: str
    input: JSON
    output: JSON | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    parent_run_id: strawberry.ID | None = strawberry.field(
        description="For the run of a sub-workflow: the run that called it."
    )
    parent_execution: str | None = strawberry.field(
        description="For the run of a sub-workflow: the execution key of the calling node."
    )

    @classmethod
    def from_row(cls, row: RunRow) -> "Run":
        return cls(
            id=strawberry.ID(row.id),
            project_id=strawberry.ID(row.project_id),
            workflow_id=strawberry.ID(row.workflow_id),
            version=row.version,
            status=RunStatus(row.status),
            pool=row.pool,
            input=row.input,
            output=row.output,
            error=row.error,
            created_at=row.created_at,
            started_at=row.started_at,
            parent_run_id=strawberry.ID(row.parent_run_id) if row.parent_run_id else None,
            parent_execution=row.parent_execution,
            finished_at=row.finished_at,
        )

    @strawberry.field(
        description="Every node that reported something, in the order it first did: one "
        "summary per node, however many times it ran."
    )
    async def nodes(self, info: Info) -> list[NodeRun]:
        return [NodeRun.from_summary(s) for s in await info.context.node_summaries.load(self.id)]

    @strawberry.field(
        description="The control requests of the run (cancel, pause, resume, signal, "
        "decide), oldest first, each with what became of it: at most `first` (1 to 200), "
        "after the request whose id is `after`; a page shorter than `first` is the last."
    )
    async def control_requests(
        self, info: Info, first: int = DEFAULT_LIST_PAGE, after: strawberry.ID | None = None
    ) -> list[ControlRequest]:
        key = ListKey(self.id, ListPage(first, after))
        rows = await info.context.control_requests.load(key)
        return [ControlRequest.from_row(row) for row in rows]


@strawberry.type
class RunConnection:
    nodes: list[Run]
    page_info: PageInfo
