"""Signing and verifying run descriptors, without any server."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from connectors_sdk import canonical_json
from data_plane.errors import DescriptorRejectedError
from data_plane.protocol import (
    EventBatch,
    RunEvent,
    SignedEnvelope,
    key_id_of,
    sign_descriptor,
    verify_descriptor,
)

from fixtures.descriptors import make_descriptor


def trust(key: Ed25519PrivateKey) -> dict:
    return {key_id_of(key.public_key()): key.public_key()}


def test_signed_descriptor_verifies_to_the_same_descriptor() -> None:
    key = Ed25519PrivateKey.generate()
    original = make_descriptor()

    assert verify_descriptor(sign_descriptor(original, key), trust(key)) == original


def test_expiry_is_checked_against_the_given_clock() -> None:
    key = Ed25519PrivateKey.generate()
    original = make_descriptor()
    later = original.expires_at + timedelta(seconds=1)

    with pytest.raises(DescriptorRejectedError) as info:
        verify_descriptor(sign_descriptor(original, key), trust(key), now=later)

    assert info.value.code == "expired"


def test_key_ids_differ_between_keys_and_are_stable() -> None:
    key = Ed25519PrivateKey.generate()

    assert key_id_of(key.public_key()) == key_id_of(key.public_key())
    assert key_id_of(key.public_key()) != key_id_of(Ed25519PrivateKey.generate().public_key())


def test_descriptor_of_an_unknown_protocol_is_refused_naming_both_versions() -> None:
    key = Ed25519PrivateKey.generate()
    newer = make_descriptor(protocol=99)

    with pytest.raises(DescriptorRejectedError) as info:
        verify_descriptor(sign_descriptor(newer, key), trust(key))

    assert info.value.code == "unsupported_protocol"
    assert "protocol 99" in str(info.value)
    assert "1 and 2" in str(info.value)


@pytest.mark.parametrize("version", [[2], "2", True, None])
def test_descriptor_whose_version_is_not_a_whole_number_is_refused(version: object) -> None:
    key = Ed25519PrivateKey.generate()
    payload = make_descriptor().model_dump(mode="json") | {"protocol": version}
    body = canonical_json(payload)
    envelope = SignedEnvelope(
        key_id=key_id_of(key.public_key()),
        payload=base64.b64encode(body).decode(),
        signature=base64.b64encode(key.sign(body)).decode(),
    )

    with pytest.raises(DescriptorRejectedError) as info:
        verify_descriptor(canonical_json(envelope.model_dump()), trust(key))

    assert info.value.code == "unsupported_protocol"


def test_descriptor_without_a_version_is_read_as_protocol_1() -> None:
    key = Ed25519PrivateKey.generate()
    old = make_descriptor()

    assert "protocol" not in old.model_dump(exclude_defaults=True)
    assert verify_descriptor(sign_descriptor(old, key), trust(key)).protocol == 1


def test_event_ids_of_iterations_differ_and_top_level_ids_keep_their_form() -> None:
    at = datetime.now(UTC)
    top = RunEvent.create("r", "node.started", at, "fetch")
    first = RunEvent.create("r", "node.started", at, "fetch", iteration="items#0")
    second = RunEvent.create("r", "node.started", at, "fetch", iteration="items#1")

    assert top.event_id == "r:fetch:node.started:1"
    assert len({top.event_id, first.event_id, second.event_id}) == 3


def test_protocol_1_events_are_written_as_protocol_1_readers_expect() -> None:
    event = RunEvent.create("r", "node.succeeded", datetime.now(UTC), "fetch", output={"a": 1})

    body = json.loads(EventBatch(events=[event]).to_bytes())

    assert set(body["events"][0]) == {"event_id", "run_id", "kind", "at", "node_id", "output"}


def test_a_malformed_iteration_path_is_refused() -> None:
    with pytest.raises(ValidationError):
        RunEvent.create("r", "node.started", datetime.now(UTC), "fetch", iteration="x y")
