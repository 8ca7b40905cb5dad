"""The wire contract between the control plane and the data plane.

The control plane imports only this package of the data plane, and it imports no
`temporalio`. `models` holds the messages, `statuses` the status vocabulary, `signing`
the descriptor signatures, `topology` the names on the bus and who may use them, `bus` the
NATS link itself, `artefacts` the references that stand in for large values and the
store interface, `object_store` that store on the bus's JetStream, `s3_store` that store on
an S3-compatible service, `stores` the choice between them.
"""

from data_plane.protocol.artefacts import (
    ARTEFACT_KEY,
    BYTES_MEDIA_TYPE,
    DEFAULT_MAX_ARTEFACT_BYTES,
    JSON_MEDIA_TYPE,
    ArtefactRef,
    ArtefactStore,
    ArtefactStoreKind,
    as_artefact_ref,
)
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
    ChildWorkflow,
    EventBatch,
    ParentLink,
    RunDescriptor,
    RunEvent,
    SignedEnvelope,
    execution_key,
)
from data_plane.protocol.object_store import NatsArtefactStore
from data_plane.protocol.s3_store import ArtefactS3Settings, S3ArtefactStore
from data_plane.protocol.signing import key_id_of, sign_descriptor, verify_descriptor
from data_plane.protocol.statuses import (
    TERMINAL_NODE_STATUSES,
    TERMINAL_RUN_STATUSES,
    EventKind,
    NodeStatus,
    RunStatus,
)
from data_plane.protocol.stores import (
    ArtefactSettings,
    check_artefact_settings,
    open_artefact_store,
)
from data_plane.protocol.topology import (
    ARTEFACT_BUCKET,
    BUCKET_PATTERN,
    CONTROL_PLANE_INBOX,
    INGEST_CONSUMER,
    RUNS_STREAM,
    Permissions,
    agent_consumer,
    artefact_stream,
    artefact_stream_config,
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
    "ARTEFACT_BUCKET",
    "ARTEFACT_KEY",
    "BUCKET_PATTERN",
    "BYTES_MEDIA_TYPE",
    "CONTROL_PLANE_INBOX",
    "DEFAULT_MAX_ARTEFACT_BYTES",
    "DEFAULT_POOL",
    "INGEST_CONSUMER",
    "JSON_MEDIA_TYPE",
    "MAX_ITERATION_LENGTH",
    "MAX_NODE_ID_LENGTH",
    "POOL_PATTERN",
    "PROTOCOL_VERSION",
    "RUNS_STREAM",
    "SUPPORTED_PROTOCOLS",
    "TERMINAL_NODE_STATUSES",
    "TERMINAL_RUN_STATUSES",
    "ArtefactRef",
    "ArtefactS3Settings",
    "ArtefactSettings",
    "ArtefactStore",
    "ArtefactStoreKind",
    "Bus",
    "ChildWorkflow",
    "EventBatch",
    "EventKind",
    "NatsArtefactStore",
    "NodeStatus",
    "ParentLink",
    "Permissions",
    "RunDescriptor",
    "RunEvent",
    "RunStatus",
    "S3ArtefactStore",
    "SignedEnvelope",
    "agent_consumer",
    "artefact_stream",
    "artefact_stream_config",
    "as_artefact_ref",
    "batches",
    "check_artefact_settings",
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
    "open_artefact_store",
    "pool_inbox",
    "pool_permissions",
    "provision_pools",
    "runs_subject",
    "sign_descriptor",
    "task_queue",
    "verify_descriptor",
]
