"""Signing and verifying run descriptors and control messages, without any server."""

import base64
import json
import types
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from connectors_sdk import canonical_json
from data_plane import protocol
from data_plane.errors import ControlRejectedError, DescriptorRejectedError
from data_plane.protocol import (
    PROTOCOL_VERSION,
    ControlMessage,
    EventBatch,
    RunEvent,
    SignedEnvelope,
    key_id_of,
    sign_control,
    sign_descriptor,
    verify_control,
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


def make_control(pool: str = "default", **overrides: Any) -> ControlMessage:
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "control_id": str(uuid.uuid4()),
        "run_id": str(uuid.uuid4()),
        "pool": pool,
        "action": "cancel",
        "compensate": True,
        "issued_at": now,
        "expires_at": now + timedelta(hours=24),
    }
    return ControlMessage(**(fields | overrides))


def test_signed_control_message_verifies_to_the_same_message() -> None:
    key = Ed25519PrivateKey.generate()
    original = make_control()

    assert verify_control(sign_control(original, key), trust(key), "default") == original
    assert original.protocol == PROTOCOL_VERSION


def test_a_control_message_signed_twice_is_the_same_bytes() -> None:
    key = Ed25519PrivateKey.generate()
    original = make_control()

    assert sign_control(original, key) == sign_control(original, key)


def test_tampered_control_message_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = json.loads(sign_control(make_control(action="pause", compensate=False), key))
    payload = json.loads(base64.b64decode(envelope["payload"]))
    payload["action"] = "cancel"
    envelope["payload"] = base64.b64encode(canonical_json(payload)).decode()

    with pytest.raises(ControlRejectedError) as info:
        verify_control(canonical_json(envelope), trust(key), "default")

    assert info.value.code == "bad_signature"
    assert info.value.control is None


def test_control_message_signed_by_an_unknown_key_is_refused_naming_the_fix() -> None:
    signed = sign_control(make_control(), Ed25519PrivateKey.generate())

    with pytest.raises(ControlRejectedError) as info:
        verify_control(signed, trust(Ed25519PrivateKey.generate()), "default")

    assert info.value.code == "unknown_key"
    assert "trusted keys" in str(info.value)


def test_expired_control_message_is_refused_and_names_the_request() -> None:
    key = Ed25519PrivateKey.generate()
    original = make_control()

    with pytest.raises(ControlRejectedError) as info:
        verify_control(
            sign_control(original, key),
            trust(key),
            "default",
            now=original.expires_at + timedelta(seconds=1),
        )

    assert info.value.code == "expired"
    assert info.value.control == original
    assert original.control_id in str(info.value)


def test_control_message_for_another_pool_is_refused() -> None:
    key = Ed25519PrivateKey.generate()

    with pytest.raises(ControlRejectedError) as info:
        verify_control(sign_control(make_control("onprem"), key), trust(key), "default")

    assert info.value.code == "wrong_pool"
    assert "'onprem'" in str(info.value)


def test_a_descriptor_is_not_a_control_message_nor_the_other_way_round() -> None:
    key = Ed25519PrivateKey.generate()

    with pytest.raises(ControlRejectedError) as control_info:
        verify_control(sign_descriptor(make_descriptor(), key), trust(key), "default")
    with pytest.raises(DescriptorRejectedError) as descriptor_info:
        verify_descriptor(sign_control(make_control(), key), trust(key))

    assert control_info.value.code == descriptor_info.value.code == "malformed"


def test_only_a_cancel_compensates() -> None:
    with pytest.raises(ValidationError, match="only a cancel compensates"):
        make_control(action="pause", compensate=True)


def test_events_about_two_control_messages_of_one_run_have_two_ids() -> None:
    at = datetime.now(UTC)
    first = RunEvent.create("r", "control.applied", at, control_id="c1")
    second = RunEvent.create("r", "control.applied", at, control_id="c2")

    assert first.event_id == "r:control:c1:control.applied:1"
    assert first.event_id != second.event_id


def test_the_protocol_package_exports_exactly_what_it_imports() -> None:
    imported = {
        name
        for name, value in vars(protocol).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }

    assert sorted(protocol.__all__) == sorted(imported)
    assert len(set(protocol.__all__)) == len(protocol.__all__)
