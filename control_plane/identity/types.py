import strawberry

from control_plane.access.principal import Principal
from control_plane.members.types import Role


@strawberry.type(description="A role the caller holds.")
class HeldRole:
    workspace_id: strawberry.ID
    project_id: strawberry.ID | None
    role: Role


@strawberry.type(description="Who the request is from, and every role it holds.")
class Me:
    id: str = strawberry.field(description='"user:<id>" or "token:<id>", as recorded.')
    kind: str = strawberry.field(description='"user" or "token".')
    name: str
    email: str | None
    groups: list[str]
    instance_admin: bool
    roles: list[HeldRole]

    @classmethod
    def of(cls, principal: Principal) -> "Me":
        roles = [
            HeldRole(workspace_id=strawberry.ID(w), project_id=None, role=Role(r.value))
            for w, r in sorted(principal.workspace_roles.items())
        ] + [
            HeldRole(workspace_id=strawberry.ID(w), project_id=strawberry.ID(p), role=Role(r.value))
            for p, (w, r) in sorted(principal.project_roles.items())
        ]
        return cls(
            id=principal.id,
            kind=principal.kind,
            name=principal.name,
            email=principal.email,
            groups=sorted(principal.groups),
            instance_admin=principal.instance_admin,
            roles=roles,
        )
