"""Roles and what each may do: the one table every permission check reads.

The four workspace roles are ranked; each may do what the roles below it may, and more.
An instance admin is above them all, in every workspace, and alone may create
workspaces and manage instance settings (policies).
"""

from enum import StrEnum


class Role(StrEnum):
    """A member's role in a workspace, or in one project of it."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    EDITOR = "editor"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def includes(self, other: "Role") -> bool:
        """Whether holding this role means holding `other` too."""
        return self.rank >= other.rank


_RANKS = {role: rank for rank, role in enumerate(Role)}


class Permission(StrEnum):
    """What a field asks of the principal, on the object it touches."""

    READ = "read"
    OPERATE_RUNS = "operate runs"
    DECIDE_TASKS = "decide tasks"
    PUBLISH = "publish"
    MANAGE_SECRETS = "manage secrets"
    MANAGE_PROJECTS = "manage projects"
    MANAGE_MEMBERS = "manage members"
    MANAGE_TOKENS = "manage tokens"
    MANAGE_WORKSPACE = "manage the workspace"
    # Instance-wide: only an instance admin.
    MANAGE_WORKSPACES = "create and archive workspaces"
    MANAGE_POLICIES = "manage policies"


MINIMUM_ROLE: dict[Permission, Role | None] = {
    Permission.READ: Role.VIEWER,
    Permission.OPERATE_RUNS: Role.OPERATOR,
    Permission.DECIDE_TASKS: Role.OPERATOR,
    Permission.PUBLISH: Role.EDITOR,
    Permission.MANAGE_SECRETS: Role.EDITOR,
    Permission.MANAGE_PROJECTS: Role.OWNER,
    Permission.MANAGE_MEMBERS: Role.OWNER,
    Permission.MANAGE_TOKENS: Role.OWNER,
    Permission.MANAGE_WORKSPACE: Role.OWNER,
    Permission.MANAGE_WORKSPACES: None,
    Permission.MANAGE_POLICIES: None,
}
"""The least role that grants each permission; None: no workspace role does."""


def grants(role: Role | None, permission: Permission) -> bool:
    minimum = MINIMUM_ROLE[permission]
    return role is not None and minimum is not None and role.includes(minimum)
