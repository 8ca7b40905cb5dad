"""The control plane's signing key: a PEM file (created on first start), or an Ed25519
key in Vault's transit engine that never leaves Vault."""

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from control_plane.errors import ConfigurationError
from data_plane.protocol import Vault, key_id_of


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """Load the key at `path`, or create it (mode 0600) with its public half beside it.

    Raises:
        ConfigurationError: the file exists but is not an Ed25519 private key.
    """
    if path.exists():
        key = load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigurationError(f"{path} holds no Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(pem)
    public_key_path(path).write_bytes(
        key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    return key


def public_key_path(signing_key_path: Path) -> Path:
    """Where the public key that agents must trust is written."""
    return signing_key_path.with_name(signing_key_path.stem + ".pub.pem")


class TransitSigner:
    """Signs with one version of a transit key: the newest when the control plane started.
    After `vault write -f transit/keys/<name>/rotate`, restart the control plane once every
    pool trusts the new version's public key (see docs/operations.md)."""

    def __init__(self, vault: Vault, key: str, version: int, public_key: Ed25519PublicKey) -> None:
        self._vault, self._key, self._version = vault, key, version
        self._key_id = key_id_of(public_key)

    @classmethod
    async def load(cls, vault: Vault, key: str) -> "TransitSigner":
        """The signer of the newest version of transit key `key`.

        Raises:
            SecretError: Vault refused or cannot be reached (data_plane.errors).
        """
        versions = await vault.transit_public_keys(key)
        newest = max(versions)
        return cls(vault, key, newest, Ed25519PublicKey.from_public_bytes(versions[newest]))

    @property
    def key_id(self) -> str:
        return self._key_id

    async def sign(self, payload: bytes) -> bytes:
        return await self._vault.transit_sign(self._key, self._version, payload)


def public_key_pem(raw: bytes) -> bytes:
    """The PEM form of a raw Ed25519 public key (what a pool's trusted key files hold)."""
    key = Ed25519PublicKey.from_public_bytes(raw)
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
