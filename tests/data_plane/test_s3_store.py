"""What only the S3 artefact store does, and the settings that choose a store.

Against the session's moto_server (tests/fixtures/s3.py); the guarantees every store gives
are tested on both stores in test_artefacts.py.
"""

import hashlib
import os

import obstore
import pytest
from pydantic import ValidationError

from control_plane.settings import ControlPlaneSettings
from data_plane.errors import (
    ArtefactCorruptError,
    ArtefactNotFoundError,
    ArtefactStoreUnavailableError,
)
from data_plane.protocol import (
    ArtefactRef,
    Bus,
    NatsArtefactStore,
    S3ArtefactStore,
    open_artefact_store,
)
from data_plane.settings import DataPlaneSettings
from flowforge.inprocess import data_plane_environment

from fixtures.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, S3Server


def store_on(s3_server: S3Server, bucket: str, **options: str) -> S3ArtefactStore:
    return S3ArtefactStore.from_settings(s3_server.settings(bucket, **options))


async def keys_in(s3_server: S3Server, bucket: str) -> list[str]:
    pages = obstore.list(s3_server.objects(bucket))
    return sorted([meta["path"] async for page in pages for meta in page])


async def test_objects_are_named_by_the_prefix_and_the_digest_with_their_media_type(
    s3_server: S3Server, s3_bucket: str
) -> None:
    store = store_on(s3_server, s3_bucket, prefix="flowforge/artefacts/")

    ref = await store.put(b'{"a": 1}', "application/json")
    await store.put(b'{"a": 1}', "application/json")

    key = "flowforge/artefacts/" + hashlib.sha256(b'{"a": 1}').hexdigest()
    assert store.key(ref) == key
    assert await keys_in(s3_server, s3_bucket) == [key]
    stored = await obstore.get_async(s3_server.objects(s3_bucket), key)
    assert stored.attributes["Content-Type"] == "application/json"
    assert bytes(await stored.bytes_async()) == b'{"a": 1}'
    # Another prefix is another folder: it does not see the object.
    with pytest.raises(ArtefactNotFoundError):
        await store_on(s3_server, s3_bucket, prefix="other/").get(ref)


async def test_a_bucket_that_does_not_exist_is_unavailable_and_says_so(
    s3_server: S3Server,
) -> None:
    store = store_on(s3_server, "ff-never-created")

    with pytest.raises(ArtefactStoreUnavailableError) as info:
        await store.put(b"anything")

    message = str(info.value)
    assert f"the bucket 'ff-never-created' at {s3_server.endpoint} does not exist" in message
    assert "create it, or set FLOWFORGE_*_ARTEFACT_S3__BUCKET" in message


async def test_an_object_of_the_wrong_size_is_corrupt_and_stored_again(
    s3_server: S3Server, s3_bucket: str
) -> None:
    store = store_on(s3_server, s3_bucket)
    data = os.urandom(100_000)
    ref = await store.put(data)
    await obstore.put_async(s3_server.objects(s3_bucket), store.key(ref), data[:1000])

    with pytest.raises(ArtefactCorruptError) as info:
        await store.get(ref)

    assert "its object holds 1000 bytes" in str(info.value)
    assert await store.put(data) == ref  # not taken for stored: written again
    assert await store.get(ref) == data


async def test_a_corrupt_object_of_the_right_size_is_read_again_once_deleted(
    s3_server: S3Server, s3_bucket: str
) -> None:
    store = store_on(s3_server, s3_bucket, prefix="a/")
    data = os.urandom(100_000)
    ref = await store.put(data)
    objects = s3_server.objects(s3_bucket)
    await obstore.put_async(objects, store.key(ref), os.urandom(100_000))

    with pytest.raises(ArtefactCorruptError) as info:
        await store.get(ref)

    assert f"delete the object 'a/{ref.sha256}'" in str(info.value)
    assert f"s3://{s3_bucket}/a/{ref.sha256} --endpoint-url {s3_server.endpoint}" in str(info.value)
    # The fix the error names.
    await obstore.delete_async(objects, store.key(ref))
    assert await store.put(data) == ref
    assert await store.get(ref) == data


def test_the_data_plane_builds_the_store_its_environment_names(
    monkeypatch: pytest.MonkeyPatch, s3_server: S3Server, s3_bucket: str
) -> None:
    for name, value in {
        "ARTEFACT_STORE": "s3",
        "ARTEFACT_MAX_BYTES": "1000",
        "ARTEFACT_S3__ENDPOINT": s3_server.endpoint,
        "ARTEFACT_S3__BUCKET": s3_bucket,
        "ARTEFACT_S3__PREFIX": "ff/",
        "ARTEFACT_S3__ACCESS_KEY_ID": ACCESS_KEY_ID,
        "ARTEFACT_S3__SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    }.items():
        monkeypatch.setenv(f"FLOWFORGE_DP_{name}", value)
    bus = Bus("nats://127.0.0.1:4222", name="unused", inbox_prefix="_INBOX")

    settings = DataPlaneSettings()
    store = open_artefact_store(settings, bus)

    assert isinstance(store, S3ArtefactStore)
    assert (store.endpoint, store.bucket, store.prefix) == (s3_server.endpoint, s3_bucket, "ff/")
    assert store.max_bytes == 1000
    assert settings.artefact_s3.region == "us-east-1"
    assert SECRET_ACCESS_KEY not in repr(settings)
    assert store.key(ArtefactRef.of(b"x")) == "ff/" + hashlib.sha256(b"x").hexdigest()


def test_without_settings_both_planes_keep_artefacts_on_nats() -> None:
    bus = Bus("nats://127.0.0.1:4222", name="unused", inbox_prefix="_INBOX")

    for settings in (DataPlaneSettings(), ControlPlaneSettings()):
        assert settings.artefact_store == "nats"
        assert isinstance(open_artefact_store(settings, bus), NatsArtefactStore)


@pytest.mark.parametrize(
    ("root", "prefix"),
    [(DataPlaneSettings, "FLOWFORGE_DP_"), (ControlPlaneSettings, "FLOWFORGE_CP_")],
)
def test_an_s3_store_without_endpoint_or_bucket_names_the_variables_to_set(
    root: type[DataPlaneSettings | ControlPlaneSettings], prefix: str
) -> None:
    with pytest.raises(ValidationError) as nothing:
        root(artefact_store="s3")
    with pytest.raises(ValidationError) as no_bucket:
        root(artefact_store="s3", artefact_s3={"endpoint": "http://127.0.0.1:9000"})

    assert (
        f"{prefix}ARTEFACT_STORE is 's3': set {prefix}ARTEFACT_S3__ENDPOINT (the URL of the "
        f"S3-compatible service) and {prefix}ARTEFACT_S3__BUCKET (the bucket of artefacts)"
    ) in str(nothing.value)
    assert f"set {prefix}ARTEFACT_S3__BUCKET (the bucket of artefacts)" in str(no_bucket.value)
    assert "ENDPOINT" not in str(no_bucket.value)


def test_an_access_key_without_its_secret_is_refused() -> None:
    s3 = {"endpoint": "https://s3.example.com", "bucket": "artefacts", "access_key_id": "AK"}

    with pytest.raises(ValidationError) as info:
        DataPlaneSettings(artefact_store="s3", artefact_s3=s3)

    assert (
        "FLOWFORGE_DP_ARTEFACT_S3__ACCESS_KEY_ID and FLOWFORGE_DP_ARTEFACT_S3__SECRET_ACCESS_KEY "
        "go together"
    ) in str(info.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("endpoint", "s3.example.com"),
        ("endpoint", "https://s3.example.com/bucket"),
        ("bucket", "ab"),
        ("bucket", "Artefacts"),
        ("prefix", "/artefacts/"),
        ("prefix", "a//b/"),
        ("prefix", "a/../b/"),
        ("prefix", "a b/"),
    ],
)
def test_malformed_s3_settings_are_refused(field: str, value: str) -> None:
    s3 = {"endpoint": "https://s3.example.com", "bucket": "artefacts", field: value}

    with pytest.raises(ValidationError) as info:
        DataPlaneSettings(artefact_store="s3", artefact_s3=s3)

    assert f"artefact_s3.{field}" in str(info.value)


def test_a_child_data_plane_is_given_the_s3_settings_secret_included(
    monkeypatch: pytest.MonkeyPatch, s3_server: S3Server
) -> None:
    settings = DataPlaneSettings(
        artefact_store="s3", artefact_s3=s3_server.settings("artefacts", prefix="ff/")
    )

    for name, value in data_plane_environment(settings).items():
        monkeypatch.setenv(name, value)

    assert DataPlaneSettings() == settings
    secret = DataPlaneSettings().artefact_s3.secret_access_key
    assert secret is not None and secret.get_secret_value() == SECRET_ACCESS_KEY
