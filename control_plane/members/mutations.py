import strawberry

from control_plane.errors import InvalidInputError, NotFoundError
from control_plane.graphql.context import Info
from control_plane.graphql.results import NotFound
from control_plane.members import service
from control_plane.members.queries import missing_scope, scope_missing
from control_plane.members.types import (
    Member,
    MemberRemoved,
    MemberResult,
    RemoveMemberResult,
    Role,
)
from control_plane.workflows.types import ValidationFailed


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Give a user (user:<email>) or an OIDC group (group:<name>) a role in "
        "the workspace, or with projectId in that project (owners)."
    )
    async def add_member(
        self,
        info: Info,
        workspace_id: strawberry.ID,
        member: str,
        role: Role,
        project_id: strawberry.ID | None = None,
    ) -> MemberResult:
        return await _set(info, workspace_id, project_id, member, role, create=True)

    @strawberry.mutation(description="Change the role of an existing member (owners).")
    async def set_role(
        self,
        info: Info,
        workspace_id: strawberry.ID,
        member: str,
        role: Role,
        project_id: strawberry.ID | None = None,
    ) -> MemberResult:
        return await _set(info, workspace_id, project_id, member, role, create=False)

    @strawberry.mutation(description="Remove a membership (owners).")
    async def remove_member(
        self,
        info: Info,
        workspace_id: strawberry.ID,
        member: str,
        project_id: strawberry.ID | None = None,
    ) -> RemoveMemberResult:
        if await scope_missing(info, workspace_id, project_id):
            return NotFound(message=missing_scope(workspace_id, project_id))
        try:
            async with info.context.transaction() as transaction:
                removed = await service.remove_member(
                    transaction.session, workspace_id, project_id, member
                )
        except InvalidInputError as exc:
            return ValidationFailed.of(exc, "member")
        if not removed:
            return NotFound(message=f"{member} holds no role there")
        return MemberRemoved(member=member)


async def _set(
    info: Info,
    workspace_id: str,
    project_id: str | None,
    member: str,
    role: Role,
    *,
    create: bool,
) -> MemberResult:
    if await scope_missing(info, workspace_id, project_id):
        return NotFound(message=missing_scope(workspace_id, project_id))
    try:
        async with info.context.transaction() as transaction:
            membership = await service.set_member(
                transaction.session, workspace_id, project_id, member, role.value_of, create=create
            )
    except NotFoundError as exc:
        return NotFound(message=str(exc))
    except InvalidInputError as exc:
        return ValidationFailed.of(exc, "member")
    return Member.of(membership)
