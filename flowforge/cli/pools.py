"""`flowforge pools ...`: a pool's identities (NATS credentials, Vault AppRole, trusted
signing keys) created, rotated and revoked as one. An operator tool: it holds the bus keys
and a Vault token that manages AppRoles, so it runs where those are kept, not against the
API. Every default points into a `flowforge dev` data directory; see docs/operations.md,
"Pools".
"""

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from flowforge.cli.client import DEFAULT_DATA_DIR, fail
from flowforge.nats_accounts import BusAuthority
from flowforge.pools import PoolAuthority, PoolError, pool_records
from flowforge.vault_identities import VaultAuthority

app = typer.Typer(
    help="Create, rotate, revoke and list worker pools' identities.", no_args_is_help=True
)

DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="FLOWFORGE_DATA_DIR",
        help="Where the bus keys (nats-auth/), the pools (pools/) and the AppRole secret ids "
        "(vault-identities/) are kept.",
    ),
]
VaultAddress = Annotated[
    str, typer.Option("--vault-address", envvar="VAULT_ADDR", help="Vault's URL.")
]
VaultToken = Annotated[
    str | None,
    typer.Option(
        "--vault-token",
        envvar="VAULT_TOKEN",
        help="A token that may manage AppRoles and policies (default: the dev stack's root "
        "token in DATA_DIR/openbao/init.json).",
    ),
]
NatsUrl = Annotated[
    str,
    typer.Option("--nats-url", envvar="FLOWFORGE_NATS_URL", help="The NATS server to update."),
]
TrustedKey = Annotated[
    list[Path] | None,
    typer.Option(
        "--trusted-key",
        help="A control-plane public key (PEM) the pool trusts; repeat during a key "
        "rotation (default: DATA_DIR/signing-key.pub.pem).",
    ),
]


def _authority(
    data_dir: Path,
    vault_address: str,
    vault_token: str | None,
    nats_url: str,
    trusted_keys: list[Path] | None,
) -> PoolAuthority:
    if vault_token is None:
        init = data_dir / "openbao" / "init.json"
        if not init.is_file():
            fail("no Vault token: set VAULT_TOKEN (or --vault-token) to one that manages AppRoles")
        vault_token = str(json.loads(init.read_text())["root_token"])
    keys = trusted_keys or [data_dir / "signing-key.pub.pem"]
    for key in keys:
        if not key.is_file():
            fail(f"trusted key {key} does not exist: pass --trusted-key PEM")
    return PoolAuthority(
        BusAuthority.load_or_create(data_dir / "nats-auth"),
        VaultAuthority(vault_address, vault_token, data_dir / "vault-identities"),
        data_dir / "pools",
        nats_url,
        keys,
    )


@app.command("create")
def create(
    pool: Annotated[str, typer.Argument(help="The pool's name.")],
    workspace: Annotated[
        list[str] | None,
        typer.Option("--workspace", help="A workspace id it serves (repeat); none: every one."),
    ] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    vault_address: VaultAddress = "http://127.0.0.1:8200",
    vault_token: VaultToken = None,
    nats_url: NatsUrl = "nats://127.0.0.1:4222",
    trusted_key: TrustedKey = None,
) -> None:
    """Issue a pool's NATS credentials and AppRole, and write its folder and pool.env.

    Example: flowforge pools create onprem --workspace 3f2c... --data-dir .flowforge
    """
    authority = _authority(data_dir, vault_address, vault_token, nats_url, trusted_key)
    try:
        folder = authority.create(pool, workspace or None)
    except PoolError as exc:
        fail(str(exc))
    typer.echo(f"created pool {pool}: start its data plane with the settings in {folder}/pool.env")


@app.command("rotate")
def rotate(
    pool: Annotated[str, typer.Argument(help="The pool's name.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    vault_address: VaultAddress = "http://127.0.0.1:8200",
    vault_token: VaultToken = None,
    nats_url: NatsUrl = "nats://127.0.0.1:4222",
    trusted_key: TrustedKey = None,
) -> None:
    """New NATS credentials and AppRole secret id (the old ones stop working at once) and
    the trusted keys copied again.

    Example: flowforge pools rotate onprem --trusted-key old.pub.pem --trusted-key new.pub.pem
    """
    authority = _authority(data_dir, vault_address, vault_token, nats_url, trusted_key)
    try:
        folder = asyncio.run(authority.rotate(pool))
    except PoolError as exc:
        fail(str(exc))
    typer.echo(f"rotated pool {pool}: deploy {folder} to its hosts")


@app.command("revoke")
def revoke(
    pool: Annotated[str, typer.Argument(help="The pool's name.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    vault_address: VaultAddress = "http://127.0.0.1:8200",
    vault_token: VaultToken = None,
    nats_url: NatsUrl = "nats://127.0.0.1:4222",
) -> None:
    """Cut a pool off: its bus connections close, its AppRole and tokens read nothing.

    Example: flowforge pools revoke onprem --data-dir .flowforge
    """
    authority = _authority(data_dir, vault_address, vault_token, nats_url, None)
    try:
        asyncio.run(authority.revoke(pool))
    except PoolError as exc:
        fail(str(exc))
    typer.echo(f"revoked pool {pool}")


@app.command("list")
def list_pools(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """The pools created here, with the workspaces each serves.

    Example: flowforge pools list --json
    """
    records = pool_records(data_dir / "pools")
    if as_json:
        typer.echo(json.dumps([record.model_dump(mode="json") for record in records], indent=2))
        return
    for record in records:
        served = ", ".join(record.workspaces) if record.workspaces is not None else "every one"
        rotated = record.rotated_at.isoformat() if record.rotated_at else "never"
        typer.echo(f"{record.pool}  workspaces: {served}  rotated: {rotated}")
