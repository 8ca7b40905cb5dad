from control_plane.access.roles import Permission
from control_plane.graphql.permissions import (
    Declarations,
    OwnedBy,
    Reached,
    Rule,
    project_argument,
)
from control_plane.workflows.types import Workflow


def _project(workflow: Workflow) -> str:
    return workflow.project_id


DECLARATIONS = Declarations(
    fields={
        "Query.workflows": Rule.on(Permission.READ, project_argument("projectId")),
        "Query.workflow": Rule.on_result(),
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
