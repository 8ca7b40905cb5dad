import strawberry

from control_plane.graphql.context import Info
from control_plane.pagination import DEFAULT_LIST_PAGE, ListPage
from control_plane.workspaces import service
from control_plane.workspaces.types import Project, Workspace

PAGE = (
    "At most `first` (1 to 200) items, after the item whose id is `after`; a page shorter "
    "than `first` is the last."
)


@strawberry.type
class Query:
    @strawberry.field(
        description="The workspaces the caller holds a role in (or in a project of), by "
        f"name; archived ones only when asked. {PAGE}"
    )
    async def workspaces(
        self,
        info: Info,
        include_archived: bool = False,
        first: int = DEFAULT_LIST_PAGE,
        after: strawberry.ID | None = None,
    ) -> list[Workspace]:
        page = ListPage(first, after)
        async with info.context.services.sessions() as session:
            rows = await service.list_workspaces(
                session, info.context.principal, include_archived, page
            )
        return [Workspace.from_row(r) for r in rows]

    @strawberry.field(
        description="The projects the caller may read, optionally of one workspace, by "
        f"name; archived ones only when asked. {PAGE}"
    )
    async def projects(
        self,
        info: Info,
        workspace_id: strawberry.ID | None = None,
        include_archived: bool = False,
        first: int = DEFAULT_LIST_PAGE,
        after: strawberry.ID | None = None,
    ) -> list[Project]:
        page = ListPage(first, after)
        async with info.context.services.sessions() as session:
            rows = await service.list_projects(
                session, info.context.principal, workspace_id, include_archived, page
            )
        return [Project.from_row(r) for r in rows]
