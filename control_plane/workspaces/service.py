"""Workspaces and projects."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.db.models import Project, Workspace

DEFAULT_NAME = "default"


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
        project = Project(workspace_id=workspace.id, name=DEFAULT_NAME)
        session.add(project)
        await session.flush()
    return project


async def list_workspaces(session: AsyncSession) -> Sequence[Workspace]:
    return (await session.scalars(select(Workspace).order_by(Workspace.name))).all()


async def list_projects(session: AsyncSession, workspace_id: str | None) -> Sequence[Project]:
    query = select(Project).order_by(Project.name)
    if workspace_id is not None:
        query = query.where(Project.workspace_id == workspace_id)
    return (await session.scalars(query)).all()
