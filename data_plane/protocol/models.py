"""The messages of the wire contract: run descriptors and control messages, their
envelope, run events.

Light on purpose (pydantic and the SDK's canonical JSON only): the control plane imports it.
Every field that crosses the bus is checked here, at the boundary, so that a message a
reader cannot apply is refused as malformed instead of failing later in a database or a
workflow.
"""

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from connectors_sdk import canonical_json
from data_plane.protocol.statuses import EventKind

DEFAULT_POOL = "default"
# A pool names a NATS subject token and a task queue: no dots, spaces or wildcards.
POOL_PATTERN = r"^[A-Za-z0-9_-]+$"


# The version of the wire contract this release writes, and those it reads. A message
# without a version is of protocol 1 (the releases before versions were written). A pool
# answers each run in the version of the run's descriptor, so pools are upgraded before
# the control plane (docs/operations.md, Upgrading).
PROTOCOL_VERSION = 2
SUPPORTED_PROTOCOLS = frozenset({1, 2})


class ChildWorkflow(BaseModel):
    """A published workflow a run calls as a sub-workflow, resolved when the run started."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workflow_id: str
    name: str
    version: int
    sha256: str
    definition: dict[str, Any]


class RunDescriptor(BaseModel):
    """Everything a data plane needs to execute one run, signed by the control plane.

    `subworkflows` holds every workflow the run's `core.subworkflow` nodes call, directly
    or through each other, keyed by "<name>" (the latest version when the run started) or
    "<name>@<version>" (pinned): the data plane never asks for a definition.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    protocol: int = 1
    run_id: str
    workspace_id: str
    project_id: str
    workflow_id: str
    workflow_name: str
    version: int
    sha256: str
    definition: dict[str, Any]
    input: dict[str, Any] = Field(default_factory=dict)
    secret_grants: list[str] = Field(default_factory=list)
    pool: str = DEFAULT_POOL
    issued_at: datetime
    expires_at: datetime
    nonce: str
    trace: dict[str, str] = Field(default_factory=dict)
    subworkflows: dict[str, ChildWorkflow] = Field(default_factory=dict)


class SignedEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key_id: str
    payload: str
    signature: str


def _in_utc(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the range of representable UTC times") from None
    if utc.year < EARLIEST_EVENT_YEAR:
        raise ValueError(f"is before {EARLIEST_EVENT_YEAR}: not a time a run could have had")
    return utc


# Times must be zone-aware and sane; they are stored in UTC.
EventTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
EARLIEST_EVENT_YEAR = 2000
# Bounds for the identifiers (the registry stores node ids in 100 characters).
MAX_NODE_ID_LENGTH = 100
MAX_RUN_ID_LENGTH = 100
# An iteration path: scopes "<node id>#<index>" joined by "/", e.g. "items#3/retry#0".
MAX_ITERATION_LENGTH = 200
ITERATION_PATTERN = r"^([A-Za-z_][A-Za-z0-9_-]*#[0-9]+(/[A-Za-z_][A-Za-z0-9_-]*#[0-9]+)*)?$"


def execution_key(node_id: str, iteration: str = "") -> str:
    """The key of one execution of a node: its id, plus the iteration path for a node
    inside a map, a loop or a sub-workflow ("fetch@items#3"); the id alone at top level."""
    return f"{node_id}@{iteration}" if iteration else node_id


ControlAction = Literal["cancel", "pause", "resume", "signal", "decide"]
# The most a signal's payload or a decision may weigh, as canonical JSON: they travel in
# the control message and stay in the run's state (and its history) until taken.
MAX_CONTROL_PAYLOAD_BYTES = 64 * 1024
MAX_SIGNAL_NAME_LENGTH = 200
MAX_CORRELATION_LENGTH = 500
# "<run id>:<execution key>": one human task per execution of a `core.approval` node.
MAX_TASK_ID_LENGTH = MAX_RUN_ID_LENGTH * 2 + MAX_ITERATION_LENGTH
MAX_PRINCIPAL_LENGTH = 200


def _bounded(value: Any) -> Any:
    size = len(canonical_json(value))
    if size > MAX_CONTROL_PAYLOAD_BYTES:
        raise ValueError(
            f"is {size} bytes as JSON, more than the {MAX_CONTROL_PAYLOAD_BYTES} a control "
            "message carries; send a reference (a URL, an object key) instead"
        )
    return value


class ControlSignal(BaseModel):
    """An event for the run's `core.wait` nodes that wait for signal `name` (and, when they
    name one, for correlation key `correlation`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=MAX_SIGNAL_NAME_LENGTH)
    correlation: str | None = Field(None, min_length=1, max_length=MAX_CORRELATION_LENGTH)
    payload: Annotated[Any, AfterValidator(_bounded)] = None


class ControlDecision(BaseModel):
    """One principal's decision on a human task, checked against the task's form by the
    control plane before it was sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task_id: str = Field(min_length=1, max_length=MAX_TASK_ID_LENGTH)
    decided_by: str = Field(min_length=1, max_length=MAX_PRINCIPAL_LENGTH)
    decision: Annotated[dict[str, Any], AfterValidator(_bounded)]


class ControlMessage(BaseModel):
    """A request of the control plane about one run, on `ff.control.<pool>`, signed in the
    same envelope as descriptors.

    `control_id` names the request (the control plane's row, the `Nats-Msg-Id`, the
    `control_id` of the `control.*` event that reports what became of it); the run's
    workflow applies each control id once, so a copy published again is refused as
    replayed. Control messages exist since protocol 2.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    protocol: int = PROTOCOL_VERSION
    control_id: str = Field(min_length=1, max_length=MAX_RUN_ID_LENGTH)
    run_id: str = Field(min_length=1, max_length=MAX_RUN_ID_LENGTH)
    pool: str = Field(pattern=POOL_PATTERN)
    action: ControlAction
    # cancel only: run the compensations of the run's completed nodes.
    compensate: bool = False
    # signal only: the event.
    signal: ControlSignal | None = None
    # decide only: the decision.
    decision: ControlDecision | None = None
    issued_at: EventTime
    expires_at: EventTime

    @model_validator(mode="after")
    def _fields_of_the_action(self) -> "ControlMessage":
        if self.compensate and self.action != "cancel":
            raise ValueError(f"compensate: only a cancel compensates, not a {self.action}")
        if (self.signal is not None) != (self.action == "signal"):
            raise ValueError("signal: a signal carries one, and no other action does")
        if (self.decision is not None) != (self.action == "decide"):
            raise ValueError("decision: a decide carries one, and no other action does")
        return self


class ParentLink(BaseModel):
    """Where a sub-workflow's run comes from, on its `run.started` event: the control
    plane learns of the child run from it."""

    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(min_length=1, max_length=MAX_RUN_ID_LENGTH)
    # The execution key of the calling node.
    execution: str = Field(min_length=1, max_length=MAX_NODE_ID_LENGTH + MAX_ITERATION_LENGTH + 1)
    workflow_id: str = Field(min_length=1, max_length=MAX_RUN_ID_LENGTH)
    version: int = Field(ge=1)


WaitKind = Literal["duration", "until", "signal", "approval"]


class TaskInfo(BaseModel):
    """A human task a `core.approval` node waits on: the control plane lists it to its
    assignees, checks decisions against its form and sends them to the run."""

    model_config = ConfigDict(extra="forbid")

    task_id: str = Field(min_length=1, max_length=MAX_TASK_ID_LENGTH)
    title: str | None = Field(None, max_length=200)
    assignees: list[str] = Field(min_length=1, max_length=100)
    # How many decisions must approve.
    required: int = Field(1, ge=1)
    # JSON Schema of a decision (`approved` and the form's fields).
    form: dict[str, Any]
    # How many times the task was reassigned because it came due.
    escalations: int = Field(0, ge=0)


class WaitInfo(BaseModel):
    """What a waiting node waits for (on `node.waiting`)."""

    model_config = ConfigDict(extra="forbid")

    kind: WaitKind
    # When the wait ends by itself (a duration's end, a timestamp, a timeout); None: never.
    until: EventTime | None = None
    # The signal name and correlation key an event must carry (kind "signal").
    signal: str | None = Field(None, max_length=MAX_SIGNAL_NAME_LENGTH)
    correlation: str | None = Field(None, max_length=MAX_CORRELATION_LENGTH)
    # The human task of a kind "approval" wait.
    task: TaskInfo | None = None


class RunEvent(BaseModel):
    """A run or node transition reported by the data plane.

    `event_id` is deterministic (run, execution key or control id, kind, attempt), so a
    redelivered or re-emitted event is recognised and applied once. `iteration` is the
    node's iteration path, "" at top level (see `execution_key`).
    """

    model_config = ConfigDict(extra="forbid")

    protocol: int = 1
    event_id: str = Field(
        max_length=MAX_RUN_ID_LENGTH + MAX_NODE_ID_LENGTH + MAX_ITERATION_LENGTH + 40
    )
    run_id: str = Field(min_length=1, max_length=MAX_RUN_ID_LENGTH)
    kind: EventKind
    at: EventTime
    node_id: str | None = Field(None, min_length=1, max_length=MAX_NODE_ID_LENGTH)
    iteration: str = Field("", max_length=MAX_ITERATION_LENGTH, pattern=ITERATION_PATTERN)
    attempt: int = Field(1, ge=1, le=1_000_000)
    input: Any = None
    output: Any = None
    error: str | None = None
    parent: ParentLink | None = None
    wait: WaitInfo | None = None
    # The control message a control.* event is about.
    control_id: str | None = Field(None, max_length=MAX_RUN_ID_LENGTH)

    @classmethod
    def create(
        cls, run_id: str, kind: EventKind, at: datetime, node_id: str | None = None, **fields: Any
    ) -> "RunEvent":
        attempt = fields.get("attempt", 1)
        if node_id:
            key = execution_key(node_id, fields.get("iteration", ""))
        else:
            # Events about two control messages of one run are two events.
            control_id = fields.get("control_id")
            key = f"control:{control_id}" if control_id else "-"
        event_id = f"{run_id}:{key}:{kind}:{attempt}"
        return cls(event_id=event_id, run_id=run_id, kind=kind, at=at, node_id=node_id, **fields)


class EventBatch(BaseModel):
    """One message on `ff.events.<pool>`: events in the order they happened."""

    model_config = ConfigDict(extra="forbid")

    events: list[RunEvent]

    @property
    def message_id(self) -> str:
        """Derived from the event ids: a re-published batch is dropped by JetStream's
        dedupe, while any batch with other events gets through."""
        ids = "\n".join(event.event_id for event in self.events)
        return hashlib.sha256(ids.encode()).hexdigest()

    def to_bytes(self) -> bytes:
        # Fields at their defaults are left out, so that the events of a protocol-1 run
        # read exactly as a control plane of protocol 1 expects them.
        return canonical_json(self.model_dump(mode="json", exclude_defaults=True))
