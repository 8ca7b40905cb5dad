import strawberry

from control_plane.graphql.context import Info
from control_plane.tokens import service
from control_plane.tokens.types import ApiToken


@strawberry.type
class Query:
    @strawberry.field(description="The API tokens of a workspace, oldest first (owners).")
    async def api_tokens(self, info: Info, workspace_id: strawberry.ID) -> list[ApiToken]:
        async with info.context.services.sessions() as session:
            rows = await service.list_tokens(session, workspace_id)
        return [ApiToken.from_row(r) for r in rows]
