"""The bus authenticates and authorises every connection (Hardening #1, #2).

Regression tests of defects found by a hostile user: without credentials anyone could
rewrite run results by publishing events, and predictable message ids let junk shadow the
genuine batch. Now each identity connects with its own credentials and may use only the
subjects its role needs; each pool reports on its own stream.
"""

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, StreamConfig

from data_plane.protocol import (
    EventBatch,
    RunEvent,
    control_subject,
    dead_control_subject,
    dead_events_subject,
    dead_stream,
    events_stream,
    events_subject,
    pool_inbox,
    provision_pools,
    runs_subject,
)
from data_plane.worker import serve
from flowforge.inprocess import Stack
from flowforge.nats_accounts import BusAuthority
from flowforge.servers import ServerProcess
from tests.fixtures.bus import Denials, connect_as, messages_on, refused

from fixtures.http_peer import HttpPeer
from fixtures.stack import assert_eventually

FLOW = {
    "apiVersion": "flowforge/v1",
    "name": "genuine",
    "nodes": [{"id": "only", "type": "core.transform", "config": {"value": {"ok": True}}}],
}


async def test_without_credentials_nothing_connects(nats_server: ServerProcess) -> None:
    # Spoken on the socket: nats-py leaks its socket when a connection is refused.
    host, port = nats_server.address.removeprefix("nats://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        assert (await reader.readline()).startswith(b"INFO ")
        writer.write(b'CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n')
        await writer.drain()
        answer = await asyncio.wait_for(reader.readline(), timeout=5)
    finally:
        writer.close()
        await writer.wait_closed()
    assert answer.startswith(b"-ERR 'Authorization Violation'")


@pytest.mark.parametrize(
    ("stream", "subject"), [("FF_RUNS", runs_subject), ("FF_CONTROL", control_subject)]
)
async def test_a_pool_cannot_publish_a_descriptor_or_a_control_message(
    sqlite_stack: Stack, stream: str, subject: Any
) -> None:
    stack = sqlite_stack
    denials = Denials()
    assert stack.dp_settings.nats_credentials is not None
    pool = await connect_as(
        stack.dp_settings.nats_url,
        stack.dp_settings.nats_credentials,
        pool_inbox(stack.pool),
        denials,
    )
    try:
        await pool.publish(subject(stack.pool), b"{}")
        await pool.flush()
        await assert_eventually(lambda: _has(denials, "permissions violation for publish"))
    finally:
        await pool.close()
    info = await stack.nats.jetstream().stream_info(stream, subjects_filter=subject(stack.pool))
    assert subject(stack.pool) not in (info.state.subjects or {})


async def test_provisioning_gives_an_older_dead_letter_stream_the_control_subject(
    sqlite_stack: Stack,
) -> None:
    pool = f"u{uuid.uuid4().hex[:10]}"
    js = sqlite_stack.nats.jetstream()
    # As the release before control messages made it, with a limit an operator tuned.
    await js.add_stream(
        StreamConfig(
            name=dead_stream(pool),
            subjects=[f"ff.dead.runs.{pool}", f"ff.dead.events.{pool}"],
            max_age=3600.0,
        )
    )
    try:
        await provision_pools(js, [pool])
        config = (await js.stream_info(dead_stream(pool))).config
    finally:
        for stream in (dead_stream(pool), events_stream(pool)):
            await js.delete_stream(stream)
        for stream in ("FF_RUNS", "FF_CONTROL"):
            await js.delete_consumer(stream, f"agent-{pool}")

    assert config.subjects == [
        f"ff.dead.runs.{pool}",
        f"ff.dead.events.{pool}",
        dead_control_subject(pool),
    ]
    assert config.max_age == 3600.0


async def test_a_pool_cannot_read_or_report_for_another_pool(
    two_pools: tuple[Stack, str], nats_server: ServerProcess, bus_authority: BusAuthority
) -> None:
    stack, other = two_pools
    denials = Denials()
    intruder = await connect_as(
        nats_server.address, bus_authority.pool_credentials(other), pool_inbox(other), denials
    )
    try:
        await intruder.subscribe(runs_subject(stack.pool))
        await intruder.subscribe(control_subject(stack.pool))
        await intruder.subscribe(events_subject(stack.pool))
        await intruder.publish(events_subject(stack.pool), b"{}")
        # Pull the other pool's descriptors and control messages, and make a consumer of
        # one's own choosing.
        for stream in ("FF_RUNS", "FF_CONTROL"):
            await intruder.publish(f"$JS.API.CONSUMER.MSG.NEXT.{stream}.agent-{stack.pool}", b"1")
        with pytest.raises(nats.errors.TimeoutError):
            await intruder.jetstream(timeout=1).add_consumer(
                "FF_RUNS", ConsumerConfig(filter_subject=runs_subject(stack.pool))
            )
        await intruder.flush()
        await assert_eventually(lambda: _count(denials, 7))
    finally:
        await intruder.close()
    assert sum("subscription" in e for e in denials.errors) == 3
    assert sum("publish" in e for e in denials.errors) == 4
    # The stack still works for its own pool.
    assert (await stack.run_to_end(FLOW))["status"] == "SUCCEEDED"


async def test_forged_events_from_another_pool_change_nothing(
    two_pools: tuple[Stack, str], nats_server: ServerProcess, bus_authority: BusAuthority
) -> None:
    stack, other = two_pools
    run = await stack.run_to_end(FLOW)
    now = datetime.now(UTC)
    forged = [
        RunEvent.create(run["id"], "run.failed", now, error="forged"),
        RunEvent.create(run["id"], "node.succeeded", now, "only", output={"ok": "forged"}),
        RunEvent.create(run["id"], "node.started", now, "extra", input={}),
    ]
    intruder = await connect_as(
        nats_server.address, bus_authority.pool_credentials(other), pool_inbox(other)
    )
    try:
        batch = EventBatch(events=forged)
        await intruder.jetstream().publish(
            events_subject(other), batch.to_bytes(), headers={"Nats-Msg-Id": batch.message_id}
        )
    finally:
        await intruder.close()

    [dead] = await assert_eventually(lambda: _dead_letters(stack, other))
    assert dead.headers["Flowforge-Reason"] == "wrong_pool"
    assert run["id"] in dead.headers["Flowforge-Error"]
    assert await stack.run(run["id"]) == run


async def test_message_ids_of_one_pool_cannot_shadow_another_pools(
    two_pools: tuple[Stack, str], nats_server: ServerProcess, bus_authority: BusAuthority
) -> None:
    stack, other = two_pools
    msg_id = f"claimed-{uuid.uuid4().hex}"
    intruder = await connect_as(
        nats_server.address, bus_authority.pool_credentials(other), pool_inbox(other)
    )
    genuine = await stack.connect_as_pool()
    try:
        await intruder.jetstream().publish(
            events_subject(other), b"junk", headers={"Nats-Msg-Id": msg_id}
        )
        ack = await genuine.jetstream().publish(
            events_subject(stack.pool), b"genuine", headers={"Nats-Msg-Id": msg_id}
        )
    finally:
        await intruder.close()
        await genuine.close()
    assert ack.stream == events_stream(stack.pool)
    assert not ack.duplicate


async def test_revoked_credentials_are_cut_off_without_restarting_the_server(
    nats_server: ServerProcess, bus_authority: BusAuthority, tmp_path: Path
) -> None:
    pool = f"r{uuid.uuid4().hex[:10]}"
    credentials = tmp_path / "revoked.creds"
    credentials.write_text(bus_authority.pool_credentials(pool).read_text())
    closed = asyncio.Event()

    async def on_closed() -> None:
        closed.set()

    connection = await connect_as(
        nats_server.address,
        credentials,
        pool_inbox(pool),
        allow_reconnect=False,
        closed_cb=on_closed,
    )

    await bus_authority.revoke(f"pool-{pool}", nats_server.address)

    await asyncio.wait_for(closed.wait(), timeout=10)
    assert connection.is_closed
    assert await refused(
        connect_as(nats_server.address, credentials, pool_inbox(pool), allow_reconnect=False)
    )
    # The pool's next credentials work at once.
    fresh = await connect_as(
        nats_server.address, bus_authority.pool_credentials(pool), pool_inbox(pool)
    )
    assert fresh.is_connected
    await fresh.close()


async def _has(denials: Denials, text: str) -> bool:
    return any(text in error for error in denials.errors)


async def _count(denials: Denials, n: int) -> bool:
    return len(denials.errors) >= n


async def _dead_letters(stack: Stack, pool: str) -> list[Msg]:
    return await messages_on(stack.nats, dead_events_subject(pool), 10)


async def test_a_node_pinned_to_another_pool_reports_through_that_pools_subjects(
    two_pools: tuple[Stack, str],
    bus_authority: BusAuthority,
    http_peer: HttpPeer,
    tmp_path: Path,
) -> None:
    stack, other = two_pools
    settings = stack.dp_settings.model_copy(
        update={
            "pool": other,
            "nats_credentials": bus_authority.pool_credentials(other),
            "outbox_path": tmp_path / "other-outbox.db",
        }
    )
    stop = asyncio.Event()
    other_plane = asyncio.create_task(serve(settings, stack.registry, stop))
    try:
        run = await stack.run_to_end(
            {
                "apiVersion": "flowforge/v1",
                "name": "two-pools",
                "nodes": [
                    {"id": "here", "type": "core.transform", "config": {"value": 1}},
                    {
                        "id": "there",
                        "type": "core.http",
                        "pool": other,
                        "config": {"url": http_peer.url("/echo")},
                    },
                ],
                "edges": [{"from": "here", "to": "there"}],
            }
        )
    finally:
        stop.set()
        await other_plane
    assert run["status"] == "SUCCEEDED", run
    there = next(n for n in run["nodes"] if n["nodeId"] == "there")
    assert there["status"] == "SUCCEEDED"
    assert there["output"]["body"]["path"] == "/echo"
    # The pinned node's own events came on the other pool's stream, and were accepted.
    info = await stack.nats.jetstream().stream_info(events_stream(other))
    assert info.state.messages > 0


async def test_a_node_pinned_to_a_pool_the_control_plane_does_not_serve_is_refused(
    stack: Stack,
) -> None:
    published = await stack.publish(
        {
            "apiVersion": "flowforge/v1",
            "name": "unserved-pool",
            "nodes": [
                {"id": "a", "type": "core.transform", "pool": "nowhere", "config": {"value": 1}}
            ],
        }
    )

    assert published["__typename"] == "ValidationFailed"
    [issue] = published["errors"]
    assert issue["nodeId"] == "a"
    assert issue["field"] == "pool"
    assert "pool 'nowhere' is not one this control plane serves" in issue["message"]
