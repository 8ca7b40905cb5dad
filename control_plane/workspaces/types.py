from datetime import datetime

import strawberry

from control_plane.db.models import Project as ProjectRow
from control_plane.db.models import Workspace as WorkspaceRow


@strawberry.type
class Workspace:
    id: strawberry.ID
    name: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: WorkspaceRow) -> "Workspace":
        return cls(id=strawberry.ID(row.id), name=row.name, created_at=row.created_at)


@strawberry.type
class Project:
    id: strawberry.ID
    workspace_id: strawberry.ID
    name: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: ProjectRow) -> "Project":
        return cls(
            id=strawberry.ID(row.id),
            workspace_id=strawberry.ID(row.workspace_id),
            name=row.name,
            created_at=row.created_at,
        )
