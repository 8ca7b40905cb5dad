"""Settings of a control-plane process, read from `FLOWFORGE_CP_*`."""

import re
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from control_plane.errors import InvalidInputError
from control_plane.identity.oidc import OidcSettings
from control_plane.limits import LimitSettings
from control_plane.members.service import check_member
from data_plane.protocol import (
    ARTEFACT_BUCKET,
    BUCKET_PATTERN,
    CONTROL_RETENTION_SECONDS,
    DEFAULT_MAX_ARTEFACT_BYTES,
    DEFAULT_POOL,
    POOL_PATTERN,
    ArtefactS3Settings,
    ArtefactStoreKind,
    VaultSettings,
    check_artefact_settings,
)


class ControlPlaneSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FLOWFORGE_CP_", env_nested_delimiter="__", extra="forbid"
    )

    host: str = Field("127.0.0.1", description="Address the HTTP server binds to.")
    port: int = Field(8080, description="Port the HTTP server listens on.")
    database_url: str = Field(
        "sqlite+aiosqlite:///.flowforge/registry.db",
        description="SQLAlchemy async URL (sqlite+aiosqlite:// or postgresql+asyncpg://).",
    )
    nats_url: str = Field("nats://127.0.0.1:4222", description="NATS server URL.")
    nats_credentials: Path | None = Field(
        None,
        description="NATS credentials file of the control plane (user JWT and seed); "
        "None for a server without authentication.",
    )
    signing_key_path: Path = Field(
        Path(".flowforge/signing-key.pem"),
        description="Ed25519 private key (PEM) that signs run descriptors; created if missing.",
    )
    admin_token: SecretStr | None = Field(
        None, description="API token registered as 'admin' at start (kept only as a hash)."
    )
    oidc: OidcSettings | None = Field(
        None,
        description="The OIDC issuer whose bearer JWTs sign users in (FLOWFORGE_CP_OIDC__ISSUER, "
        "__AUDIENCE, __JWKS_URL ...); None: API tokens only.",
    )
    instance_admins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Users (user:<email>) and OIDC groups (group:<name>) that are instance "
        "admins (comma-separated in the environment).",
    )
    policy_paths: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Rego policy files, or directories of them, loaded at start "
        "(comma-separated in the environment); see docs/policies.md.",
    )
    expose_schema: bool = Field(
        False,
        description="Whether the GraphiQL page is served and introspection answered (to "
        "authenticated requests only); on in `flowforge dev`.",
    )
    default_pool: str = Field(
        DEFAULT_POOL, pattern=POOL_PATTERN, description="Pool that runs go to by default."
    )
    descriptor_ttl_seconds: float = Field(
        24 * 3600.0,
        gt=0,
        description="How long a dispatched run may wait for an agent before it expires.",
    )
    control_ttl_seconds: float = Field(
        24 * 3600.0,
        gt=0,
        le=CONTROL_RETENTION_SECONDS,
        description="How long a cancel, pause or resume may wait for the run's data plane "
        "(for example while it is down) before it expires; the API then shows it "
        f"UNDELIVERED. At most {CONTROL_RETENTION_SECONDS:.0f} s (7 days), as long as the "
        "control stream keeps a message.",
    )
    pools: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Worker pools besides the default one (comma-separated in the "
        "environment): the control plane provisions their streams and consumers and "
        "ingests their events.",
    )
    redispatch_interval: float = Field(
        5.0,
        description="Seconds between sweeps that re-publish runs and control requests never "
        "acknowledged by NATS, and mark control requests past their expiry UNDELIVERED.",
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
        description="The object store bucket of artefacts (store 'nats'), created at start "
        "if missing; the same in every pool, and the one the NATS credentials were issued "
        "for.",
    )
    artefact_max_bytes: int = Field(
        DEFAULT_MAX_ARTEFACT_BYTES,
        gt=0,
        description="Largest artefact the control plane stores or reads, in bytes.",
    )
    artefact_s3: ArtefactS3Settings = Field(
        default_factory=ArtefactS3Settings,
        description="Where the bucket of artefacts is (store 's3'); the same in every pool.",
    )
    artefact_max_age_days: float = Field(
        0.0,
        ge=0,
        description="How long the bucket keeps an artefact, in days (0: until removed). "
        "Applied when the bucket is created. A value stored again is not rewritten, so "
        "its age counts from its first store: keep this well above the longest run.",
    )
    artefact_bucket_max_bytes: int = Field(
        -1,
        ge=-1,
        description="Most bytes the bucket may hold (-1: as much as JetStream allows); a "
        "full bucket refuses new artefacts (ArtefactStoreFull). Applied when the bucket "
        "is created.",
    )
    vault: VaultSettings | None = Field(
        None,
        description="How the control plane reaches Vault (or OpenBao) to write and delete "
        "project secrets, with an AppRole that may read none (FLOWFORGE_CP_VAULT__ADDRESS, "
        "__ROLE_ID, __SECRET_ID_PATH, __MOUNT, __PREFIX); None: secrets cannot be set.",
    )
    signing_transit_key: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Name of an Ed25519 key of Vault's transit engine (mounted at transit/) "
        "that signs descriptors and control messages, its newest version when the control "
        "plane starts; the key never leaves Vault (needs `vault`, whose AppRole may sign "
        "with it). None: the PEM file at signing_key_path.",
    )
    limits: LimitSettings = Field(
        default_factory=LimitSettings,
        description="What one request may ask of the control plane (see docs/security.md).",
    )

    @model_validator(mode="after")
    def _check_artefact_store(self) -> Self:
        check_artefact_settings(self, self.model_config["env_prefix"])
        return self

    @model_validator(mode="after")
    def _transit_needs_vault(self) -> Self:
        if self.signing_transit_key is not None and self.vault is None:
            raise ValueError(
                "signing_transit_key signs through Vault: set FLOWFORGE_CP_VAULT__ADDRESS, "
                "__ROLE_ID and __SECRET_ID_PATH too, or leave it unset to sign with the PEM "
                "file at FLOWFORGE_CP_SIGNING_KEY_PATH"
            )
        return self

    @field_validator("pools", "instance_admins", "policy_paths", mode="before")
    @classmethod
    def _split_pools(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("pools")
    @classmethod
    def _check_pools(cls, value: list[str]) -> list[str]:
        for pool in value:
            if not re.fullmatch(POOL_PATTERN, pool):
                raise ValueError(f"pool {pool!r}: letters, digits, '_' and '-' only")
        return value

    @field_validator("instance_admins")
    @classmethod
    def _check_instance_admins(cls, value: list[str]) -> list[str]:
        try:
            return [check_member(member) for member in value]
        except InvalidInputError as exc:
            raise ValueError(str(exc).removeprefix("member: ")) from exc

    @property
    def all_pools(self) -> list[str]:
        """The default pool first, then the others, each once."""
        return list(dict.fromkeys([self.default_pool, *self.pools]))
