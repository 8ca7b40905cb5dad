"""`flowforge secrets ...`: a project's secrets. A value is read from a hidden prompt or
from standard input, never from the command line (where the shell's history and `ps`
would show it), and no command prints one."""

import getpass
import sys
from typing import Annotated, Any

import typer

from flowforge.cli.client import INVALID, NOT_FOUND, accepted, connect, fail, mutation, print_json
from flowforge.cli.options import DataDir, Json, Project, Token, Url
from flowforge.cli.workflow import default_project

app = typer.Typer(
    help="List, set and delete the secrets of a project (their values live in Vault).",
    no_args_is_help=True,
)

FIELDS = "id projectId name version setBy createdAt updatedAt"
LIST = f"""query($p: ID!, $first: Int!, $after: ID) {{
  secrets(projectId: $p, first: $first, after: $after) {{ {FIELDS} }} }}"""
SET = mutation(
    "$p: ID!, $n: String!, $v: String!",
    "setSecret(projectId: $p, name: $n, value: $v)",
    f"... on Secret {{ {FIELDS} }}",
    NOT_FOUND,
    INVALID,
)
DELETE = mutation(
    "$p: ID!, $n: String!",
    "deleteSecret(projectId: $p, name: $n)",
    "... on SecretDeleted { projectId name }",
    NOT_FOUND,
)

Name = Annotated[
    str, typer.Argument(help="The secret's name: 1 to 128 letters, digits, '_', '.' and '-'.")
]


def _line(secret: dict[str, Any]) -> str:
    return (
        f"{secret['name']:<32} version {secret['version']:<4} set {secret['updatedAt']} "
        f"by {secret['setBy']}"
    )


@app.command("list")
def list_secrets(
    project: Project = None,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """List a project's secrets by name, with their version and who set them (never their
    values).

    Example: flowforge secrets list --json
    """
    client = connect(url, token, data_dir)
    found = client.every(LIST, "secrets", p=project or default_project(client))
    if json:
        print_json(found)
        return
    for secret in found:
        typer.echo(_line(secret))


def read_value(name: str) -> str:
    """The value from a hidden prompt at a terminal, else all of standard input but one
    trailing newline (`echo` and most files end with one)."""
    if sys.stdin.isatty():
        return getpass.getpass(f"value of secret {name} (input hidden): ")
    value = sys.stdin.read()
    if value.endswith("\n"):
        value = value[:-1].removesuffix("\r")
    return value


@app.command("set")
def set_secret(
    name: Name,
    project: Project = None,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """Set a secret of a project (editors): a new one, or the next version of one.

    The value is asked for at a hidden prompt, or read from standard input when it is not
    a terminal; it is sent to the control plane, which writes it to Vault, and is never
    shown again. Nodes receive it through the `secrets` of their definition.

    Example: flowforge secrets set acme_api_key < key.txt
    """
    client = connect(url, token, data_dir)
    project_id = project or default_project(client)
    value = read_value(name)
    if not value:
        fail("no value: type it at the prompt or pipe it to standard input")
    result = accepted(client.execute(SET, p=project_id, n=name, v=value)["result"])
    if json:
        print_json(result)
        return
    typer.echo(f"secret {result['name']} set: version {result['version']}")


@app.command("delete")
def delete_secret(
    name: Name,
    project: Project = None,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """Delete a secret of a project and every version of its value (editors). Runs that
    start afterwards are refused while their workflow maps it.

    Example: flowforge secrets delete acme_api_key
    """
    client = connect(url, token, data_dir)
    project_id = project or default_project(client)
    result = accepted(client.execute(DELETE, p=project_id, n=name)["result"])
    if json:
        print_json(result)
        return
    typer.echo(f"deleted secret {result['name']}")
