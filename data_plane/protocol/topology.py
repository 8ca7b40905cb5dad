"""Names on the bus, who may use which, and the streams that hold them.

Pure data: the control plane provisions streams and consumers from it, `flowforge` mints
credentials from the permissions, and both planes address messages with the same names.

    stream           subjects                                written by
    FF_RUNS          ff.runs.<pool>                          the control plane only
    FF_CONTROL       ff.control.<pool>                       the control plane only
    FF_EVENTS_<pool> ff.events.<pool>                        that pool only
    FF_DEAD_<pool>   ff.dead.runs.<pool>, ff.dead.control.<pool>   that pool
                     ff.dead.events.<pool>                   the control plane
    OBJ_<bucket>     $O.<bucket>.C.>, $O.<bucket>.M.>        every pool and the control plane
                     (the artefact bucket, FF_ARTEFACTS by default: see `artefact_stream_config`)

Each pool has its own event stream because JetStream deduplicates message ids across a
whole stream: in a shared stream one pool could publish under an id another pool is
about to use, and the genuine message would be dropped as a duplicate.
"""

import base64
from dataclasses import dataclass

from nats.js.api import AckPolicy, ConsumerConfig, DiscardPolicy, StorageType, StreamConfig

RUNS_STREAM = "FF_RUNS"
CONTROL_STREAM = "FF_CONTROL"
WEEK = 7 * 24 * 3600.0
# How long the control stream keeps a message: no control message may expire later.
CONTROL_RETENTION_SECONDS = WEEK
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


def control_subject(pool: str) -> str:
    return f"ff.control.{pool}"


def events_subject(pool: str) -> str:
    return f"ff.events.{pool}"


def dead_runs_subject(pool: str) -> str:
    """Where refused descriptors of a pool are kept, with the reason in headers."""
    return f"ff.dead.runs.{pool}"


def dead_control_subject(pool: str) -> str:
    """Where control messages a pool refused are kept, with the reason in headers."""
    return f"ff.dead.control.{pool}"


def dead_events_subject(pool: str) -> str:
    """Where event messages of a pool that could not be applied are kept."""
    return f"ff.dead.events.{pool}"


def events_stream(pool: str) -> str:
    return f"FF_EVENTS_{pool}"


def dead_stream(pool: str) -> str:
    return f"FF_DEAD_{pool}"


def agent_consumer(pool: str) -> str:
    """The durable consumer of a pool's agents, in `FF_RUNS` and in `FF_CONTROL`."""
    return f"agent-{pool}"


def pool_inbox(pool: str) -> str:
    return f"_FF_INBOX.pool.{pool}"


def task_queue(pool: str) -> str:
    """The Temporal task queue that the workers of a pool poll."""
    return f"flowforge-{pool}"


ARTEFACT_BUCKET = "FF_ARTEFACTS"
# A bucket names a stream and a subject token, as a pool does.
BUCKET_PATTERN = r"^[A-Za-z0-9_-]+$"


def artefact_stream(bucket: str) -> str:
    """The stream of an object store bucket (the layout every NATS client reads)."""
    return f"OBJ_{bucket}"


def artefact_chunks_subject(bucket: str, nuid: str) -> str:
    """Where the chunks of one stored object are, in order."""
    return f"$O.{bucket}.C.{nuid}"


def artefact_meta_subject(bucket: str, name: str) -> str:
    """Where the description of the object called `name` is (its last message counts)."""
    return f"$O.{bucket}.M.{base64.urlsafe_b64encode(name.encode()).decode()}"


RUNS_STREAM_CONFIG = StreamConfig(
    name=RUNS_STREAM, subjects=["ff.runs.>"], max_age=WEEK, duplicate_window=DUPLICATE_WINDOW
)
CONTROL_STREAM_CONFIG = StreamConfig(
    name=CONTROL_STREAM,
    subjects=["ff.control.*"],
    max_age=CONTROL_RETENTION_SECONDS,
    duplicate_window=DUPLICATE_WINDOW,
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
            subjects=[
                dead_runs_subject(pool),
                dead_control_subject(pool),
                dead_events_subject(pool),
            ],
            max_age=4 * WEEK,
        ),
    ]


def artefact_stream_config(
    bucket: str = ARTEFACT_BUCKET, max_age: float = 0.0, max_bytes: int = -1
) -> StreamConfig:
    """The artefact bucket: an object store bucket that refuses roll-up headers.

    `js.create_object_store` would allow them, and then any identity that may write an
    object's description could wipe the whole bucket with one `Nats-Rollup: all` message.
    Without roll-ups, writers only add messages; a content-addressed object is written once
    and never needs replacing. `max_age` 0 and `max_bytes` -1 mean no limit.
    """
    return StreamConfig(
        name=artefact_stream(bucket),
        description="FlowForge artefacts: values too large to travel inline, by SHA-256",
        subjects=[f"$O.{bucket}.C.>", f"$O.{bucket}.M.>"],
        max_age=max_age,
        max_bytes=max_bytes,
        storage=StorageType.FILE,
        discard=DiscardPolicy.NEW,
        allow_rollup_hdrs=False,
        allow_direct=True,
    )


def agent_consumer_config(pool: str, subject: str) -> ConsumerConfig:
    """The agents' consumer of `subject` (`runs_subject(pool)`, `control_subject(pool)`)."""
    return ConsumerConfig(
        durable_name=agent_consumer(pool),
        filter_subject=subject,
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


def _artefact_writes(bucket: str) -> tuple[str, ...]:
    return (f"$O.{bucket}.C.>", f"$O.{bucket}.M.>")


def pool_permissions(pool: str, artefact_bucket: str = ARTEFACT_BUCKET) -> Permissions:
    """A pool's agents and workers: pull its own descriptors and control messages, report
    its own events, keep what it refused, store and read artefacts.

    No other JetStream API: a pool cannot create streams or consumers (a consumer of its
    own choosing could read another pool's descriptors, and a push consumer delivers to
    any subject its creator names, even one the creator may not publish to); the control
    plane creates them. So artefacts are read message by message (`STREAM.MSG.GET`), not
    through a consumer, and a pool cannot delete, purge or edit the artefact bucket.
    """
    artefacts = artefact_stream(artefact_bucket)
    pulls = []
    for stream in (RUNS_STREAM, CONTROL_STREAM):
        consumer = f"{stream}.{agent_consumer(pool)}"
        pulls += [f"$JS.API.CONSUMER.MSG.NEXT.{consumer}", f"$JS.ACK.{consumer}.>"]
    return Permissions(
        publish=(
            events_subject(pool),
            dead_runs_subject(pool),
            dead_control_subject(pool),
            *pulls,
            *_artefact_writes(artefact_bucket),
            f"$JS.API.STREAM.INFO.{artefacts}",
            f"$JS.API.STREAM.MSG.GET.{artefacts}",
        ),
        subscribe=(f"{pool_inbox(pool)}.>",),
    )


def control_plane_permissions(artefact_bucket: str = ARTEFACT_BUCKET) -> Permissions:
    """The control plane: the only publisher of descriptors and control messages, and
    JetStream's administrator (it provisions every stream and consumer). It never publishes
    events; it may store artefacts (a run input too large to travel inline) and read them
    all."""
    return Permissions(
        publish=(
            "ff.runs.>",
            "ff.control.>",
            "ff.dead.>",
            "$JS.API.>",
            "$JS.ACK.>",
            *_artefact_writes(artefact_bucket),
        ),
        subscribe=(f"{CONTROL_PLANE_INBOX}.>",),
    )
