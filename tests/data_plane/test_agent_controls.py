"""The agent delivers the control messages it can trust to the run's workflow, each one
once; everything else is dead-lettered with the reason, and the control plane hears what
became of each request it sent."""

import base64
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.db.engine import create_engine, session_factory
from control_plane.db.models import ControlRequest, ControlStatus, Run, RunEventRecord
from control_plane.dispatch import control_message
from control_plane.signing import load_or_create_signing_key
from data_plane.controls import ControlReceiver
from data_plane.outbox import EventOutbox
from data_plane.protocol import (
    CONTROL_STREAM,
    Bus,
    ControlMessage,
    agent_consumer,
    control_subject,
    dead_control_subject,
    pool_inbox,
    sign_control,
)
from data_plane.settings import load_trusted_keys

from fixtures.bus import messages_on
from fixtures.http_peer import HttpPeer
from fixtures.stack import (
    Stack,
    assert_eventually,
    commit_runs,
    slow_between,
    started_with_slow_node,
)

ENDS_AT_ONCE = {
    "apiVersion": "flowforge/v1",
    "name": "brief",
    "nodes": [{"id": "only", "type": "core.transform", "config": {"value": {"ok": True}}}],
}
PAUSE = """mutation($id: ID!) { pauseRun(id: $id) {
  __typename ... on ControlRequest { id status } } }"""


@contextlib.asynccontextmanager
async def registry(stack: Stack) -> AsyncIterator[AsyncSession]:
    """A transaction on the stack's registry database."""
    engine = create_engine(stack.cp_settings.database_url)
    try:
        async with session_factory(engine).begin() as session:
            yield session
    finally:
        await engine.dispose()


async def pause(stack: Stack, run_id: str) -> str:
    result = (await stack.data(PAUSE, id=run_id))["pauseRun"]
    assert result["__typename"] == "ControlRequest", result
    return str(result["id"])


async def request_row(stack: Stack, control_id: str) -> ControlRequest:
    async with registry(stack) as session:
        return await session.get_one(ControlRequest, control_id)


async def settled(stack: Stack, control_id: str) -> ControlRequest:
    async def answered() -> ControlRequest | None:
        row = await request_row(stack, control_id)
        return row if row.status != ControlStatus.PENDING else None

    row: ControlRequest = await assert_eventually(answered, within=30)
    return row


async def paused(stack: Stack, run_id: str) -> dict[str, Any]:
    """The run once it shows PAUSED: its workflow's events travel apart from the agent's
    report of the request, and may come after it."""

    async def shown() -> dict[str, Any] | None:
        run = await stack.run(run_id)
        return run if run["status"] == "PAUSED" else None

    run: dict[str, Any] = await assert_eventually(shown, within=30)
    return run


async def recorded_request(stack: Stack, run_id: str, action: str, **fields: Any) -> ControlRequest:
    """A request as the control plane records one, left for the test to publish."""
    now = datetime.now(UTC)
    row = ControlRequest(
        run_id=run_id,
        action=action,
        compensate=False,
        status=ControlStatus.PENDING,
        requested_by="test",
        requested_at=now,
        expires_at=now + timedelta(minutes=5),
        # Handed over: the dispatch sweep leaves it to the test.
        dispatched_at=now,
        **fields,
    )
    async with registry(stack) as session:
        session.add(row)
    return row


def signed(stack: Stack, message: ControlMessage, key: Ed25519PrivateKey | None = None) -> bytes:
    return sign_control(
        message, key or load_or_create_signing_key(stack.cp_settings.signing_key_path)
    )


async def publish(stack: Stack, envelope: bytes, msg_id: str) -> None:
    await stack.nats.jetstream().publish(
        control_subject(stack.pool), envelope, headers={"Nats-Msg-Id": msg_id}
    )


async def dead_letters(stack: Stack) -> list[tuple[str, str]]:
    """(reason, error) of each control message the pool refused."""
    found = await messages_on(stack.nats, dead_control_subject(stack.pool))
    headers = [m.headers or {} for m in found]
    return [(h.get("Flowforge-Reason", ""), h.get("Flowforge-Error", "")) for h in headers]


async def count_of(stack: Stack, run_id: str, kind: str) -> int:
    async with registry(stack) as session:
        query = select(func.count()).where(
            RunEventRecord.run_id == run_id, RunEventRecord.kind == kind
        )
        return int(await session.scalar(query) or 0)


async def test_a_pause_is_delivered_once_and_its_outcome_reported(
    stack: Stack, http_peer: HttpPeer
) -> None:
    run_id = await started_with_slow_node(stack, http_peer, 60)

    control_id = await pause(stack, run_id)

    row = await settled(stack, control_id)
    assert (row.status, row.reason) == (ControlStatus.APPLIED, None)
    await paused(stack, run_id)
    assert await count_of(stack, run_id, "run.paused") == 1
    assert await count_of(stack, run_id, "control.applied") == 1
    assert await dead_letters(stack) == []


async def test_a_redelivered_control_message_gets_the_first_answer(
    sqlite_stack: Stack, tmp_path: Path, http_peer: HttpPeer
) -> None:
    stack = sqlite_stack
    run_id = await started_with_slow_node(stack, http_peer, 60)
    control_id = await pause(stack, run_id)
    await settled(stack, control_id)
    await paused(stack, run_id)
    # The same stream message (same sequence), handed to an agent a second time, as
    # JetStream does when an agent died before its acknowledgement.
    sub = await stack.nats.jetstream().pull_subscribe(
        control_subject(stack.pool),
        durable=None,
        stream=CONTROL_STREAM,
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL),
    )
    [again] = await sub.fetch(1, timeout=5)
    assert stack.dp_settings.nats_credentials is not None
    bus = Bus(
        stack.dp_settings.nats_url,
        name="second-agent",
        inbox_prefix=pool_inbox(stack.pool),
        credentials=stack.dp_settings.nats_credentials,
    )
    bus.start()
    outbox = EventOutbox(tmp_path / "second-outbox.db", bus, stack.pool)
    temporal = stack.temporal
    receiver = ControlReceiver(
        bus, outbox, temporal, load_trusted_keys(stack.dp_settings.trusted_keys), stack.pool
    )
    try:
        await assert_eventually(lambda: _true(bus.connected))
        await receiver.handle(again)
        reported = outbox.pending
        await outbox.publish_pending()
    finally:
        await sub.unsubscribe()
        await outbox.close()
        await bus.close()

    assert reported == 1  # its control.applied, again
    assert await dead_letters(stack) == []
    assert (await request_row(stack, control_id)).status == ControlStatus.APPLIED
    assert await count_of(stack, run_id, "run.paused") == 1
    assert (await stack.run(run_id))["status"] == "PAUSED"


async def _true(value: bool) -> bool:
    return value


async def test_a_control_message_published_again_is_dead_lettered_as_replayed(
    stack: Stack, http_peer: HttpPeer
) -> None:
    run_id = await started_with_slow_node(stack, http_peer, 60)
    control_id = await pause(stack, run_id)
    await settled(stack, control_id)
    await paused(stack, run_id)
    [original] = await messages_on(stack.nats, control_subject(stack.pool))

    # Under another message id, as after JetStream's duplicate window.
    await publish(stack, original.data, f"{control_id}-again")

    [(reason, error)] = await assert_eventually(lambda: dead_letters(stack))
    assert reason == "replayed"
    assert control_id in error
    row = await request_row(stack, control_id)
    assert (row.status, row.reason) == (ControlStatus.APPLIED, None)
    assert await count_of(stack, run_id, "run.paused") == 1
    assert await count_of(stack, run_id, "control.refused") == 0


def tampered(envelope: bytes) -> bytes:
    data = json.loads(envelope)
    payload = json.loads(base64.b64decode(data["payload"]))
    payload["action"] = "cancel"
    data["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    return json.dumps(data).encode()


def expired(message: ControlMessage) -> ControlMessage:
    return message.model_copy(update={"expires_at": datetime.now(UTC) - timedelta(seconds=1)})


@pytest.mark.parametrize(
    ("reason", "make"),
    [
        ("bad_signature", lambda s, m: tampered(signed(s, m))),
        ("expired", lambda s, m: signed(s, expired(m))),
        ("unknown_key", lambda s, m: signed(s, m, Ed25519PrivateKey.generate())),
        ("wrong_pool", lambda s, m: signed(s, m.model_copy(update={"pool": "elsewhere"}))),
        ("malformed", lambda s, m: b'{"key_id": "x"}'),
    ],
)
async def test_an_untrusted_control_message_is_dead_lettered_and_changes_nothing(
    sqlite_stack: Stack, http_peer: HttpPeer, reason: str, make: Any
) -> None:
    stack = sqlite_stack
    run_id = await started_with_slow_node(stack, http_peer, 60)
    row = await recorded_request(stack, run_id, "pause")

    await publish(stack, make(stack, control_message(row, stack.pool)), row.id)

    [(found, _)] = await assert_eventually(lambda: dead_letters(stack))
    assert found == reason
    # Nothing a pool cannot vouch for is reported: the request waits for its expiry.
    assert (await request_row(stack, row.id)).status == ControlStatus.PENDING
    assert (await stack.run(run_id))["status"] == "RUNNING"
    assert await count_of(stack, run_id, "control.refused") == 0


async def test_a_control_message_the_run_refuses_is_reported_with_its_reason(
    sqlite_stack: Stack, http_peer: HttpPeer
) -> None:
    stack = sqlite_stack
    run_id = await started_with_slow_node(stack, http_peer, 60)
    # The control plane would not send it (the run is not paused); the workflow decides.
    row = await recorded_request(stack, run_id, "resume")

    await publish(stack, signed(stack, control_message(row, stack.pool)), row.id)

    refused = await settled(stack, row.id)
    assert refused.status == ControlStatus.REFUSED
    assert refused.reason == "the run refused its resume: the run is not paused"
    assert await dead_letters(stack) == [("refused", refused.reason)]
    assert (await stack.run(run_id))["status"] == "RUNNING"


async def test_a_control_message_for_a_run_that_ended_is_refused(sqlite_stack: Stack) -> None:
    stack = sqlite_stack
    ended = await stack.run_to_end(ENDS_AT_ONCE)
    row = await recorded_request(stack, ended["id"], "cancel")

    await publish(stack, signed(stack, control_message(row, stack.pool)), row.id)

    refused = await settled(stack, row.id)
    assert (refused.status, refused.reason) == (ControlStatus.REFUSED, "the run had already ended")
    assert await dead_letters(stack) == [("run_ended", "the run had already ended")]
    assert (await stack.run(ended["id"]))["status"] == "SUCCEEDED"


async def test_a_control_message_for_a_run_not_started_yet_is_applied_once_it_starts(
    sqlite_stack: Stack, http_peer: HttpPeer
) -> None:
    stack = sqlite_stack
    published = await stack.publish(slow_between(http_peer, 60))
    # Committed, its descriptor not published yet.
    [run] = await commit_runs(stack, published["workflowId"], [{}], handed_over=True)
    control_id = await pause(stack, run.id)

    async def tried_and_put_back() -> bool:
        info = await stack.nats.jetstream().consumer_info(
            CONTROL_STREAM, agent_consumer(stack.pool)
        )
        return info.num_redelivered >= 1

    await assert_eventually(tried_and_put_back)
    assert (await request_row(stack, control_id)).status == ControlStatus.PENDING
    # Now the descriptor goes out (the dispatch sweep publishes it) and the run starts.
    async with registry(stack) as session:
        (await session.get_one(Run, run.id)).dispatched_at = None

    row = await settled(stack, control_id)
    assert row.status == ControlStatus.APPLIED
    held = await paused(stack, run.id)
    assert "after" not in {n["nodeId"] for n in held["nodes"]}
    assert await dead_letters(stack) == []
