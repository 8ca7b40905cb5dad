"""Secrets in Vault (or OpenBao): where a project's secret lives, and a client that logs in
with an AppRole and reads, writes and deletes them in a KV v2 engine.

Both planes use it: the control plane writes (its AppRole may write under the prefix and
read nothing), a pool reads (its AppRole may read the workspaces the pool serves, and
write nothing). Settings say how to reach Vault and where the AppRole's secret id is kept;
they never hold a secret. Errors name the secret's path, never its value.
"""

import asyncio
import base64
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import hvac
import requests
from hvac.exceptions import Forbidden, InvalidPath, InvalidRequest, VaultDown, VaultError
from pydantic import BaseModel, ConfigDict, Field

from data_plane.errors import (
    SecretAccessDeniedError,
    SecretNotFoundError,
    SecretsUnavailableError,
    SettingsError,
)

SECRET_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,128}$"
_SECRET_NAME = re.compile(SECRET_NAME_PATTERN)
_VALUE_KEY = "value"

T = TypeVar("T")


class VaultSettings(BaseModel):
    """How a process reaches Vault: its address and the AppRole it logs in with."""

    model_config = ConfigDict(extra="forbid")

    address: str = Field(description="Vault's URL, e.g. https://vault.example.com:8200.")
    role_id: str = Field(description="The AppRole's role id (not a secret on its own).")
    secret_id_path: Path = Field(
        description="File holding the AppRole's secret id (mode 0600); read at every "
        "login, so that a rotated secret id is picked up without a restart."
    )
    mount: str = Field("secret", description="Mount point of the KV version 2 engine.")
    prefix: str = Field(
        "flowforge",
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Path under the mount where FlowForge keeps secrets: "
        "<prefix>/<workspace id>/<project id>/<name>.",
    )
    timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one Vault request.")


class SecretVersion(BaseModel):
    """A secret's value and the version it is, as read."""

    value: str
    version: int


def check_secret_name(name: str) -> str:
    """Return `name` if it may name a secret.

    Raises:
        ValueError: it may not; the message says what may.
    """
    if not _SECRET_NAME.match(name):
        raise ValueError(f"bad secret name {name!r}: 1 to 128 letters, digits, '_', '.' and '-'")
    return name


def secret_path(prefix: str, workspace_id: str, project_id: str, name: str) -> str:
    """The KV path of a project's secret."""
    return f"{prefix}/{workspace_id}/{project_id}/{check_secret_name(name)}"


def workspace_path(prefix: str, workspace_id: str) -> str:
    """The KV path under which a workspace's secrets are (what a pool's policy grants)."""
    return f"{prefix}/{workspace_id}"


class Vault:
    """A KV v2 client logged in with an AppRole; it logs in again when its token has
    expired (Vault answers that with 403, as it answers a real refusal: a second 403 after
    a fresh login is the refusal).

    hvac is synchronous: each call runs in a thread, one at a time.
    """

    def __init__(self, settings: VaultSettings, identity: str) -> None:
        self._settings = settings
        self._identity = identity
        self._client = hvac.Client(url=settings.address, timeout=settings.timeout_seconds)
        self._lock = asyncio.Lock()

    @property
    def settings(self) -> VaultSettings:
        return self._settings

    async def read(self, path: str) -> SecretVersion:
        """Read the current version of the secret at `path`.

        Raises:
            SecretNotFoundError: no such secret (or only deleted versions).
            SecretAccessDeniedError: this identity may not read it.
            SecretsUnavailableError: Vault cannot be reached now.
        """
        response = await self._call(
            path,
            lambda client: client.secrets.kv.v2.read_secret_version(
                path=path, mount_point=self._settings.mount, raise_on_deleted_version=True
            ),
        )
        data = response["data"]
        if _VALUE_KEY not in data["data"]:
            raise SecretNotFoundError(path)
        return SecretVersion(
            value=str(data["data"][_VALUE_KEY]), version=data["metadata"]["version"]
        )

    async def write(self, path: str, value: str) -> tuple[int, datetime]:
        """Store `value` as the secret's new version; returns the version and its time."""
        response = await self._call(
            path,
            lambda client: client.secrets.kv.v2.create_or_update_secret(
                path=path, secret={_VALUE_KEY: value}, mount_point=self._settings.mount
            ),
        )
        data = response["data"]
        return int(data["version"]), datetime.fromisoformat(data["created_time"])

    async def delete(self, path: str) -> None:
        """Delete the secret and every one of its versions (nothing to delete is fine)."""
        await self._call(
            path,
            lambda client: client.secrets.kv.v2.delete_metadata_and_all_versions(
                path=path, mount_point=self._settings.mount
            ),
        )

    async def transit_public_keys(self, key: str) -> dict[int, bytes]:
        """The raw Ed25519 public keys of a transit key, by version."""
        response = await self._call(
            f"transit/keys/{key}",
            lambda client: client.secrets.transit.read_key(name=key, mount_point="transit"),
        )
        return {
            int(version): base64.b64decode(entry["public_key"])
            for version, entry in response["data"]["keys"].items()
        }

    async def transit_sign(self, key: str, version: int, data: bytes) -> bytes:
        """Sign `data` with one version of a transit Ed25519 key; the key stays in Vault."""
        response = await self._call(
            f"transit/keys/{key}",
            lambda client: client.secrets.transit.sign_data(
                name=key,
                hash_input=base64.b64encode(data).decode(),
                key_version=version,
                mount_point="transit",
            ),
        )
        # "vault:v<version>:<base64 signature>"
        return base64.b64decode(response["data"]["signature"].split(":", 2)[2])

    async def close(self) -> None:
        await asyncio.to_thread(self._client.adapter.close)

    async def _call(self, path: str, request: Callable[[hvac.Client], T]) -> T:
        async with self._lock:
            return await asyncio.to_thread(self._call_logged_in, path, request)

    def _call_logged_in(self, path: str, request: Callable[[hvac.Client], T]) -> T:
        try:
            if not self._client.token:
                self._login()
            try:
                return request(self._client)
            except Forbidden:
                self._login()
                return request(self._client)
        except InvalidPath as exc:
            raise SecretNotFoundError(path) from exc
        except (Forbidden, InvalidRequest) as exc:
            # InvalidRequest: the login itself was refused (a revoked or wrong secret id).
            raise SecretAccessDeniedError(path, self._identity) from exc
        except (VaultDown, requests.RequestException) as exc:
            raise SecretsUnavailableError(
                f"Vault at {self._settings.address} cannot be reached ({type(exc).__name__}); "
                f"secret {path} was not read or written"
            ) from exc
        except VaultError as exc:
            raise SecretsUnavailableError(
                f"Vault at {self._settings.address} failed on secret {path}: {type(exc).__name__}"
            ) from exc

    def _login(self) -> None:
        try:
            secret_id = self._settings.secret_id_path.read_text().strip()
        except OSError as exc:
            raise SettingsError(
                f"cannot read the AppRole secret id of {self._identity} from "
                f"{self._settings.secret_id_path}: {exc.strerror}"
            ) from exc
        self._client.token = None
        login: dict[str, Any] = self._client.auth.approle.login(
            role_id=self._settings.role_id, secret_id=secret_id
        )
        self._client.token = login["auth"]["client_token"]
