"""The NATS link of either plane: one supervised connection, size-checked publishes,
the pull loop, dead letters, and the provisioning of streams, consumers and the artefact
bucket.

Three rules keep one bad message from cutting a process off the bus:

- nothing is published that the server would refuse: the size is checked with the headers
  (the server counts them; the client library does not) against the server's own maximum,
  because an oversized message makes the server close the connection;
- a connection the client library gave up on is replaced by a new one, for ever;
- pull loops rebind to the new connection and wait, logging, while their consumer does
  not exist yet (the control plane creates consumers, pools may not).
"""

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, PubAck, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from connectors_sdk import canonical_json
from data_plane.errors import BusUnavailableError, MessageTooLargeError
from data_plane.protocol.models import EventBatch, RunEvent
from data_plane.protocol.topology import (
    CONTROL_STREAM,
    CONTROL_STREAM_CONFIG,
    RUNS_STREAM,
    RUNS_STREAM_CONFIG,
    agent_consumer_config,
    artefact_stream_config,
    control_subject,
    events_stream,
    ingest_consumer_config,
    pool_streams,
    runs_subject,
)

logger = logging.getLogger(__name__)

# Room for the batch's own brackets and its Nats-Msg-Id header.
_BATCH_OVERHEAD = 256
_TOO_LARGE = "too_large_for_the_bus"
# Seconds to wait for a stream's acknowledgement of a publish.
_PUBLISH_TIMEOUT = 5.0


async def _set(event: asyncio.Event) -> None:
    event.set()


async def _discard(nc: NatsClient) -> None:
    """Close a client whose connect did not finish: cancelled between opening its socket
    and reading the server's INFO, it would otherwise leave the socket open."""
    # Before connect set its flush queue, close() fails an assertion; no socket exists
    # then, so there is nothing to close.
    with contextlib.suppress(AssertionError):
        await nc.close()


def message_size(data: bytes, headers: Mapping[str, str] | None) -> int:
    """The size the server counts against its maximum payload: payload and headers."""
    if not headers:
        return len(data)
    header_bytes = len(b"NATS/1.0\r\n\r\n") + sum(
        len(key.encode()) + len(value.encode()) + 4 for key, value in headers.items()
    )
    return len(data) + header_bytes


class Bus:
    """One NATS connection that is always being kept: it reconnects for ever, and when the
    client library closes a connection for good, a new one is opened.

    Args:
        url: The NATS server URL.
        name: The connection's name, shown in the server's monitoring.
        inbox_prefix: The prefix of reply subjects; the identity's permissions allow
            subscribing under it only.
        credentials: A NATS credentials file (user JWT and seed), or None for a server
            without authentication.
    """

    def __init__(
        self, url: str, *, name: str, inbox_prefix: str, credentials: Path | None = None
    ) -> None:
        self._url = url
        self._name = name
        self._inbox_prefix = inbox_prefix
        self._credentials = credentials
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._task: asyncio.Task[None] | None = None
        self.generation = 0
        self._closing = False

    def start(self) -> None:
        """Start keeping the connection, in the background: callers never wait for the
        bus (`connected` says whether it is there)."""
        self._task = asyncio.create_task(self._supervise(), name=f"bus-{self._name}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._closing = True
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            await nc.close()

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise BusUnavailableError(f"not connected to NATS at {self._url}")
        return self._js

    @property
    def max_payload(self) -> int:
        if self._nc is None:
            raise BusUnavailableError(f"not connected to NATS at {self._url}")
        return self._nc.max_payload

    async def publish(
        self,
        subject: str,
        data: bytes,
        headers: dict[str, str] | None = None,
    ) -> PubAck:
        """Publish to JetStream and wait for the stream's acknowledgement.

        Raises:
            MessageTooLargeError: the message is over the server's maximum (not sent).
            BusUnavailableError: not connected.
        """
        size, limit = message_size(data, headers), self.max_payload
        if size > limit:
            raise MessageTooLargeError(subject, size, limit)
        return await self.js.publish(subject, data, headers=headers, timeout=_PUBLISH_TIMEOUT)

    async def _supervise(self) -> None:
        delay = 0.5
        while True:
            lost = asyncio.Event()
            nc = NatsClient()
            try:
                await nc.connect(
                    self._url,
                    name=self._name,
                    inbox_prefix=self._inbox_prefix,
                    user_credentials=str(self._credentials) if self._credentials else None,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                    connect_timeout=2,
                    drain_timeout=2,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                    closed_cb=functools.partial(_set, lost),
                )
            except BaseException as exc:
                await _discard(nc)
                if not isinstance(exc, Exception):
                    raise
                logger.warning(
                    "cannot connect to NATS at %s as %s (%s); retrying in %.1f s",
                    self._url,
                    self._name,
                    exc or type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            delay = 0.5
            self._nc, self._js = nc, nc.jetstream()
            self.generation += 1
            logger.info("connected to NATS at %s as %s", self._url, self._name)
            await lost.wait()
            self._nc = self._js = None
            logger.warning(
                "the NATS connection of %s was closed (%s); opening a new one",
                self._name,
                nc.last_error,
            )

    async def _on_error(self, error: Exception) -> None:
        if isinstance(error, nats.errors.Error) and "violation" in str(error).lower():
            # A denied publish or subscribe raises nothing: the server's refusal only
            # gets here.
            logger.error("NATS refused %s: %s", self._name, error)
        else:
            # Failed reconnection attempts, among others: the disconnect was logged once.
            logger.debug("NATS error on %s: %r", self._name, error)

    async def _on_disconnected(self) -> None:
        if not self._closing:
            logger.warning("%s lost its NATS connection; reconnecting", self._name)

    async def _on_reconnected(self) -> None:
        logger.info("%s reconnected to NATS", self._name)


async def consume(
    bus: Bus,
    stream: str,
    consumer: str,
    handle: Callable[[list[Msg]], Awaitable[None]],
    stop: asyncio.Event,
    batch: int = 16,
) -> None:
    """Pull batches from a durable consumer and hand them to `handle`, until `stop` is set.

    Errors of `handle` are logged and the loop goes on: unacknowledged messages come back
    after the consumer's ack wait.
    """
    subscription: JetStreamContext.PullSubscription | None = None
    generation = -1
    waiting_logged = False
    try:
        while not stop.is_set():
            try:
                if not bus.connected:
                    await asyncio.sleep(0.2)
                    continue
                if subscription is None or generation != bus.generation:
                    generation = bus.generation
                    subscription = await bus.js.pull_subscribe_bind(consumer, stream)
                messages = await subscription.fetch(batch, timeout=0.5)
            except (NatsTimeoutError, TimeoutError):
                continue
            except NotFoundError:
                if not waiting_logged:
                    logger.warning(
                        "consumer %s of stream %s does not exist yet; waiting for the "
                        "control plane to provision it",
                        consumer,
                        stream,
                    )
                    waiting_logged = True
                await asyncio.sleep(1.0)
                continue
            except Exception as exc:
                logger.warning("pulling from %s/%s failed (%r); retrying", stream, consumer, exc)
                subscription = None
                await asyncio.sleep(1.0)
                continue
            waiting_logged = False
            try:
                await handle(messages)
            except Exception:
                logger.exception("handling %d messages from %s failed", len(messages), stream)
    finally:
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()


def batches(events: Sequence[RunEvent], limit: int) -> list[EventBatch]:
    """Cut events, in order, into batches that each fit in a message of `limit` bytes.

    An event too large on its own keeps its place with its input and output replaced by a
    marker that says how large they were.
    """
    room = limit - _BATCH_OVERHEAD
    found: list[EventBatch] = []
    current: list[RunEvent] = []
    used = 0
    for event in events:
        size = len(canonical_json(event.model_dump(mode="json"))) + 1
        if size > room:
            event = _shrink(event)
            size = len(canonical_json(event.model_dump(mode="json"))) + 1
        if current and used + size > room:
            found.append(EventBatch(events=current))
            current, used = [], 0
        current.append(event)
        used += size
    if current:
        found.append(EventBatch(events=current))
    return found


def _shrink(event: RunEvent) -> RunEvent:
    update: dict[str, Any] = {}
    for name in ("input", "output"):
        value = getattr(event, name)
        if value is not None:
            update[name] = {_TOO_LARGE: len(canonical_json(value))}
    if event.error is not None and len(event.error) > 10_000:
        update["error"] = event.error[:10_000] + " [truncated]"
    return event.model_copy(update=update)


async def dead_letter(bus: Bus, subject: str, message: Msg, reason: str, error: str) -> None:
    """Keep a refused message on a `ff.dead.` subject with why it was refused.

    It is named by its place in its stream, so a redelivered refusal is kept once while
    identical payloads from different messages are all kept. A message too large to be
    kept whole with its headers is cut, and says so.
    """
    headers = {
        "Flowforge-Reason": reason,
        "Flowforge-Error": error[:1000],
        "Nats-Msg-Id": f"{message.metadata.stream}:{message.metadata.sequence.stream}",
    }
    data = message.data
    room = bus.max_payload - message_size(b"", {**headers, "Flowforge-Truncated": "0" * 12})
    if len(data) > room:
        headers["Flowforge-Truncated"] = str(len(data))
        data = data[:room]
    await bus.publish(subject, data, headers=headers)


async def provision_pools(
    js: JetStreamContext, pools: Iterable[str], artefacts: StreamConfig | None = None
) -> None:
    """Create the streams and consumers of the bus and of each pool, and the artefact
    bucket (`artefacts`, by default `artefact_stream_config()`), where missing.

    Only the control plane may: pools have no right to the JetStream API beyond pulling
    from their own consumer and reading artefacts. Existing streams and consumers keep
    their settings (an operator may have tuned them), but gain the subjects a newer release
    writes to (a dead-letter stream of a release without control messages gets
    `ff.dead.control.<pool>`).
    """
    await _ensure_stream(js, RUNS_STREAM_CONFIG)
    await _ensure_stream(js, CONTROL_STREAM_CONFIG)
    for pool in pools:
        for config in pool_streams(pool):
            await _ensure_stream(js, config)
        await _ensure_consumer(js, RUNS_STREAM, agent_consumer_config(pool, runs_subject(pool)))
        await _ensure_consumer(
            js, CONTROL_STREAM, agent_consumer_config(pool, control_subject(pool))
        )
        await _ensure_consumer(js, events_stream(pool), ingest_consumer_config())
    # Last: the agents and the ingest wait for the streams and consumers above.
    artefacts = artefacts or artefact_stream_config()
    if (await _ensure_stream(js, artefacts)).allow_rollup_hdrs:
        logger.warning(
            "the artefact stream %s accepts roll-up headers: any pool could empty it with "
            "one message; turn them off (allow_rollup_hdrs false, see docs/operations.md)",
            artefacts.name,
        )


async def _ensure_stream(js: JetStreamContext, config: StreamConfig) -> StreamConfig:
    """The configuration of the stream, created with `config` if it did not exist, and
    given the subjects of `config` it lacks if it did."""
    try:
        found = (await js.stream_info(str(config.name))).config
    except NotFoundError:
        return (await js.add_stream(config)).config
    missing = [s for s in config.subjects or [] if s not in (found.subjects or [])]
    if not missing:
        return found
    logger.info("adding subjects %s to the stream %s", ", ".join(missing), config.name)
    found.subjects = [*(found.subjects or []), *missing]
    return (await js.update_stream(found)).config


async def _ensure_consumer(js: JetStreamContext, stream: str, config: ConsumerConfig) -> None:
    try:
        await js.consumer_info(stream, str(config.durable_name))
    except NotFoundError:
        with contextlib.suppress(BadRequestError):
            await js.add_consumer(stream, config)
