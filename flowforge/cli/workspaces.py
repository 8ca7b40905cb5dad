"""`flowforge workspaces ...` and `flowforge projects ...`: create, rename, tag and archive
them; and the one way the CLI turns a workspace name into its id."""

from typing import Annotated, Any

import typer

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

app = typer.Typer(help="List, create, rename and archive workspaces.", no_args_is_help=True)
projects = typer.Typer(
    help="List, create, rename, tag and archive the projects of workspaces.",
    no_args_is_help=True,
)

WORKSPACE_FIELDS = "id name createdAt archivedAt"
PROJECT_FIELDS = "id workspaceId name tags createdAt archivedAt"
WORKSPACES = f"""query($a: Boolean!, $first: Int!, $after: ID) {{
  workspaces(includeArchived: $a, first: $first, after: $after) {{ {WORKSPACE_FIELDS} }} }}"""
PROJECTS = f"""query($w: ID, $a: Boolean!, $first: Int!, $after: ID) {{
  projects(workspaceId: $w, includeArchived: $a, first: $first, after: $after) {{
    {PROJECT_FIELDS} }} }}"""
WORKSPACE = f"... on Workspace {{ {WORKSPACE_FIELDS} }}"
PROJECT = f"... on Project {{ {PROJECT_FIELDS} }}"
CREATE_WORKSPACE = mutation(
    "$n: String!", "createWorkspace(name: $n)", WORKSPACE, NOT_FOUND, INVALID
)
RENAME_WORKSPACE = mutation(
    "$id: ID!, $n: String!", "renameWorkspace(id: $id, name: $n)", WORKSPACE, NOT_FOUND, INVALID
)
ARCHIVE_WORKSPACE = mutation("$id: ID!", "archiveWorkspace(id: $id)", WORKSPACE, NOT_FOUND, INVALID)
CREATE_PROJECT = mutation(
    "$w: ID!, $n: String!, $t: [String!]",
    "createProject(workspaceId: $w, name: $n, tags: $t)",
    PROJECT,
    NOT_FOUND,
    INVALID,
)
UPDATE_PROJECT = mutation(
    "$id: ID!, $n: String, $t: [String!]",
    "updateProject(id: $id, name: $n, tags: $t)",
    PROJECT,
    NOT_FOUND,
    INVALID,
)
ARCHIVE_PROJECT = mutation("$id: ID!", "archiveProject(id: $id)", PROJECT, NOT_FOUND, INVALID)

Workspace = Annotated[
    str,
    typer.Option(
        "--workspace", "-w", help="Workspace name or id (`flowforge workspaces list` shows them)."
    ),
]
Archived = Annotated[bool, typer.Option("--archived", help="Include archived ones.")]
Tags = Annotated[
    list[str] | None,
    typer.Option("--tag", "-t", help="A tag (policies read them). Repeatable."),
]


def find_workspace(client: GraphQLClient, name_or_id: str) -> dict[str, Any]:
    """The workspace with this id, else with this name, among those the caller holds a
    role in (archived ones too)."""
    found = client.every(WORKSPACES, "workspaces", a=True)
    for key in ("id", "name"):
        for workspace in found:
            if workspace[key] == name_or_id:
                return dict(workspace)
    fail(
        f"no workspace named {name_or_id!r} or with that id among yours; "
        "`flowforge workspaces list --archived` shows them"
    )


def _workspace_line(workspace: dict[str, Any], width: int = 0) -> str:
    archived = f"  archived {workspace['archivedAt']}" if workspace["archivedAt"] else ""
    return f"{workspace['name']:<{width}}  id {workspace['id']}{archived}"


def _done(result: dict[str, Any], json: bool, verb: str, line: str) -> None:
    if json:
        print_json(result)
    else:
        typer.echo(f"{verb} {line}")


@app.command("list")
def list_workspaces(
    archived: Archived = False,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """List the workspaces you hold a role in (an instance admin: all of them), by name.

    Example: flowforge workspaces list --archived
    """
    found = connect(url, token, data_dir).every(WORKSPACES, "workspaces", a=archived)
    if json:
        print_json(found)
        return
    for workspace in found:
        typer.echo(_workspace_line(workspace, width=24))


@app.command("create")
def create_workspace(
    name: Annotated[str, typer.Argument(help="Its name: letters, digits, '_', '.', '-'.")],
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """Create a workspace (instance admins).

    Example: flowforge workspaces create acme
    """
    result = accepted(connect(url, token, data_dir).execute(CREATE_WORKSPACE, n=name)["result"])
    _done(result, json, "created workspace", _workspace_line(result))


@app.command("rename")
def rename_workspace(
    workspace: Annotated[str, typer.Argument(help="Workspace name or id.")],
    name: Annotated[str, typer.Argument(help="Its new name.")],
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """Rename a workspace (its owners).

    Example: flowforge workspaces rename acme acme-corp
    """
    client = connect(url, token, data_dir)
    found = find_workspace(client, workspace)["id"]
    result = accepted(client.execute(RENAME_WORKSPACE, id=found, n=name)["result"])
    _done(result, json, "renamed workspace", _workspace_line(result))


@app.command("archive")
def archive_workspace(
    workspace: Annotated[str, typer.Argument(help="Workspace name or id.")],
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """Archive a workspace (instance admins).

    It stays readable, and none of its projects takes a new publish or run.

    Example: flowforge workspaces archive acme
    """
    client = connect(url, token, data_dir)
    found = find_workspace(client, workspace)["id"]
    result = accepted(client.execute(ARCHIVE_WORKSPACE, id=found)["result"])
    _done(result, json, "archived workspace", _workspace_line(result))


def _project_line(project: dict[str, Any], workspace: str, width: int = 0) -> str:
    line = f"{workspace + '/' + project['name']:<{width}}  id {project['id']}"
    if project["tags"]:
        line += f"  tags {', '.join(project['tags'])}"
    if project["archivedAt"]:
        line += f"  archived {project['archivedAt']}"
    return line


@projects.command("list")
def list_projects(
    workspace: Annotated[
        str | None,
        typer.Option("--workspace", "-w", help="Only this workspace's (name or id)."),
    ] = None,
    archived: Archived = False,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """List the projects you may read, as workspace/project, with their tags.

    Example: flowforge projects list --workspace acme
    """
    client = connect(url, token, data_dir)
    scope = find_workspace(client, workspace)["id"] if workspace else None
    found = client.every(PROJECTS, "projects", w=scope, a=archived)
    if json:
        print_json(found)
        return
    names = {w["id"]: w["name"] for w in client.every(WORKSPACES, "workspaces", a=True)}
    for project in found:
        typer.echo(_project_line(project, names.get(project["workspaceId"], "?"), width=40))


@projects.command("create")
def create_project(
    name: Annotated[str, typer.Argument(help="Its name, unique in the workspace.")],
    workspace: Workspace,
    tag: Tags = None,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """Create a project in a workspace (its owners).

    Example: flowforge projects create billing --workspace acme --tag team:payments --tag pci
    """
    client = connect(url, token, data_dir)
    found = find_workspace(client, workspace)
    result = accepted(client.execute(CREATE_PROJECT, w=found["id"], n=name, t=tag or [])["result"])
    _done(result, json, "created project", _project_line(result, found["name"]))


@projects.command("update")
def update_project(
    project: Annotated[str, typer.Argument(help="Project id (`flowforge projects list`).")],
    name: Annotated[str | None, typer.Option("--name", help="Its new name.")] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", "-t", help="A tag; the tags given replace all. Repeatable."),
    ] = None,
    clear_tags: Annotated[bool, typer.Option("--clear-tags", help="Remove all tags.")] = False,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """Rename a project or replace its tags (its owners); what is not given stays.

    Example: flowforge projects update PROJECT_ID --name billing-eu --tag team:payments
    """
    if tag and clear_tags:
        fail("give --tag or --clear-tags, not both")
    if name is None and not tag and not clear_tags:
        fail("nothing to change: give --name, --tag or --clear-tags")
    tags = [] if clear_tags else tag or None
    client = connect(url, token, data_dir)
    result = accepted(client.execute(UPDATE_PROJECT, id=project, n=name, t=tags)["result"])
    if json:
        print_json(result)
        return
    typer.echo(f"updated project {_project_line(result, _name_of(client, result))}")


@projects.command("archive")
def archive_project(
    project: Annotated[str, typer.Argument(help="Project id (`flowforge projects list`).")],
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """Archive a project (its owners): it stays readable and takes no new publish or run.

    Example: flowforge projects archive PROJECT_ID
    """
    client = connect(url, token, data_dir)
    result = accepted(client.execute(ARCHIVE_PROJECT, id=project)["result"])
    if json:
        print_json(result)
        return
    typer.echo(f"archived project {_project_line(result, _name_of(client, result))}")


def _name_of(client: GraphQLClient, project: dict[str, Any]) -> str:
    workspaces = client.every(WORKSPACES, "workspaces", a=True)
    return next((w["name"] for w in workspaces if w["id"] == project["workspaceId"]), "?")
