"""Signing and verifying run descriptors, without any server."""

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from data_plane.errors import DescriptorRejectedError
from data_plane.protocol import key_id_of, sign_descriptor, verify_descriptor

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
