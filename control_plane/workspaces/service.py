"""Workspaces (the tenant boundary) and their projects: created, renamed, tagged and
archived; an archived one keeps its history and takes no new publish or run."""

import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.access.principal import Principal
from control_plane.db.models import Project, Workspace
from control_plane.errors import InvalidInputError, NotFoundError
from control_plane.pagination import ListPage, page_of

DEFAULT_NAME = "default"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
TAG_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,62}")
MAX_TAGS = 20


async def ensure_default_project(session: AsyncSession) -> Project:
    """Create the `default` workspace and its `default` project unless they exist."""
    workspace = await session.scalar(select(Workspace).where(Workspace.name == DEFAULT_NAME))
    if workspace is None:
        workspace = Workspace(name=DEFAULT_NAME)
        session.add(workspace)
        await session.flush()
    project = await session.scalar(
        select(Project).where(Project.workspace_id == workspace.id, Project.name == DEFAULT_NAME)
    )
    if project is None:
        project = Project(workspace_id=workspace.id, name=DEFAULT_NAME, tags=[])
        session.add(project)
        await session.flush()
    return project


def check_name(name: str, what: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidInputError(
            f"name: {name[:120]!r} is not a {what} name: 1 to 100 letters, digits, '_', '.' "
            "or '-', starting with a letter or digit",
            field="name",
        )
    return name


def check_tags(tags: Sequence[str]) -> list[str]:
    bad = [t for t in tags if not TAG_PATTERN.fullmatch(t)]
    if bad:
        raise InvalidInputError(
            f"tags: {bad[0][:80]!r} is not a tag: lower-case letters, digits, '_', '.', ':' "
            "or '-', at most 63",
            field="tags",
        )
    unique = sorted(set(tags))
    if len(unique) > MAX_TAGS:
        raise InvalidInputError(f"tags: {len(unique)}; at most {MAX_TAGS}", field="tags")
    return unique


async def create_workspace(session: AsyncSession, name: str) -> Workspace:
    workspace = Workspace(name=check_name(name, "workspace"))
    await _insert(session, workspace, f"a workspace named {name!r} exists already")
    return workspace


async def create_project(
    session: AsyncSession, workspace_id: str, name: str, tags: Sequence[str]
) -> Project:
    workspace = await get_workspace(session, workspace_id)
    _check_active(workspace.archived_at, f"workspace {workspace.name!r}", "workspaceId")
    project = Project(
        workspace_id=workspace.id, name=check_name(name, "project"), tags=check_tags(tags)
    )
    await _insert(
        session, project, f"workspace {workspace.name!r} has a project named {name!r} already"
    )
    return project


async def update_workspace(
    session: AsyncSession, workspace_id: str, name: str | None, archived_at: datetime | None
) -> Workspace:
    workspace = await get_workspace(session, workspace_id)
    if name is not None:
        workspace.name = check_name(name, "workspace")
    if archived_at is not None and workspace.archived_at is None:
        workspace.archived_at = archived_at
    await _flush(session, f"a workspace named {name!r} exists already")
    return workspace


async def update_project(
    session: AsyncSession,
    project_id: str,
    name: str | None,
    tags: Sequence[str] | None,
    archived_at: datetime | None,
) -> Project:
    project = await get_project(session, project_id)
    if name is not None:
        project.name = check_name(name, "project")
    if tags is not None:
        project.tags = check_tags(tags)
    if archived_at is not None and project.archived_at is None:
        project.archived_at = archived_at
    await _flush(session, f"the workspace has a project named {name!r} already")
    return project


async def get_workspace(session: AsyncSession, workspace_id: str) -> Workspace:
    workspace = await session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFoundError(f"workspace {workspace_id!r} does not exist")
    return workspace


async def get_project(session: AsyncSession, project_id: str) -> Project:
    project = await session.get(Project, project_id)
    if project is None:
        raise NotFoundError(f"project {project_id!r} does not exist")
    return project


async def check_active(session: AsyncSession, project: Project, field: str, what: str) -> None:
    """Refuse `what` (a publish, a run) in an archived project or workspace."""
    if project.archived_at is not None:
        raise InvalidInputError(
            f"{field}: project {project.name!r} is archived; {what} only in active projects",
            field=field,
        )
    workspace = await session.get_one(Workspace, project.workspace_id)
    if workspace.archived_at is not None:
        raise InvalidInputError(
            f"{field}: workspace {workspace.name!r} is archived; {what} only in active workspaces",
            field=field,
        )


def _check_active(archived_at: datetime | None, what: str, field: str) -> None:
    if archived_at is not None:
        raise InvalidInputError(f"{field}: {what} is archived", field=field)


async def _insert(session: AsyncSession, row: Workspace | Project, taken: str) -> None:
    session.add(row)
    await _flush(session, taken)


async def _flush(session: AsyncSession, taken: str) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise InvalidInputError(f"name: {taken}", field="name") from exc


async def project_workspaces(session: AsyncSession, project_ids: Sequence[str]) -> dict[str, str]:
    """Project id -> its workspace id, for those of `project_ids` that exist."""
    rows = await session.execute(
        select(Project.id, Project.workspace_id).where(Project.id.in_(project_ids))
    )
    return {project_id: workspace_id for project_id, workspace_id in rows}


async def workspaces_present(session: AsyncSession, workspace_ids: Sequence[str]) -> set[str]:
    rows = await session.scalars(select(Workspace.id).where(Workspace.id.in_(workspace_ids)))
    return set(rows)


async def list_workspaces(
    session: AsyncSession, principal: Principal, include_archived: bool, page: ListPage
) -> Sequence[Workspace]:
    """A page of the workspaces `principal` sees, by name."""
    query = select(Workspace)
    if not principal.instance_admin:
        query = query.where(Workspace.id.in_(principal.visible_workspaces()))
    if not include_archived:
        query = query.where(Workspace.archived_at.is_(None))
    return await page_of(
        session, query, (Workspace.name, Workspace.id), page, lambda id: Workspace.id == id
    )


async def list_projects(
    session: AsyncSession,
    principal: Principal,
    workspace_id: str | None,
    include_archived: bool,
    page: ListPage,
) -> Sequence[Project]:
    """A page of the projects `principal` may read (of one workspace), by name."""
    query = select(Project)
    if not principal.instance_admin:
        query = query.where(
            or_(
                Project.workspace_id.in_(principal.workspace_roles),
                Project.id.in_(principal.project_roles),
            )
        )
    if workspace_id is not None:
        query = query.where(Project.workspace_id == workspace_id)
    if not include_archived:
        query = query.where(Project.archived_at.is_(None))
    return await page_of(
        session, query, (Project.name, Project.id), page, lambda id: Project.id == id
    )
