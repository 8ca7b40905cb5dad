"""Resolving the workflows a run calls through `core.subworkflow` nodes, when it starts.

Each call names a workflow of the run's project, and a version or none (the latest at
the run's start). The run records the versions it resolved, transitively, so that its
descriptor, and every re-dispatch of it, carries exactly the definitions it started with.
"""

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors_sdk.nodes.subworkflow import reference_key
from control_plane.db.models import Workflow, WorkflowVersion
from control_plane.errors import InvalidInputError, NotFoundError
from control_plane.workflows.calls import calls_in
from control_plane.workflows.service import get_version

# Calls within calls, from the run's own workflow down.
MAX_CALL_DEPTH = 5


async def resolve_calls(
    session: AsyncSession, project_id: str, workflow_name: str, definition: Mapping[str, Any]
) -> dict[str, str]:
    """{reference key: version id} of every workflow `definition` calls, transitively.

    Raises:
        InvalidInputError: A called workflow or version does not exist in the project, a
            workflow calls itself (through others or not), or calls nest deeper than
            MAX_CALL_DEPTH.
    """
    resolved: dict[str, WorkflowVersion] = {}

    async def visit(calling: Mapping[str, Any], path: tuple[str, ...]) -> None:
        for node_id, name, version in calls_in(calling):
            where = f"node {node_id!r} of workflow {path[-1]!r}"
            if name in path:
                cycle = " -> ".join((*path[path.index(name) :], name))
                raise InvalidInputError(f"{where} calls {name!r} in a cycle: {cycle}")
            if len(path) >= MAX_CALL_DEPTH:
                raise InvalidInputError(
                    f"{where}: sub-workflows nest more than {MAX_CALL_DEPTH} deep "
                    f"({' -> '.join(path)} -> {name})"
                )
            key = reference_key(name, version)
            if key not in resolved:
                resolved[key] = await _version(session, project_id, name, version, where)
            await visit(resolved[key].definition, (*path, name))

    await visit(definition, (workflow_name,))
    return {key: found.id for key, found in resolved.items()}


async def _version(
    session: AsyncSession, project_id: str, name: str, version: int | None, where: str
) -> WorkflowVersion:
    workflow = await session.scalar(
        select(Workflow).where(Workflow.project_id == project_id, Workflow.name == name)
    )
    if workflow is None:
        raise InvalidInputError(f"{where} calls {name!r}, which is not a workflow of the project")
    try:
        return await get_version(session, workflow.id, version)
    except NotFoundError:
        raise InvalidInputError(
            f"{where} calls version {version} of {name!r}, which was never published"
        ) from None
