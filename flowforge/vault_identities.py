"""The Vault identities of FlowForge: an AppRole for the control plane, which may write
and delete secrets and read none, and one per pool, which may read the secrets of the
workspaces the pool serves and write none.

`VaultAuthority` sets them up with a token that may manage auth methods and policies (the
root token of the dev stack's OpenBao); each identity's secret id is written to a file
only its owner may read, and the process logs in with `VaultSettings` pointing at it.
docs/operations.md shows the same with the `bao`/`vault` CLI for production.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hvac

from data_plane.protocol import VaultSettings, workspace_path
from flowforge.private_files import write_private

CONTROL_PLANE_ROLE = "flowforge-control-plane"
_APPROLE = "approle"
# Tokens are short-lived; the processes log in again when theirs expires.
_TOKEN_TTL = "1h"


def pool_role(pool: str) -> str:
    return f"flowforge-pool-{pool}"


def control_plane_policy(mount: str, prefix: str, transit_key: str | None = None) -> str:
    """Write and delete secrets under the prefix; read no value (`secrets(projectId)` lists
    the registry's records, never Vault's data); sign with the transit key, if any."""
    policy = (
        f'path "{mount}/data/{prefix}/*" {{ capabilities = ["create", "update"] }}\n'
        f'path "{mount}/metadata/{prefix}/*" {{ capabilities = ["delete"] }}\n'
    )
    if transit_key is not None:
        policy += (
            f'path "transit/keys/{transit_key}" {{ capabilities = ["read"] }}\n'
            f'path "transit/sign/{transit_key}" {{ capabilities = ["update"] }}\n'
        )
    return policy


def pool_policy(mount: str, prefix: str, workspaces: list[str] | None) -> str:
    """Read the secrets of the listed workspaces (every workspace when None)."""
    paths = (
        [f"{prefix}/*"]
        if workspaces is None
        else [f"{workspace_path(prefix, ws)}/*" for ws in workspaces]
    )
    if not paths:
        # A policy must grant something; this grants nothing that exists.
        paths = [f"{prefix}/-none-"]
    return "".join(f'path "{mount}/data/{path}" {{ capabilities = ["read"] }}\n' for path in paths)


@dataclass
class VaultAuthority:
    """Creates, rotates and revokes the AppRoles of FlowForge's processes.

    Args:
        address: Vault's URL.
        token: A token allowed to manage auth methods, policies and AppRoles.
        directory: Where the secret id files are written (mode 0600).
        mount: The KV version 2 mount of secrets.
        prefix: The path under the mount where FlowForge keeps secrets.
    """

    address: str
    token: str
    directory: Path
    mount: str = "secret"
    prefix: str = "flowforge"

    def control_plane(self, transit_key: str | None = None) -> VaultSettings:
        """The control plane's AppRole, created or updated, signing with `transit_key` when
        given; a secret id is issued once and kept in its file."""
        policy = control_plane_policy(self.mount, self.prefix, transit_key)
        return self._identity(CONTROL_PLANE_ROLE, policy)

    def pool(self, pool: str, workspaces: list[str] | None = None) -> VaultSettings:
        """A pool's AppRole reading the secrets of `workspaces` (every one when None)."""
        return self._identity(pool_role(pool), pool_policy(self.mount, self.prefix, workspaces))

    def rotate(self, role: str) -> VaultSettings:
        """Issue `role` a new secret id and destroy every older one: a process logs in
        with the new file from then on (tokens already issued last until their TTL)."""
        with self._client() as client:
            try:
                listed = client.auth.approle.list_secret_id_accessors(role_name=role)
                accessors: list[str] = listed["data"]["keys"]
            except hvac.exceptions.InvalidPath:
                accessors = []
            for accessor in accessors:
                client.auth.approle.destroy_secret_id_accessor(
                    role_name=role, secret_id_accessor=accessor
                )
            role_id: str = client.auth.approle.read_role_id(role_name=role)["data"]["role_id"]
            issued: dict[str, Any] = client.auth.approle.generate_secret_id(role_name=role)
        path = self._secret_id_path(role)
        write_private(path, issued["data"]["secret_id"] + "\n")
        return self._settings(role_id, path)

    def revoke(self, role: str) -> None:
        """Delete the AppRole and its policy: its secret ids stop logging in, and the
        tokens it was issued, which carry only that policy, may read nothing any more."""
        with self._client() as client:
            client.auth.approle.delete_role(role_name=role)
            client.sys.delete_policy(name=role)
        self._secret_id_path(role).unlink(missing_ok=True)

    def _identity(self, role: str, policy: str) -> VaultSettings:
        path = self._secret_id_path(role)
        with self._client() as client:
            if _APPROLE + "/" not in client.sys.list_auth_methods()["data"]:
                client.sys.enable_auth_method(_APPROLE)
            client.sys.create_or_update_policy(name=role, policy=policy)
            client.auth.approle.create_or_update_approle(
                role_name=role,
                token_policies=[role],
                token_ttl=_TOKEN_TTL,
                token_max_ttl=_TOKEN_TTL,
                secret_id_ttl="0",
                secret_id_num_uses=0,
            )
            role_id: str = client.auth.approle.read_role_id(role_name=role)["data"]["role_id"]
            if not path.exists():
                issued: dict[str, Any] = client.auth.approle.generate_secret_id(role_name=role)
                write_private(path, issued["data"]["secret_id"] + "\n")
        return self._settings(role_id, path)

    def _settings(self, role_id: str, secret_id_path: Path) -> VaultSettings:
        return VaultSettings(
            address=self.address,
            role_id=role_id,
            secret_id_path=secret_id_path,
            mount=self.mount,
            prefix=self.prefix,
        )

    def _secret_id_path(self, role: str) -> Path:
        return self.directory / f"{role}.secret-id"

    def _client(self) -> "_AdminClient":
        return _AdminClient(self.address, self.token)


class _AdminClient:
    def __init__(self, address: str, token: str) -> None:
        self._client = hvac.Client(url=address, token=token, timeout=30)

    def __enter__(self) -> hvac.Client:
        return self._client

    def __exit__(self, *exc: object) -> None:
        self._client.adapter.close()
