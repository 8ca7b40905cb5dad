from collections.abc import Mapping
from typing import Any

from control_plane.access.principal import INSTANCE, Scope
from control_plane.access.roles import Permission
from control_plane.db.models import ApiToken as ApiTokenRow
from control_plane.graphql.context import Context
from control_plane.graphql.permissions import Declarations, Reached, Rule, workspace_argument


async def _token_scope(context: Context, arguments: Mapping[str, Any]) -> Scope | None:
    async with context.services.sessions() as session:
        row = await session.get(ApiTokenRow, str(arguments["id"]))
    if row is None:
        return None
    return Scope(row.workspace_id) if row.workspace_id is not None else INSTANCE


DECLARATIONS = Declarations(
    fields={
        "Query.apiTokens": Rule.on(Permission.MANAGE_TOKENS, workspace_argument("workspaceId")),
        "Mutation.createApiToken": Rule.on(
            Permission.MANAGE_TOKENS, workspace_argument("workspaceId")
        ),
        "Mutation.revokeApiToken": Rule.on(Permission.MANAGE_TOKENS, _token_scope),
    },
    types={"ApiToken": Reached(), "CreatedApiToken": Reached()},
)
