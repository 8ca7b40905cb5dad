"""`Principal`: who a request comes from, with every role they hold, resolved once when
the request is authenticated. Nothing downstream reads headers."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from control_plane.access.roles import MINIMUM_ROLE, Permission, Role, grants
from control_plane.errors import ForbiddenError

PrincipalKind = Literal["user", "token"]


@dataclass(frozen=True)
class Scope:
    """Where an object lives: a workspace, and the project inside it (None for objects
    of the workspace itself)."""

    workspace_id: str
    project_id: str | None = None


INSTANCE = Scope("")
"""The scope of what belongs to no workspace (instance admins' tokens): no workspace role
reaches it, so only an instance admin passes a check on it."""


@dataclass(frozen=True)
class Principal:
    # "user:<id>" or "token:<id>": what requests and decisions are recorded as made by.
    id: str
    kind: PrincipalKind
    name: str
    email: str | None = None
    groups: frozenset[str] = frozenset()
    instance_admin: bool = False
    workspace_roles: Mapping[str, Role] = field(default_factory=dict)
    # Project id -> (its workspace id, the role that replaces the workspace role there).
    project_roles: Mapping[str, tuple[str, Role]] = field(default_factory=dict)

    def role_in(self, scope: Scope) -> Role | None:
        """The role the principal holds where `scope` points (instance admins: owner)."""
        if self.instance_admin:
            return Role.OWNER
        if scope.project_id is not None and scope.project_id in self.project_roles:
            return self.project_roles[scope.project_id][1]
        return self.workspace_roles.get(scope.workspace_id)

    def sees(self, workspace_id: str) -> bool:
        """Whether the principal holds a role in the workspace or in a project of it."""
        return self.instance_admin or workspace_id in self.visible_workspaces()

    def visible_workspaces(self) -> frozenset[str]:
        """The workspaces the principal holds a role in, or in a project of (all of them,
        for an instance admin, go unlisted here: ask `instance_admin` first)."""
        return frozenset(self.workspace_roles) | {ws for ws, _ in self.project_roles.values()}

    def may(self, permission: Permission, scope: Scope | None = None) -> bool:
        if self.instance_admin:
            return True
        if scope is None:
            return False
        if permission is Permission.READ and scope.project_id is None:
            # A member of one project of a workspace sees the workspace it is in.
            return self.sees(scope.workspace_id)
        return grants(self.role_in(scope), permission)

    def require(self, permission: Permission, scope: Scope | None = None) -> None:
        """Raise `ForbiddenError`, naming what was missing, unless the principal may."""
        if self.may(permission, scope):
            return
        if scope is None:
            raise ForbiddenError(f"{permission} needs an instance admin")
        role = self.role_in(scope)
        where = "project" if scope.project_id is not None else "workspace"
        raise ForbiddenError(
            f"{permission} needs the {MINIMUM_ROLE[permission] or 'instance admin'} role or "
            f"above in this {where}; yours there: {role or 'none'} (docs/security.md lists "
            "what each role may do)"
        )

    def answers_to(self, assignee: str, scope: Scope) -> bool:
        """Whether a human task of `scope` assigned to `assignee` is the principal's to
        decide: `role:<role>` for whoever holds that role (or one above it) there,
        `group:<name>` for members of the issuer's group, `token:<name>` for the API
        token of that name, and otherwise a user's email (or a principal's id)."""
        kind, _, value = assignee.partition(":")
        if kind == "role":
            role = self.role_in(scope)
            return value in set(Role) and role is not None and role.includes(Role(value))
        if kind == "group":
            return bool(value) and value in self.groups
        if kind == "token" and self.kind == "token" and value == self.name:
            return True
        return assignee == self.id or (
            self.email is not None and assignee.lower() == self.email.lower()
        )
