"""`flowforge members ...`: who holds which role in a workspace, or in one project of it."""

from typing import Annotated

import typer

from control_plane.access.roles import Role
from flowforge.cli.client import (
    INVALID,
    NOT_FOUND,
    GraphQLClient,
    accepted,
    connect,
    fail,
    mutation,
    print_json,
)
from flowforge.cli.options import DataDir, Json, Token, Url
from flowforge.cli.workspaces import Workspace, find_workspace

app = typer.Typer(
    help="List, add and remove the members of a workspace or project, and set their roles.",
    no_args_is_help=True,
)

FIELDS = "workspaceId projectId member role"
LIST = f"""query($w: ID!, $p: ID, $first: Int!, $after: String) {{
  members(workspaceId: $w, projectId: $p, first: $first, after: $after) {{ {FIELDS} }} }}"""
PROJECTS = """query($w: ID!, $first: Int!, $after: ID) {
  projects(workspaceId: $w, includeArchived: true, first: $first, after: $after) { id name } }"""
SCOPE = "$w: ID!, $m: String!, $p: ID"
MEMBER = f"... on Member {{ {FIELDS} }}"
ADD = mutation(
    f"{SCOPE}, $r: Role!",
    "addMember(workspaceId: $w, member: $m, role: $r, projectId: $p)",
    MEMBER,
    NOT_FOUND,
    INVALID,
)
SET_ROLE = mutation(
    f"{SCOPE}, $r: Role!",
    "setRole(workspaceId: $w, member: $m, role: $r, projectId: $p)",
    MEMBER,
    NOT_FOUND,
    INVALID,
)
REMOVE = mutation(
    SCOPE,
    "removeMember(workspaceId: $w, member: $m, projectId: $p)",
    "... on MemberRemoved { member }",
    NOT_FOUND,
    INVALID,
)

MemberKey = Annotated[str, typer.Argument(help="user:<email> or group:<OIDC group>.")]
RoleChoice = Annotated[
    Role,
    typer.Argument(
        case_sensitive=False, help="Each role includes those before it.", show_default=False
    ),
]
Project = Annotated[
    str | None,
    typer.Option(
        "--project",
        "-p",
        help="A project of the workspace (name or id): its role replaces the workspace role there.",
    ),
]


def _scope(client: GraphQLClient, workspace: str, project: str | None) -> tuple[str, str | None]:
    workspace_id = str(find_workspace(client, workspace)["id"])
    if project is None:
        return workspace_id, None
    found = client.every(PROJECTS, "projects", w=workspace_id)
    for key in ("id", "name"):
        for candidate in found:
            if candidate[key] == project:
                return workspace_id, str(candidate["id"])
    fail(
        f"workspace {workspace!r} has no project named {project!r} or with that id; "
        f"`flowforge projects list --workspace {workspace} --archived` shows them"
    )


def _where(workspace: str, project: str | None) -> str:
    return f"project {project} of workspace {workspace}" if project else f"workspace {workspace}"


@app.command("list")
def list_members(
    workspace: Workspace,
    project: Project = None,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """List who holds a role in a workspace (or, with --project, in that project).

    Example: flowforge members list --workspace acme --project billing
    """
    client = connect(url, token, data_dir)
    workspace_id, project_id = _scope(client, workspace, project)
    found = client.every(LIST, "members", "member", w=workspace_id, p=project_id)
    if json:
        print_json(found)
        return
    for member in found:
        typer.echo(f"{member['member']:<40} {member['role']}")


def _set(
    client: GraphQLClient,
    operation: str,
    member: str,
    role: Role,
    workspace: str,
    project: str | None,
    json: bool,
) -> None:
    workspace_id, project_id = _scope(client, workspace, project)
    result = accepted(
        client.execute(operation, w=workspace_id, m=member, p=project_id, r=role.name)["result"]
    )
    if json:
        print_json(result)
        return
    typer.echo(f"{result['member']} is {result['role']} in {_where(workspace, project)}")


@app.command("add")
def add_member(
    member: MemberKey,
    role: RoleChoice,
    workspace: Workspace,
    project: Project = None,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """Give a user or an OIDC group a role in a workspace, or in one project of it (owners).

    Example: flowforge members add user:ada@example.com editor --workspace acme
    """
    _set(connect(url, token, data_dir), ADD, member, role, workspace, project, json)


@app.command("set-role")
def set_role(
    member: MemberKey,
    role: RoleChoice,
    workspace: Workspace,
    project: Project = None,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """Change the role of an existing member (owners).

    Example: flowforge members set-role group:sre operator --workspace acme --project billing
    """
    _set(connect(url, token, data_dir), SET_ROLE, member, role, workspace, project, json)


@app.command("remove")
def remove_member(
    member: MemberKey,
    workspace: Workspace,
    project: Project = None,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """Remove a membership of a workspace, or of one project of it (owners).

    Example: flowforge members remove user:ada@example.com --workspace acme
    """
    client = connect(url, token, data_dir)
    workspace_id, project_id = _scope(client, workspace, project)
    result = accepted(client.execute(REMOVE, w=workspace_id, m=member, p=project_id)["result"])
    if json:
        print_json(result)
        return
    typer.echo(f"removed {result['member']} from {_where(workspace, project)}")
