"""Artefacts in a bucket of an S3-compatible service (AWS S3, MinIO, SeaweedFS, Ceph ...).

Each artefact is an object named `<prefix><SHA-256 hex digest>`, its media type stored as
its Content-Type, so any S3 client reads it (`aws s3 cp s3://<bucket>/<key> -`). The
bucket is the operator's: FlowForge never creates, lists or deletes anything in it. Its
credentials need to read and write objects under the prefix, and the right to list the
bucket, without which S3 answers 403 rather than 404 for an object not stored yet.
"""

import asyncio
import contextlib
import hashlib
from collections.abc import Iterator
from datetime import timedelta

import obstore
from obstore.exceptions import BaseError, PermissionDeniedError, UnauthenticatedError
from obstore.store import S3Store
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from data_plane.errors import (
    ArtefactCorruptError,
    ArtefactNotFoundError,
    ArtefactStoreUnavailableError,
    ArtefactTooLargeError,
)
from data_plane.protocol.artefacts import (
    BYTES_MEDIA_TYPE,
    DEFAULT_MAX_ARTEFACT_BYTES,
    ArtefactRef,
    ArtefactStore,
)

DEFAULT_S3_REGION = "us-east-1"
# S3's rules for bucket names (3-63 characters).
S3_BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
# Characters S3 documents as safe in keys; the prefix is used as written.
_PREFIX_PATTERN = r"^[A-Za-z0-9!_.*'()/-]*$"
# obstore's default (30 s for a whole request, body included) would fail a 64 MiB
# artefact on a link slower than ~2 MB/s.
_REQUEST_TIMEOUT = timedelta(minutes=5)


class ArtefactS3Settings(BaseModel):
    """Where an `s3` artefact store is (`FLOWFORGE_CP_ARTEFACT_S3__*`,
    `FLOWFORGE_DP_ARTEFACT_S3__*`): the same in the control plane and every pool."""

    model_config = ConfigDict(extra="forbid")

    endpoint: str | None = Field(
        None,
        pattern=r"^https?://[^/]+/?$",
        description="URL of the S3-compatible service, e.g. https://s3.eu-west-1.amazonaws.com "
        "or http://minio:9000; required when the artefact store is 's3'.",
    )
    bucket: str | None = Field(
        None,
        pattern=S3_BUCKET_PATTERN,
        description="The bucket of artefacts, which must exist (FlowForge never creates "
        "it); required when the artefact store is 's3'.",
    )
    region: str = Field(
        DEFAULT_S3_REGION, min_length=1, description="The bucket's region (signs requests)."
    )
    prefix: str = Field(
        "",
        max_length=512,
        pattern=_PREFIX_PATTERN,
        description="Put before every object's name, e.g. 'artefacts/' (a folder of a "
        "shared bucket); letters, digits, '/' and !_.*'()-.",
    )
    access_key_id: str | None = Field(
        None,
        description="Access key of this process; unset, the usual AWS sources are used "
        "(AWS_* environment, web identity, instance metadata).",
    )
    secret_access_key: SecretStr | None = Field(
        None, description="Secret of the access key; set exactly when the access key is."
    )

    @field_validator("prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        # The last segment runs on into the digest, so only the ones before a '/' count.
        if value.startswith("/") or any(s in ("", ".", "..") for s in value.split("/")[:-1]):
            raise ValueError(
                f"prefix {value!r}: no leading '/', and no empty, '.' or '..' folder name"
            )
        return value


class S3ArtefactStore(ArtefactStore):
    """Artefacts in a bucket of an S3-compatible service.

    Args:
        bucket: The bucket; it must exist.
        endpoint: The service's URL (`http://` is allowed: a service on a private network).
        region: The bucket's region.
        prefix: Put before every object's name.
        access_key_id: The access key, or None for the usual AWS sources of credentials.
        secret_access_key: Its secret.
        max_bytes: The largest artefact stored or read.
    """

    def __init__(
        self,
        bucket: str,
        endpoint: str,
        *,
        region: str = DEFAULT_S3_REGION,
        prefix: str = "",
        access_key_id: str | None = None,
        secret_access_key: SecretStr | None = None,
        max_bytes: int = DEFAULT_MAX_ARTEFACT_BYTES,
    ) -> None:
        super().__init__(max_bytes)
        self.bucket = bucket
        self.endpoint = endpoint.rstrip("/")
        self.prefix = prefix
        self._store = S3Store(
            bucket,
            endpoint=self.endpoint,
            region=region,
            # Path-style requests: what every S3-compatible service understands.
            virtual_hosted_style_request=False,
            client_options={
                "allow_http": self.endpoint.startswith("http://"),
                "timeout": _REQUEST_TIMEOUT,
            },
            # Temporal retries the node's activity: the client's own retries only ride out
            # a blip, so an unreachable service fails the attempt in seconds rather than
            # after obstore's default of 3 minutes.
            retry_config={"max_retries": 3, "retry_timeout": timedelta(seconds=30)},
            config=(
                {
                    "access_key_id": access_key_id,
                    "secret_access_key": secret_access_key.get_secret_value(),
                }
                if access_key_id is not None and secret_access_key is not None
                else None
            ),
        )

    @classmethod
    def from_settings(
        cls, settings: ArtefactS3Settings, max_bytes: int = DEFAULT_MAX_ARTEFACT_BYTES
    ) -> "S3ArtefactStore":
        """The store `settings` name (their endpoint and bucket must be set)."""
        if settings.endpoint is None or settings.bucket is None:
            raise ValueError("an S3 artefact store needs an endpoint and a bucket")
        return cls(
            settings.bucket,
            settings.endpoint,
            region=settings.region,
            prefix=settings.prefix,
            access_key_id=settings.access_key_id,
            secret_access_key=settings.secret_access_key,
            max_bytes=max_bytes,
        )

    def key(self, ref: ArtefactRef) -> str:
        """The name of `ref`'s object in the bucket."""
        return self.prefix + ref.sha256

    async def put(self, data: bytes, media_type: str = BYTES_MEDIA_TYPE) -> ArtefactRef:
        """Store `data` unless an object of its name and size is already in the bucket.

        Raises:
            ArtefactTooLargeError: over `max_bytes` (nothing is sent).
            ArtefactStoreUnavailableError: the service or the bucket cannot be reached, or
                refuses the credentials.
        """
        if len(data) > self.max_bytes:
            raise ArtefactTooLargeError("a value", len(data), self.max_bytes)
        ref = await asyncio.to_thread(ArtefactRef.of, data, media_type)
        with self._reaching(ref):
            if not await self._holds(ref):
                attributes = {"Content-Type": media_type}
                await obstore.put_async(self._store, self.key(ref), data, attributes=attributes)
        return ref

    async def get(self, ref: ArtefactRef) -> bytes:
        """The bytes `ref` names.

        Raises:
            ArtefactTooLargeError: `ref` is over `max_bytes` (nothing is read).
            ArtefactNotFoundError: no object of that name.
            ArtefactCorruptError: the object does not match `ref`'s size or digest.
            ArtefactStoreUnavailableError: the service or the bucket cannot be reached, or
                refuses the credentials.
        """
        if ref.size > self.max_bytes:
            raise ArtefactTooLargeError(f"artefact {ref}", ref.size, self.max_bytes)
        with self._reaching(ref):
            try:
                result = await obstore.get_async(self._store, self.key(ref))
            except FileNotFoundError:
                raise ArtefactNotFoundError(
                    str(ref),
                    self.bucket,
                    f"there is no object {self.key(ref)!r} at {self.endpoint}",
                    "FLOWFORGE_*_ARTEFACT_S3__BUCKET and __PREFIX",
                ) from None
            size = result.meta["size"]
            if size != ref.size:
                raise self._corrupt(ref, f"its object holds {size} bytes")
            data = bytes(await result.bytes_async())
        if len(data) != ref.size or await asyncio.to_thread(_sha256, data) != ref.sha256:
            raise self._corrupt(ref, "its bytes do not have its digest")
        return data

    async def _holds(self, ref: ArtefactRef) -> bool:
        try:
            meta = await obstore.head_async(self._store, self.key(ref))
        except FileNotFoundError:
            return False
        return meta["size"] == ref.size

    def _corrupt(self, ref: ArtefactRef, reason: str) -> ArtefactCorruptError:
        fix = (
            f"delete the object {self.key(ref)!r} (e.g. `aws s3 rm "
            f"s3://{self.bucket}/{self.key(ref)} --endpoint-url {self.endpoint}`)"
        )
        return ArtefactCorruptError(str(ref), self.bucket, reason, fix)

    @contextlib.contextmanager
    def _reaching(self, ref: ArtefactRef) -> Iterator[None]:
        """Map what obstore raises onto the artefact errors."""
        where = f"the bucket {self.bucket!r} at {self.endpoint}"
        try:
            yield
        except FileNotFoundError as exc:
            # A missing object is handled where it can be; here it is the bucket.
            raise ArtefactStoreUnavailableError(
                f"{where} does not exist (artefact {ref}): create it, or set "
                "FLOWFORGE_*_ARTEFACT_S3__BUCKET to the bucket of artefacts"
            ) from exc
        except (PermissionDeniedError, UnauthenticatedError) as exc:
            raise ArtefactStoreUnavailableError(
                f"{where} refused artefact {ref}: {_summary(exc)}; check the credentials "
                "(FLOWFORGE_*_ARTEFACT_S3__ACCESS_KEY_ID and __SECRET_ACCESS_KEY) and that "
                "they may read and write objects there"
            ) from exc
        except (BaseError, TimeoutError) as exc:
            raise ArtefactStoreUnavailableError(
                f"{where} cannot be reached for artefact {ref}: {_summary(exc)}; check "
                "FLOWFORGE_*_ARTEFACT_S3__ENDPOINT and that the service is up, or retry later"
            ) from exc


def _summary(exc: Exception) -> str:
    """The first line of an obstore error (the rest is a debug dump of its causes)."""
    return str(exc).split("\n", 1)[0] or type(exc).__name__


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
