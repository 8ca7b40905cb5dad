from datetime import datetime
from typing import Annotated

import strawberry

from control_plane.db.models import Project as ProjectRow
from control_plane.db.models import Workspace as WorkspaceRow
from control_plane.graphql.results import NotFound
from control_plane.workflows.types import ValidationFailed


@strawberry.type(description="A tenant: its members, projects, workflows and runs.")
class Workspace:
    id: strawberry.ID
    name: str
    created_at: datetime
    archived_at: datetime | None

    @classmethod
    def from_row(cls, row: WorkspaceRow) -> "Workspace":
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            created_at=row.created_at,
            archived_at=row.archived_at,
        )


@strawberry.type
class Project:
    id: strawberry.ID
    workspace_id: strawberry.ID
    name: str
    tags: list[str] = strawberry.field(description="Labels that policies read.")
    created_at: datetime
    archived_at: datetime | None

    @classmethod
    def from_row(cls, row: ProjectRow) -> "Project":
        return cls(
            id=strawberry.ID(row.id),
            workspace_id=strawberry.ID(row.workspace_id),
            name=row.name,
            tags=list(row.tags or []),
            created_at=row.created_at,
            archived_at=row.archived_at,
        )


WorkspaceResult = Annotated[
    Workspace | NotFound | ValidationFailed, strawberry.union("WorkspaceResult")
]
ProjectResult = Annotated[Project | NotFound | ValidationFailed, strawberry.union("ProjectResult")]
