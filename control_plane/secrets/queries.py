import strawberry

from control_plane.graphql.context import Info
from control_plane.pagination import DEFAULT_LIST_PAGE, ListPage
from control_plane.secrets import service
from control_plane.secrets.types import Secret


@strawberry.type
class Query:
    @strawberry.field(
        description="The secrets of a project, by name, without their values (empty for an "
        "unknown project). At most `first` (1 to 200), after the secret whose id is "
        "`after`; a page shorter than `first` is the last."
    )
    async def secrets(
        self,
        info: Info,
        project_id: strawberry.ID,
        first: int = DEFAULT_LIST_PAGE,
        after: strawberry.ID | None = None,
    ) -> list[Secret]:
        page = ListPage(first, after)
        async with info.context.services.sessions() as session:
            rows = await service.list_secrets(session, project_id, page)
        return [Secret.from_row(r) for r in rows]
