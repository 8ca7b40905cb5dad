"""Large values travel by reference: the artefact stores, on the stack's NATS and on S3.

The guarantees every store gives are tested on both (`backend`): the NATS store against
the session's authenticated NATS, as the identities that use it (a pool and the control
plane, each with credentials minted by the bus authority for the test's own bucket), the
S3 store against the session's moto_server. A hostile pool is played with the same
credentials, not with mocks. What only the S3 store does is in test_s3_store.py.
"""

import asyncio
import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import nats
import obstore
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import ObjectInfo
from nats.js.errors import APIError

from data_plane.errors import (
    ArtefactCorruptError,
    ArtefactNotFoundError,
    ArtefactStoreFullError,
    ArtefactStoreUnavailableError,
    ArtefactTooLargeError,
)
from data_plane.protocol import (
    CONTROL_PLANE_INBOX,
    ArtefactRef,
    ArtefactStore,
    Bus,
    NatsArtefactStore,
    S3ArtefactStore,
    artefact_stream,
    artefact_stream_config,
    as_artefact_ref,
    control_plane_permissions,
    pool_inbox,
    provision_pools,
)
from data_plane.protocol.topology import artefact_chunks_subject, artefact_meta_subject
from flowforge.nats_accounts import BusAuthority
from flowforge.servers import ServerProcess, free_port

from fixtures.s3 import S3Server
from fixtures.stack import assert_eventually


@dataclass
class Identity:
    """One identity on the bus: its credentials and the inbox prefix it may use."""

    credentials: Path
    inbox: str


@dataclass
class Bucket:
    name: str
    url: str
    control_plane: Identity
    pool: Identity

    @property
    def stream(self) -> str:
        return artefact_stream(self.name)


@pytest.fixture
async def bucket(nats_server: ServerProcess, bus_authority: BusAuthority) -> AsyncIterator[Bucket]:
    """A bucket of the test's own, created as the control plane creates it, with a pool
    that may use it."""
    name = f"T{uuid.uuid4().hex[:12]}"
    pool = f"a{uuid.uuid4().hex[:10]}"
    control_plane = Identity(
        bus_authority.credentials(f"cp-{name}", control_plane_permissions(name)),
        CONTROL_PLANE_INBOX,
    )
    found = Bucket(
        name,
        nats_server.address,
        control_plane,
        Identity(bus_authority.pool_credentials(pool, name), pool_inbox(pool)),
    )
    async with connected(found, found.control_plane) as nc:
        await provision_pools(nc.jetstream(), [pool], artefact_stream_config(name))
    yield found
    async with connected(found, found.control_plane) as nc:
        await nc.jetstream().delete_stream(found.stream)


@contextlib.asynccontextmanager
async def connected(
    bucket: Bucket, identity: Identity, refusals: list[str] | None = None
) -> AsyncIterator[NatsClient]:
    """A plain NATS connection as `identity`; `refusals` collects what the server refused
    (a denied publish raises nothing)."""

    async def record(error: Exception) -> None:
        if refusals is not None:
            refusals.append(str(error))

    nc = await nats.connect(
        bucket.url,
        user_credentials=str(identity.credentials),
        inbox_prefix=identity.inbox,
        error_cb=record,
        drain_timeout=2,
    )
    try:
        yield nc
    finally:
        await nc.close()


@pytest.fixture
async def open_store(bucket: Bucket) -> AsyncIterator[Callable[..., Awaitable[NatsArtefactStore]]]:
    """Opens stores on the bucket through a `Bus`, as the processes do; closes them."""
    buses: list[Bus] = []

    async def open_as(identity: Identity | None = None, **options: Any) -> NatsArtefactStore:
        identity = identity or bucket.pool
        bus = Bus(
            bucket.url,
            name="artefacts-test",
            inbox_prefix=identity.inbox,
            credentials=identity.credentials,
        )
        bus.start()
        buses.append(bus)
        await assert_eventually(lambda: _true(bus.connected), within=10)
        return NatsArtefactStore(bus, **{"bucket": bucket.name, **options})

    yield open_as
    for bus in buses:
        await bus.close()


async def _true(value: bool) -> bool:
    return value


async def messages_in(bucket: Bucket) -> int:
    async with connected(bucket, bucket.control_plane) as nc:
        info = await nc.jetstream().stream_info(bucket.stream)
    return int(info.state.messages)


async def point_at(bucket: Bucket, ref: ArtefactRef, other: ArtefactRef) -> None:
    """Describe `ref` as a hostile pool could: its name and digest, `other`'s chunks."""
    async with connected(bucket, bucket.pool) as nc:
        js = nc.jetstream()
        objects = await js.object_store(bucket.name)
        forged = (await objects.get_info(other.sha256)).as_dict()
        genuine = await objects.get_info(ref.sha256)
        forged.update(name=ref.sha256, digest=genuine.digest)
        description = artefact_meta_subject(bucket.name, ref.sha256)
        await js.publish(description, json.dumps(forged).encode())


class Backend(Protocol):
    """A kind of store under test, and the means to look at and tamper with what it holds."""

    bucket: str

    async def open(self, **options: Any) -> ArtefactStore: ...
    async def open_unreachable(self) -> ArtefactStore: ...
    async def writes(self) -> int:
        """How many messages or objects the store's bucket holds."""

    def writes_of(self, size: int) -> int:
        """How many a value of `size` bytes takes."""

    async def replace(self, store: ArtefactStore, ref: ArtefactRef, data: bytes) -> None:
        """Make what `ref` names hold `data` instead (of the same size)."""


@dataclass
class NatsBackend:
    nats: Bucket
    open_store: Callable[..., Awaitable[NatsArtefactStore]]

    @property
    def bucket(self) -> str:
        return self.nats.name

    async def open(self, **options: Any) -> ArtefactStore:
        return await self.open_store(**options)

    async def open_unreachable(self) -> ArtefactStore:
        # Never started: as a process's bus is until it connects, or after it lost NATS.
        bus = Bus(f"nats://127.0.0.1:{free_port()}", name="nowhere", inbox_prefix="_INBOX")
        return NatsArtefactStore(bus, bucket=self.bucket)

    async def writes(self) -> int:
        return await messages_in(self.nats)

    def writes_of(self, size: int) -> int:
        return -(-size // (128 * 1024)) + 1  # the chunks and the description

    async def replace(self, store: ArtefactStore, ref: ArtefactRef, data: bytes) -> None:
        await point_at(self.nats, ref, await store.put(data))


@dataclass
class S3Backend:
    server: S3Server
    bucket: str

    async def open(self, **options: Any) -> ArtefactStore:
        return S3ArtefactStore.from_settings(self.server.settings(self.bucket), **options)

    async def open_unreachable(self) -> ArtefactStore:
        nowhere = self.server.settings(self.bucket, endpoint=f"http://127.0.0.1:{free_port()}")
        return S3ArtefactStore.from_settings(nowhere)

    async def writes(self) -> int:
        pages = obstore.list(self.server.objects(self.bucket))
        return sum([len(page) async for page in pages])

    def writes_of(self, size: int) -> int:
        return 1

    async def replace(self, store: ArtefactStore, ref: ArtefactRef, data: bytes) -> None:
        assert isinstance(store, S3ArtefactStore)
        await obstore.put_async(self.server.objects(self.bucket), store.key(ref), data)


@pytest.fixture(params=["nats", "s3"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each kind of store in turn, on a bucket of the test's own."""
    if request.param == "s3":
        return S3Backend(request.getfixturevalue("s3_server"), request.getfixturevalue("s3_bucket"))
    return NatsBackend(request.getfixturevalue("bucket"), request.getfixturevalue("open_store"))


async def test_a_10_mb_json_value_round_trips(backend: Backend) -> None:
    store = await backend.open()
    value = {"rows": [{"id": i, "text": f"row {i} " + "x" * 990} for i in range(10_000)]}

    ref = await store.put_json(value)

    assert ref.size > 10_000_000
    assert ref.media_type == "application/json"
    encoded = json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
    assert ref.digest == "sha256:" + hashlib.sha256(encoded).hexdigest()
    assert await store.get_json(ref) == value
    assert as_artefact_ref(json.loads(json.dumps(ref.to_json()))) == ref


async def test_every_identity_of_the_stack_reads_what_a_pool_stored(
    bucket: Bucket, bus_authority: BusAuthority, open_store: Any
) -> None:
    other_pool = f"b{uuid.uuid4().hex[:10]}"
    credentials = bus_authority.pool_credentials(other_pool, bucket.name)
    other = Identity(credentials, pool_inbox(other_pool))
    ref = await (await open_store()).put_json({"from": "a pool"})

    assert await (await open_store(bucket.control_plane)).get_json(ref) == {"from": "a pool"}
    # A node pinned to another pool reads its input from the same bucket.
    assert await (await open_store(other)).get_json(ref) == {"from": "a pool"}


async def test_the_same_value_twice_gives_one_reference_and_one_object(backend: Backend) -> None:
    store = await backend.open()
    data = os.urandom(300_000)

    first = await store.put(data)
    stored = await backend.writes()
    second = await store.put(data)

    assert first == second
    assert stored == backend.writes_of(300_000)
    assert await backend.writes() == stored
    assert await store.get(second) == data


async def test_a_reference_to_nothing_stored_is_not_found(backend: Backend) -> None:
    ref = ArtefactRef.of(b"never stored")

    with pytest.raises(ArtefactNotFoundError) as info:
        await (await backend.open()).get(ref)

    assert info.value.code == "ArtefactNotFound"
    assert ref.digest in str(info.value)
    assert backend.bucket in str(info.value)
    assert "name the same bucket" in str(info.value)


async def test_an_artefact_whose_bytes_were_replaced_is_corrupt(backend: Backend) -> None:
    store = await backend.open()
    data = os.urandom(200_000)
    ref = await store.put(data)
    await backend.replace(store, ref, os.urandom(200_000))

    with pytest.raises(ArtefactCorruptError) as info:
        await store.get(ref)

    assert info.value.code == "ArtefactCorrupt"
    assert ref.digest in str(info.value)
    assert backend.bucket in str(info.value)
    assert "do not have its digest" in str(info.value)


async def test_an_unreachable_store_is_unavailable_for_both_writes_and_reads(
    backend: Backend,
) -> None:
    store = await backend.open_unreachable()
    ref = ArtefactRef.of(b"anything")

    with pytest.raises(ArtefactStoreUnavailableError) as put:
        await store.put(b"anything")
    with pytest.raises(ArtefactStoreUnavailableError) as get:
        await store.get(ref)

    assert put.value.code == get.value.code == "ArtefactStoreUnavailable"
    for error in (put.value, get.value):
        assert f"the bucket {backend.bucket!r}" in str(error)
        assert "cannot be reached" in str(error)
        assert "retry later" in str(error)


async def test_an_artefact_whose_chunks_are_gone_is_not_found_and_stored_again(
    bucket: Bucket, open_store: Any
) -> None:
    store = await open_store()
    data = os.urandom(300_000)
    ref = await store.put(data)
    async with connected(bucket, bucket.control_plane) as nc:
        js = nc.jetstream()
        info = await (await js.object_store(bucket.name)).get_info(ref.sha256)
        chunks = artefact_chunks_subject(bucket.name, info.nuid)
        first = await js.get_msg(bucket.stream, seq=1, subject=chunks, next=True)
        assert first.seq is not None
        await js.delete_msg(bucket.stream, first.seq)

    with pytest.raises(ArtefactNotFoundError) as error:
        await store.get(ref)

    assert "only 168928 of its 300000 bytes are left" in str(error.value)
    assert await store.put(data) == ref  # not taken for stored: written again
    assert await store.get(ref) == data


async def test_an_artefact_a_hostile_pool_pointed_elsewhere_is_corrupt_until_purged(
    bucket: Bucket, open_store: Any
) -> None:
    store = await open_store()
    data = os.urandom(200_000)
    genuine = await store.put(data)
    await point_at(bucket, genuine, await store.put(os.urandom(200_000)))

    with pytest.raises(ArtefactCorruptError) as info:
        await store.get(genuine)

    description = artefact_meta_subject(bucket.name, genuine.sha256)
    assert f"purge the subject {description}" in str(info.value)
    # The fix the error names.
    async with connected(bucket, bucket.control_plane) as nc:
        await nc.jetstream().purge_stream(bucket.stream, subject=description)
    assert await store.put(data) == genuine
    assert await store.get(genuine) == data


async def test_an_artefact_hidden_by_a_deletion_marker_is_stored_again(
    bucket: Bucket, open_store: Any
) -> None:
    store = await open_store()
    data = os.urandom(150_000)
    ref = await store.put(data)
    async with connected(bucket, bucket.pool) as nc:
        marker = ObjectInfo(name=ref.sha256, bucket=bucket.name, nuid="x", deleted=True)
        await nc.jetstream().publish(
            artefact_meta_subject(bucket.name, ref.sha256), json.dumps(marker.as_dict()).encode()
        )
    with pytest.raises(ArtefactNotFoundError):
        await store.get(ref)

    assert await store.put(data) == ref
    assert await store.get(ref) == data


async def test_values_over_the_limit_are_refused_before_anything_is_sent(
    backend: Backend,
) -> None:
    store = await backend.open(max_bytes=100_000)
    before = await backend.writes()

    with pytest.raises(ArtefactTooLargeError) as put:
        await store.put(b"x" * 100_001)
    with pytest.raises(ArtefactTooLargeError) as get:
        await store.get(ArtefactRef.of(b"y" * 100_001))

    assert put.value.code == "ArtefactTooLarge"
    assert "a value of 100001 bytes is over the artefact limit of 100000 bytes" in str(put.value)
    assert "FLOWFORGE_DP_ARTEFACT_MAX_BYTES" in str(put.value)
    assert "sha256:" in str(get.value)
    assert await backend.writes() == before
    assert await store.put(b"x" * 100_000) == ArtefactRef.of(b"x" * 100_000)


async def test_a_full_bucket_refuses_an_artefact_with_a_coded_error(
    nats_server: ServerProcess, bus_authority: BusAuthority, bucket: Bucket, open_store: Any
) -> None:
    async with connected(bucket, bucket.control_plane) as nc:
        js = nc.jetstream()
        await js.delete_stream(bucket.stream)
        await js.add_stream(artefact_stream_config(bucket.name, max_bytes=400_000))
    store = await open_store()

    with pytest.raises(ArtefactStoreFullError) as info:
        await store.put(os.urandom(600_000))

    assert info.value.code == "ArtefactStoreFull"
    assert f"the bucket {bucket.name!r} is full" in str(info.value)
    assert await store.put(b"small") == ArtefactRef.of(b"small")


async def test_a_store_whose_bucket_does_not_exist_is_unavailable(
    bucket: Bucket, open_store: Any
) -> None:
    async with connected(bucket, bucket.control_plane) as nc:
        await nc.jetstream().delete_stream(bucket.stream)
    store = await open_store()

    with pytest.raises(ArtefactStoreUnavailableError) as info:
        await store.put(b"anything")

    assert "does not exist: the control plane creates it when it starts" in str(info.value)
    async with connected(bucket, bucket.control_plane) as nc:
        await nc.jetstream().add_stream(artefact_stream_config(bucket.name))


async def test_a_pool_cannot_delete_purge_roll_up_or_consume_the_bucket(
    bucket: Bucket, open_store: Any
) -> None:
    store = await open_store()
    ref = await store.put(os.urandom(200_000))
    before = await messages_in(bucket)
    refusals: list[str] = []
    async with connected(bucket, bucket.pool, refusals) as nc:
        js = nc.jetstream(timeout=1)
        config = artefact_stream_config(bucket.name)
        config.allow_rollup_hdrs = True
        refused = await asyncio.gather(
            js.delete_object_store(bucket.name),
            js.purge_stream(bucket.stream),
            # (nats-py's delete_msg waits 5 s whatever the context's timeout)
            nc.request(f"$JS.API.STREAM.MSG.DELETE.{bucket.stream}", b'{"seq": 1}', timeout=1),
            js.update_stream(config),
            # A push consumer delivers wherever its creator says, even to subjects the
            # creator may not publish to: pools may create none.
            js.add_consumer(bucket.stream, deliver_subject=f"{bucket.pool.inbox}.x"),
            js.publish(
                artefact_meta_subject(bucket.name, "wipe"), b"{}", headers={"Nats-Rollup": "all"}
            ),
            return_exceptions=True,
        )
        await nc.flush()

    assert all(isinstance(error, nats.errors.TimeoutError) for error in refused[:5]), refused
    assert isinstance(refused[5], APIError)
    assert "rollup not permitted" in str(refused[5].description)
    violations = [e for e in refusals if "permissions violation for publish" in e]
    assert len(violations) == 5, refusals
    assert await messages_in(bucket) == before
    assert len(await store.get(ref)) == 200_000


async def test_the_control_plane_warns_of_a_bucket_that_accepts_roll_ups(
    bucket: Bucket, caplog: pytest.LogCaptureFixture
) -> None:
    async with connected(bucket, bucket.control_plane) as nc:
        js = nc.jetstream()
        await js.delete_stream(bucket.stream)
        await js.create_object_store(bucket.name)  # a stock object store, as `nats object add`

        await provision_pools(js, [], artefact_stream_config(bucket.name))

    assert f"the artefact stream {bucket.stream} accepts roll-up headers" in caplog.text


@pytest.mark.parametrize(
    "value",
    [
        None,
        "sha256:" + "0" * 64,
        [{"$artefact": "sha256:" + "0" * 64, "size": 1}],
        {"size": 1, "media_type": "application/json"},
        {"$artefact": "sha256:" + "0" * 63, "size": 1},
        {"$artefact": "md5:" + "0" * 32, "size": 1},
        {"$artefact": "sha256:" + "0" * 64, "size": -1},
        {"$artefact": "sha256:" + "0" * 64, "size": 1, "extra": True},
        {"$artefact": "sha256:" + "0" * 64, "digest": "sha256:" + "1" * 64, "size": 1},
    ],
)
def test_only_a_whole_valid_reference_is_taken_for_one(value: Any) -> None:
    assert as_artefact_ref(value) is None


def test_a_reference_reads_back_from_its_json() -> None:
    ref = ArtefactRef.of(b"abc", "text/plain")

    assert ref.to_json() == {
        "$artefact": "sha256:" + hashlib.sha256(b"abc").hexdigest(),
        "size": 3,
        "media_type": "text/plain",
    }
    assert as_artefact_ref(ref.to_json()) == ref
    assert as_artefact_ref({"$artefact": ref.digest, "size": 3}) == ref.model_copy(
        update={"media_type": "application/json"}
    )
