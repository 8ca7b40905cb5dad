"""Signing the control plane's messages (run descriptors, control messages) and verifying
them (agents): one envelope and one implementation for both.

Envelope on `ff.runs.<pool>` and `ff.control.<pool>` (canonical JSON)::

    {"key_id": "...", "payload": "<base64 canonical JSON of the message>",
     "signature": "<base64>"}

A descriptor's payload can never be read as a control message or the other way round:
both models forbid fields they do not know and require fields the other lacks.

Errors::

    DataPlaneError (data_plane.errors)
     └── SignedMessageRejectedError   code, for both kinds: malformed | unknown_key |
          │                           bad_signature | unsupported_protocol | expired |
          │                           wrong_pool
          ├── DescriptorRejectedError  also: hash_mismatch
          └── ControlRejectedError     also (agent): replayed | run_ended | refused
"""

import base64
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import BaseModel, ValidationError

from connectors_sdk import canonical_json, definition_sha256
from data_plane.errors import (
    ControlRejectedError,
    DescriptorRejectedError,
    SignedMessageRejectedError,
)
from data_plane.protocol.models import (
    SUPPORTED_PROTOCOLS,
    ControlMessage,
    RunDescriptor,
    SignedEnvelope,
)

_Signed = TypeVar("_Signed", RunDescriptor, ControlMessage)


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """A short, stable id for a public key: the first 16 hex digits of its SHA-256."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class Signer(Protocol):
    """What signs the control plane's messages: a local key (`KeySigner`) or a key that
    never leaves Vault (`control_plane.signing.TransitSigner`)."""

    @property
    def key_id(self) -> str: ...

    async def sign(self, payload: bytes) -> bytes:
        """The Ed25519 signature of `payload` by the key `key_id` names."""
        ...


class KeySigner:
    """Signs with an Ed25519 private key held in memory (the PEM file's)."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self._key_id = key_id_of(private_key.public_key())

    @property
    def key_id(self) -> str:
        return self._key_id

    async def sign(self, payload: bytes) -> bytes:
        return self._key.sign(payload)


async def seal(message: RunDescriptor | ControlMessage, signer: Signer) -> bytes:
    """Serialise and sign a descriptor or a control message; returns the envelope bytes to
    publish. The same message gives the same bytes (Ed25519 signatures are deterministic)."""
    payload = canonical_json(message.model_dump(mode="json"))
    return _envelope(signer.key_id, payload, await signer.sign(payload))


def sign_descriptor(descriptor: RunDescriptor, private_key: Ed25519PrivateKey) -> bytes:
    """`seal` with a local key, without an event loop (tools and tests)."""
    return _seal(descriptor, private_key)


def sign_control(control: ControlMessage, private_key: Ed25519PrivateKey) -> bytes:
    """`seal` with a local key, without an event loop (tools and tests)."""
    return _seal(control, private_key)


def verify_descriptor(
    data: bytes,
    trusted_keys: Mapping[str, Ed25519PublicKey],
    now: datetime | None = None,
    pool: str | None = None,
) -> RunDescriptor:
    """Check an envelope and return its descriptor.

    Raises:
        DescriptorRejectedError: the envelope is malformed, signed by a key that is not
            trusted, its signature or definition hash does not match, it has expired, or
            it is for another pool than `pool` (when given).
    """
    descriptor = _open(data, trusted_keys, RunDescriptor, DescriptorRejectedError)
    now = now or datetime.now(UTC)
    if descriptor.expires_at <= now:
        raise DescriptorRejectedError(
            "expired",
            f"run {descriptor.run_id} expired at {descriptor.expires_at.isoformat()} "
            "before an agent of its pool took it",
            descriptor,
        )
    if pool is not None and descriptor.pool != pool:
        raise DescriptorRejectedError(
            "wrong_pool",
            f"run {descriptor.run_id} is for pool {descriptor.pool!r}, not this agent's {pool!r}",
            descriptor,
        )
    actual = definition_sha256(descriptor.definition)
    if actual != descriptor.sha256:
        raise DescriptorRejectedError(
            "hash_mismatch",
            f"run {descriptor.run_id}: definition hash {actual} != signed {descriptor.sha256}",
            descriptor,
        )
    return descriptor


def verify_control(
    data: bytes,
    trusted_keys: Mapping[str, Ed25519PublicKey],
    pool: str,
    now: datetime | None = None,
) -> ControlMessage:
    """Check an envelope and return its control message, which must be for `pool`.

    Raises:
        ControlRejectedError: the envelope is malformed, signed by a key that is not
            trusted, its signature does not match, it has expired, or it is for another
            pool.
    """
    control = _open(data, trusted_keys, ControlMessage, ControlRejectedError)
    now = now or datetime.now(UTC)
    if control.expires_at <= now:
        raise ControlRejectedError(
            "expired",
            f"the {control.action} of run {control.run_id} (control {control.control_id}) "
            f"expired at {control.expires_at.isoformat()} before an agent of its pool took "
            "it; request it again if it still applies",
            control,
        )
    if control.pool != pool:
        raise ControlRejectedError(
            "wrong_pool",
            f"control {control.control_id} is for pool {control.pool!r}, not this agent's {pool!r}",
            control,
        )
    return control


def _seal(message: BaseModel, private_key: Ed25519PrivateKey) -> bytes:
    payload = canonical_json(message.model_dump(mode="json"))
    return _envelope(key_id_of(private_key.public_key()), payload, private_key.sign(payload))


def _envelope(key_id: str, payload: bytes, signature: bytes) -> bytes:
    envelope = SignedEnvelope(
        key_id=key_id,
        payload=base64.b64encode(payload).decode(),
        signature=base64.b64encode(signature).decode(),
    )
    return canonical_json(envelope.model_dump())


_NOUNS = {RunDescriptor: "run descriptor", ControlMessage: "control message"}


def _open(
    data: bytes,
    trusted_keys: Mapping[str, Ed25519PublicKey],
    model: type[_Signed],
    rejected: type[SignedMessageRejectedError],
) -> _Signed:
    """The message of a signed envelope, once its key is trusted, its signature holds and
    its protocol is one this release reads; `rejected` (with its code) otherwise."""
    noun = _NOUNS[model]
    try:
        envelope = SignedEnvelope.model_validate_json(data)
        payload = base64.b64decode(envelope.payload, validate=True)
        signature = base64.b64decode(envelope.signature, validate=True)
    except (ValidationError, ValueError) as exc:
        raise rejected("malformed", f"not a signed {noun} envelope: {exc}") from exc
    key = trusted_keys.get(envelope.key_id)
    if key is None:
        raise rejected(
            "unknown_key",
            f"{noun} signed by key id {envelope.key_id!r}, which this agent does not trust; "
            "add the control plane's public key to the agent's trusted keys",
        )
    try:
        key.verify(signature, payload)
    except InvalidSignature as exc:
        raise rejected(
            "bad_signature",
            f"{noun}: the signature does not match the payload (key id {envelope.key_id})",
        ) from exc
    try:
        body = json.loads(payload)
        _check_protocol(body, noun, rejected)
        return model.model_validate(body)
    except (ValidationError, ValueError) as exc:
        raise rejected("malformed", f"signed {noun} is invalid: {exc}") from exc


def _check_protocol(body: Any, noun: str, rejected: type[SignedMessageRejectedError]) -> None:
    # Before the model: a newer protocol may have fields this release does not know.
    version = body.get("protocol", 1) if isinstance(body, dict) else 1
    # Only a whole number names a version (True and "2" do not).
    if type(version) is not int or version not in SUPPORTED_PROTOCOLS:
        known = " and ".join(str(v) for v in sorted(SUPPORTED_PROTOCOLS))
        raise rejected(
            "unsupported_protocol",
            f"the {noun} speaks protocol {version!r}; this agent speaks protocol {known}: "
            "upgrade the pool's agents before the control plane",
        )
