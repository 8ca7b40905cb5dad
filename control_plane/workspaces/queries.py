import strawberry

from control_plane.graphql.context import Info
from control_plane.graphql.errors import graphql_errors
from control_plane.workspaces import service
from control_plane.workspaces.types import Project, Workspace


@strawberry.type
class Query:
    @strawberry.field(description="All workspaces.")
    @graphql_errors
    async def workspaces(self, info: Info) -> list[Workspace]:
        async with info.context.services.sessions() as session:
            return [Workspace.from_row(r) for r in await service.list_workspaces(session)]

    @strawberry.field(description="Projects, optionally of one workspace.")
    @graphql_errors
    async def projects(
        self, info: Info, workspace_id: strawberry.ID | None = None
    ) -> list[Project]:
        async with info.context.services.sessions() as session:
            rows = await service.list_projects(session, workspace_id)
            return [Project.from_row(r) for r in rows]
