"""Event ingest: unreadable messages are set aside and the rest keeps flowing."""

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from data_plane.protocol import dead_events_subject, events_subject

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
