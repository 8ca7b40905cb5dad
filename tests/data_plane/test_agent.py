"""The agent executes only descriptors it can trust, and each of them exactly once; garbage
near the size limit cannot cut it off the bus (Hardening #4)."""

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from temporalio.service import RPCError, RPCStatusCode

from control_plane.signing import load_or_create_signing_key
from data_plane.protocol import (
    dead_runs_subject,
    runs_subject,
    sign_descriptor,
)

from fixtures.descriptors import TINY_DEFINITION, make_descriptor
from fixtures.stack import Stack, assert_eventually, commit_runs


async def publish(stack: Stack, envelope: bytes, msg_id: str) -> None:
    await stack.nats.jetstream().publish(
        runs_subject(stack.pool), envelope, headers={"Nats-Msg-Id": msg_id}
    )


async def workflow_exists(stack: Stack, run_id: str) -> bool:
    try:
        await stack.temporal.get_workflow_handle(run_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def dead_letters(stack: Stack) -> list[tuple[str, bytes]]:
    js = stack.nats.jetstream()
    sub = await js.pull_subscribe(
        dead_runs_subject(stack.pool),
        durable=None,
        config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL),
    )
    try:
        messages = await sub.fetch(100, timeout=0.5)
    except Exception:
        messages = []
    finally:
        await sub.unsubscribe()
    return [((m.headers or {}).get("Flowforge-Reason", ""), m.data) for m in messages]


def signing_key(stack: Stack) -> Ed25519PrivateKey:
    return load_or_create_signing_key(stack.cp_settings.signing_key_path)


async def test_trusted_descriptor_starts_a_workflow_named_by_the_run_id(stack: Stack) -> None:
    signed = make_descriptor(stack.pool)
    await publish(stack, sign_descriptor(signed, signing_key(stack)), signed.run_id)

    handle = stack.temporal.get_workflow_handle(signed.run_id)
    await assert_eventually(lambda: workflow_exists(stack, signed.run_id))
    result = await handle.result()
    assert result["status"] == "SUCCEEDED"


def tamper(envelope: bytes) -> bytes:
    data = json.loads(envelope)
    payload = json.loads(base64.b64decode(data["payload"]))
    payload["input"] = {"injected": True}
    data["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("reason", "make"),
    [
        ("bad_signature", lambda s, d: tamper(sign_descriptor(d, signing_key(s)))),
        (
            "expired",
            lambda s, d: sign_descriptor(
                d.model_copy(update={"expires_at": datetime.now(UTC) - timedelta(seconds=1)}),
                signing_key(s),
            ),
        ),
        ("unknown_key", lambda s, d: sign_descriptor(d, Ed25519PrivateKey.generate())),
        (
            "hash_mismatch",
            lambda s, d: sign_descriptor(d.model_copy(update={"sha256": "0" * 64}), signing_key(s)),
        ),
        ("malformed", lambda s, d: b"{not json"),
    ],
)
async def test_untrusted_descriptor_is_dead_lettered_and_never_started(
    stack: Stack, reason: str, make: Any
) -> None:
    refused = make_descriptor(stack.pool)
    await publish(stack, make(stack, refused), refused.run_id)

    async def refused_with_reason() -> bool:
        return any(r == reason for r, _ in await dead_letters(stack))

    await assert_eventually(refused_with_reason)
    assert not await workflow_exists(stack, refused.run_id)


async def test_descriptor_delivered_twice_starts_one_workflow(stack: Stack) -> None:
    twice = make_descriptor(stack.pool)
    envelope = sign_descriptor(twice, signing_key(stack))
    # Distinct message ids get past JetStream's own dedupe: the agent must hold the line.
    await publish(stack, envelope, f"{twice.run_id}-a")
    await publish(stack, envelope, f"{twice.run_id}-b")

    await assert_eventually(lambda: workflow_exists(stack, twice.run_id))
    await stack.temporal.get_workflow_handle(twice.run_id).result()

    async def both_acknowledged() -> bool:
        info = await stack.nats.jetstream().consumer_info("FF_RUNS", f"agent-{stack.pool}")
        return info.num_pending == 0 and info.num_ack_pending == 0

    await assert_eventually(both_acknowledged)
    runs = [e async for e in stack.temporal.list_workflows(f"WorkflowId = '{twice.run_id}'")]
    assert len(runs) == 1
    assert await dead_letters(stack) == []


async def test_expired_descriptor_of_a_real_run_marks_it_failed(stack: Stack) -> None:
    published = await stack.publish(TINY_DEFINITION)
    # Handed over, so that the dispatch sweep leaves it alone.
    [run] = await commit_runs(stack, published["workflowId"], [{}], handed_over=True)
    late = make_descriptor(
        stack.pool, run_id=run.id, expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    await publish(stack, sign_descriptor(late, signing_key(stack)), late.run_id)

    failed = await stack.wait_for_run(run.id)

    assert failed["status"] == "FAILED"
    assert "expired" in failed["error"]
    assert not await workflow_exists(stack, run.id)


async def test_descriptor_for_another_pool_is_refused(stack: Stack) -> None:
    stray = make_descriptor("elsewhere")
    await publish(stack, sign_descriptor(stray, signing_key(stack)), stray.run_id)

    async def refused() -> bool:
        return any(r == "wrong_pool" for r, _ in await dead_letters(stack))

    await assert_eventually(refused)
    assert not await workflow_exists(stack, stray.run_id)


async def test_garbage_near_the_size_limit_is_dead_lettered_and_the_agent_stays_on_the_bus(
    stack: Stack,
) -> None:
    """Hardening #4: its dead-letter copy, with the reason in headers, is larger than the
    original; sent whole, the server closed the agent's connection for good."""
    limit = stack.nats.max_payload
    garbage = b"x" * (limit - 200)
    await publish(stack, garbage, f"near-the-limit-{stack.pool}")

    async def dead_lettered() -> list[tuple[str, bytes]]:
        return await dead_letters(stack)

    [(reason, kept)] = await assert_eventually(dead_lettered)
    assert reason == "malformed"
    assert garbage.startswith(kept) and len(kept) < len(garbage)
    # Still connected: the next descriptor runs.
    signed = make_descriptor(stack.pool)
    await publish(stack, sign_descriptor(signed, signing_key(stack)), signed.run_id)
    await assert_eventually(lambda: workflow_exists(stack, signed.run_id))
    assert (await stack.temporal.get_workflow_handle(signed.run_id).result())["status"] == (
        "SUCCEEDED"
    )
