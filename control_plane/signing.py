"""The control plane's descriptor signing key (a PEM file, created on first start)."""

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from control_plane.errors import ConfigurationError


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
