from datetime import UTC, datetime

import strawberry

from control_plane.errors import InvalidInputError, NotFoundError
from control_plane.graphql.context import Info
from control_plane.graphql.results import NotFound
from control_plane.secrets import service
from control_plane.secrets.types import DeleteSecretResult, Secret, SecretDeleted, SetSecretResult
from control_plane.workflows.types import ValidationFailed


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Set a project secret (editors): `value` is written to Vault as its "
        "next version and never returned, logged or kept by the control plane."
    )
    async def set_secret(
        self, info: Info, project_id: strawberry.ID, name: str, value: str
    ) -> SetSecretResult:
        context = info.context
        try:
            async with context.transaction() as transaction:
                row = await service.set_secret(
                    transaction.session,
                    context.services.vault,
                    project_id,
                    name,
                    value,
                    context.principal.id,
                    datetime.now(UTC),
                )
        except NotFoundError as exc:
            return NotFound(message=str(exc))
        except InvalidInputError as exc:
            return ValidationFailed.of(exc, "name")
        return Secret.from_row(row)

    @strawberry.mutation(
        description="Delete a project secret and every version of its value (editors); "
        "runs that start afterwards are not granted it."
    )
    async def delete_secret(
        self, info: Info, project_id: strawberry.ID, name: str
    ) -> DeleteSecretResult:
        context = info.context
        try:
            async with context.transaction() as transaction:
                await service.delete_secret(transaction, context.services.vault, project_id, name)
        except NotFoundError as exc:
            return NotFound(message=str(exc))
        return SecretDeleted(project_id=project_id, name=name)
