"""Artefacts in the JetStream object store of the stack's NATS.

Each artefact is an object of the bucket (`FF_ARTEFACTS` by default) named by its SHA-256
hex digest, in the layout every NATS client reads (`js.object_store(...).get(...)`, the
`nats object` tools): chunks on `$O.<bucket>.C.<nuid>`, then a description on
`$O.<bucket>.M.<name>` that names them. Two differences from nats-py's own `put` and
`get`, both so that a pool can use the bucket without the means to harm it
(`topology.pool_permissions`):

- writing never sends a roll-up header (the bucket refuses them: see
  `topology.artefact_stream_config`) and never purges; an object is written once, and a
  write cut short leaves chunks that no description names;
- reading takes the chunks one by one with `STREAM.MSG.GET` instead of through a
  consumer, since the right to create consumers would let a pool have messages
  delivered to subjects it may not publish to.
"""

import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import nats.errors
from nats.js.api import ObjectInfo, ObjectMetaOptions, RawStreamMsg
from nats.js.errors import (
    APIError,
    BadObjectMetaError,
    BucketNotFoundError,
    NotFoundError,
    ObjectNotFoundError,
)
from nats.js.object_store import ObjectStore

from data_plane.errors import (
    ArtefactCorruptError,
    ArtefactNotFoundError,
    ArtefactStoreFullError,
    ArtefactStoreUnavailableError,
    ArtefactTooLargeError,
    BusUnavailableError,
)
from data_plane.protocol.artefacts import (
    BYTES_MEDIA_TYPE,
    DEFAULT_MAX_ARTEFACT_BYTES,
    ArtefactRef,
    ArtefactStore,
)
from data_plane.protocol.bus import Bus
from data_plane.protocol.topology import (
    ARTEFACT_BUCKET,
    artefact_chunks_subject,
    artefact_meta_subject,
    artefact_stream,
)

CHUNK_BYTES = 128 * 1024
# Room for the headers and protocol line of a chunk message under the server's maximum.
_CHUNK_OVERHEAD = 1024
_DIGEST_PREFIX = "SHA-256="
# JetStream's error code for a publish to a stream at its maximum bytes.
_STREAM_FULL = 10077


class NatsArtefactStore(ArtefactStore):
    """Artefacts in an object store bucket, through a `Bus` (so across reconnections).

    Args:
        bus: The process's NATS connection; its credentials must allow the bucket
            (`pool_permissions` / `control_plane_permissions` with the same bucket).
        bucket: The bucket; the control plane creates it (`provision_pools`).
        max_bytes: The largest artefact stored or read.
    """

    def __init__(
        self,
        bus: Bus,
        bucket: str = ARTEFACT_BUCKET,
        max_bytes: int = DEFAULT_MAX_ARTEFACT_BYTES,
    ) -> None:
        super().__init__(max_bytes)
        self._bus = bus
        self.bucket = bucket
        self._stream = artefact_stream(bucket)
        self._opened: tuple[int, ObjectStore] | None = None

    async def put(self, data: bytes, media_type: str = BYTES_MEDIA_TYPE) -> ArtefactRef:
        """Store `data` unless an object with its digest is already whole in the bucket.

        Raises:
            ArtefactTooLargeError: over `max_bytes` (nothing is sent).
            ArtefactStoreFullError: the bucket is at its maximum bytes.
            ArtefactStoreUnavailableError: NATS or the bucket cannot be reached.
        """
        if len(data) > self.max_bytes:
            raise ArtefactTooLargeError("a value", len(data), self.max_bytes)
        ref = await asyncio.to_thread(ArtefactRef.of, data, media_type)
        with self._reaching(ref):
            bucket = await self._open()
            if not await self._holds(bucket, ref):
                await self._write(ref, data)
        return ref

    async def get(self, ref: ArtefactRef) -> bytes:
        """The bytes `ref` names.

        Raises:
            ArtefactTooLargeError: `ref` is over `max_bytes` (nothing is read).
            ArtefactNotFoundError: no object of that digest, or its chunks are gone.
            ArtefactCorruptError: what is stored does not match `ref`'s size or digest.
            ArtefactStoreUnavailableError: NATS or the bucket cannot be reached.
        """
        if ref.size > self.max_bytes:
            raise ArtefactTooLargeError(f"artefact {ref}", ref.size, self.max_bytes)
        with self._reaching(ref):
            info = await self._describe(await self._open(), ref)
            if info is None:
                raise ArtefactNotFoundError(str(ref), self.bucket)
            if not _describes(info, ref):
                raise self._corrupt(ref, f"its description says {info.size} bytes, {info.digest}")
            data = await self._read(ref, info)
        if await asyncio.to_thread(_sha256, data) != ref.sha256:
            raise self._corrupt(ref, "its bytes do not have its digest")
        return data

    async def _open(self) -> ObjectStore:
        generation = self._bus.generation
        if self._opened is None or self._opened[0] != generation:
            try:
                bucket = await self._bus.js.object_store(self.bucket)
            except BucketNotFoundError:
                raise ArtefactStoreUnavailableError(
                    f"the artefact bucket {self.bucket!r} does not exist: the control plane "
                    "creates it when it starts; check that it names the same bucket "
                    "(FLOWFORGE_CP_ARTEFACT_BUCKET)"
                ) from None
            self._opened = (generation, bucket)
        return self._opened[1]

    async def _describe(self, bucket: ObjectStore, ref: ArtefactRef) -> ObjectInfo | None:
        try:
            return await bucket.get_info(ref.sha256)
        except ObjectNotFoundError:
            return None
        except BadObjectMetaError:
            raise self._corrupt(ref, "its description is not readable") from None

    async def _holds(self, bucket: ObjectStore, ref: ArtefactRef) -> bool:
        """Whether `ref` is stored whole: described rightly, with all its chunks (they
        are older than their description, so they expire or are removed first)."""
        try:
            info = await self._describe(bucket, ref)
        except ArtefactCorruptError:
            return False
        if info is None or not _describes(info, ref):
            return False
        if not info.chunks:
            return info.size == 0
        subject = artefact_chunks_subject(self.bucket, str(info.nuid))
        stream = await self._bus.js.stream_info(self._stream, subjects_filter=subject)
        return bool((stream.state.subjects or {}).get(subject) == info.chunks)

    async def _write(self, ref: ArtefactRef, data: bytes) -> None:
        nuid = uuid.uuid4().hex
        subject = artefact_chunks_subject(self.bucket, nuid)
        size = min(CHUNK_BYTES, self._bus.max_payload - _CHUNK_OVERHEAD)
        chunks = 0
        for start in range(0, len(data), size):
            await self._bus.publish(subject, data[start : start + size])
            chunks += 1
        info = ObjectInfo(
            name=ref.sha256,
            bucket=self.bucket,
            nuid=nuid,
            size=len(data),
            chunks=chunks,
            digest=_DIGEST_PREFIX + base64.urlsafe_b64encode(bytes.fromhex(ref.sha256)).decode(),
            mtime=datetime.now(UTC).isoformat(),
            options=ObjectMetaOptions(max_chunk_size=size),
        )
        description = json.dumps(info.as_dict()).encode()
        await self._bus.publish(artefact_meta_subject(self.bucket, ref.sha256), description)

    async def _read(self, ref: ArtefactRef, info: ObjectInfo) -> bytes:
        parts: list[bytes] = []
        read, sequence = 0, 1
        while read < ref.size:
            message = await self._chunk(info, sequence)
            if message is None or message.seq is None:
                raise ArtefactNotFoundError(
                    str(ref), self.bucket, f"only {read} of its {ref.size} bytes are left"
                )
            part = message.data or b""
            read += len(part)
            if read > ref.size:
                raise self._corrupt(ref, f"its chunks hold more than {ref.size} bytes")
            parts.append(part)
            sequence = message.seq + 1
        return b"".join(parts)

    async def _chunk(self, info: ObjectInfo, sequence: int) -> RawStreamMsg | None:
        """The first chunk of the object at or after `sequence` in the stream."""
        subject = artefact_chunks_subject(self.bucket, str(info.nuid))
        try:
            return await self._bus.js.get_msg(
                self._stream, seq=sequence, subject=subject, next=True
            )
        except NotFoundError:
            return None

    def _corrupt(self, ref: ArtefactRef, reason: str) -> ArtefactCorruptError:
        subject = artefact_meta_subject(self.bucket, ref.sha256)
        fix = (
            f"remove its description (purge the subject {subject} of the stream "
            f"{self._stream}, with the control plane's credentials)"
        )
        return ArtefactCorruptError(str(ref), self.bucket, reason, fix)

    @contextlib.contextmanager
    def _reaching(self, ref: ArtefactRef) -> Iterator[None]:
        """Map what NATS raises onto the artefact errors."""
        try:
            yield
        except APIError as exc:
            if exc.err_code == _STREAM_FULL:
                raise ArtefactStoreFullError(str(ref), self.bucket) from exc
            raise ArtefactStoreUnavailableError(
                f"the bucket {self.bucket!r} refused artefact {ref}: {exc.description or exc}"
            ) from exc
        except (BusUnavailableError, nats.errors.Error, TimeoutError) as exc:
            raise ArtefactStoreUnavailableError(
                f"the bucket {self.bucket!r} cannot be reached for artefact {ref}: "
                f"{exc or type(exc).__name__}; retry later"
            ) from exc


def _describes(info: ObjectInfo, ref: ArtefactRef) -> bool:
    """Whether an object's description is that of `ref`: same size, same digest."""
    if info.deleted or info.size != ref.size or not info.digest:
        return False
    encoded = info.digest.removeprefix(_DIGEST_PREFIX).removeprefix(_DIGEST_PREFIX.lower())
    try:
        digest = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        return False
    return digest.hex() == ref.sha256


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
