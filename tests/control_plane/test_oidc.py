"""OIDC bearer tokens checked against a JWKS served over real HTTP on 127.0.0.1."""

import asyncio
import hashlib
import hmac
import json
import secrets
import socket
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import ValidationError

from control_plane.identity.oidc import (
    InvalidBearerTokenError,
    OidcIdentity,
    OidcSettings,
    OidcVerifier,
    looks_like_jwt,
)
from tests.fixtures.oidc import (
    AUDIENCE,
    ISSUER,
    JwksServer,
    Keys,
    b64,
    claims,
    hand_made,
    jwks,
    sign,
)


def verifier_for(server: JwksServer, **settings: Any) -> OidcVerifier:
    return OidcVerifier(
        OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=server.url, **settings)
    )


async def refusal(verifier: OidcVerifier, token: str) -> str:
    """Why `verifier` refuses `token`; the reason never repeats the token."""
    with pytest.raises(InvalidBearerTokenError) as caught:
        await verifier.verify(token)
    message = str(caught.value)
    assert caught.value.code == "UNAUTHENTICATED"
    assert all(part not in message for part in token.split(".") if len(part) > 8)
    return message


async def verified_within(verifier: OidcVerifier, token: str, seconds: float) -> OidcIdentity:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await verifier.verify(token)
        except InvalidBearerTokenError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.02)


async def refused_within(verifier: OidcVerifier, token: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while True:
        try:
            await verifier.verify(token)
        except InvalidBearerTokenError as error:
            return str(error)
        assert time.monotonic() < deadline, "the token still verifies"
        await asyncio.sleep(0.02)


# --- valid tokens -----------------------------------------------------------------------


async def test_a_valid_token_maps_its_claims_onto_the_identity(
    jwks_server: JwksServer, keys: Keys
) -> None:
    verifier = verifier_for(jwks_server)
    exp = int(time.time()) + 120
    token = sign(keys.a, email="ada@example.test", name="Ada", groups=["ops", "admins"], exp=exp)

    identity = await verifier.verify(token)

    assert identity == OidcIdentity(
        issuer=ISSUER,
        subject="user-1",
        email="ada@example.test",
        name="Ada",
        groups=frozenset({"ops", "admins"}),
        expires_at=datetime.fromtimestamp(exp, UTC),
    )
    assert identity.expires_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        (["ops", "admins"], {"ops", "admins"}),
        ("ops  admins", {"ops", "admins"}),
        (42, set()),
        (["ops", 7], set()),
        ({"ops": True}, set()),
    ],
)
async def test_groups_are_a_list_or_a_space_separated_string_and_nothing_else(
    jwks_server: JwksServer, keys: Keys, groups: Any, expected: set[str]
) -> None:
    identity = await verifier_for(jwks_server).verify(sign(keys.a, groups=groups))

    assert identity.groups == expected


async def test_claim_names_come_from_the_settings(jwks_server: JwksServer, keys: Keys) -> None:
    verifier = verifier_for(
        jwks_server, email_claim="mail", name_claim="display_name", groups_claim="roles"
    )
    token = sign(keys.a, mail="ada@example.test", display_name="Ada", roles="ops", email=None)

    identity = await verifier.verify(token)

    assert (identity.email, identity.name, identity.groups) == (
        "ada@example.test",
        "Ada",
        frozenset({"ops"}),
    )


async def test_missing_optional_claims_are_none(jwks_server: JwksServer, keys: Keys) -> None:
    identity = await verifier_for(jwks_server).verify(sign(keys.a, email=7))

    assert (identity.email, identity.name, identity.groups) == (None, None, frozenset())


async def test_an_es256_token_verifies(jwks_server: JwksServer, keys: Keys) -> None:
    jwks_server.document = jwks((keys.a, "A"), (keys.ec, "E"))

    identity = await verifier_for(jwks_server).verify(sign(keys.ec, kid="E"))

    assert identity.subject == "user-1"


async def test_cached_keys_verify_without_fetching_again(
    jwks_server: JwksServer, keys: Keys
) -> None:
    verifier = verifier_for(jwks_server)

    for _ in range(50):
        await verifier.verify(sign(keys.a))

    assert jwks_server.requests == 1


# --- time ---------------------------------------------------------------------------------


async def test_an_expired_token_is_refused(jwks_server: JwksServer, keys: Keys) -> None:
    token = sign(keys.a, iat=int(time.time()) - 3600, exp=int(time.time()) - 60)

    assert await refusal(verifier_for(jwks_server), token) == "the token has expired"


async def test_a_token_before_its_nbf_is_refused(jwks_server: JwksServer, keys: Keys) -> None:
    token = sign(keys.a, nbf=int(time.time()) + 120)

    assert await refusal(verifier_for(jwks_server), token) == "the token is not yet valid (nbf)"


async def test_a_token_issued_in_the_future_is_refused(jwks_server: JwksServer, keys: Keys) -> None:
    token = sign(keys.a, iat=int(time.time()) + 120)

    assert await refusal(verifier_for(jwks_server), token) == "the token is not yet valid (iat)"


async def test_the_leeway_lets_a_ten_second_clock_skew_pass(
    jwks_server: JwksServer, keys: Keys
) -> None:
    now = int(time.time())
    skewed = [
        sign(keys.a, exp=now - 10),
        sign(keys.a, nbf=now + 10),
        sign(keys.a, iat=now + 10),
    ]
    lenient, strict = verifier_for(jwks_server), verifier_for(jwks_server, leeway_seconds=0)

    for token in skewed:
        assert (await lenient.verify(token)).subject == "user-1"
        await refusal(strict, token)


# --- claims ---------------------------------------------------------------------------------


@pytest.mark.parametrize("audience", ["other-api", ["other-api", "more-api"]])
async def test_a_token_for_another_audience_is_refused(
    jwks_server: JwksServer, keys: Keys, audience: str | list[str]
) -> None:
    message = await refusal(verifier_for(jwks_server), sign(keys.a, aud=audience))

    assert message == "the token's audience is not flowforge-api"


async def test_a_token_whose_audiences_include_ours_verifies(
    jwks_server: JwksServer, keys: Keys
) -> None:
    token = sign(keys.a, aud=["other-api", AUDIENCE])

    assert (await verifier_for(jwks_server).verify(token)).subject == "user-1"


async def test_a_token_from_another_issuer_is_refused(jwks_server: JwksServer, keys: Keys) -> None:
    token = sign(keys.a, iss=ISSUER + "-evil")

    message = await refusal(verifier_for(jwks_server), token)

    assert message == f"the token's issuer is not {ISSUER}"


@pytest.mark.parametrize("claim", ["sub", "exp", "iss", "aud"])
async def test_a_token_without_a_required_claim_is_refused(
    jwks_server: JwksServer, keys: Keys, claim: str
) -> None:
    message = await refusal(verifier_for(jwks_server), sign(keys.a, **{claim: None}))

    assert message == f"the token has no '{claim}' claim"


async def test_a_token_with_an_empty_subject_is_refused(
    jwks_server: JwksServer, keys: Keys
) -> None:
    message = await refusal(verifier_for(jwks_server), sign(keys.a, sub=""))

    assert message == "the token has no 'sub' claim"


# --- forgeries ----------------------------------------------------------------------------


async def test_an_unsigned_alg_none_token_is_refused_without_fetching_keys(
    jwks_server: JwksServer,
) -> None:
    token = hand_made({"alg": "none", "typ": "JWT"}, claims(sub="admin"), lambda _: b"")
    assert token.endswith(".")

    message = await refusal(verifier_for(jwks_server), token)

    assert message == "the token's algorithm 'none' is not allowed; allowed: RS256, ES256"
    assert jwks_server.requests == 0


async def test_an_hs256_token_keyed_with_the_public_key_is_refused(
    jwks_server: JwksServer, keys: Keys
) -> None:
    # Algorithm confusion: a verifier that let the token pick HS256 would take the public
    # key, which anyone can download, as the HMAC secret.
    public_pem = keys.a.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    token = hand_made(
        {"alg": "HS256", "typ": "JWT", "kid": "A"},
        claims(sub="admin"),
        lambda data: hmac.new(public_pem, data, hashlib.sha256).digest(),
    )

    message = await refusal(verifier_for(jwks_server), token)

    assert message == "the token's algorithm 'HS256' is not allowed; allowed: RS256, ES256"


async def test_a_token_whose_algorithm_is_not_its_keys_is_refused(
    jwks_server: JwksServer, keys: Keys
) -> None:
    token = sign(keys.ec, kid="A")

    message = await refusal(verifier_for(jwks_server), token)

    assert message == "the token's algorithm is not that of key 'A'"


async def test_a_tampered_payload_is_refused(jwks_server: JwksServer, keys: Keys) -> None:
    header, _, signature = sign(keys.a).split(".")
    forged_payload = b64(json.dumps(claims(sub="admin")).encode())

    message = await refusal(verifier_for(jwks_server), f"{header}.{forged_payload}.{signature}")

    assert message == "the token's signature does not verify"


async def test_a_token_signed_by_another_key_under_a_known_kid_is_refused(
    jwks_server: JwksServer, keys: Keys
) -> None:
    message = await refusal(verifier_for(jwks_server), sign(keys.b, kid="A"))

    assert message == "the token's signature does not verify"


@pytest.mark.parametrize(
    "token",
    ["ff_" + secrets.token_urlsafe(32), "a.b.c", ""],
    ids=["api-token", "header-not-json", "empty"],
)
async def test_something_that_is_not_a_jwt_is_refused(jwks_server: JwksServer, token: str) -> None:
    assert await refusal(verifier_for(jwks_server), token) == "the token is not a JWT"


# --- keys -----------------------------------------------------------------------------------


async def test_a_new_key_is_fetched_once_when_a_token_names_it(
    jwks_server: JwksServer, keys: Keys
) -> None:
    verifier = verifier_for(jwks_server, jwks_refresh_min_seconds=0.3)
    await verifier.verify(sign(keys.a))
    by_b = sign(keys.b, kid="B")

    assert await refusal(verifier, by_b) == "the token is signed by an unknown key 'B'"

    jwks_server.document = jwks((keys.a, "A"), (keys.b, "B"))
    # Every attempt before the interval has passed is refused without a fetch.
    assert (await verified_within(verifier, by_b, seconds=5)).subject == "user-1"
    for _ in range(20):
        await verifier.verify(sign(keys.b, kid="B"))
        await verifier.verify(sign(keys.a))

    assert jwks_server.requests == 2


async def test_a_removed_key_stops_verifying_once_the_cache_expires(
    jwks_server: JwksServer, keys: Keys
) -> None:
    jwks_server.document = jwks((keys.a, "A"), (keys.b, "B"))
    verifier = verifier_for(jwks_server, jwks_cache_seconds=0.5, jwks_refresh_min_seconds=0.1)
    by_a = sign(keys.a)
    await verifier.verify(by_a)

    jwks_server.document = jwks((keys.b, "B"))

    message = await refused_within(verifier, by_a, seconds=5)
    assert message == "the token is signed by an unknown key 'A'"
    assert jwks_server.requests == 2
    await verifier.verify(sign(keys.b, kid="B"))
    assert jwks_server.requests == 2


async def test_made_up_kids_do_not_make_it_fetch_per_request(
    jwks_server: JwksServer, keys: Keys
) -> None:
    verifier = verifier_for(jwks_server, jwks_refresh_min_seconds=5)
    await verifier.verify(sign(keys.a))

    for _ in range(30):
        kid = secrets.token_hex(8)
        assert await refusal(verifier, sign(keys.a, kid=kid)) == (
            f"the token is signed by an unknown key '{kid}'"
        )

    assert jwks_server.requests == 1


async def test_concurrent_verifications_share_one_fetch(
    jwks_server: JwksServer, keys: Keys
) -> None:
    verifier = verifier_for(jwks_server)
    tokens = [sign(keys.a, sub=f"user-{n}") for n in range(20)]

    identities = await asyncio.gather(*(verifier.verify(token) for token in tokens))

    assert [identity.subject for identity in identities] == [f"user-{n}" for n in range(20)]
    assert jwks_server.requests == 1


async def test_a_slow_fetch_does_not_hold_up_the_event_loop(
    jwks_server: JwksServer, keys: Keys
) -> None:
    jwks_server.delay = 0.4
    verifier = verifier_for(jwks_server)
    verifying = asyncio.create_task(verifier.verify(sign(keys.a)))
    started = time.monotonic()

    await asyncio.sleep(0.05)

    assert time.monotonic() - started < 0.3
    assert not verifying.done()
    assert (await verifying).subject == "user-1"


async def test_static_keys_verify_without_any_server(keys: Keys) -> None:
    settings = OidcSettings(
        issuer=ISSUER, audience=AUDIENCE, jwks=jwks((keys.a, "A"), (keys.ec, "E"))
    )
    verifier = OidcVerifier(settings)

    assert (await verifier.verify(sign(keys.a))).subject == "user-1"
    assert (await verifier.verify(sign(keys.ec, kid="E"))).subject == "user-1"
    assert await refusal(verifier, sign(keys.b, kid="B")) == (
        "the token is signed by an unknown key 'B'"
    )


async def test_a_token_without_kid_uses_the_only_key(keys: Keys) -> None:
    one = OidcVerifier(OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks=jwks((keys.a, "A"))))
    two = OidcVerifier(
        OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks=jwks((keys.a, "A"), (keys.b, "B")))
    )
    token = sign(keys.a, kid=None)

    assert (await one.verify(token)).subject == "user-1"
    assert await refusal(two, token) == "the token names no key ('kid') and the issuer has several"


async def test_an_unreachable_jwks_url_is_reported(keys: Keys) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/jwks.json"
    verifier = OidcVerifier(OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=url))

    message = await refusal(verifier, sign(keys.a))

    assert message.startswith(f"the issuer's keys could not be fetched from {url}: ConnectError: ")


async def test_a_document_without_keys_is_reported_and_not_refetched_per_request(
    jwks_server: JwksServer, keys: Keys
) -> None:
    jwks_server.document = {"keys": []}
    verifier = verifier_for(jwks_server)

    for _ in range(3):
        message = await refusal(verifier, sign(keys.a))
        assert message.startswith(
            f"the issuer's keys could not be fetched from {jwks_server.url}: "
        )
        assert "did not contain any keys" in message

    assert jwks_server.requests == 1


# --- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize("sources", [{}, {"jwks_url": "https://x.test/jwks", "jwks": {}}])
def test_settings_need_exactly_one_of_jwks_url_and_jwks(sources: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as caught:
        OidcSettings(issuer=ISSUER, audience=AUDIENCE, **sources)

    message = caught.value.errors()[0]["msg"]
    assert "set exactly one of jwks_url and jwks" in message


@pytest.mark.parametrize(
    ("algorithm", "reason"),
    [
        ("HS256", "anyone holding the public key could sign"),
        ("none", "an unsigned token proves nothing"),
        ("XS999", "unknown algorithm"),
    ],
)
def test_settings_refuse_algorithms_that_are_not_asymmetric(algorithm: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        OidcSettings(
            issuer=ISSUER, audience=AUDIENCE, jwks_url="https://x.test/jwks", algorithms=[algorithm]
        )

    [error] = caught.value.errors()
    assert error["loc"] == ("algorithms",)
    assert reason in error["msg"]


def test_settings_refuse_static_keys_that_hold_no_usable_key() -> None:
    with pytest.raises(ValidationError, match="jwks: the JWKS document holds no usable key"):
        OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks={"keys": [{"kty": "XYZ"}]})


def test_settings_forbid_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="jwks_uri"):
        OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_uri="https://x.test/jwks")  # type: ignore[call-arg]


# --- telling tokens apart -------------------------------------------------------------------


def test_looks_like_jwt_tells_a_jwt_from_an_api_token(keys: Keys) -> None:
    unsigned = hand_made({"alg": "none"}, {"sub": "x"}, lambda _: b"")
    no_alg = hand_made({"typ": "JWT"}, {"sub": "x"}, lambda _: b"sig")

    assert looks_like_jwt(sign(keys.a))
    assert looks_like_jwt(unsigned)
    assert not looks_like_jwt("ff_" + secrets.token_urlsafe(32))
    assert not looks_like_jwt("a.b.c")
    assert not looks_like_jwt(no_alg)
    assert not looks_like_jwt("")
