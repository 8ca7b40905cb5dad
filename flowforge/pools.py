"""A pool's identities, kept together: its NATS credentials (which subjects it may use),
its Vault AppRole (which workspaces' secrets it may read) and the signing keys it trusts
(whose descriptors it runs). `PoolAuthority` creates, rotates and revokes them as one, and
writes what the pool's process needs into one folder::

    <pools dir>/<pool>/
        pool.json          the pool, the workspaces it serves, when it was created/rotated
        nats.creds         its NATS credentials (mode 0600)
        vault-secret-id    its AppRole secret id (mode 0600)
        trusted/*.pem      the control plane's public keys it trusts
        pool.env           the FLOWFORGE_DP_* settings that point at the files above

A revoked pool's NATS credentials are refused by the running server (its connections
close), its AppRole no longer logs in and its tokens lose their policy, and its folder
is removed: it can neither read descriptors, nor fetch secrets, nor report events.
"""

import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from data_plane.protocol import POOL_PATTERN, VaultSettings
from flowforge.nats_accounts import BusAuthority, pool_identity
from flowforge.private_files import write_private
from flowforge.vault_identities import VaultAuthority, pool_role


class PoolRecord(BaseModel):
    pool: str
    workspaces: list[str] | None
    created_at: datetime
    rotated_at: datetime | None = None


def pool_records(directory: Path) -> list[PoolRecord]:
    """The pools whose identities are kept in `directory`, by name."""
    paths = sorted(directory.glob("*/pool.json")) if directory.is_dir() else []
    return [PoolRecord.model_validate_json(path.read_text()) for path in paths]


class PoolError(Exception):
    """A pool that cannot be created, rotated or revoked; the message says why."""


@dataclass
class PoolAuthority:
    """Creates, rotates and revokes pools' identities, kept under `directory`."""

    bus: BusAuthority
    vault: VaultAuthority
    directory: Path
    nats_url: str
    trusted_keys: list[Path]

    def records(self) -> list[PoolRecord]:
        return pool_records(self.directory)

    def create(self, pool: str, workspaces: list[str] | None) -> Path:
        """Issue a new pool's identities; returns its folder.

        Raises:
            PoolError: a bad name, or a pool of that name exists.
        """
        if not re.fullmatch(POOL_PATTERN, pool):
            raise PoolError(f"pool {pool!r}: letters, digits, '_' and '-' only")
        if self._record_path(pool).exists():
            raise PoolError(f"pool {pool!r} exists: rotate or revoke it")
        vault = self.vault.pool(pool, workspaces)
        record = PoolRecord(pool=pool, workspaces=workspaces, created_at=datetime.now(UTC))
        return self._write(record, self.bus.pool_credentials(pool), vault)

    async def rotate(self, pool: str) -> Path:
        """New NATS credentials and AppRole secret id, the old ones revoked, and the
        trusted keys copied again (after the control plane's key rotated)."""
        record = self._record(pool)
        await self.bus.revoke(pool_identity(pool), self.nats_url)
        credentials = self.bus.pool_credentials(pool)
        vault = self.vault.rotate(pool_role(pool))
        record.rotated_at = datetime.now(UTC)
        return self._write(record, credentials, vault)

    async def revoke(self, pool: str) -> None:
        self._record(pool)
        await self.bus.revoke(pool_identity(pool), self.nats_url)
        self.vault.revoke(pool_role(pool))
        shutil.rmtree(self.directory / pool)

    def _write(self, record: PoolRecord, credentials: Path, vault: VaultSettings) -> Path:
        folder = self.directory / record.pool
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(folder / "nats.creds", credentials.read_text())
        write_private(folder / "vault-secret-id", vault.secret_id_path.read_text())
        trusted = folder / "trusted"
        shutil.rmtree(trusted, ignore_errors=True)
        trusted.mkdir(mode=0o700)
        copies = []
        for i, key in enumerate(self.trusted_keys):
            copy = trusted / f"{i}-{key.name}"
            copy.write_bytes(key.read_bytes())
            copies.append(copy)
        pool_vault = vault.model_copy(update={"secret_id_path": folder / "vault-secret-id"})
        settings: dict[str, Any] = {
            "FLOWFORGE_DP_POOL": record.pool,
            "FLOWFORGE_DP_NATS_CREDENTIALS": str(folder / "nats.creds"),
            "FLOWFORGE_DP_VAULT": pool_vault.model_dump_json(),
            "FLOWFORGE_DP_TRUSTED_KEYS": ",".join(str(copy) for copy in copies),
        }
        write_private(
            folder / "pool.env", "".join(f"{key}={value}\n" for key, value in settings.items())
        )
        write_private(self._record_path(record.pool), record.model_dump_json(indent=2))
        return folder

    def _record(self, pool: str) -> PoolRecord:
        path = self._record_path(pool)
        if not path.exists():
            known = ", ".join(r.pool for r in self.records()) or "none"
            raise PoolError(f"no pool {pool!r} (pools: {known}): create it first")
        return PoolRecord.model_validate_json(path.read_text())

    def _record_path(self, pool: str) -> Path:
        return self.directory / pool / "pool.json"
