"""`flowforge login`, `logout` and `whoami`: which API token the CLI sends, and who that is."""

import json as jsonlib
from typing import Annotated, Any

import typer

from flowforge.cli.client import (
    DEFAULT_URL,
    GraphQLClient,
    connect,
    credentials_file,
    print_json,
)
from flowforge.cli.options import DataDir, Json, Token, Url
from flowforge.private_files import write_private

ME = "{ me { id kind name email groups instanceAdmin roles { workspaceId projectId role } } }"
WORKSPACES = """query($first: Int!, $after: ID) {
  workspaces(includeArchived: true, first: $first, after: $after) { id name } }"""
PROJECTS = """query($first: Int!, $after: ID) {
  projects(includeArchived: true, first: $first, after: $after) { id name } }"""


def login(
    token: Annotated[
        str,
        typer.Option(
            "--token",
            prompt="API token",
            hide_input=True,
            help="The API token to keep (asked for, unechoed, when not given).",
        ),
    ],
    url: Url = None,
    json: Json = False,
) -> None:
    """Check an API token and keep it, with the url, for the commands that follow.

    It is kept in $XDG_CONFIG_HOME/flowforge/credentials.json (~/.config/... by default),
    readable by you only, and sent only to that url; --token and FLOWFORGE_TOKEN still
    take precedence over it.

    Example: flowforge login --url https://flowforge.example.com/graphql
    """
    url = url or DEFAULT_URL
    client = GraphQLClient(url, token)
    me = client.execute(ME)["me"]
    path = credentials_file()
    write_private(path, jsonlib.dumps({"url": url, "token": token}, indent=2) + "\n")
    if json:
        print_json(me)
        return
    typer.echo(f"logged in to {url}; the token is kept in {path}")
    _print_me(client, me)


def logout() -> None:
    """Forget the token `flowforge login` kept.

    The token itself stays valid: revoke it with `flowforge tokens revoke ID`.

    Example: flowforge logout
    """
    path = credentials_file()
    if not path.exists():
        typer.echo(f"not logged in (no {path})")
        return
    path.unlink()
    typer.echo(f"logged out: removed {path}")


def whoami(
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """Show who the API token the CLI sends belongs to, and the roles it holds.

    Example: flowforge whoami
    """
    client = connect(url, token, data_dir)
    me = client.execute(ME)["me"]
    if json:
        print_json(me)
        return
    typer.echo(f"at {client.url}")
    _print_me(client, me)


def _print_me(client: GraphQLClient, me: dict[str, Any]) -> None:
    email = f" <{me['email']}>" if me["email"] else ""
    typer.echo(f"{me['name']}{email} ({me['kind']} {me['id']})")
    if me["groups"]:
        typer.echo(f"  groups {', '.join(me['groups'])}")
    if me["instanceAdmin"]:
        typer.echo("  instance admin: every role in every workspace")
    if not me["roles"]:
        if not me["instanceAdmin"]:
            typer.echo("  no role in any workspace")
        return
    workspaces = {w["id"]: w["name"] for w in client.every(WORKSPACES, "workspaces")}
    projects = {p["id"]: p["name"] for p in client.every(PROJECTS, "projects")}
    for held in me["roles"]:
        where = f"workspace {workspaces.get(held['workspaceId'], held['workspaceId'])}"
        if held["projectId"]:
            where += f", project {projects.get(held['projectId'], held['projectId'])}"
        typer.echo(f"  {held['role']} in {where}")
