from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from connectors_sdk import DefinitionIssue as Issue
from control_plane.db.models import Workflow as WorkflowRow
from control_plane.db.models import WorkflowVersion as VersionRow
from control_plane.errors import InvalidInputError
from control_plane.graphql.context import Info, ListKey
from control_plane.pagination import DEFAULT_LIST_PAGE, ListPage


@strawberry.type
class WorkflowVersion:
    id: strawberry.ID
    workflow_id: strawberry.ID
    name: str
    version: int
    sha256: str
    created_at: datetime
    definition: JSON

    @classmethod
    def from_row(cls, row: VersionRow) -> "WorkflowVersion":
        return cls(
            id=strawberry.ID(row.id),
            workflow_id=strawberry.ID(row.workflow_id),
            name=row.definition["name"],
            version=row.version,
            sha256=row.sha256,
            created_at=row.created_at,
            definition=JSON(row.definition),
        )


@strawberry.type
class Workflow:
    id: strawberry.ID
    project_id: strawberry.ID
    name: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: WorkflowRow) -> "Workflow":
        return cls(
            id=strawberry.ID(row.id),
            project_id=strawberry.ID(row.project_id),
            name=row.name,
            created_at=row.created_at,
        )

    @strawberry.field(
        description="Its versions, oldest first: at most `first` (1 to 200), after the "
        "version whose id is `after`; a page shorter than `first` is the last."
    )
    async def versions(
        self, info: Info, first: int = DEFAULT_LIST_PAGE, after: strawberry.ID | None = None
    ) -> list[WorkflowVersion]:
        rows = await info.context.versions.load(ListKey(self.id, ListPage(first, after)))
        return [WorkflowVersion.from_row(r) for r in rows]


@strawberry.type(description="Where a definition is wrong, and why.")
class DefinitionIssue:
    node_id: str | None
    field: str
    message: str

    @classmethod
    def from_issue(cls, issue: Issue) -> "DefinitionIssue":
        return cls(node_id=issue.node_id, field=issue.field, message=issue.message)


@strawberry.type(
    description="The request was refused and nothing was stored: each issue names the "
    "field (and, for a definition, the node) and why."
)
class ValidationFailed:
    errors: list[DefinitionIssue]

    @classmethod
    def of(cls, exc: InvalidInputError, field: str) -> "ValidationFailed":
        """The refusal of one input, under the field `exc` names (else `field`)."""
        issue = DefinitionIssue(node_id=None, field=exc.field or field, message=str(exc))
        return cls(errors=[issue])


PublishWorkflowResult = Annotated[
    WorkflowVersion | ValidationFailed, strawberry.union("PublishWorkflowResult")
]
