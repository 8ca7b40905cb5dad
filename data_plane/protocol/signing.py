"""Signing run descriptors (control plane) and verifying them (agents).

Envelope on `ff.runs.<pool>` (canonical JSON)::

    {"key_id": "...", "payload": "<base64 canonical JSON of the descriptor>",
     "signature": "<base64>"}

Errors::

    DataPlaneError (data_plane.errors)
     └── DescriptorRejectedError   code: malformed | unknown_key | bad_signature |
                                         expired | hash_mismatch | unsupported_protocol |
                                         wrong_pool (agent)
"""

import base64
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import ValidationError

from connectors_sdk import canonical_json, definition_sha256
from data_plane.errors import DescriptorRejectedError
from data_plane.protocol.models import SUPPORTED_PROTOCOLS, RunDescriptor, SignedEnvelope


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """A short, stable id for a public key: the first 16 hex digits of its SHA-256."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign_descriptor(descriptor: RunDescriptor, private_key: Ed25519PrivateKey) -> bytes:
    """Serialise and sign a descriptor; returns the envelope bytes to publish."""
    payload = canonical_json(descriptor.model_dump(mode="json"))
    envelope = SignedEnvelope(
        key_id=key_id_of(private_key.public_key()),
        payload=base64.b64encode(payload).decode(),
        signature=base64.b64encode(private_key.sign(payload)).decode(),
    )
    return canonical_json(envelope.model_dump())


def verify_descriptor(
    data: bytes,
    trusted_keys: Mapping[str, Ed25519PublicKey],
    now: datetime | None = None,
) -> RunDescriptor:
    """Check an envelope and return its descriptor.

    Raises:
        DescriptorRejectedError: the envelope is malformed, signed by a key that is not
            trusted, its signature or definition hash does not match, or it has expired.
    """
    try:
        envelope = SignedEnvelope.model_validate_json(data)
        payload = base64.b64decode(envelope.payload, validate=True)
        signature = base64.b64decode(envelope.signature, validate=True)
    except (ValidationError, ValueError) as exc:
        raise DescriptorRejectedError("malformed", f"not a signed run envelope: {exc}") from exc
    key = trusted_keys.get(envelope.key_id)
    if key is None:
        raise DescriptorRejectedError(
            "unknown_key",
            f"signed by key id {envelope.key_id!r}, which this agent does not trust; "
            "add the control plane's public key to the agent's trusted keys",
        )
    try:
        key.verify(signature, payload)
    except InvalidSignature as exc:
        raise DescriptorRejectedError(
            "bad_signature", f"signature does not match the payload (key id {envelope.key_id})"
        ) from exc
    try:
        data = json.loads(payload)
        _check_protocol(data)
        descriptor = RunDescriptor.model_validate(data)
    except (ValidationError, ValueError) as exc:
        raise DescriptorRejectedError("malformed", f"signed payload is invalid: {exc}") from exc
    now = now or datetime.now(UTC)
    if descriptor.expires_at <= now:
        raise DescriptorRejectedError(
            "expired",
            f"run {descriptor.run_id} expired at {descriptor.expires_at.isoformat()} "
            "before an agent of its pool took it",
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


def _check_protocol(data: object) -> None:
    # Before the model: a newer protocol may have fields this release does not know.
    version = data.get("protocol", 1) if isinstance(data, dict) else 1
    # Only a whole number names a version (True and "2" do not).
    if type(version) is not int or version not in SUPPORTED_PROTOCOLS:
        known = " and ".join(str(v) for v in sorted(SUPPORTED_PROTOCOLS))
        raise DescriptorRejectedError(
            "unsupported_protocol",
            f"the descriptor speaks protocol {version!r}; this agent speaks protocol {known}: "
            "upgrade the pool's agents before the control plane",
        )
