from collections.abc import Mapping
from typing import Any

from control_plane.access.principal import Scope
from control_plane.access.roles import Permission
from control_plane.db.models import Workflow as WorkflowRow
from control_plane.graphql.context import Context
from control_plane.graphql.permissions import (
    Declarations,
    OwnedBy,
    Reached,
    Rule,
    project_argument,
    project_of,
)
from control_plane.workflows.types import Workflow

_BY_ID, _IN_PROJECT = project_of(WorkflowRow, "id"), project_argument("projectId")


async def _workflow_scope(context: Context, arguments: Mapping[str, Any]) -> Scope | None:
    """By id, or by project and name: the project is checked before the name is looked
    up, so that whether a name exists says nothing to someone who may not read it."""
    if arguments.get("id") is not None:
        return await _BY_ID(context, arguments)
    if arguments.get("projectId") is not None:
        return await _IN_PROJECT(context, arguments)
    return None


def _project(workflow: Workflow) -> str:
    return workflow.project_id


DECLARATIONS = Declarations(
    fields={
        "Query.workflows": Rule.on(Permission.READ, project_argument("projectId")),
        "Query.workflow": Rule.on(Permission.READ, _workflow_scope),
        "Mutation.publishWorkflow": Rule.on(Permission.PUBLISH, project_argument("projectId")),
    },
    types={
        "Workflow": OwnedBy(_project),
        # Reached from its workflow, or returned by the publish that was checked.
        "WorkflowVersion": Reached(),
        "DefinitionIssue": Reached(),
        "ValidationFailed": Reached(),
    },
)
