from datetime import UTC, datetime

import strawberry

from control_plane.errors import InvalidInputError, NotFoundError
from control_plane.graphql.context import Info
from control_plane.graphql.results import NotFound
from control_plane.members.types import Role
from control_plane.tokens import service
from control_plane.tokens.types import (
    ApiToken,
    CreateApiTokenResult,
    CreatedApiToken,
    RevokeApiTokenResult,
)
from control_plane.workflows.types import ValidationFailed


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Create an API token holding `role` in the workspace (owners); its "
        "value is returned this once."
    )
    async def create_api_token(
        self,
        info: Info,
        workspace_id: strawberry.ID,
        name: str,
        role: Role,
        expires_at: datetime | None = None,
    ) -> CreateApiTokenResult:
        context = info.context
        try:
            async with context.transaction() as transaction:
                row, token = await service.create_token(
                    transaction.session,
                    name,
                    workspace_id,
                    role.value_of,
                    expires_at,
                    context.principal.id,
                    datetime.now(UTC),
                )
        except NotFoundError as exc:
            return NotFound(message=str(exc))
        except InvalidInputError as exc:
            return ValidationFailed.of(exc, "name")
        return CreatedApiToken(api_token=ApiToken.from_row(row), token=token)

    @strawberry.mutation(
        description="Revoke an API token (owners of its workspace): it authenticates "
        "nothing from now on."
    )
    async def revoke_api_token(self, info: Info, id: strawberry.ID) -> RevokeApiTokenResult:
        try:
            async with info.context.transaction() as transaction:
                row = await service.revoke_token(transaction.session, id, datetime.now(UTC))
        except NotFoundError as exc:
            return NotFound(message=str(exc))
        return ApiToken.from_row(row)
