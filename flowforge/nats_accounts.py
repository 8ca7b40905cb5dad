"""NATS decentralised authentication for FlowForge: an operator, its accounts, and the
credentials of each identity on the bus (the control plane, each pool).

The NATS server trusts the operator and verifies every connection by itself: a user JWT
signed by the FLOWFORGE account's key carries the subjects that identity may use (see
`data_plane.protocol.topology`). So adding a pool or rotating its credentials needs no
change on the server at all, and revoking them is one signed account update pushed to the
running server; nothing is restarted.

Everything lives in one directory, readable by its owner only::

    keys.json            operator, system account and FLOWFORGE account seeds; the keys
                         issued to each identity; revocations
    creds/<name>.creds   a user's JWT and seed, the file NATS clients connect with

It is created by `flowforge dev` for the dev stack; docs/operations.md shows production.
"""

import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import nkeys

from data_plane.protocol import (
    ARTEFACT_BUCKET,
    Permissions,
    control_plane_permissions,
    pool_permissions,
)
from flowforge.private_files import write_private

CONTROL_PLANE = "control-plane"
SYSTEM = "system"
_UNLIMITED = {"subs": -1, "data": -1, "payload": -1}
_ACCOUNT_LIMITS = {
    **_UNLIMITED,
    "imports": -1,
    "exports": -1,
    "wildcards": True,
    "conn": -1,
    "leaf": -1,
}
_JETSTREAM_LIMITS = {"mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1}


def pool_identity(pool: str) -> str:
    """The name a pool's credentials are issued under."""
    return f"pool-{pool}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _new_seed(prefix: int) -> str:
    seed: bytes = nkeys.encode_seed(os.urandom(32), prefix)
    return seed.decode()


def _key(seed: str) -> nkeys.KeyPair:
    return nkeys.from_seed(seed.encode())


def _public(seed: str) -> str:
    public: bytes = _key(seed).public_key
    return public.decode()


def encode_jwt(subject: str, name: str, claims: dict[str, Any], issuer_seed: str) -> str:
    """A NATS JWT (ed25519-nkey) for `subject`, signed by the issuer's seed."""
    payload: dict[str, Any] = {
        "iat": int(time.time()),
        "iss": _public(issuer_seed),
        "name": name,
        "sub": subject,
        "nats": claims,
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).digest()
    payload["jti"] = base64.b32encode(digest).decode().rstrip("=")
    header = _b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    signature = _key(issuer_seed).sign(f"{header}.{body}".encode())
    return f"{header}.{body}.{_b64(signature)}"


@dataclass
class _Keys:
    operator: str
    system_account: str
    account: str
    # identity name -> public keys of the users issued to it, oldest first
    issued: dict[str, list[str]] = field(default_factory=dict)
    # user public key -> unix time before which its JWTs are revoked
    revocations: dict[str, int] = field(default_factory=dict)


class BusAuthority:
    """The keys that define who may connect to the bus, kept in `directory`."""

    def __init__(self, directory: Path, keys: _Keys) -> None:
        self.directory = directory
        self._keys = keys

    @classmethod
    def load_or_create(cls, directory: Path) -> "BusAuthority":
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / "keys.json"
        if path.exists():
            return cls(directory, _Keys(**json.loads(path.read_text())))
        authority = cls(
            directory,
            _Keys(
                operator=_new_seed(nkeys.PREFIX_BYTE_OPERATOR),
                system_account=_new_seed(nkeys.PREFIX_BYTE_ACCOUNT),
                account=_new_seed(nkeys.PREFIX_BYTE_ACCOUNT),
            ),
        )
        authority._save()
        return authority

    @property
    def account_public_key(self) -> str:
        return _public(self._keys.account)

    def server_config(self, resolver_dir: Path) -> str:
        """The part of a nats-server configuration that trusts this operator.

        The resolver keeps account updates (revocations) in `resolver_dir`, so they survive
        a server restart; the accounts are preloaded so a new server needs no push.
        """
        system = _public(self._keys.system_account)
        return (
            f"operator: {self._operator_jwt()}\n"
            f"system_account: {system}\n"
            "resolver: {\n"
            "  type: full\n"
            f"  dir: {json.dumps(str(resolver_dir))}\n"
            "  allow_delete: false\n"
            "}\n"
            "resolver_preload: {\n"
            f"  {system}: {self._system_account_jwt()}\n"
            f"  {self.account_public_key}: {self.account_jwt()}\n"
            "}\n"
        )

    def account_jwt(self) -> str:
        claims: dict[str, Any] = {
            "type": "account",
            "version": 2,
            "limits": {**_ACCOUNT_LIMITS, **_JETSTREAM_LIMITS},
        }
        if self._keys.revocations:
            claims["revocations"] = dict(self._keys.revocations)
        return encode_jwt(self.account_public_key, "FLOWFORGE", claims, self._keys.operator)

    def control_plane_credentials(self, artefact_bucket: str = ARTEFACT_BUCKET) -> Path:
        return self.credentials(CONTROL_PLANE, control_plane_permissions(artefact_bucket))

    def pool_credentials(self, pool: str, artefact_bucket: str = ARTEFACT_BUCKET) -> Path:
        return self.credentials(pool_identity(pool), pool_permissions(pool, artefact_bucket))

    def credentials(self, name: str, permissions: Permissions) -> Path:
        """The credentials file of identity `name`, minted with `permissions` if it has
        none yet, its keys were revoked, or it was issued other permissions (an upgrade
        that gave the role more subjects; the older file keeps working until revoked)."""
        path = self.directory / "creds" / f"{name}.creds"
        current = self._keys.issued.get(name, [])
        if (
            path.exists()
            and current
            and current[-1] not in self._keys.revocations
            and _permissions_of(path) == permissions
        ):
            return path
        seed = _new_seed(nkeys.PREFIX_BYTE_USER)
        claims = {
            "type": "user",
            "version": 2,
            **_UNLIMITED,
            "pub": {"allow": list(permissions.publish)},
            "sub": {"allow": list(permissions.subscribe)},
        }
        user_jwt = encode_jwt(_public(seed), name, claims, self._keys.account)
        write_private(path, _creds_file(user_jwt, seed))
        self._keys.issued[name] = [*current, _public(seed)]
        self._save()
        return path

    async def revoke(self, name: str, nats_url: str) -> None:
        """Revoke every credential issued to `name`, on the running server: its
        connections are closed and it can no longer connect."""
        now = int(time.time()) + 1
        for public_key in self._keys.issued.get(name, []):
            self._keys.revocations[public_key] = now
        self._save()
        await self.push_account(nats_url)

    async def push_account(self, nats_url: str) -> None:
        """Send the current account JWT to the server (through the system account)."""
        nc = await nats.connect(nats_url, user_credentials=str(self._system_credentials()))
        try:
            subject = f"$SYS.REQ.ACCOUNT.{self.account_public_key}.CLAIMS.UPDATE"
            reply = await nc.request(subject, self.account_jwt().encode(), timeout=5)
        finally:
            await nc.close()
        answer = json.loads(reply.data)
        if "error" in answer:
            raise RuntimeError(f"NATS refused the account update: {answer['error']}")

    def _system_credentials(self) -> Path:
        path = self.directory / "creds" / f"{SYSTEM}.creds"
        if not path.exists():
            seed = _new_seed(nkeys.PREFIX_BYTE_USER)
            claims = {"type": "user", "version": 2, **_UNLIMITED}
            user_jwt = encode_jwt(_public(seed), SYSTEM, claims, self._keys.system_account)
            write_private(path, _creds_file(user_jwt, seed))
        return path

    def _operator_jwt(self) -> str:
        claims = {
            "type": "operator",
            "version": 2,
            "system_account": _public(self._keys.system_account),
        }
        return encode_jwt(_public(self._keys.operator), "flowforge", claims, self._keys.operator)

    def _system_account_jwt(self) -> str:
        claims = {"type": "account", "version": 2, "limits": _ACCOUNT_LIMITS}
        subject = _public(self._keys.system_account)
        return encode_jwt(subject, "SYS", claims, self._keys.operator)

    def _save(self) -> None:
        keys = self._keys
        data = {
            "operator": keys.operator,
            "system_account": keys.system_account,
            "account": keys.account,
            "issued": keys.issued,
            "revocations": keys.revocations,
        }
        write_private(self.directory / "keys.json", json.dumps(data, indent=2))


def _permissions_of(credentials: Path) -> Permissions | None:
    """The permissions a credentials file's user JWT carries (None if unreadable)."""
    lines = credentials.read_text().splitlines()
    try:
        body = lines[lines.index("-----BEGIN NATS USER JWT-----") + 1].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        return Permissions(
            publish=tuple(claims["nats"]["pub"]["allow"]),
            subscribe=tuple(claims["nats"]["sub"]["allow"]),
        )
    except (ValueError, IndexError, KeyError, TypeError):
        return None


def _creds_file(user_jwt: str, seed: str) -> str:
    return (
        "-----BEGIN NATS USER JWT-----\n"
        f"{user_jwt}\n"
        "------END NATS USER JWT------\n\n"
        "-----BEGIN USER NKEY SEED-----\n"
        f"{seed}\n"
        "------END USER NKEY SEED------\n"
    )
