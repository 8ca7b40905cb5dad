"""`flowforge workflow ...`: publish and list workflows."""

from pathlib import Path
from typing import Annotated

import typer

from connectors_sdk import load_definition_file
from flowforge.cli.client import GraphQLClient, connect, fail, print_json
from flowforge.cli.options import DataDir, Json, Project, Token, Url

app = typer.Typer(help="Publish and list workflows.", no_args_is_help=True)

PUBLISH = """
mutation Publish($projectId: ID!, $definition: JSON!) {
  publishWorkflow(projectId: $projectId, definition: $definition) {
    __typename
    ... on WorkflowVersion { id workflowId name version sha256 createdAt }
    ... on ValidationFailed { errors { nodeId field message } }
  }
}"""

WORKSPACES = """query($first: Int!, $after: ID) {
  workspaces(first: $first, after: $after) { id name } }"""
PROJECTS = """query($w: ID!, $first: Int!, $after: ID) {
  projects(workspaceId: $w, first: $first, after: $after) { id name } }"""
WORKFLOWS = """query($p: ID!, $first: Int!, $after: ID) {
  workflows(projectId: $p, first: $first, after: $after) {
    id name versions { version sha256 } } }"""


def default_project(client: GraphQLClient) -> str:
    """The `default` project of the `default` workspace."""
    workspaces = client.every(WORKSPACES, "workspaces")
    for workspace in (w for w in workspaces if w["name"] == "default"):
        for project in client.every(PROJECTS, "projects", w=workspace["id"]):
            if project["name"] == "default":
                return str(project["id"])
    fail("no default project; pass --project")


SUFFIXES = (".yaml", ".yml", ".json")


def definition_files(paths: list[Path]) -> list[Path]:
    """The given files, with each folder replaced by the definition files inside it."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
            if not found:
                fail(f"{path}: no .yaml, .yml or .json files in this folder")
            files += found
        elif path.exists():
            files.append(path)
        else:
            fail(f"{path}: no such file or folder")
    return files


@app.command()
def push(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Definition files (.yaml, .yml, .json), or folders holding them."),
    ],
    project: Project = None,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """Publish each definition file as a new workflow version (unchanged files return their
    existing version, so pushing a whole folder from git is safe).

    Example: flowforge workflow push examples/
    """
    files = definition_files(paths)
    client = connect(url, token, data_dir)
    project_id = project or default_project(client)
    failed = False
    results = []
    for path in files:
        try:
            definition = load_definition_file(path)
        except Exception as exc:
            fail(f"{path}: {exc}")
        result = client.execute(PUBLISH, projectId=project_id, definition=definition)
        published = result["publishWorkflow"]
        results.append({"file": str(path), **published})
        if published["__typename"] == "ValidationFailed":
            failed = True
            if not json:
                typer.secho(f"{path}: refused", fg=typer.colors.RED, err=True)
                for issue in published["errors"]:
                    where = f"node {issue['nodeId']}, " if issue["nodeId"] else ""
                    typer.echo(f"  {where}{issue['field']}: {issue['message']}", err=True)
        elif not json:
            typer.echo(
                f"{path}: {published['name']} version {published['version']} "
                f"(sha256 {published['sha256'][:12]}, workflow id {published['workflowId']})"
            )
    if json:
        print_json(results)
    if failed:
        raise typer.Exit(1)


@app.command("list")
def list_workflows(
    project: Project = None,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """List the workflows of a project with their versions.

    Example: flowforge workflow list
    """
    client = connect(url, token, data_dir)
    project_id = project or default_project(client)
    workflows = client.every(WORKFLOWS, "workflows", p=project_id)
    if json:
        print_json(workflows)
        return
    for workflow in workflows:
        versions = ", ".join(str(v["version"]) for v in workflow["versions"])
        typer.echo(f"{workflow['name']}  id {workflow['id']}  versions {versions}")
