"""Values too large to travel inline, and the references that travel instead.

A node input or output over the inline limit never goes into Temporal history or an
event: it is stored once in an artefact store, named by the SHA-256 of its bytes, and a
reference takes its place::

    {"$artefact": "sha256:<64 hex digits>", "size": <bytes>, "media_type": "application/json"}

Equal values give equal references (JSON values are stored as canonical JSON), so storing
a value again costs nothing, and a reader checks every byte against the digest: whoever
wrote the store, a reference can only ever read back the value it was made from.

`ArtefactStore` is the interface both planes use, with two implementations of the same
guarantees and errors: `NatsArtefactStore` (in `object_store`) keeps artefacts in the NATS
the stack already runs, `S3ArtefactStore` (in `s3_store`) in a bucket of an S3-compatible
service. `stores.open_artefact_store` builds the one a process's settings choose.
"""

import asyncio
import hashlib
import json
from abc import ABC, abstractmethod
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connectors_sdk import canonical_json

ARTEFACT_KEY = "$artefact"
JSON_MEDIA_TYPE = "application/json"
BYTES_MEDIA_TYPE = "application/octet-stream"
DEFAULT_MAX_ARTEFACT_BYTES = 64 * 1024 * 1024
# The kinds of store a process can be configured with (`artefact_store` settings).
ArtefactStoreKind = Literal["nats", "s3"]


class ArtefactRef(BaseModel):
    """A reference to a stored value: what it is (digest), how large, and of what type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    digest: str = Field(alias=ARTEFACT_KEY, pattern=r"^sha256:[0-9a-f]{64}$")
    size: int = Field(ge=0)
    media_type: str = Field(JSON_MEDIA_TYPE, min_length=1, max_length=255)

    @classmethod
    def of(cls, data: bytes, media_type: str = BYTES_MEDIA_TYPE) -> "ArtefactRef":
        """The reference of `data` (hashes it: call it off the event loop for large data)."""
        digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
        fields = {ARTEFACT_KEY: digest, "size": len(data), "media_type": media_type}
        return cls.model_validate(fields)

    @property
    def sha256(self) -> str:
        """The digest's hex digits: the name the value is stored under."""
        return self.digest.removeprefix("sha256:")

    def to_json(self) -> dict[str, Any]:
        """The reference as the JSON value that stands in for the stored one."""
        return self.model_dump(mode="json", by_alias=True)

    def __str__(self) -> str:
        return f"{self.digest} ({self.size} bytes)"


def as_artefact_ref(value: Any) -> ArtefactRef | None:
    """The reference `value` is, or None if it is an ordinary JSON value.

    Only an object with `$artefact` and nothing but the reference's fields, all valid, is a
    reference; anything else, even with a `$artefact` key, is data.
    """
    if not isinstance(value, dict) or ARTEFACT_KEY not in value:
        return None
    try:
        return ArtefactRef.model_validate(value)
    except ValidationError:
        return None


class ArtefactStore(ABC):
    """Where artefacts are kept, by content.

    Implementations guarantee: `put` of equal bytes gives equal references and stores them
    once; `get` returns exactly the bytes the reference names or raises; nothing over
    `max_bytes` is stored or read. Errors (`data_plane.errors`): `ArtefactTooLargeError`,
    `ArtefactNotFoundError`, `ArtefactCorruptError`, `ArtefactStoreFullError`, and
    `ArtefactStoreUnavailableError` when the store cannot be reached (retry later).
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_ARTEFACT_BYTES) -> None:
        self.max_bytes = max_bytes

    @abstractmethod
    async def put(self, data: bytes, media_type: str = BYTES_MEDIA_TYPE) -> ArtefactRef:
        """Store `data` (if it is not stored yet) and return its reference."""

    @abstractmethod
    async def get(self, ref: ArtefactRef) -> bytes:
        """The bytes `ref` names, checked against its digest."""

    async def put_json(self, value: Any) -> ArtefactRef:
        """Store a JSON value as canonical JSON: equal values, equal references.

        Raises:
            TypeError, ValueError: `value` is not JSON (see `canonical_json`).
        """
        data = await asyncio.to_thread(canonical_json, value)
        return await self.put(data, JSON_MEDIA_TYPE)

    async def get_json(self, ref: ArtefactRef) -> Any:
        """The JSON value `ref` names.

        Raises:
            ValueError: the artefact is not JSON (a reference made by `put`, not `put_json`).
        """
        data = await self.get(ref)
        return await asyncio.to_thread(json.loads, data)
