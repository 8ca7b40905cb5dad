"""Publishing workflows as immutable, content-addressed versions."""

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors_sdk import DefinitionIssue, NodeRegistry, definition_sha256, validate_definition
from control_plane.db.models import Project, Workflow, WorkflowVersion, new_id, utcnow
from control_plane.db.rows import insert_if_missing
from control_plane.errors import NotFoundError
from control_plane.input_schema import input_schema_problems
from control_plane.limits import LimitSettings, check_json_value
from control_plane.pagination import ListPage, page_of
from control_plane.secrets.grants import (
    MappedSecret,
    mapped_secrets,
    missing_secrets,
    publish_issue,
)
from control_plane.workflows.calls import calls_in
from control_plane.workspaces.service import check_active


async def publish_workflow(
    session: AsyncSession,
    registry: NodeRegistry,
    project_id: str,
    data: Mapping[str, Any],
    limits: LimitSettings,
    pools: Sequence[str],
) -> WorkflowVersion | list[DefinitionIssue]:
    """Validate `data` and store it as the next version of the workflow it names.

    A node may be pinned only to one of `pools`, the pools this control plane serves:
    events from any other would never be read. Every project secret a node maps must
    exist in the project.

    Publishing content identical to an existing version returns that version, also when
    the same content is published concurrently.

    Raises:
        NotFoundError: no project has `project_id`.
        InvalidInputError: the project or its workspace is archived, or `data` is larger
            or nested deeper than the limits allow.
    """
    project = await session.get(Project, project_id)
    if project is None:
        raise NotFoundError(f"project {project_id!r} does not exist")
    await check_active(session, project, "projectId", "workflows are published")
    # Validating a large definition takes seconds of CPU: off the event loop, so that
    # every other request (and /healthz) is still answered meanwhile.
    prepared = await asyncio.to_thread(_prepare, data, registry, limits, pools)
    if isinstance(prepared, list):
        return prepared
    name, canonical, sha256, secrets = prepared
    issues = await _call_issues(session, project_id, name, canonical)
    issues += [publish_issue(m) for m in await missing_secrets(session, project_id, secrets)]
    if issues:
        return issues
    workflow = await _locked_workflow(session, project_id, name)
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


async def _call_issues(
    session: AsyncSession, project_id: str, name: str, definition: Mapping[str, Any]
) -> list[DefinitionIssue]:
    """The sub-workflow calls of a definition that name no published workflow or version
    of the project (calls through other workflows are resolved when a run starts)."""
    issues = []
    for node_id, called, version in calls_in(definition):
        if called == name:
            issues.append(
                DefinitionIssue(
                    node_id, "config.workflow", f"workflow {name!r} calls itself; call another"
                )
            )
            continue
        workflow = await session.scalar(
            select(Workflow).where(Workflow.project_id == project_id, Workflow.name == called)
        )
        if workflow is None:
            issues.append(
                DefinitionIssue(
                    node_id,
                    "config.workflow",
                    f"{called!r} is not a workflow of this project; publish it first",
                )
            )
            continue
        if version is not None:
            found = await session.scalar(
                select(WorkflowVersion.id).where(
                    WorkflowVersion.workflow_id == workflow.id, WorkflowVersion.version == version
                )
            )
            if found is None:
                issues.append(
                    DefinitionIssue(
                        node_id,
                        "config.version",
                        f"{called!r} has no version {version}; pin a published version",
                    )
                )
    return issues


def _prepare(
    data: Mapping[str, Any], registry: NodeRegistry, limits: LimitSettings, pools: Sequence[str]
) -> tuple[str, dict[str, Any], str, list[MappedSecret]] | list[DefinitionIssue]:
    """(name, canonical form, sha256, the project secrets it maps) of a publishable
    definition, or its issues."""
    size, depth = limits.max_definition_bytes, limits.max_definition_depth
    check_json_value(data, "definition", size, depth, "definition")
    definition, issues = validate_definition(data, registry)
    if definition is None or issues:
        return issues
    problems = [DefinitionIssue(None, "input", p) for p in input_schema_problems(definition.input)]
    problems += [
        DefinitionIssue(
            node.id,
            "pool",
            f"pool {node.pool!r} is not one this control plane serves ({', '.join(pools)}); "
            "add it to FLOWFORGE_CP_POOLS, or remove the pin",
        )
        for node in definition.all_nodes()
        if node.pool is not None and node.pool not in pools
    ]
    if problems:
        return problems
    canonical = definition.canonical()
    check_json_value(canonical, "definition", size, depth, "definition")
    return definition.name, canonical, definition_sha256(canonical), mapped_secrets(definition)


async def _locked_workflow(session: AsyncSession, project_id: str, name: str) -> Workflow:
    """The workflow named `name`, created if missing, locked until the transaction ends.

    Creating it with ON CONFLICT DO NOTHING lets concurrent first publishes of one name
    all go on, and the row lock (the write lock on SQLite) serialises their versioning.
    """
    await insert_if_missing(
        session,
        Workflow,
        [Workflow.project_id, Workflow.name],
        id=new_id(),
        project_id=project_id,
        name=name,
        created_at=utcnow(),
    )
    locked = await session.execute(
        select(Workflow)
        .where(Workflow.project_id == project_id, Workflow.name == name)
        .with_for_update()
    )
    return locked.scalar_one()


async def get_workflow(session: AsyncSession, workflow_id: str) -> Workflow:
    workflow = await session.get(Workflow, workflow_id)
    if workflow is None:
        raise NotFoundError(f"workflow {workflow_id!r} does not exist")
    return workflow


async def find_workflow(session: AsyncSession, project_id: str, name: str) -> Workflow | None:
    return await session.scalar(
        select(Workflow).where(Workflow.project_id == project_id, Workflow.name == name)
    )


async def list_workflows(
    session: AsyncSession, project_id: str, page: ListPage
) -> Sequence[Workflow]:
    """A page of the project's workflows, by name."""
    query = select(Workflow).where(Workflow.project_id == project_id)
    order = (Workflow.name, Workflow.id)
    return await page_of(session, query, order, page, lambda id: Workflow.id == id)


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
    session: AsyncSession, workflow_id: str, page: ListPage
) -> Sequence[WorkflowVersion]:
    """A page of the workflow's versions, oldest first."""
    of_workflow = WorkflowVersion.workflow_id == workflow_id
    return await page_of(
        session,
        select(WorkflowVersion).where(of_workflow),
        (WorkflowVersion.version,),
        page,
        lambda id: of_workflow & (WorkflowVersion.id == id),
    )
