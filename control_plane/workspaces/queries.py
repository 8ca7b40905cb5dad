import strawberry

from control_plane.access.principal import Scope
from control_plane.access.roles import Permission
from control_plane.graphql.context import Info
from control_plane.workspaces import service
from control_plane.workspaces.types import Project, Workspace


@strawberry.type
class Query:
    @strawberry.field(
        description="The workspaces the caller holds a role in (or in a "
        "project of), by name; archived ones only when asked."
    )
    async def workspaces(self, info: Info, include_archived: bool = False) -> list[Workspace]:
        principal = info.context.principal
        async with info.context.services.sessions() as session:
            rows = await service.list_workspaces(session, include_archived)
        return [Workspace.from_row(r) for r in rows if principal.sees(r.id)]

    @strawberry.field(
        description="The projects the caller may read, optionally of one workspace, by "
        "name; archived ones only when asked."
    )
    async def projects(
        self,
        info: Info,
        workspace_id: strawberry.ID | None = None,
        include_archived: bool = False,
    ) -> list[Project]:
        principal = info.context.principal
        async with info.context.services.sessions() as session:
            rows = await service.list_projects(session, workspace_id, include_archived)
        return [
            Project.from_row(r)
            for r in rows
            if principal.may(Permission.READ, Scope(r.workspace_id, r.id))
        ]
