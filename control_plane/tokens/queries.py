import strawberry

from control_plane.graphql.context import Info
from control_plane.pagination import DEFAULT_LIST_PAGE, ListPage
from control_plane.tokens import service
from control_plane.tokens.types import ApiToken


@strawberry.type
class Query:
    @strawberry.field(
        description="The API tokens of a workspace, oldest first (owners). At most `first` "
        "(1 to 200), after the token whose id is `after`; a page shorter than `first` is "
        "the last."
    )
    async def api_tokens(
        self,
        info: Info,
        workspace_id: strawberry.ID,
        first: int = DEFAULT_LIST_PAGE,
        after: strawberry.ID | None = None,
    ) -> list[ApiToken]:
        page = ListPage(first, after)
        async with info.context.services.sessions() as session:
            rows = await service.list_tokens(session, workspace_id, page)
        return [ApiToken.from_row(r) for r in rows]
