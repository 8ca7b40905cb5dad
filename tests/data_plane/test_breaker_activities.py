"""The node activities go through the worker's circuit breakers: run against real local
HTTP peers, in Temporal's ActivityEnvironment, on an injected clock."""

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from connectors_sdk import BreakerPolicy, NodeRegistry
from data_plane.activities.nodes import NodeActivities
from data_plane.breakers import BreakerRegistry
from data_plane.messages import RunChainInput, RunNodeInput
from data_plane.outbox import EventOutbox
from data_plane.protocol import Bus

from fixtures.clock import Clock
from fixtures.http_peer import HttpPeer

POLICY = BreakerPolicy(failures=2, cool_down="30s")


@pytest.fixture
async def activities(tmp_path: Path, clock: Clock) -> AsyncIterator[NodeActivities]:
    # A bus never started: the events the activities report wait in the outbox.
    bus = Bus("nats://127.0.0.1:4222", name="breaker-test", inbox_prefix="_INBOX.breaker-test")
    outbox = EventOutbox(tmp_path / "outbox.db", bus, "breakers")
    breakers = BreakerRegistry(failures=5, cool_down=timedelta(seconds=10), clock=clock)
    yield NodeActivities(NodeRegistry.from_entry_points(), outbox, 256 * 1024, breakers)
    await outbox.close()


def http_node(url: str, breaker: BreakerPolicy | None = POLICY, **config: Any) -> RunNodeInput:
    return RunNodeInput(
        run_id="run-1",
        pool="breakers",
        node_id="call",
        node_type="core.http",
        config={"url": url, **config},
        input={},
        max_attempts=5,
        breaker=breaker,
    )


async def run_node(activities: NodeActivities, request: RunNodeInput) -> ApplicationError | None:
    try:
        await ActivityEnvironment().run(activities.run_node, request)
    except ApplicationError as failure:
        return failure
    return None


async def outcomes(activities: NodeActivities, request: RunNodeInput, times: int) -> list[str]:
    """Run the node `times` times; the error type of each run, or "ok"."""
    found = []
    for _ in range(times):
        failure = await run_node(activities, request)
        found.append("ok" if failure is None else (failure.type or "?"))
    return found


async def open_breaker_of(activities: NodeActivities, peer: HttpPeer) -> list[str]:
    """Fail at the peer as often as POLICY takes to open its breaker."""
    return await outcomes(activities, http_node(peer.url("/status/503")), 2)


async def test_after_its_failures_a_target_fails_fast_without_being_called(
    activities: NodeActivities, http_peer: HttpPeer
) -> None:
    assert await open_breaker_of(activities, http_peer) == ["http_status"] * 2

    failure = await run_node(activities, http_node(http_peer.url("/echo")))

    assert http_peer.hits == {"/status/503": 2}
    assert failure is not None and failure.type == "CircuitOpen"
    assert not failure.non_retryable
    host = http_peer.base_url.removeprefix("http://")
    assert failure.message.startswith(f"circuit open for core.http at {host} after 2 failures")
    assert "-> 503 Service Unavailable" in failure.message
    assert "half-opens at 2030-01-01 12:00:30 UTC (in 30.0 s)" in failure.message
    # Its retry waits until the breaker lets a probe through.
    assert failure.next_retry_delay == timedelta(seconds=30)


async def test_an_open_breaker_leaves_other_hosts_alone(
    activities: NodeActivities, http_peer: HttpPeer, other_http_peer: HttpPeer
) -> None:
    await open_breaker_of(activities, http_peer)

    assert await run_node(activities, http_node(other_http_peer.url("/echo"))) is None
    assert other_http_peer.hits == {"/echo": 1}


async def test_after_the_cool_down_a_probe_reaches_the_target_and_closes_the_breaker(
    activities: NodeActivities, http_peer: HttpPeer, clock: Clock
) -> None:
    await open_breaker_of(activities, http_peer)
    clock.advance(29)
    assert await run_node(activities, http_node(http_peer.url("/echo"))) is not None

    clock.advance(1)
    assert await run_node(activities, http_node(http_peer.url("/echo"))) is None

    assert http_peer.hits == {"/status/503": 2, "/echo": 1}
    # Closed: the next failure is counted from zero, and the call after it goes through.
    await run_node(activities, http_node(http_peer.url("/status/503")))
    assert await run_node(activities, http_node(http_peer.url("/echo"))) is None
    assert http_peer.hits == {"/status/503": 3, "/echo": 2}


async def test_client_errors_and_invalid_config_do_not_open_the_breaker(
    activities: NodeActivities, http_peer: HttpPeer
) -> None:
    client_error = http_node(http_peer.url("/status/404"))
    invalid = http_node(http_peer.url("/echo"), method="FETCH")
    for _ in range(3):
        assert await outcomes(activities, client_error, 1) == ["http_status"]
        assert await outcomes(activities, invalid, 1) == ["InvalidNodeData"]

    assert await outcomes(activities, http_node(http_peer.url("/echo")), 1) == ["ok"]
    assert http_peer.hits == {"/status/404": 3, "/echo": 1}


async def test_a_node_whose_breaker_is_turned_off_always_calls_its_target(
    activities: NodeActivities, http_peer: HttpPeer
) -> None:
    off = http_node(http_peer.url("/status/503"), BreakerPolicy.model_validate(False))

    assert await outcomes(activities, off, 7) == ["http_status"] * 7

    assert http_peer.hits == {"/status/503": 7}


async def test_the_worker_defaults_apply_when_the_definition_sets_no_breaker(
    activities: NodeActivities, http_peer: HttpPeer
) -> None:
    unset = http_node(http_peer.url("/status/502"), None)

    assert await outcomes(activities, unset, 6) == ["http_status"] * 5 + ["CircuitOpen"]
    assert http_peer.hits == {"/status/502": 5}


async def test_a_chain_step_refused_by_an_open_breaker_reports_a_retryable_circuit_open(
    activities: NodeActivities, http_peer: HttpPeer
) -> None:
    await open_breaker_of(activities, http_peer)

    result = await ActivityEnvironment().run(
        activities.run_chain, RunChainInput(steps=[http_node(http_peer.url("/echo"))])
    )

    assert result.results == []
    assert result.failure is not None
    assert result.failure.type == "CircuitOpen"
    assert result.failure.retryable
    assert result.failure.message.startswith("circuit open for core.http")
    assert http_peer.hits == {"/status/503": 2}
