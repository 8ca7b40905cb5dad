from enum import Enum
from typing import Annotated

import strawberry

from control_plane.access.roles import Role as RoleValue
from control_plane.graphql.results import NotFound
from control_plane.members.service import Membership
from control_plane.workflows.types import ValidationFailed


@strawberry.enum(description="A role in a workspace or project; each includes those above.")
class Role(Enum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    EDITOR = "editor"
    OWNER = "owner"

    @property
    def value_of(self) -> RoleValue:
        return RoleValue(self.value)


@strawberry.type(description="A role held in a workspace, or in one project of it.")
class Member:
    workspace_id: strawberry.ID
    project_id: strawberry.ID | None = strawberry.field(
        description="Set for a project role, which replaces the workspace role there."
    )
    member: str = strawberry.field(description="user:<email> or group:<name>.")
    role: Role

    @classmethod
    def of(cls, membership: Membership) -> "Member":
        return cls(
            workspace_id=strawberry.ID(membership.workspace_id),
            project_id=strawberry.ID(membership.project_id) if membership.project_id else None,
            member=membership.member,
            role=Role(membership.role.value),
        )


@strawberry.type(description="The membership was removed.")
class MemberRemoved:
    member: str


MemberResult = Annotated[Member | NotFound | ValidationFailed, strawberry.union("MemberResult")]
RemoveMemberResult = Annotated[
    MemberRemoved | NotFound | ValidationFailed, strawberry.union("RemoveMemberResult")
]
