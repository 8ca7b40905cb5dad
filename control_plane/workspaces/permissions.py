from control_plane.access.principal import Scope
from control_plane.access.roles import Permission
from control_plane.graphql.permissions import (
    Declarations,
    OwnedBy,
    Rule,
    project_argument,
    workspace_argument,
)
from control_plane.workspaces.types import Project, Workspace


def _workspace(workspace: Workspace) -> Scope:
    return Scope(workspace.id)


def _project(project: Project) -> Scope:
    return Scope(project.workspace_id, project.id)


DECLARATIONS = Declarations(
    fields={
        "Query.workspaces": Rule.listed(),
        "Query.projects": Rule.listed(),
        "Mutation.createWorkspace": Rule.instance(Permission.MANAGE_WORKSPACES),
        "Mutation.renameWorkspace": Rule.on(Permission.MANAGE_WORKSPACE, workspace_argument("id")),
        "Mutation.archiveWorkspace": Rule.instance(Permission.MANAGE_WORKSPACES),
        "Mutation.createProject": Rule.on(
            Permission.MANAGE_PROJECTS, workspace_argument("workspaceId")
        ),
        "Mutation.updateProject": Rule.on(Permission.MANAGE_PROJECTS, project_argument("id")),
        "Mutation.archiveProject": Rule.on(Permission.MANAGE_PROJECTS, project_argument("id")),
    },
    types={"Workspace": OwnedBy(_workspace), "Project": OwnedBy(_project)},
)
