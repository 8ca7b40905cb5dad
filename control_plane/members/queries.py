import strawberry

from control_plane.errors import NotFoundError
from control_plane.graphql.context import Info
from control_plane.members import service
from control_plane.members.permissions import membership_scope
from control_plane.members.types import Member
from control_plane.pagination import DEFAULT_LIST_PAGE, ListPage


@strawberry.type
class Query:
    @strawberry.field(
        description="Who holds a role in the workspace (or, with projectId, in that "
        "project), by member. At most `first` (1 to 200), after the member `after`; a page "
        "shorter than `first` is the last."
    )
    async def members(
        self,
        info: Info,
        workspace_id: strawberry.ID,
        project_id: strawberry.ID | None = None,
        first: int = DEFAULT_LIST_PAGE,
        after: str | None = None,
    ) -> list[Member]:
        page = ListPage(first, after)
        if await scope_missing(info, workspace_id, project_id):
            raise NotFoundError(missing_scope(workspace_id, project_id))
        async with info.context.services.sessions() as session:
            rows = await service.list_members(session, workspace_id, project_id, page)
        return [Member.of(r) for r in rows]


async def scope_missing(info: Info, workspace_id: str, project_id: str | None) -> bool:
    return await membership_scope(info.context, workspace_id, project_id) is None


def missing_scope(workspace_id: str, project_id: str | None) -> str:
    if project_id is None:
        return f"workspace {workspace_id!r} does not exist"
    return f"workspace {workspace_id!r} has no project {project_id!r}"
