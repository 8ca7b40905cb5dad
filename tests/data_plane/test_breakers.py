"""A worker's circuit breakers, state by state, on an injected clock (no Temporal)."""

import asyncio
from datetime import timedelta

import pytest

from connectors_sdk import BreakerPolicy, ConnectorExecutionError, Node, NodeContext
from connectors_sdk.nodes.http import HttpRequest
from data_plane.breakers import BreakerLimits, BreakerRegistry
from data_plane.errors import CircuitOpenError
from data_plane.settings import DataPlaneSettings
from data_plane.worker import breaker_registry

from fixtures.clock import Clock

LIMITS = BreakerLimits(failures=3, cool_down=timedelta(seconds=30))
UNWELL = ConnectorExecutionError("GET http://api/x -> 503 Service Unavailable")


class Quiet(Node):
    """A node type with no breaker policy of its own."""

    type = "test.quiet"

    async def run(self, ctx: NodeContext, config: Node.Config, input: Node.Input) -> Node.Output:
        return self.Output()


class Touchy(Node):
    """A node type whose breaker opens after one failure and stays open a minute."""

    type = "test.touchy"
    breaker = BreakerPolicy(failures=1, cool_down="1m")

    async def run(self, ctx: NodeContext, config: Node.Config, input: Node.Input) -> Node.Output:
        return self.Output()


class Unguarded(Node):
    """A node type that turns its breakers off."""

    type = "test.unguarded"
    breaker = BreakerPolicy(enabled=False)

    async def run(self, ctx: NodeContext, config: Node.Config, input: Node.Input) -> Node.Output:
        return self.Output()


@pytest.fixture
def breakers(clock: Clock) -> BreakerRegistry:
    return BreakerRegistry(failures=5, cool_down=timedelta(seconds=10), clock=clock)


def call(
    breakers: BreakerRegistry,
    outcome: BaseException | None = None,
    target: str | None = "api:443",
    limits: BreakerLimits = LIMITS,
) -> str:
    """Make one call through the breaker; return "ok", "failed" or "refused"."""
    try:
        with breakers.guarding("core.http", target, limits):
            if outcome is not None:
                raise outcome
    except CircuitOpenError:
        return "refused"
    except BaseException as exc:
        assert exc is outcome
        return "failed"
    return "ok"


def refusal(breakers: BreakerRegistry, target: str = "api:443") -> CircuitOpenError:
    """The error with which the breaker refuses a call (the test fails if it lets it go)."""
    with pytest.raises(CircuitOpenError) as refused, breakers.guarding("core.http", target, LIMITS):
        pytest.fail("the breaker let the call through")
    return refused.value


def open_breaker(breakers: BreakerRegistry, target: str = "api:443") -> None:
    for _ in range(LIMITS.failures):
        assert call(breakers, UNWELL, target) == "failed"


def test_breaker_opens_after_its_number_of_consecutive_failures(
    breakers: BreakerRegistry,
) -> None:
    assert call(breakers, UNWELL) == "failed"
    assert call(breakers, UNWELL) == "failed"
    assert call(breakers) == "ok"  # a success forgets the failures before it
    assert [call(breakers, UNWELL) for _ in range(3)] == ["failed"] * 3
    assert call(breakers) == "refused"


def test_open_breaker_names_type_target_failures_last_error_and_when_it_half_opens(
    breakers: BreakerRegistry, clock: Clock
) -> None:
    open_breaker(breakers)
    clock.advance(10)

    refused = refusal(breakers)

    message = str(refused)
    assert message.startswith("circuit open for core.http at api:443 after 3 failures in a row")
    assert "GET http://api/x -> 503 Service Unavailable" in message
    assert "half-opens at 2030-01-01 12:00:30 UTC (in 20.0 s)" in message
    assert refused.code == "CircuitOpen"
    assert refused.retry_after == timedelta(seconds=20)


def test_failures_that_say_nothing_about_the_target_neither_count_nor_forget(
    breakers: BreakerRegistry,
) -> None:
    neutral = [
        ConnectorExecutionError("GET http://api/x -> 404 Not Found", retryable=False),
        ValueError("a bug in the node"),
        asyncio.CancelledError(),
    ]
    assert [call(breakers, UNWELL) for _ in range(2)] == ["failed"] * 2

    # Each went through (none was refused), so none counted ...
    assert [call(breakers, outcome) for outcome in neutral] == ["failed"] * 3
    # ... and none forgot: this is the third failure in a row.
    assert call(breakers, UNWELL) == "failed"
    assert call(breakers) == "refused"


def test_each_target_and_each_node_type_has_its_own_breaker(breakers: BreakerRegistry) -> None:
    open_breaker(breakers, "api:443")

    assert call(breakers, target="api:443") == "refused"
    assert call(breakers, target="other:443") == "ok"
    assert call(breakers, target=None) == "ok"
    with breakers.guarding("acme.fetch", "api:443", LIMITS):
        pass


def test_after_the_cool_down_one_probe_goes_through_and_its_success_closes_the_breaker(
    breakers: BreakerRegistry, clock: Clock
) -> None:
    open_breaker(breakers)
    clock.advance(29.9)
    assert call(breakers) == "refused"
    clock.advance(0.1)

    with breakers.guarding("core.http", "api:443", LIMITS):
        # While the probe is in flight, the other calls are refused.
        refused = refusal(breakers)
        assert "half-open and its one probe is in flight" in str(refused)
        assert refused.retry_after is None
    assert [call(breakers) for _ in range(3)] == ["ok"] * 3
    assert [call(breakers, UNWELL) for _ in range(2)] == ["failed"] * 2
    assert call(breakers) == "ok"  # closed again: counting from zero


def test_a_failed_probe_opens_the_breaker_for_another_cool_down(
    breakers: BreakerRegistry, clock: Clock
) -> None:
    open_breaker(breakers)
    clock.advance(30)

    assert call(breakers, UNWELL) == "failed"  # the probe
    clock.advance(29)
    refused = refusal(breakers)
    assert "after 4 failures in a row" in str(refused)
    assert refused.retry_after == timedelta(seconds=1)
    clock.advance(1)
    assert call(breakers) == "ok"


def test_a_probe_that_ends_without_a_verdict_gives_its_turn_to_the_next_call(
    breakers: BreakerRegistry, clock: Clock
) -> None:
    open_breaker(breakers)
    clock.advance(30)

    assert call(breakers, asyncio.CancelledError()) == "failed"  # the probe, cancelled
    assert call(breakers, ConnectorExecutionError("400", retryable=False)) == "failed"
    assert call(breakers) == "ok"


def test_a_probe_that_never_ends_loses_its_turn_after_a_cool_down(
    breakers: BreakerRegistry, clock: Clock
) -> None:
    open_breaker(breakers)
    clock.advance(30)
    hung = breakers.guarding("core.http", "api:443", LIMITS)
    hung.__enter__()

    clock.advance(29)
    assert call(breakers) == "refused"
    clock.advance(1)
    assert call(breakers) == "ok"


def test_each_call_reads_the_shared_record_with_its_own_node_s_limits(
    breakers: BreakerRegistry, clock: Clock
) -> None:
    patient = BreakerLimits(failures=10, cool_down=timedelta(seconds=30))
    quick = BreakerLimits(failures=3, cool_down=timedelta(seconds=5))
    open_breaker(breakers)

    # 4 failures, under the patient node's 10: still closed for it, so it goes through.
    assert call(breakers, UNWELL, limits=patient) == "failed"
    assert call(breakers) == "refused"
    clock.advance(5)
    assert call(breakers) == "refused"  # LIMITS waits 30 s
    assert call(breakers, limits=quick) == "ok"  # quick waits 5 s: its probe closes it for all
    assert call(breakers) == "ok"


async def test_a_failure_of_a_call_in_flight_when_the_breaker_opened_keeps_it_open_longer(
    breakers: BreakerRegistry, clock: Clock
) -> None:
    entered, answer = asyncio.Event(), asyncio.Event()

    async def slow_failure() -> None:
        with breakers.guarding("core.http", "api:443", LIMITS):
            entered.set()
            await answer.wait()
            raise UNWELL

    in_flight = asyncio.create_task(slow_failure())
    await entered.wait()
    open_breaker(breakers)
    clock.advance(20)
    answer.set()
    with pytest.raises(ConnectorExecutionError):
        await in_flight

    clock.advance(20)
    assert "after 4 failures in a row" in str(refusal(breakers))
    clock.advance(10)
    assert call(breakers) == "ok"


def test_a_registry_turned_off_gives_no_limits_whatever_the_policy(clock: Clock) -> None:
    turned_off = BreakerRegistry(
        failures=1, cool_down=timedelta(seconds=10), enabled=False, clock=clock
    )

    assert turned_off.limits(Quiet, BreakerPolicy(failures=1)) is None
    assert turned_off.limits(Touchy, None) is None


def test_without_limits_every_call_goes_through(breakers: BreakerRegistry) -> None:
    for _ in range(10):
        with pytest.raises(ConnectorExecutionError), breakers.guarding("test.quiet", None, None):
            raise UNWELL


def test_limits_come_from_the_definition_then_the_operator_then_the_node_type_then_defaults(
    clock: Clock,
) -> None:
    operator = {"test.touchy": BreakerPolicy(cool_down="2m"), "test.quiet": BreakerPolicy()}
    breakers = BreakerRegistry(
        failures=5, cool_down=timedelta(seconds=10), node_types=operator, clock=clock
    )
    minutes = timedelta(minutes=1)

    assert breakers.limits(Quiet, None) == BreakerLimits(5, timedelta(seconds=10))
    assert breakers.limits(Touchy, None) == BreakerLimits(1, 2 * minutes)
    assert breakers.limits(Touchy, BreakerPolicy(cool_down="3m")) == BreakerLimits(1, 3 * minutes)
    assert breakers.limits(Quiet, BreakerPolicy(failures=2)) == BreakerLimits(2, minutes / 6)
    assert breakers.limits(HttpRequest, None) == BreakerLimits(5, timedelta(seconds=10))


def test_false_turns_the_breaker_off_unless_a_policy_above_it_sets_one(clock: Clock) -> None:
    breakers = BreakerRegistry(
        failures=5,
        cool_down=timedelta(seconds=10),
        node_types={"core.http": BreakerPolicy(enabled=False)},
        clock=clock,
    )

    assert breakers.limits(HttpRequest, None) is None
    assert breakers.limits(Touchy, BreakerPolicy.model_validate(False)) is None
    assert breakers.limits(Unguarded, None) is None
    assert breakers.limits(Unguarded, BreakerPolicy()) == BreakerLimits(5, timedelta(seconds=10))
    assert breakers.limits(HttpRequest, BreakerPolicy(failures=2)) == BreakerLimits(
        2, timedelta(seconds=10)
    )


def test_beyond_its_capacity_the_registry_forgets_the_least_recently_used_breaker(
    clock: Clock,
) -> None:
    breakers = BreakerRegistry(failures=5, cool_down=timedelta(seconds=10), clock=clock, capacity=2)
    for target in ("a:1", "b:1"):
        open_breaker(breakers, target)
    assert call(breakers, target="a:1") == "refused"  # a is now the most recently used

    assert call(breakers, UNWELL, target="c:1") == "failed"

    assert call(breakers, target="a:1") == "refused"
    assert call(breakers, target="b:1") == "ok"


def test_a_worker_s_breakers_come_from_its_flowforge_dp_breaker_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOWFORGE_DP_BREAKER_FAILURES", "2")
    monkeypatch.setenv("FLOWFORGE_DP_BREAKER_COOL_DOWN_SECONDS", "0.5")
    monkeypatch.setenv(
        "FLOWFORGE_DP_BREAKER_NODE_TYPES", '{"test.touchy": false, "test.quiet": {"failures": 9}}'
    )
    breakers = breaker_registry(DataPlaneSettings())

    assert breakers.limits(HttpRequest, None) == BreakerLimits(2, timedelta(milliseconds=500))
    assert breakers.limits(Quiet, None) == BreakerLimits(9, timedelta(milliseconds=500))
    assert breakers.limits(Touchy, None) is None

    monkeypatch.setenv("FLOWFORGE_DP_BREAKER_ENABLED", "false")
    assert breaker_registry(DataPlaneSettings()).limits(HttpRequest, None) is None
