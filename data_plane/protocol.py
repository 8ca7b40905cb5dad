"""The wire contract between the control plane and the data plane.

Everything here is light (pydantic, cryptography, stdlib) so the control plane can import it
without pulling in Temporal. The control plane signs `RunDescriptor`s; agents verify them
before anything runs. Events flow back on `ff.events.<pool>`.

Envelope on `ff.runs.<pool>` (canonical JSON)::

    {"key_id": "...", "payload": "<base64 canonical JSON of the descriptor>",
     "signature": "<base64>"}

Errors::

    DataPlaneError (data_plane.errors)
     └── DescriptorRejectedError   code: malformed | unknown_key | bad_signature |
                                         expired | hash_mismatch | wrong_pool (agent)
"""

import base64
import contextlib
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import BadRequestError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connectors_sdk import canonical_json, definition_sha256
from data_plane.errors import DescriptorRejectedError

RUNS_STREAM = "FF_RUNS"
EVENTS_STREAM = "FF_EVENTS"
DEAD_LETTER_STREAM = "FF_DEAD"
DEFAULT_POOL = "default"
# A pool names a NATS subject token and a task queue: no dots, spaces or wildcards.
POOL_PATTERN = r"^[A-Za-z0-9_-]+$"


WEEK = 7 * 24 * 3600.0

STREAMS = (
    # Duplicate window: a descriptor or event re-published within it (same Nats-Msg-Id) is
    # dropped by the server; beyond it, Temporal's workflow id and the event ids dedupe.
    StreamConfig(name=RUNS_STREAM, subjects=["ff.runs.>"], max_age=WEEK, duplicate_window=600.0),
    StreamConfig(
        name=EVENTS_STREAM, subjects=["ff.events.>"], max_age=WEEK, duplicate_window=600.0
    ),
    StreamConfig(name=DEAD_LETTER_STREAM, subjects=["ff.dead.>"], max_age=4 * WEEK),
)


async def ensure_streams(js: JetStreamContext) -> None:
    """Create the FlowForge streams; either plane may call it at start."""
    for config in STREAMS:
        # Exists with other settings (an operator may have tuned limits): keep theirs.
        with contextlib.suppress(BadRequestError):
            await js.add_stream(config)


def runs_subject(pool: str) -> str:
    return f"ff.runs.{pool}"


def events_subject(pool: str) -> str:
    return f"ff.events.{pool}"


def dead_runs_subject(pool: str) -> str:
    """Where refused descriptors of a pool are kept, with the reason in headers."""
    return f"ff.dead.runs.{pool}"


def dead_events_subject(pool: str) -> str:
    """Where event messages that could not be read are kept."""
    return f"ff.dead.events.{pool}"


def task_queue(pool: str) -> str:
    """The Temporal task queue that the workers of a pool poll."""
    return f"flowforge-{pool}"


RunStatus = Literal["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]
NodeStatus = Literal["RUNNING", "RETRYING", "SUCCEEDED", "FAILED", "SKIPPED"]
EventKind = Literal[
    "run.started",
    "run.succeeded",
    "run.failed",
    "node.started",
    "node.retrying",
    "node.succeeded",
    "node.failed",
    "node.skipped",
]


class RunDescriptor(BaseModel):
    """Everything a data plane needs to execute one run, signed by the control plane."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str
    workspace_id: str
    project_id: str
    workflow_id: str
    workflow_name: str
    version: int
    sha256: str
    definition: dict[str, Any]
    input: dict[str, Any] = Field(default_factory=dict)
    secret_grants: list[str] = Field(default_factory=list)
    pool: str = DEFAULT_POOL
    issued_at: datetime
    expires_at: datetime
    nonce: str
    trace: dict[str, str] = Field(default_factory=dict)


class SignedEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key_id: str
    payload: str
    signature: str


class RunEvent(BaseModel):
    """A run or node transition reported by the data plane.

    `event_id` is deterministic (run, node, kind, attempt), so a redelivered or re-emitted
    event is recognised and applied once.
    """

    model_config = ConfigDict(extra="forbid")

    event_id: str
    run_id: str
    kind: EventKind
    at: datetime
    node_id: str | None = None
    attempt: int = 1
    input: Any = None
    output: Any = None
    error: str | None = None

    @classmethod
    def create(
        cls, run_id: str, kind: EventKind, at: datetime, node_id: str | None = None, **fields: Any
    ) -> "RunEvent":
        attempt = fields.get("attempt", 1)
        event_id = f"{run_id}:{node_id or '-'}:{kind}:{attempt}"
        return cls(event_id=event_id, run_id=run_id, kind=kind, at=at, node_id=node_id, **fields)


class EventBatch(BaseModel):
    """One message on `ff.events.<pool>`: events in the order they happened."""

    model_config = ConfigDict(extra="forbid")

    events: list[RunEvent]

    @property
    def message_id(self) -> str:
        """Derived from the event ids: a re-published batch is dropped by JetStream's
        dedupe, while any batch with other events gets through."""
        ids = "\n".join(event.event_id for event in self.events)
        return hashlib.sha256(ids.encode()).hexdigest()

    def to_bytes(self) -> bytes:
        return canonical_json(self.model_dump(mode="json"))


async def publish_events(js: JetStreamContext, pool: str, events: Sequence[RunEvent]) -> None:
    """Publish events as one batch on `ff.events.<pool>` (nothing when there are none)."""
    if events:
        batch = EventBatch(events=list(events))
        await js.publish(
            events_subject(pool), batch.to_bytes(), headers={"Nats-Msg-Id": batch.message_id}
        )


async def dead_letter(
    js: JetStreamContext, subject: str, message: Msg, reason: str, error: str
) -> None:
    """Keep a refused message on a `ff.dead.` subject with why it was refused.

    It is named by its place in its stream, so a redelivered refusal is kept once while
    identical payloads from different messages are all kept.
    """
    await js.publish(
        subject,
        message.data,
        headers={
            "Flowforge-Reason": reason,
            "Flowforge-Error": error[:1000],
            "Nats-Msg-Id": f"{message.metadata.stream}:{message.metadata.sequence.stream}",
        },
    )


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
        descriptor = RunDescriptor.model_validate(json.loads(payload))
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
