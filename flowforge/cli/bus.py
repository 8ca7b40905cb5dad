"""`flowforge bus ...`: the keys NATS trusts, and the credentials of each identity.

For a NATS server run by an operator (in production); `flowforge dev` does all of this
itself. See docs/operations.md, "NATS credentials".
"""

import asyncio
import re
from pathlib import Path
from typing import Annotated

import typer

from data_plane.protocol import ARTEFACT_BUCKET, BUCKET_PATTERN, POOL_PATTERN
from flowforge.cli.client import fail
from flowforge.nats_accounts import CONTROL_PLANE, BusAuthority, pool_identity

app = typer.Typer(help="Manage who may connect to the NATS bus.", no_args_is_help=True)

KeysDir = Annotated[
    Path,
    typer.Option(
        "--dir",
        envvar="FLOWFORGE_BUS_DIR",
        help="Folder of the bus keys and credentials (kept readable by its owner only).",
    ),
]
Pool = Annotated[str | None, typer.Option("--pool", help="A worker pool.")]
ControlPlane = Annotated[bool, typer.Option("--control-plane", help="The control plane.")]


@app.command("init")
def init(
    keys_dir: KeysDir,
    resolver_dir: Annotated[
        Path,
        typer.Option(help="Where the NATS server keeps account updates (on its own disk)."),
    ] = Path("/var/lib/nats/flowforge-accounts"),
) -> None:
    """Create the operator and account keys (once) and write the server's auth config.

    Example: flowforge bus init --dir /etc/flowforge/bus
    """
    authority = BusAuthority.load_or_create(keys_dir)
    config = keys_dir / "nats-auth.conf"
    config.write_text(authority.server_config(resolver_dir))
    typer.echo(f"keys in {keys_dir}; include {config} in the nats-server configuration")


@app.command("credentials")
def credentials(
    keys_dir: KeysDir,
    pool: Pool = None,
    control_plane: ControlPlane = False,
    artefact_bucket: Annotated[
        str,
        typer.Option(
            help="The artefact bucket the identity may use (FLOWFORGE_*_ARTEFACT_BUCKET)."
        ),
    ] = ARTEFACT_BUCKET,
) -> None:
    """Print the path of an identity's credentials file, minting it if it has none or its
    permissions changed (after an upgrade: deploy the new file).

    Example: flowforge bus credentials --dir /etc/flowforge/bus --pool onprem
    """
    if not re.fullmatch(BUCKET_PATTERN, artefact_bucket):
        fail(f"--artefact-bucket {artefact_bucket!r}: letters, digits, '_' and '-' only")
    authority = BusAuthority.load_or_create(keys_dir)
    if control_plane:
        typer.echo(authority.control_plane_credentials(artefact_bucket))
    else:
        typer.echo(authority.pool_credentials(_pool(pool), artefact_bucket))


@app.command("revoke")
def revoke(
    keys_dir: KeysDir,
    nats_url: Annotated[str, typer.Option(help="The NATS server to send the update to.")],
    pool: Pool = None,
    control_plane: ControlPlane = False,
) -> None:
    """Revoke every credential of an identity on the running server; its connections
    close at once. `credentials` then mints new ones.

    Example: flowforge bus revoke --dir /etc/flowforge/bus --pool onprem --nats-url nats://nats:4222
    """
    authority = BusAuthority.load_or_create(keys_dir)
    name = CONTROL_PLANE if control_plane else pool_identity(_pool(pool))
    try:
        asyncio.run(authority.revoke(name, nats_url))
    except Exception as exc:
        fail(f"could not revoke {name} on {nats_url}: {exc}")
    typer.echo(f"revoked {name}")


def _pool(pool: str | None) -> str:
    if pool is None:
        fail("name an identity: --pool NAME or --control-plane")
    if not re.fullmatch(POOL_PATTERN, pool):
        fail(f"--pool {pool!r}: letters, digits, '_' and '-' only")
    return pool
