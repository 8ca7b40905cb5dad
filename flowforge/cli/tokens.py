"""`flowforge tokens ...`: API tokens holding one role in a workspace; each value is shown
once, when the token is created."""

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from control_plane.access.roles import Role
from flowforge.cli.client import INVALID, NOT_FOUND, accepted, connect, fail, mutation, print_json
from flowforge.cli.options import DataDir, Json, Token, Url
from flowforge.cli.workspaces import Workspace, find_workspace

app = typer.Typer(
    help="List, create and revoke the API tokens of a workspace.", no_args_is_help=True
)

FIELDS = "id name workspaceId role instanceAdmin createdBy createdAt expiresAt lastUsedAt revokedAt"
LIST = f"""query($w: ID!, $first: Int!, $after: ID) {{
  apiTokens(workspaceId: $w, first: $first, after: $after) {{ {FIELDS} }} }}"""
CREATE = mutation(
    "$w: ID!, $n: String!, $r: Role!, $e: DateTime",
    "createApiToken(workspaceId: $w, name: $n, role: $r, expiresAt: $e)",
    f"... on CreatedApiToken {{ token apiToken {{ {FIELDS} }} }}",
    NOT_FOUND,
    INVALID,
)
REVOKE = mutation(
    "$id: ID!", "revokeApiToken(id: $id)", f"... on ApiToken {{ {FIELDS} }}", NOT_FOUND
)

DURATION = re.compile(r"(\d+)([mhdw])")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _line(token: dict[str, Any]) -> str:
    role = "instance admin" if token["instanceAdmin"] else token["role"]
    line = f"{token['id']}  {token['name']:<24} {role:<8}  created {token['createdAt']}"
    if token["revokedAt"]:
        line += f"  revoked {token['revokedAt']}"
    elif token["expiresAt"]:
        line += f"  expires {token['expiresAt']}"
    line += f"  last used {token['lastUsedAt'] or 'never'}"
    return line


@app.command("list")
def list_tokens(
    workspace: Workspace,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """List the API tokens of a workspace, oldest first, without their values (owners).

    Example: flowforge tokens list --workspace acme
    """
    client = connect(url, token, data_dir)
    found = client.every(LIST, "apiTokens", w=find_workspace(client, workspace)["id"])
    if json:
        print_json(found)
        return
    for listed in found:
        typer.echo(_line(listed))


def _expiry(expires_in: str | None, expires_at: str | None) -> datetime | None:
    if expires_in is not None and expires_at is not None:
        fail("give --expires-in or --expires-at, not both")
    if expires_in is not None:
        match = DURATION.fullmatch(expires_in)
        if match is None:
            fail(f"--expires-in {expires_in!r}: write a number and a unit, e.g. 90m, 12h, 30d, 2w")
        amount, unit = match.groups()
        return datetime.now(UTC) + timedelta(**{UNITS[unit]: int(amount)})
    if expires_at is not None:
        try:
            when = datetime.fromisoformat(expires_at)
        except ValueError:
            fail(f"--expires-at {expires_at!r} is not an ISO 8601 time, e.g. 2030-01-31T18:00Z")
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    return None


@app.command("create")
def create_token(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. ci-deploy.")],
    workspace: Workspace,
    role: Annotated[
        Role,
        typer.Option(case_sensitive=False, help="The role it holds in the workspace."),
    ],
    expires_in: Annotated[
        str | None,
        typer.Option("--expires-in", help="It expires after this long: 90m, 12h, 30d, 2w."),
    ] = None,
    expires_at: Annotated[
        str | None,
        typer.Option("--expires-at", help="It expires at this ISO 8601 time (UTC if no offset)."),
    ] = None,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """Create an API token holding a role in a workspace (owners), and print its value.

    This is the only time the value is shown (--json prints it as `token`). Without an
    expiry the token lasts until it is revoked.

    Example: flowforge tokens create ci-deploy --workspace acme --role editor --expires-in 30d
    """
    expiry = _expiry(expires_in, expires_at)
    client = connect(url, token, data_dir)
    result = accepted(
        client.execute(
            CREATE,
            w=find_workspace(client, workspace)["id"],
            n=name,
            r=role.name,
            e=expiry.isoformat() if expiry else None,
        )["result"]
    )
    if json:
        print_json(result)
        return
    created = result["apiToken"]
    lasts = f"until {created['expiresAt']}" if created["expiresAt"] else "until revoked"
    typer.echo(
        f"created API token {created['name']} (id {created['id']}): {created['role']} in "
        f"workspace {workspace}, {lasts}"
    )
    typer.echo(result["token"])
    typer.secho(
        "This is the only time the token is shown: it cannot be shown again. Store it now.",
        fg=typer.colors.YELLOW,
    )


@app.command("revoke")
def revoke_token(
    token_id: Annotated[str, typer.Argument(help="Token id (`flowforge tokens list`).")],
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """Revoke an API token (owners of its workspace): it authenticates nothing from now on.

    Example: flowforge tokens revoke TOKEN_ID
    """
    result = accepted(connect(url, token, data_dir).execute(REVOKE, id=token_id)["result"])
    if json:
        print_json(result)
        return
    typer.echo(f"revoked API token {result['name']} (id {result['id']}) at {result['revokedAt']}")
