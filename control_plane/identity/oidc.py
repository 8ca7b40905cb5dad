"""Bearer tokens from an OIDC issuer, verified against the issuer's published keys (JWKS).

Only asymmetric algorithms are accepted, so the keys this module holds can check tokens but
never make them. Keys are fetched once and cached; a token naming a key id we do not hold
(the issuer rotated) makes us fetch again, at most once per `jwks_refresh_min_seconds`.
"""

import asyncio
import base64
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

import httpx
import jwt
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from control_plane.errors import UnauthenticatedError

_ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


class InvalidBearerTokenError(UnauthenticatedError):
    """A bearer token that proves nothing; the message says why, never what the token was."""


class OidcSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    issuer: str = Field(description="The issuer's identifier; a token's `iss` must equal it.")
    audience: str = Field(description="Our client id at the issuer; `aud` must contain it.")
    jwks_url: str | None = Field(
        default=None, description="The issuer's JWKS endpoint, fetched and cached."
    )
    jwks: dict[str, Any] | None = Field(
        default=None, description="Static keys, a JWKS document given inline instead."
    )
    algorithms: list[str] = Field(
        default_factory=lambda: ["RS256", "ES256"],
        min_length=1,
        description="The signing algorithms accepted; asymmetric ones only.",
    )
    leeway_seconds: float = Field(
        default=30, ge=0, description="Clock skew allowed when checking exp, nbf and iat."
    )
    jwks_cache_seconds: float = Field(
        default=300, gt=0, description="How long fetched keys are trusted before a refetch."
    )
    jwks_refresh_min_seconds: float = Field(
        default=10,
        ge=0,
        description="The JWKS is fetched at most once per this interval, however many "
        "tokens name unknown key ids, so made-up kids cannot make us fetch per request.",
    )
    jwks_timeout_seconds: float = Field(default=5, gt=0, description="Timeout of a JWKS fetch.")
    email_claim: str = Field(default="email", description="The claim holding the email.")
    name_claim: str = Field(default="name", description="The claim holding the display name.")
    groups_claim: str = Field(
        default="groups",
        description="The claim holding the groups: a list of strings or a space-separated "
        "string; any other value means no groups.",
    )

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, algorithms: list[str]) -> list[str]:
        for algorithm in algorithms:
            if algorithm.lower() == "none":
                raise ValueError("'none' is not allowed: an unsigned token proves nothing")
            if algorithm.upper().startswith("HS"):
                raise ValueError(
                    f"{algorithm!r} is not allowed: HMAC verifies with a shared secret, and "
                    "with the issuer's public key taken as that secret anyone holding the "
                    "public key could sign tokens; use RS256 or ES256"
                )
            if algorithm not in _ASYMMETRIC:
                raise ValueError(
                    f"unknown algorithm {algorithm!r}; use one of {sorted(_ASYMMETRIC)}"
                )
        return algorithms

    @model_validator(mode="after")
    def _one_key_source(self) -> Self:
        if (self.jwks_url is None) == (self.jwks is None):
            raise ValueError(
                "set exactly one of jwks_url and jwks: jwks_url for an issuer whose keys are "
                "fetched from its JWKS endpoint, jwks for static keys given inline"
            )
        if self.jwks is not None:
            try:
                _signing_keys(self.jwks)
            except ValueError as error:
                raise ValueError(f"jwks: {error}") from None
        if self.jwks_refresh_min_seconds > self.jwks_cache_seconds:
            raise ValueError("jwks_refresh_min_seconds must not exceed jwks_cache_seconds")
        return self


@dataclass(frozen=True)
class OidcIdentity:
    issuer: str
    subject: str
    email: str | None
    name: str | None
    groups: frozenset[str]
    expires_at: datetime


def looks_like_jwt(token: str) -> bool:
    """Whether `token` has a JWT's shape, to tell it from an opaque API token (`ff_...`)."""
    if not _JWT_SHAPE.fullmatch(token):
        return False
    encoded = token.partition(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (ValueError, RecursionError):
        return False
    return isinstance(header, dict) and "alg" in header


class OidcVerifier:
    def __init__(self, settings: OidcSettings) -> None:
        self._settings = settings
        self._keys: tuple[jwt.PyJWK, ...] = ()
        self._keys_expire_at = -float("inf")
        self._fetched_at = -float("inf")
        self._fetch_error: InvalidBearerTokenError | None = None
        self._fetch_lock = asyncio.Lock()
        # Loading the CA bundle takes ~60 ms; done here, it never stalls the event loop.
        self._tls = httpx.create_ssl_context() if settings.jwks_url is not None else None
        if settings.jwks is not None:
            self._keys, self._keys_expire_at = _signing_keys(settings.jwks), float("inf")

    async def verify(self, token: str) -> OidcIdentity:
        if not looks_like_jwt(token):
            raise InvalidBearerTokenError("the token is not a JWT")
        settings = self._settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise InvalidBearerTokenError(f"the token's header is invalid: {error}") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        # Checked before any key is looked up, so a forged header never causes a fetch.
        if algorithm not in settings.algorithms:
            raise InvalidBearerTokenError(
                f"the token's algorithm {algorithm!r} is not allowed; "
                f"allowed: {', '.join(settings.algorithms)}"
            )
        key = await self._signing_key(kid)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=settings.algorithms,
                audience=settings.audience,
                issuer=settings.issuer,
                leeway=settings.leeway_seconds,
                options={
                    "require": ["exp", "iss", "aud", "sub"],
                    "enforce_minimum_key_length": True,
                },
            )
        except jwt.PyJWTError as error:
            raise InvalidBearerTokenError(self._refusal(error, key)) from None
        return _identity(claims, settings)

    def _refusal(self, error: jwt.PyJWTError, key: jwt.PyJWK) -> str:
        settings = self._settings
        match error:
            case jwt.ExpiredSignatureError():
                return "the token has expired"
            case jwt.ImmatureSignatureError():
                # PyJWT raises one class for a future nbf and a future iat; its text says which.
                claim = "iat" if "(iat)" in str(error) else "nbf"
                return f"the token is not yet valid ({claim})"
            case jwt.InvalidAudienceError():
                return f"the token's audience is not {settings.audience}"
            case jwt.InvalidIssuerError():
                return f"the token's issuer is not {settings.issuer}"
            case jwt.MissingRequiredClaimError():
                return f"the token has no {error.claim!r} claim"
            case jwt.InvalidAlgorithmError():
                return f"the token's algorithm is not that of key {key.key_id!r}"
            case jwt.InvalidSignatureError():
                return "the token's signature does not verify"
            case _:
                return f"the token is invalid: {error}"

    async def _signing_key(self, kid: str | None) -> jwt.PyJWK:
        key = _select(self._cached_keys(), kid)
        if key is None and self._settings.jwks_url is not None:
            await self._fetch_unless_recent()
            key = _select(self._cached_keys(), kid)
        if key is not None:
            return key
        if self._fetch_error is not None:
            raise self._fetch_error
        if kid is None:
            raise InvalidBearerTokenError(
                "the token names no key ('kid') and the issuer has several"
            )
        raise InvalidBearerTokenError(f"the token is signed by an unknown key {kid!r}")

    def _cached_keys(self) -> tuple[jwt.PyJWK, ...]:
        return self._keys if time.monotonic() < self._keys_expire_at else ()

    async def _fetch_unless_recent(self) -> None:
        async with self._fetch_lock:
            # Whoever waited for the lock reuses the fetch just made, as does every token
            # naming an unknown kid until the interval has passed.
            if time.monotonic() - self._fetched_at < self._settings.jwks_refresh_min_seconds:
                return
            self._fetched_at = time.monotonic()
            try:
                self._keys = await self._fetch()
            except InvalidBearerTokenError as error:
                self._fetch_error = error
            else:
                self._fetch_error = None
                self._keys_expire_at = self._fetched_at + self._settings.jwks_cache_seconds

    async def _fetch(self) -> tuple[jwt.PyJWK, ...]:
        url, timeout = self._settings.jwks_url, self._settings.jwks_timeout_seconds
        assert url is not None and self._tls is not None
        try:
            async with httpx.AsyncClient(verify=self._tls, timeout=timeout) as client:
                response = await client.get(url, headers={"Accept": "application/json"})
            if response.status_code != 200:
                raise ValueError(f"it answered HTTP {response.status_code}")
            return _signing_keys(response.json())
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as error:
            # httpx's messages do not always say what failed; its class names do.
            reason = str(error) if type(error) is ValueError else f"{type(error).__name__}: {error}"
            raise InvalidBearerTokenError(
                f"the issuer's keys could not be fetched from {url}: {reason}"
            ) from error


def _signing_keys(document: Any) -> tuple[jwt.PyJWK, ...]:
    """The signature keys of a JWKS document; ValueError if it holds none."""
    if not isinstance(document, dict):
        raise ValueError("the JWKS document is not a JSON object")
    try:
        keys = jwt.PyJWKSet.from_dict(document)
    except jwt.PyJWTError as error:
        raise ValueError(f"the JWKS document holds no usable key: {error}") from None
    signing = tuple(key for key in keys if key.public_key_use in (None, "sig"))
    if not signing:
        raise ValueError("the JWKS document holds no signature key")
    return signing


def _select(keys: tuple[jwt.PyJWK, ...], kid: str | None) -> jwt.PyJWK | None:
    if kid is None:
        return keys[0] if len(keys) == 1 else None
    return next((key for key in keys if key.key_id == kid), None)


def _identity(claims: dict[str, Any], settings: OidcSettings) -> OidcIdentity:
    if not claims["sub"]:
        raise InvalidBearerTokenError("the token has no 'sub' claim")
    try:
        # PyJWT compared int(exp) with the clock, so that is the expiry it accepted.
        expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidBearerTokenError("the token's 'exp' is not a date") from None
    # Roles are granted by email: one the issuer says it did not verify names nobody.
    verified = claims.get("email_verified") is not False
    return OidcIdentity(
        issuer=claims["iss"],
        subject=claims["sub"],
        email=_text(claims.get(settings.email_claim)) if verified else None,
        name=_text(claims.get(settings.name_claim)),
        groups=_groups(claims.get(settings.groups_claim)),
        expires_at=expires_at,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _groups(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list) and all(isinstance(group, str) for group in value):
        return frozenset(value)
    return frozenset()
