from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from control_plane.db.models import NodeRun as NodeRunRow
from control_plane.db.models import Run as RunRow
from control_plane.graphql.context import Info
from control_plane.graphql.errors import graphql_errors
from data_plane.protocol import NodeStatus, RunStatus

# The GraphQL enums are the protocol's own: the API shows the names the data plane reports.
strawberry.enum(
    RunStatus,
    description="Where a run is (docs/concepts.md#statuses). A run that has not finished "
    "and has an error is stalled: the data plane could not go on interpreting it and will "
    "when a fixed worker picks it up.",
)
strawberry.enum(NodeStatus, description="Where one execution of a node is.")


@strawberry.type
class NodeRun:
    node_id: str
    status: NodeStatus
    attempts: int
    input: JSON | None
    output: JSON | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: NodeRunRow) -> "NodeRun":
        return cls(
            node_id=row.node_id,
            status=NodeStatus(row.status),
            attempts=row.attempts,
            input=row.input,
            output=row.output,
            error=row.error,
            started_at=row.started_at,
            finished_at=row.finished_at,
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
            finished_at=row.finished_at,
        )

    @strawberry.field(description="Every node that started or was skipped, in order.")
    @graphql_errors
    async def nodes(self, info: Info) -> list[NodeRun]:
        return [NodeRun.from_row(r) for r in await info.context.node_runs.load(self.id)]


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class RunConnection:
    nodes: list[Run]
    page_info: PageInfo
