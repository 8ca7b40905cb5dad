"""Publishing workflows as immutable, content-addressed versions."""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors_sdk import DefinitionIssue, NodeRegistry, definition_sha256, validate_definition
from control_plane.db.models import Project, Workflow, WorkflowVersion
from control_plane.errors import NotFoundError


async def publish_workflow(
    session: AsyncSession,
    registry: NodeRegistry,
    project_id: str,
    data: Mapping[str, Any],
) -> WorkflowVersion | list[DefinitionIssue]:
    """Validate `data` and store it as the next version of the workflow it names.

    Publishing content identical to an existing version returns that version.

    Raises:
        NotFoundError: no project has `project_id`.
    """
    if await session.get(Project, project_id) is None:
        raise NotFoundError(f"project {project_id!r} does not exist")
    definition, issues = validate_definition(data, registry)
    if definition is None or issues:
        return issues
    canonical = definition.canonical()
    sha256 = definition_sha256(canonical)
    # Locking the workflow row serialises publishes of one workflow (PostgreSQL), so each
    # gets its own version number; the caller retries if two created the workflow at once.
    workflow = await session.scalar(
        select(Workflow)
        .where(Workflow.project_id == project_id, Workflow.name == definition.name)
        .with_for_update()
    )
    if workflow is None:
        workflow = Workflow(project_id=project_id, name=definition.name)
        session.add(workflow)
        await session.flush()
    else:
        existing = await session.scalar(
            select(WorkflowVersion).where(
                WorkflowVersion.workflow_id == workflow.id, WorkflowVersion.sha256 == sha256
            )
        )
        if existing is not None:
            return existing
    latest = await session.scalar(
        select(func.max(WorkflowVersion.version)).where(WorkflowVersion.workflow_id == workflow.id)
    )
    version = WorkflowVersion(
        workflow_id=workflow.id, version=(latest or 0) + 1, sha256=sha256, definition=canonical
    )
    session.add(version)
    await session.flush()
    return version


async def get_workflow(session: AsyncSession, workflow_id: str) -> Workflow:
    workflow = await session.get(Workflow, workflow_id)
    if workflow is None:
        raise NotFoundError(f"workflow {workflow_id!r} does not exist")
    return workflow


async def find_workflow(session: AsyncSession, project_id: str, name: str) -> Workflow | None:
    return await session.scalar(
        select(Workflow).where(Workflow.project_id == project_id, Workflow.name == name)
    )


async def list_workflows(session: AsyncSession, project_id: str) -> Sequence[Workflow]:
    query = select(Workflow).where(Workflow.project_id == project_id).order_by(Workflow.name)
    return (await session.scalars(query)).all()


async def get_version(
    session: AsyncSession, workflow_id: str, version: int | None
) -> WorkflowVersion:
    """A version of a workflow; the latest when `version` is None.

    Raises:
        NotFoundError: no such workflow or version.
    """
    query = select(WorkflowVersion).where(WorkflowVersion.workflow_id == workflow_id)
    if version is None:
        query = query.order_by(WorkflowVersion.version.desc()).limit(1)
    else:
        query = query.where(WorkflowVersion.version == version)
    found = await session.scalar(query)
    if found is None:
        await get_workflow(session, workflow_id)
        raise NotFoundError(f"workflow {workflow_id!r} has no version {version}")
    return found


async def versions_of(
    session: AsyncSession, workflow_ids: Sequence[str]
) -> dict[str, list[WorkflowVersion]]:
    """The versions of several workflows, oldest first, in one query."""
    query = (
        select(WorkflowVersion)
        .where(WorkflowVersion.workflow_id.in_(workflow_ids))
        .order_by(WorkflowVersion.version)
    )
    found: dict[str, list[WorkflowVersion]] = {workflow_id: [] for workflow_id in workflow_ids}
    for version in await session.scalars(query):
        found[version.workflow_id].append(version)
    return found
