from datetime import UTC, datetime

import strawberry

from control_plane.errors import InvalidInputError, NotFoundError
from control_plane.graphql.context import Info
from control_plane.graphql.results import NotFound
from control_plane.policies import service
from control_plane.policies.queries import policy_of
from control_plane.policies.types import DeletePolicyResult, PolicyDeleted, SetPolicyResult
from control_plane.workflows.types import ValidationFailed


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Set (or replace) a Rego policy by name (instance admins); refused, "
        "with the reason, unless it compiles with every other policy in force."
    )
    async def set_policy(self, info: Info, name: str, source: str) -> SetPolicyResult:
        context = info.context
        try:
            async with context.transaction() as transaction:
                row = await service.set_policy(
                    transaction.session,
                    context.services.policies,
                    name,
                    source,
                    context.principal.id,
                    datetime.now(UTC),
                )
                policy = policy_of(row)
        except InvalidInputError as exc:
            return ValidationFailed.of(exc, "source")
        return policy

    @strawberry.mutation(description="Delete a policy set through the API (instance admins).")
    async def delete_policy(self, info: Info, name: str) -> DeletePolicyResult:
        try:
            async with info.context.transaction() as transaction:
                await service.delete_policy(transaction.session, name)
        except NotFoundError as exc:
            return NotFound(message=str(exc))
        return PolicyDeleted(name=name)
