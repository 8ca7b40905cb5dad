"""Event ingest: unreadable messages are set aside and the rest keeps flowing (Hardening #6).

An event with `at = 0001-01-01T00:00:00+01:00` raised an OverflowError that ingest retried
every second for ever, so every later run stayed QUEUED. Event fields are now checked at
the boundary, and a message that still cannot be applied is set aside after a bounded
number of attempts.
"""

from datetime import UTC, datetime

import pytest
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from control_plane.ingest import MAX_ATTEMPTS
from data_plane.protocol import EventBatch, RunEvent, dead_events_subject, events_subject

from fixtures.stack import Stack, assert_eventually

FLOW = {
    "apiVersion": "flowforge/v1",
    "name": "after-garbage",
    "nodes": [{"id": "only", "type": "core.transform", "config": {"value": {"ok": True}}}],
}


async def test_malformed_event_message_is_dead_lettered_and_ingest_goes_on(stack: Stack) -> None:
    pool = await stack.connect_as_pool()
    try:
        await pool.jetstream().publish(
            events_subject(stack.pool), b'{"events": [{"kind": "nonsense"}]}'
        )
    finally:
        await pool.close()
    js = stack.nats.jetstream()

    run = await stack.run_to_end(FLOW)

    assert run["status"] == "SUCCEEDED"
    sub = await js.pull_subscribe(
        dead_events_subject(stack.pool),
        durable=None,
        config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL),
    )
    try:

        async def dead_lettered() -> list:
            try:
                return await sub.fetch(1, timeout=0.5)
            except TimeoutError:
                return []

        [message] = await assert_eventually(dead_lettered)
    finally:
        await sub.unsubscribe()
    assert message.data == b'{"events": [{"kind": "nonsense"}]}'
    assert message.headers["Flowforge-Reason"] == "malformed"


async def publish_as_pool(stack: Stack, data: bytes) -> None:
    pool = await stack.connect_as_pool()
    try:
        await pool.jetstream().publish(events_subject(stack.pool), data)
    finally:
        await pool.close()


async def dead_letters(stack: Stack) -> list[Msg]:
    sub = await stack.nats.jetstream().pull_subscribe(
        dead_events_subject(stack.pool),
        durable=None,
        config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL),
    )
    try:
        return await sub.fetch(10, timeout=0.5)
    except TimeoutError:
        return []
    finally:
        await sub.unsubscribe()


async def test_an_event_time_outside_utc_is_dead_lettered_and_ingest_goes_on(
    stack: Stack,
) -> None:
    first = await stack.run_to_end(FLOW)
    poison = (
        b'{"events": [{"event_id": "x", "run_id": "' + first["id"].encode() + b'", '
        b'"kind": "run.failed", "at": "0001-01-01T00:00:00+01:00"}]}'
    )
    await publish_as_pool(stack, poison)

    [message] = await assert_eventually(lambda: dead_letters(stack))
    assert message.headers["Flowforge-Reason"] == "malformed"
    assert "outside the range of representable UTC times" in message.headers["Flowforge-Error"]
    assert (await stack.run(first["id"]))["status"] == "SUCCEEDED"
    assert (await stack.run_to_end(FLOW))["status"] == "SUCCEEDED"


async def test_an_event_the_database_refuses_is_set_aside_after_a_few_attempts(
    stack: Stack,
) -> None:
    if not stack.cp_settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite stores a NUL character; PostgreSQL's JSONB refuses it")
    first = await stack.run_to_end(FLOW)
    event = RunEvent.create(
        first["id"], "node.started", datetime.now(UTC), "only", attempt=2, input={"v": "\x00"}
    )
    await publish_as_pool(stack, EventBatch(events=[event]).to_bytes())

    [message] = await assert_eventually(lambda: dead_letters(stack), within=60)
    assert message.headers["Flowforge-Reason"] == "unappliable"
    assert f"failed {MAX_ATTEMPTS} times" in message.headers["Flowforge-Error"]
    assert (await stack.run_to_end(FLOW))["status"] == "SUCCEEDED"
