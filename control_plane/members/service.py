"""Memberships: roles held in a workspace or in one project of it, by a user
(`user:<email>`) or by the members of a group of the OIDC issuer (`group:<name>`)."""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.access.roles import Role
from control_plane.db.models import Project, ProjectMember, WorkspaceMember
from control_plane.errors import InvalidInputError, NotFoundError
from control_plane.pagination import ListPage, page_of

MEMBER_PATTERN = re.compile(r"(user:[^\s@]+@[^\s@]+|group:[^\s]+)")
MEMBER_LENGTH = 400


def check_member(member: str) -> str:
    """The member key normalised (emails are case-insensitive), or InvalidInputError."""
    if len(member) > MEMBER_LENGTH or not MEMBER_PATTERN.fullmatch(member):
        raise InvalidInputError(
            f"member: {member[:80]!r} is neither user:<email> nor group:<name>", field="member"
        )
    kind, _, value = member.partition(":")
    return f"user:{value.lower()}" if kind == "user" else member


@dataclass(frozen=True)
class Roles:
    """The roles `members` hold together: the highest of each scope."""

    workspaces: dict[str, Role]
    projects: dict[str, tuple[str, Role]]


async def roles_of(session: AsyncSession, members: Sequence[str]) -> Roles:
    workspaces: dict[str, Role] = {}
    projects: dict[str, tuple[str, Role]] = {}
    if not members:
        return Roles(workspaces, projects)
    rows = await session.execute(
        select(WorkspaceMember.workspace_id, WorkspaceMember.role).where(
            WorkspaceMember.member.in_(members)
        )
    )
    for workspace_id, role in rows:
        workspaces[workspace_id] = _higher(workspaces.get(workspace_id), Role(role))
    project_rows = await session.execute(
        select(ProjectMember.project_id, Project.workspace_id, ProjectMember.role)
        .join(Project, Project.id == ProjectMember.project_id)
        .where(ProjectMember.member.in_(members))
    )
    for project_id, workspace_id, role in project_rows:
        held = projects.get(project_id)
        projects[project_id] = (workspace_id, _higher(held[1] if held else None, Role(role)))
    return Roles(workspaces, projects)


def _higher(held: Role | None, role: Role) -> Role:
    return role if held is None or role.includes(held) else held


@dataclass(frozen=True)
class Membership:
    workspace_id: str
    project_id: str | None
    member: str
    role: Role


async def set_member(
    session: AsyncSession,
    workspace_id: str,
    project_id: str | None,
    member: str,
    role: Role,
    *,
    create: bool,
) -> Membership:
    """Give `member` `role` (create: a new membership, else a change of an existing one)."""
    member = check_member(member)
    row: WorkspaceMember | ProjectMember | None
    if project_id is None:
        row = await session.get(WorkspaceMember, (workspace_id, member))
    else:
        row = await session.get(ProjectMember, (project_id, member))
    where = "the project" if project_id is not None else "the workspace"
    if create and row is not None:
        raise InvalidInputError(
            f"member: {member} is a member of {where} already ({row.role}); use setRole",
            field="member",
        )
    if not create and row is None:
        raise NotFoundError(f"{member} is not a member of {where}; use addMember")
    if row is None:
        row = (
            WorkspaceMember(workspace_id=workspace_id, member=member, role=role.value)
            if project_id is None
            else ProjectMember(project_id=project_id, member=member, role=role.value)
        )
        session.add(row)
    row.role = role.value
    await session.flush()
    return Membership(workspace_id, project_id, member, role)


async def remove_member(
    session: AsyncSession, workspace_id: str, project_id: str | None, member: str
) -> bool:
    """Whether there was such a membership to remove."""
    member = check_member(member)
    statement = (
        delete(WorkspaceMember).where(
            WorkspaceMember.workspace_id == workspace_id, WorkspaceMember.member == member
        )
        if project_id is None
        else delete(ProjectMember).where(
            ProjectMember.project_id == project_id, ProjectMember.member == member
        )
    )
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def list_members(
    session: AsyncSession, workspace_id: str, project_id: str | None, page: ListPage
) -> list[Membership]:
    """A page of the members of the workspace (or of one project of it), by member."""
    if project_id is None:
        in_workspace = WorkspaceMember.workspace_id == workspace_id
        rows = await page_of(
            session,
            select(WorkspaceMember).where(in_workspace),
            (WorkspaceMember.member,),
            page,
            lambda member: in_workspace & (WorkspaceMember.member == member),
        )
        return [Membership(workspace_id, None, r.member, Role(r.role)) for r in rows]
    in_project = ProjectMember.project_id == project_id
    project_rows = await page_of(
        session,
        select(ProjectMember).where(in_project),
        (ProjectMember.member,),
        page,
        lambda member: in_project & (ProjectMember.member == member),
    )
    return [Membership(workspace_id, project_id, r.member, Role(r.role)) for r in project_rows]
