"""A pool's identities are created, rotated and revoked as one: its NATS credentials, its
Vault AppRole (reading only the workspaces it serves) and the signing keys it trusts. A
revoked pool can neither connect to the bus (so neither read descriptors nor report
events) nor read a secret."""

import json
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from control_plane.signing import load_or_create_signing_key, public_key_path
from data_plane.errors import SecretAccessDeniedError
from data_plane.protocol import Vault, VaultSettings, pool_inbox, secret_path
from data_plane.settings import DataPlaneSettings
from flowforge.cli.main import app
from flowforge.nats_accounts import BusAuthority
from flowforge.pools import PoolAuthority, PoolError
from flowforge.servers import ServerProcess
from flowforge.vault_identities import VaultAuthority
from tests.fixtures.bus import connect_as, refused

from fixtures.servers import VaultServer


@pytest.fixture
def pools(
    bus_authority: BusAuthority,
    vault_authority: VaultAuthority,
    nats_server: ServerProcess,
    tmp_path: Path,
) -> PoolAuthority:
    key = tmp_path / "signing-key.pem"
    load_or_create_signing_key(key)
    return PoolAuthority(
        bus_authority,
        vault_authority,
        tmp_path / "pools",
        nats_server.address,
        [public_key_path(key)],
    )


def pool_settings(folder: Path, monkeypatch: pytest.MonkeyPatch) -> DataPlaneSettings:
    """The settings a pool's process reads from its pool.env."""
    for line in (folder / "pool.env").read_text().splitlines():
        name, value = line.split("=", 1)
        monkeypatch.setenv(name, value)
    return DataPlaneSettings()


async def put_secret(vault_authority: VaultAuthority, workspace: str, value: str) -> str:
    path = secret_path("flowforge", workspace, "p1", "api")
    writer = Vault(vault_authority.control_plane(), "the control plane")
    try:
        await writer.write(path, value)
    finally:
        await writer.close()
    return path


async def read(settings: VaultSettings, path: str) -> str:
    vault = Vault(settings, "the pool")
    try:
        return (await vault.read(path)).value
    finally:
        await vault.close()


async def test_a_new_pool_reads_its_workspaces_secrets_and_connects_with_its_credentials(
    pools: PoolAuthority,
    vault_authority: VaultAuthority,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool, mine, theirs = (f"w{uuid.uuid4().hex[:8]}" for _ in range(3))
    folder = pools.create(pool, [mine])
    settings = pool_settings(folder, monkeypatch)
    assert settings.pool == pool and settings.vault is not None
    assert [key.name for key in settings.trusted_keys] == ["0-signing-key.pub.pem"]
    assert [record.pool for record in pools.records()] == [pool]

    assert await read(settings.vault, await put_secret(vault_authority, mine, "mine")) == "mine"
    with pytest.raises(SecretAccessDeniedError):
        await read(settings.vault, await put_secret(vault_authority, theirs, "theirs"))
    assert settings.nats_credentials is not None
    connection = await connect_as(pools.nats_url, settings.nats_credentials, pool_inbox(pool))
    assert connection.is_connected
    await connection.close()
    with pytest.raises(PoolError, match="exists"):
        pools.create(pool, [mine])


async def test_rotating_a_pool_refuses_its_old_credentials_and_secret_id(
    pools: PoolAuthority,
    vault_authority: VaultAuthority,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    pool, workspace = f"r{uuid.uuid4().hex[:8]}", f"w{uuid.uuid4().hex[:8]}"
    folder = pools.create(pool, [workspace])
    old_creds = tmp_path / "old.creds"
    old_creds.write_text((folder / "nats.creds").read_text())
    old_secret_id = tmp_path / "old-secret-id"
    old_secret_id.write_text((folder / "vault-secret-id").read_text())
    path = await put_secret(vault_authority, workspace, "value")

    await pools.rotate(pool)
    settings = pool_settings(folder, monkeypatch)
    assert settings.vault is not None and settings.nats_credentials is not None
    assert await read(settings.vault, path) == "value"
    old_vault = settings.vault.model_copy(update={"secret_id_path": old_secret_id})
    with pytest.raises(SecretAccessDeniedError):
        await read(old_vault, path)
    inbox = pool_inbox(pool)
    assert await refused(connect_as(pools.nats_url, old_creds, inbox, allow_reconnect=False))
    fresh = await connect_as(pools.nats_url, settings.nats_credentials, inbox)
    assert fresh.is_connected
    await fresh.close()
    assert pools.records()[0].rotated_at is not None


async def test_a_revoked_pool_cannot_connect_or_read_a_secret_even_with_a_live_token(
    pools: PoolAuthority,
    vault_authority: VaultAuthority,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    pool, workspace = f"x{uuid.uuid4().hex[:8]}", f"w{uuid.uuid4().hex[:8]}"
    folder = pools.create(pool, [workspace])
    settings = pool_settings(folder, monkeypatch)
    assert settings.vault is not None and settings.nats_credentials is not None
    # What the pool's host keeps after the revocation.
    kept = tmp_path / "kept.creds"
    kept.write_text(settings.nats_credentials.read_text())
    kept_secret_id = tmp_path / "kept-secret-id"
    kept_secret_id.write_text(settings.vault.secret_id_path.read_text())
    path = await put_secret(vault_authority, workspace, "value")
    logged_in = Vault(
        settings.vault.model_copy(update={"secret_id_path": kept_secret_id}), "the pool"
    )
    try:
        assert (await logged_in.read(path)).value == "value"
        await pools.revoke(pool)
        # The token it already holds lost its policy, and its secret id no longer logs in.
        with pytest.raises(SecretAccessDeniedError):
            await logged_in.read(path)
    finally:
        await logged_in.close()
    assert await refused(connect_as(pools.nats_url, kept, pool_inbox(pool), allow_reconnect=False))
    assert not folder.exists() and pools.records() == []
    with pytest.raises(PoolError, match="no pool"):
        await pools.rotate(pool)


def test_the_cli_creates_lists_and_revokes_a_pool(
    bus_authority: BusAuthority,
    vault_server: VaultServer,
    nats_server: ServerProcess,
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "openbao").mkdir(parents=True)
    # A dev stack's layout, on the session's servers.
    (data_dir / "nats-auth").symlink_to(bus_authority.directory)
    (data_dir / "openbao" / "init.json").write_text(
        json.dumps({"root_token": vault_server.root_token})
    )
    load_or_create_signing_key(data_dir / "signing-key.pem")
    servers = [
        "--data-dir", str(data_dir),
        "--vault-address", vault_server.address,
        "--nats-url", nats_server.address,
    ]  # fmt: skip
    pool, workspace = f"c{uuid.uuid4().hex[:8]}", f"w{uuid.uuid4().hex[:8]}"
    created = CliRunner().invoke(app, ["pools", "create", pool, "--workspace", workspace, *servers])
    assert created.exit_code == 0, created.output
    assert f"{data_dir / 'pools' / pool}/pool.env" in created.output
    listed = CliRunner().invoke(app, ["pools", "list", "--data-dir", str(data_dir), "--json"])
    [record] = json.loads(listed.output)
    assert (record["pool"], record["workspaces"]) == (pool, [workspace])
    revoked = CliRunner().invoke(app, ["pools", "revoke", pool, *servers])
    assert revoked.exit_code == 0, revoked.output
    again = CliRunner().invoke(app, ["pools", "revoke", pool, *servers])
    assert again.exit_code == 1 and f"no pool {pool!r}" in again.output
