"""Settings of a data-plane process (agent + worker), read from `FLOWFORGE_DP_*`."""

from pathlib import Path
from typing import Annotated, Self

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from connectors_sdk import BreakerPolicy
from data_plane.errors import SettingsError
from data_plane.protocol import (
    ARTEFACT_BUCKET,
    BUCKET_PATTERN,
    DEFAULT_MAX_ARTEFACT_BYTES,
    DEFAULT_POOL,
    POOL_PATTERN,
    ArtefactS3Settings,
    ArtefactStoreKind,
    VaultSettings,
    check_artefact_settings,
    key_id_of,
)


class DataPlaneSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FLOWFORGE_DP_", env_nested_delimiter="__", extra="forbid"
    )

    pool: str = Field(
        DEFAULT_POOL, pattern=POOL_PATTERN, description="Worker pool this process serves."
    )
    temporal_address: str = Field("127.0.0.1:7233", description="Temporal frontend host:port.")
    temporal_namespace: str = Field("default", description="Temporal namespace.")
    nats_url: str = Field("nats://127.0.0.1:4222", description="NATS server URL.")
    nats_credentials: Path | None = Field(
        None,
        description="NATS credentials file of this pool (user JWT and seed); "
        "None for a server without authentication.",
    )
    outbox_path: Path = Field(
        Path(".flowforge/event-outbox.db"),
        description="SQLite file where this process keeps run events until the bus has "
        "taken them; on a disk that outlives the process (a persistent volume).",
    )
    max_output_bytes: int = Field(
        256 * 1024,
        gt=0,
        description="Largest node output carried inline (canonical JSON bytes); a node "
        "whose output is larger fails without retrying.",
    )
    artefact_store: ArtefactStoreKind = Field(
        "nats",
        description="Where values too large to travel inline are kept: 'nats', the "
        "JetStream object store of the NATS server above, or 's3', a bucket of an "
        "S3-compatible service (artefact_s3).",
    )
    artefact_bucket: str = Field(
        ARTEFACT_BUCKET,
        pattern=BUCKET_PATTERN,
        description="The object store bucket of artefacts (store 'nats'); the same in the "
        "control plane and every pool, and the one this pool's NATS credentials were issued "
        "for.",
    )
    artefact_max_bytes: int = Field(
        DEFAULT_MAX_ARTEFACT_BYTES,
        gt=0,
        description="Largest artefact this process stores or reads, in bytes; a larger "
        "value is refused (ArtefactTooLarge) and never retried.",
    )
    artefact_s3: ArtefactS3Settings = Field(
        default_factory=ArtefactS3Settings,
        description="Where the bucket of artefacts is (store 's3'); the same as the control "
        "plane's.",
    )
    heartbeat_path: Path | None = Field(
        None,
        description="File the event loop rewrites every second (liveness: a stale file means "
        "a hung process, see docs/operations.md); None writes none.",
    )
    expression_timeout_seconds: float = Field(
        2.0,
        gt=0,
        description="Wall-clock limit of one expression evaluated outside the workflow; "
        "past it the evaluator process is killed and the node fails.",
    )
    expression_memory_mb: int = Field(
        512,
        ge=64,
        description="Address-space limit (RLIMIT_AS) of each evaluator process, in MiB.",
    )
    expression_max_output_bytes: int = Field(
        1024 * 1024,
        gt=0,
        description="Largest value an expression evaluated outside the workflow may "
        "produce (JSON bytes).",
    )
    expression_processes: int = Field(
        2, ge=1, description="Evaluator processes of the worker (expressions run in parallel)."
    )
    breaker_enabled: bool = Field(
        True,
        description="Circuit breakers on node calls (docs/concepts.md, Circuit breakers); "
        "false turns every breaker of this process off, whatever definitions say.",
    )
    breaker_failures: int = Field(
        5,
        ge=1,
        description="Consecutive failures of one node type and target (retryable connector "
        "errors: connection errors, timeouts, 5xx) that open its breaker, unless the node "
        "type or the definition's node sets its own.",
    )
    breaker_cool_down_seconds: float = Field(
        30.0,
        gt=0,
        description="How long an open breaker fails calls at once before it lets one probe "
        "through, unless the node type or the definition's node sets its own.",
    )
    breaker_node_types: dict[str, BreakerPolicy] = Field(
        default_factory=dict,
        description="Breaker policies by node type, as JSON: "
        '{"core.http": {"failures": 3, "cool_down": "1m"}, "acme.flaky": false}; they '
        "override the node type's own, and a definition's node overrides them.",
    )
    vault: VaultSettings | None = Field(
        None,
        description="The Vault (or OpenBao) this pool reads the secrets of its runs from, "
        "with the pool's AppRole (FLOWFORGE_DP_VAULT__ADDRESS, __ROLE_ID, __SECRET_ID_PATH, "
        "__MOUNT, __PREFIX); None: nodes that map secrets fail.",
    )
    payload_keys_path: Path | None = Field(
        None,
        description="JSON file of the AES-256 keys that encrypt Temporal payloads "
        '({"current": id, "keys": {id: base64}}, mode 0600; see docs/security.md); None: '
        "payloads are stored in clear. The same file in every pool and client of one "
        "Temporal namespace.",
    )
    trusted_keys: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="PEM files of control-plane public keys whose descriptors may run "
        "(comma-separated in the environment).",
    )

    @model_validator(mode="after")
    def _check_artefact_store(self) -> Self:
        check_artefact_settings(self, self.model_config["env_prefix"])
        return self

    @field_validator("trusted_keys", mode="before")
    @classmethod
    def _split_paths(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


def load_trusted_keys(paths: list[Path]) -> dict[str, Ed25519PublicKey]:
    """Read public keys and index them by key id.

    Raises:
        SettingsError: a file is missing or holds no Ed25519 public key.
    """
    keys: dict[str, Ed25519PublicKey] = {}
    for path in paths:
        try:
            key = load_pem_public_key(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise SettingsError(f"trusted key {path}: {exc}") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise SettingsError(f"trusted key {path}: not an Ed25519 public key")
        keys[key_id_of(key)] = key
    if not keys:
        raise SettingsError(
            "no trusted keys: set FLOWFORGE_DP_TRUSTED_KEYS to the control plane's public key file"
        )
    return keys
