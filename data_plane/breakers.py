"""The circuit breakers of one worker process: one per node type and target.

A node type names the target of each call (`Node.breaker_target`: for `core.http` the
URL's "host:port"; by default none, which gives the type one breaker). The breaker counts
the consecutive failures that say the target is unwell, and moves between three states::

    closed ──(`failures` in a row)──▶ open ──(`cool_down` passed)──▶ half-open
      ▲                                ▲                                │
      │                                └──────── the probe fails ──────┤
      └─────────────────────────────────────── the probe succeeds ─────┘

- closed: calls go through; a success forgets the failures counted so far.
- open: calls fail at once with `CircuitOpenError`, without calling the node.
- half-open: one call at a time goes through, the probe (the others fail as while
  open); its success closes the breaker, its failure opens it for another cool-down.

What counts is a retryable `ConnectorExecutionError`, the node's word that trying again
later may help: a connection refused, a timeout the node reports, a 5xx or 429 answer.
Anything else (invalid data, a 4xx answer, a node that crashed or was cancelled) says
nothing about the target: it neither counts nor forgets, and gives the probe's turn to
the next call.

The record of a target (the failures in a row, the time of the last) is shared by every
node of that type and target; each call reads it with its own node's limits
(`BreakerRegistry.limits`): open once `failures` in a row were seen, until `cool_down`
has passed since the last of them (a failure of a call still in flight when the breaker
opened extends it, as a failed probe does). State is in memory: a breaker
protects one worker and the targets it calls, it is no cluster-wide switch, and a
worker that restarts starts with every breaker closed. Every method runs on the worker's
event loop without awaiting, so no lock is needed.
"""

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from connectors_sdk import BreakerPolicy, ConnectorExecutionError, Node
from data_plane.errors import CircuitOpenError

# Breakers of targets that answer are dropped, so this bounds only those failing now; past
# it the least recently used go first, so that targets named by run data cannot fill memory.
MAX_BREAKERS = 10_000
_MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class BreakerLimits:
    """A node's breaker policy with every field resolved."""

    failures: int
    cool_down: timedelta


@dataclass
class _Record:
    """What a worker saw of one target lately; dropped at its first success."""

    failures: int = 0
    last_error: str = ""
    last_failure_at: datetime | None = None
    # When the probe in flight started; its turn lapses after a cool-down, so that a
    # probe that never ends (a hung call) cannot hold the breaker half-open for good.
    probe_started: datetime | None = None


def _utc_now() -> datetime:
    return datetime.now(UTC)


class BreakerRegistry:
    """The breakers of one worker, keyed by (node type, target).

    Args:
        failures: Consecutive failures that open a breaker, unless a policy says otherwise.
        cool_down: How long an open breaker stays open, unless a policy says otherwise.
        node_types: The operator's policies by node type, between a definition's node and
            the node type's own.
        enabled: False: no breaker at all, whatever a policy says.
        clock: The current time (aware). Wall time, because the time a breaker half-opens
            is shown to users; a clock step only moves that time, harmless for a breaker.
        capacity: Most breakers kept (see `MAX_BREAKERS`).
    """

    def __init__(
        self,
        *,
        failures: int,
        cool_down: timedelta,
        node_types: Mapping[str, BreakerPolicy] | None = None,
        enabled: bool = True,
        clock: Callable[[], datetime] = _utc_now,
        capacity: int = MAX_BREAKERS,
    ) -> None:
        self._defaults = BreakerLimits(failures, cool_down)
        self._node_types = dict(node_types or {})
        self._enabled = enabled
        self._clock = clock
        self._capacity = capacity
        self._records: OrderedDict[tuple[str, str], _Record] = OrderedDict()

    def limits(self, node_cls: type[Node], policy: BreakerPolicy | None) -> BreakerLimits | None:
        """Resolve a node's limits: its definition's `policy` first, then the operator's
        for its type, the type's own, and the worker's defaults; None: no breaker.

        The first policy that says anything decides whether there is a breaker (`false`
        turns it off); each field comes from the first policy that sets it."""
        if not self._enabled:
            return None
        on: bool | None = None
        failures: int | None = None
        cool_down: timedelta | None = None
        for layer in (policy, self._node_types.get(node_cls.type), node_cls.breaker):
            if layer is None:
                continue
            if on is None:
                on = layer.enabled
            if not on:
                return None
            if layer.enabled:
                failures = failures if failures is not None else layer.failures
                cool_down = cool_down if cool_down is not None else layer.cool_down
        return BreakerLimits(
            failures if failures is not None else self._defaults.failures,
            cool_down if cool_down is not None else self._defaults.cool_down,
        )

    @contextlib.contextmanager
    def guarding(
        self, node_type: str, target: str | None, limits: BreakerLimits | None
    ) -> Iterator[None]:
        """Let one call through the breaker of (`node_type`, `target`) and record how it
        ended; with `limits` None, just the call.

        Raises:
            CircuitOpenError: On entry, when the breaker is open, or half-open with its
                probe in flight; the call must not be made.
        """
        if limits is None:
            yield
            return
        key = (node_type, target or "")
        probe = self._admit(key, limits)
        try:
            yield
        except BaseException as exc:
            if isinstance(exc, ConnectorExecutionError) and exc.retryable:
                self._failed(key, probe, exc.message)
            elif probe:
                self._free_probe(key)
            raise
        self._records.pop(key, None)

    def _admit(self, key: tuple[str, str], limits: BreakerLimits) -> bool:
        """Whether the call is the probe of a half-open breaker; raises when it may not go.

        Read with the caller's limits: open once `failures` in a row were seen, until
        `cool_down` has passed since the last of them."""
        record = self._records.get(key)
        if record is None or record.last_failure_at is None:
            return False
        if record.failures < limits.failures:
            return False
        self._records.move_to_end(key)
        now = self._clock()
        half_open_at = record.last_failure_at + limits.cool_down
        if now < half_open_at:
            raise self._open_error(key, record, half_open_at, half_open_at - now)
        started = record.probe_started
        if started is not None and now < started + limits.cool_down:
            raise self._open_error(key, record, half_open_at, None)
        record.probe_started = now
        return True

    def _failed(self, key: tuple[str, str], probe: bool, message: str) -> None:
        record = self._records.get(key)
        if record is None:
            record = self._records[key] = _Record()
            while len(self._records) > self._capacity:
                self._records.popitem(last=False)
        self._records.move_to_end(key)
        record.failures += 1
        record.last_error = message[:_MAX_ERROR_CHARS]
        record.last_failure_at = self._clock()
        if probe:
            record.probe_started = None

    def _free_probe(self, key: tuple[str, str]) -> None:
        record = self._records.get(key)
        if record is not None:
            record.probe_started = None

    @staticmethod
    def _open_error(
        key: tuple[str, str], record: _Record, half_open_at: datetime, wait: timedelta | None
    ) -> CircuitOpenError:
        node_type, target = key
        return CircuitOpenError(
            node_type,
            target or None,
            failures=record.failures,
            last_error=record.last_error,
            half_open_at=half_open_at,
            retry_after=wait,
        )
