"""The wire contract between the control plane and the data plane.

The control plane imports only this package of the data plane, and it imports no
`temporalio`. `models` holds the messages, `statuses` the status vocabulary, `signing`
the descriptor signatures, `topology` the names on the bus and who may use them, `bus` the
NATS link itself.
"""

from data_plane.protocol.bus import (
    Bus,
    batches,
    consume,
    dead_letter,
    message_size,
    provision_pools,
)
from data_plane.protocol.models import (
    DEFAULT_POOL,
    MAX_ITERATION_LENGTH,
    MAX_NODE_ID_LENGTH,
    POOL_PATTERN,
    PROTOCOL_VERSION,
    SUPPORTED_PROTOCOLS,
    EventBatch,
    RunDescriptor,
    RunEvent,
    SignedEnvelope,
    execution_key,
)
from data_plane.protocol.signing import key_id_of, sign_descriptor, verify_descriptor
from data_plane.protocol.statuses import (
    TERMINAL_NODE_STATUSES,
    TERMINAL_RUN_STATUSES,
    EventKind,
    NodeStatus,
    RunStatus,
)
from data_plane.protocol.topology import (
    CONTROL_PLANE_INBOX,
    INGEST_CONSUMER,
    RUNS_STREAM,
    Permissions,
    agent_consumer,
    control_plane_permissions,
    dead_events_subject,
    dead_runs_subject,
    dead_stream,
    events_stream,
    events_subject,
    pool_inbox,
    pool_permissions,
    runs_subject,
    task_queue,
)

__all__ = [
    "CONTROL_PLANE_INBOX",
    "DEFAULT_POOL",
    "INGEST_CONSUMER",
    "MAX_ITERATION_LENGTH",
    "MAX_NODE_ID_LENGTH",
    "POOL_PATTERN",
    "PROTOCOL_VERSION",
    "RUNS_STREAM",
    "SUPPORTED_PROTOCOLS",
    "TERMINAL_NODE_STATUSES",
    "TERMINAL_RUN_STATUSES",
    "Bus",
    "EventBatch",
    "EventKind",
    "NodeStatus",
    "Permissions",
    "RunDescriptor",
    "RunEvent",
    "RunStatus",
    "SignedEnvelope",
    "agent_consumer",
    "batches",
    "consume",
    "control_plane_permissions",
    "dead_events_subject",
    "dead_letter",
    "dead_runs_subject",
    "dead_stream",
    "events_stream",
    "events_subject",
    "execution_key",
    "key_id_of",
    "message_size",
    "pool_inbox",
    "pool_permissions",
    "provision_pools",
    "runs_subject",
    "sign_descriptor",
    "task_queue",
    "verify_descriptor",
]
