"""Which artefact store a process uses: the one place its settings become a store.

Both planes' settings roots (`FLOWFORGE_CP_*`, `FLOWFORGE_DP_*`) hold the same artefact
fields; each checks them with `check_artefact_settings` and builds its store with
`open_artefact_store`.
"""

from typing import Protocol

from data_plane.protocol.artefacts import ArtefactStore, ArtefactStoreKind
from data_plane.protocol.bus import Bus
from data_plane.protocol.object_store import NatsArtefactStore
from data_plane.protocol.s3_store import ArtefactS3Settings, S3ArtefactStore


class ArtefactSettings(Protocol):
    """The artefact fields of a settings root."""

    @property
    def artefact_store(self) -> ArtefactStoreKind: ...
    @property
    def artefact_bucket(self) -> str: ...
    @property
    def artefact_max_bytes(self) -> int: ...
    @property
    def artefact_s3(self) -> ArtefactS3Settings: ...


def check_artefact_settings(settings: ArtefactSettings, env_prefix: str) -> None:
    """Refuse settings that name a store without saying where it is.

    Raises:
        ValueError: naming the variables (`<env_prefix>ARTEFACT_...`) to set.
    """
    if settings.artefact_store != "s3":
        return
    s3 = settings.artefact_s3
    group = f"{env_prefix}ARTEFACT_S3__"
    needed = {
        "ENDPOINT": (s3.endpoint, "the URL of the S3-compatible service"),
        "BUCKET": (s3.bucket, "the bucket of artefacts"),
    }
    missing = [f"{group}{name} ({what})" for name, (value, what) in needed.items() if not value]
    if missing:
        raise ValueError(f"{env_prefix}ARTEFACT_STORE is 's3': set {' and '.join(missing)}")
    if (s3.access_key_id is None) != (s3.secret_access_key is None):
        raise ValueError(
            f"{group}ACCESS_KEY_ID and {group}SECRET_ACCESS_KEY go together: set both, or "
            "neither for the usual AWS sources of credentials"
        )


def open_artefact_store(settings: ArtefactSettings, bus: Bus) -> ArtefactStore:
    """The store `settings` choose; `bus` is the process's NATS link (for `nats`)."""
    if settings.artefact_store == "s3":
        return S3ArtefactStore.from_settings(settings.artefact_s3, settings.artefact_max_bytes)
    return NatsArtefactStore(
        bus, bucket=settings.artefact_bucket, max_bytes=settings.artefact_max_bytes
    )
