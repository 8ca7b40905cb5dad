"""Names on the bus, who may use which, and the streams that hold them.

Pure data: the control plane provisions streams and consumers from it, `flowforge` mints
credentials from the permissions, and both planes address messages with the same names.

    stream           subjects                                written by
    FF_RUNS          ff.runs.<pool>                          the control plane only
    FF_EVENTS_<pool> ff.events.<pool>                        that pool only
    FF_DEAD_<pool>   ff.dead.runs.<pool>, ff.dead.events.<pool>  that pool / the control plane

Each pool has its own event stream because JetStream deduplicates message ids across a
whole stream: in a shared stream one pool could publish under an id another pool is
about to use, and the genuine message would be dropped as a duplicate.
"""

from dataclasses import dataclass

from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

RUNS_STREAM = "FF_RUNS"
WEEK = 7 * 24 * 3600.0
# A descriptor or event batch re-published within this window (same Nats-Msg-Id) is dropped
# by the server; beyond it, Temporal's workflow id and the event ids deduplicate.
DUPLICATE_WINDOW = 600.0
# How long an agent or the ingest may hold a message before it is delivered again.
AGENT_ACK_WAIT = 60.0
INGEST_ACK_WAIT = 30.0
INGEST_CONSUMER = "control-plane"
# Reply subjects: each identity subscribes only under its own prefix, so none can read the
# replies (pulled messages, publish acks) meant for another.
CONTROL_PLANE_INBOX = "_FF_INBOX.cp"


def runs_subject(pool: str) -> str:
    return f"ff.runs.{pool}"


def events_subject(pool: str) -> str:
    return f"ff.events.{pool}"


def dead_runs_subject(pool: str) -> str:
    """Where refused descriptors of a pool are kept, with the reason in headers."""
    return f"ff.dead.runs.{pool}"


def dead_events_subject(pool: str) -> str:
    """Where event messages of a pool that could not be applied are kept."""
    return f"ff.dead.events.{pool}"


def events_stream(pool: str) -> str:
    return f"FF_EVENTS_{pool}"


def dead_stream(pool: str) -> str:
    return f"FF_DEAD_{pool}"


def agent_consumer(pool: str) -> str:
    return f"agent-{pool}"


def pool_inbox(pool: str) -> str:
    return f"_FF_INBOX.pool.{pool}"


def task_queue(pool: str) -> str:
    """The Temporal task queue that the workers of a pool poll."""
    return f"flowforge-{pool}"


RUNS_STREAM_CONFIG = StreamConfig(
    name=RUNS_STREAM, subjects=["ff.runs.>"], max_age=WEEK, duplicate_window=DUPLICATE_WINDOW
)


def pool_streams(pool: str) -> list[StreamConfig]:
    return [
        StreamConfig(
            name=events_stream(pool),
            subjects=[events_subject(pool)],
            max_age=WEEK,
            duplicate_window=DUPLICATE_WINDOW,
        ),
        StreamConfig(
            name=dead_stream(pool),
            subjects=[dead_runs_subject(pool), dead_events_subject(pool)],
            max_age=4 * WEEK,
        ),
    ]


def agent_consumer_config(pool: str) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=agent_consumer(pool),
        filter_subject=runs_subject(pool),
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=AGENT_ACK_WAIT,
    )


def ingest_consumer_config() -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=INGEST_CONSUMER, ack_policy=AckPolicy.EXPLICIT, ack_wait=INGEST_ACK_WAIT
    )


@dataclass(frozen=True)
class Permissions:
    """Subjects an identity may publish to and subscribe to (NATS wildcards allowed)."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]


def pool_permissions(pool: str) -> Permissions:
    """A pool's agents and workers: pull its own descriptors, report its own events.

    No other JetStream API: a pool cannot create streams or consumers (a consumer of its
    own choosing could read another pool's descriptors); the control plane creates them.
    """
    consumer = f"{RUNS_STREAM}.{agent_consumer(pool)}"
    return Permissions(
        publish=(
            events_subject(pool),
            dead_runs_subject(pool),
            f"$JS.API.CONSUMER.MSG.NEXT.{consumer}",
            f"$JS.ACK.{consumer}.>",
        ),
        subscribe=(f"{pool_inbox(pool)}.>",),
    )


def control_plane_permissions() -> Permissions:
    """The control plane: the only publisher of descriptors, and JetStream's administrator
    (it provisions every stream and consumer). It never publishes events."""
    return Permissions(
        publish=("ff.runs.>", "ff.dead.>", "$JS.API.>", "$JS.ACK.>"),
        subscribe=(f"{CONTROL_PLANE_INBOX}.>",),
    )
