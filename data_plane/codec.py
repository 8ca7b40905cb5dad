"""Temporal payloads encrypted with AES-256-GCM: every workflow input, activity input and
result, signal, update and query a worker or client exchanges with Temporal.

Keys come from a key file (`FLOWFORGE_DP_PAYLOAD_KEYS_PATH`)::

    {"current": "k2", "keys": {"k1": "<base64 of 32 bytes>", "k2": "..."}}

`current` encrypts; every key listed decrypts. Each payload carries the id of its key in
its metadata (`encryption-key-id`), so rotating is: add a key, make it current, and keep the
old one listed as long as histories encrypted with it are read (runs in flight, retention).
The key id is also the AES-GCM associated data: a payload relabelled with another key id
does not decrypt.

Workflow modules never import this module: `cryptography` cannot be imported inside
Temporal's workflow sandbox (it is imported twice there and fails).
"""

import base64
import dataclasses
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Self

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

from data_plane.errors import PayloadKeyError, SettingsError

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
_NONCE_BYTES = 12
KEY_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


class PayloadKeys(BaseModel):
    """The payload keys: the id of the one that encrypts, and every one that decrypts."""

    model_config = ConfigDict(extra="forbid")

    current: str = Field(pattern=KEY_ID_PATTERN)
    keys: dict[str, bytes] = Field(min_length=1)

    @field_validator("keys", mode="before")
    @classmethod
    def _decode(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        keys = {}
        for key_id, encoded in value.items():
            if not re.fullmatch(KEY_ID_PATTERN, str(key_id)):
                raise ValueError(f"key id {key_id!r}: 1 to 64 letters, digits, '_', '.', '-'")
            raw = base64.b64decode(encoded, validate=True) if isinstance(encoded, str) else encoded
            if len(raw) != 32:
                raise ValueError(f"key {key_id!r} is {len(raw)} bytes; AES-256 needs 32")
            keys[key_id] = raw
        return keys

    @model_validator(mode="after")
    def _current_is_listed(self) -> Self:
        if self.current not in self.keys:
            raise ValueError(
                f"current key {self.current!r} is not among the keys "
                f"({', '.join(sorted(self.keys))}): add it, or name one of them"
            )
        return self

    def to_json(self) -> str:
        encoded = {key_id: base64.b64encode(raw).decode() for key_id, raw in self.keys.items()}
        return json.dumps({"current": self.current, "keys": encoded}, indent=2) + "\n"


def new_payload_keys(key_id: str = "k1") -> PayloadKeys:
    return PayloadKeys(current=key_id, keys={key_id: os.urandom(32)})


def load_payload_keys(path: Path) -> PayloadKeys:
    """Read a key file.

    Raises:
        SettingsError: missing, unreadable or malformed; the message says which.
    """
    try:
        return PayloadKeys.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise SettingsError(f"payload keys {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise SettingsError(f"payload keys {path}: {exc}") from exc


class AesGcmCodec(PayloadCodec):
    """Encrypts with the current key; decrypts with the key each payload names, and
    passes through payloads that were never encrypted (histories from before the codec)."""

    def __init__(self, keys: PayloadKeys) -> None:
        self._current = keys.current.encode()
        self._ciphers = {key_id.encode(): AESGCM(raw) for key_id, raw in keys.keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        cipher = self._ciphers[self._current]
        encoded = []
        for payload in payloads:
            nonce = os.urandom(_NONCE_BYTES)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), self._current)
            encoded.append(
                Payload(metadata={"encoding": ENCODING, KEY_ID: self._current}, data=nonce + sealed)
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decode(payload) for payload in payloads]

    def _decode(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadKeyError(
                f"a payload is encrypted with key {key_id.decode(errors='replace')!r}, which "
                "the payload key file does not list: add that key back to it"
            )
        try:
            plain = cipher.decrypt(payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:], key_id)
        except Exception as exc:
            raise PayloadKeyError(
                f"a payload does not decrypt with key {key_id.decode()!r}: it was altered, or "
                "the key file holds another key under that id"
            ) from exc
        return Payload.FromString(plain)


def data_converter(keys: PayloadKeys | None) -> DataConverter:
    """The converter of every Temporal client and worker: pydantic, and encrypted when
    there are keys."""
    if keys is None:
        return pydantic_data_converter
    return dataclasses.replace(pydantic_data_converter, payload_codec=AesGcmCodec(keys))
