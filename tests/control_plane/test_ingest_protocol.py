"""Ingest reads the protocol version of each event first: a version it does not know is
set aside with both versions named, and the events after it still apply."""

import json
from datetime import UTC, datetime
from typing import Any

import nats
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from data_plane.protocol import (
    CONTROL_PLANE_INBOX,
    EventBatch,
    RunEvent,
    dead_events_subject,
    events_subject,
    pool_inbox,
)
from flowforge.nats_accounts import BusAuthority

from fixtures.api import Api
from fixtures.stack import assert_eventually

FLOW = {
    "apiVersion": "flowforge/v1",
    "name": "versions",
    "nodes": [{"id": "only", "type": "core.transform", "config": {"value": {"ok": True}}}],
}


async def publish_as_pool(api: Api, authority: BusAuthority, *bodies: bytes) -> None:
    pool = await nats.connect(
        api.settings.nats_url,
        user_credentials=str(authority.pool_credentials(api.pool)),
        inbox_prefix=pool_inbox(api.pool),
    )
    try:
        for body in bodies:
            await pool.jetstream().publish(events_subject(api.pool), body)
    finally:
        await pool.close()


async def dead_lettered(api: Api, count: int = 1) -> list[Msg]:
    """The pool's dead-lettered event messages, once there are at least `count`."""

    async def enough() -> list[Msg] | None:
        found = await _dead_letters(api)
        return found if len(found) >= count else None

    found: list[Msg] = await assert_eventually(enough)
    return found


async def _dead_letters(api: Api) -> list[Msg]:
    reader = await nats.connect(
        api.settings.nats_url,
        user_credentials=str(api.settings.nats_credentials),
        inbox_prefix=CONTROL_PLANE_INBOX,
    )
    try:
        sub = await reader.jetstream().pull_subscribe(
            dead_events_subject(api.pool),
            durable=None,
            config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL),
        )
        try:
            return await sub.fetch(10, timeout=0.5)
        except TimeoutError:
            return []
    finally:
        await reader.close()


def batch(*events: RunEvent, **overrides: Any) -> bytes:
    body = json.loads(EventBatch(events=list(events)).to_bytes())
    body["events"] = [{**event, **overrides} for event in body["events"]]
    return json.dumps(body).encode()


async def node_statuses(api: Api, run_id: str) -> dict[str, str]:
    data = await api.data("query($id: ID!) { run(id: $id) { nodes { nodeId status } } }", id=run_id)
    return {node["nodeId"]: node["status"] for node in data["run"]["nodes"]}


async def test_an_event_of_an_unknown_protocol_is_dead_lettered_naming_both_versions(
    sqlite_api: Api, bus_authority: BusAuthority
) -> None:
    api = sqlite_api
    await api.ready()
    run_id = await api.queued_run(await api.publish(FLOW))
    now = datetime.now(UTC)
    newer = batch(
        RunEvent.create(run_id, "node.started", now, "only"),
        protocol=3,
        # A field protocol 2 does not know: without the version check this would be
        # reported as malformed.
        scope={"kind": "map"},
    )
    current = batch(RunEvent.create(run_id, "node.succeeded", now, "late"), protocol=2)
    unversioned = batch(RunEvent.create(run_id, "node.skipped", now, "old"))

    await publish_as_pool(api, bus_authority, newer, current, unversioned)

    [message] = await dead_lettered(api)
    assert message.data == newer
    assert message.headers["Flowforge-Reason"] == "unsupported_protocol"
    reason = message.headers["Flowforge-Error"]
    assert "speaks protocol 3" in reason
    assert "reads protocol 1 and 2" in reason

    async def later_batches_applied() -> dict[str, str] | None:
        statuses = await node_statuses(api, run_id)
        return statuses if {"late", "old"} <= set(statuses) else None

    assert await assert_eventually(later_batches_applied) == {"late": "SUCCEEDED", "old": "SKIPPED"}


async def test_a_version_that_is_not_an_integer_is_not_taken_for_one(
    sqlite_api: Api, bus_authority: BusAuthority
) -> None:
    api = sqlite_api
    await api.ready()
    run_id = await api.queued_run(await api.publish(FLOW))
    event = RunEvent.create(run_id, "node.started", datetime.now(UTC), "only")

    await publish_as_pool(
        api, bus_authority, batch(event, protocol="2"), batch(event, protocol=[2])
    )

    messages = await dead_lettered(api, 2)
    assert [m.headers["Flowforge-Reason"] for m in messages] == ["unsupported_protocol"] * 2
    assert "speaks protocol '2'" in messages[0].headers["Flowforge-Error"]
    assert await node_statuses(api, run_id) == {}
