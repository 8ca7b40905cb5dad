"""`flowforge policies ...`: the Rego policies the control plane asks before it publishes,
starts or decides (instance admins)."""

from pathlib import Path
from typing import Annotated

import typer

from flowforge.cli.client import INVALID, NOT_FOUND, accepted, connect, fail, mutation, print_json
from flowforge.cli.options import DataDir, Json, Token, Url

app = typer.Typer(
    help="List, set and delete Rego policies (instance admins; see docs/policies.md).",
    no_args_is_help=True,
)

FIELDS = "name source origin updatedAt updatedBy"
LIST = f"{{ policies {{ {FIELDS} }} }}"
SET = mutation(
    "$n: String!, $s: String!",
    "setPolicy(name: $n, source: $s)",
    f"... on Policy {{ {FIELDS} }}",
    INVALID,
)
DELETE = mutation(
    "$n: String!", "deletePolicy(name: $n)", "... on PolicyDeleted { name }", NOT_FOUND
)


@app.command("list")
def list_policies(
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """List the policies in force, where each comes from and who last set it.

    Origin FILE: a file of the control plane's settings, named by its path; DATABASE: set
    with `flowforge policies set`. --json adds each policy's source.

    Example: flowforge policies list --json
    """
    found = connect(url, token, data_dir).execute(LIST)["policies"]
    if json:
        print_json(found)
        return
    for policy in found:
        line = f"{policy['name']:<32} {policy['origin']:<8}"
        # A file's policy changes with its file, not through the API: no time, no author.
        if policy["updatedAt"]:
            line += f"  updated {policy['updatedAt']} by {policy['updatedBy']}"
        typer.echo(line)


@app.command("set")
def set_policy(
    name: Annotated[
        str, typer.Argument(help="The name to keep it under: letters, digits, '_', '.', '-'.")
    ],
    file: Annotated[Path, typer.Argument(help="The Rego module (.rego).")],
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """Create or replace a policy from a Rego file.

    The control plane refuses it, saying why, unless it compiles with every other policy in
    force.

    Example: flowforge policies set production_owners examples/policies/production_owners.rego
    """
    try:
        source = file.read_text()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")
    result = accepted(connect(url, token, data_dir).execute(SET, n=name, s=source)["result"])
    if json:
        print_json(result)
        return
    typer.echo(f"policy {result['name']} set ({result['origin']}, updated {result['updatedAt']})")


@app.command("delete")
def delete_policy(
    name: Annotated[str, typer.Argument(help="The policy's name.")],
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """Delete a policy set with `flowforge policies set` (a file's stays: it is the
    control plane's settings that name it).

    Example: flowforge policies delete production_owners
    """
    result = accepted(connect(url, token, data_dir).execute(DELETE, n=name)["result"])
    if json:
        print_json(result)
        return
    typer.echo(f"deleted policy {result['name']}")
