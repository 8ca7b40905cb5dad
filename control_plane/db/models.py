"""The registry's tables.

Datetimes are stored in UTC; `UtcDateTime` gives them back timezone-aware on every
backend (SQLite returns naive values otherwise).
"""

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from data_plane.protocol import (
    MAX_ITERATION_LENGTH,
    MAX_NODE_ID_LENGTH,
    MAX_PRINCIPAL_LENGTH,
    MAX_TASK_ID_LENGTH,
    RunStatus,
)

# The longest name `data_plane.protocol.check_secret_name` accepts.
SECRET_NAME_LENGTH = 128

IDEMPOTENCY_KEY_LENGTH = 200
# Room for the longest event id the protocol accepts (`RunEvent.event_id`, run id, node id
# and iteration path included); tests hold the two together.
EVENT_ID_LENGTH = 500

JsonType = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime,
        dict[str, Any]: JsonType,
        Any: JsonType,
    }


class Workspace(Base):
    """The tenant boundary: its members, projects, workflows and runs are its own."""

    __tablename__ = "workspaces"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    name: Mapped[str] = mapped_column(String(100))
    # Labels that policies read (`production`, `onprem-only` ...).
    tags: Mapped[list[str]] = mapped_column(JsonType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(nullable=True)


class User(Base):
    """Someone who signed in through the OIDC issuer, created on first sight."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    issuer: Mapped[str] = mapped_column(String(400))
    subject: Mapped[str] = mapped_column(String(400))
    email: Mapped[str | None] = mapped_column(String(320), nullable=True, index=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkspaceMember(Base):
    """A role in a workspace, held by a user (`user:<email>`) or by everyone in a group
    of the OIDC issuer (`group:<name>`)."""

    __tablename__ = "workspace_members"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), primary_key=True)
    member: Mapped[str] = mapped_column(String(400), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProjectMember(Base):
    """A role in one project, which replaces the member's workspace role there."""

    __tablename__ = "project_members"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    member: Mapped[str] = mapped_column(String(400), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Workflow(Base):
    __tablename__ = "workflows"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkflowVersion(Base):
    """An immutable, content-addressed version of a workflow definition."""

    __tablename__ = "workflow_versions"
    __table_args__ = (
        UniqueConstraint("workflow_id", "version"),
        UniqueConstraint("workflow_id", "sha256"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workflow_id: Mapped[str] = mapped_column(ForeignKey("workflows.id"))
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("project_id", "idempotency_key"),
        Index("ix_runs_project_created", "project_id", "created_at"),
        Index("ix_runs_undispatched", "dispatched_at", "status"),
        Index("ix_runs_parent", "parent_run_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    workflow_id: Mapped[str] = mapped_column(ForeignKey("workflows.id"))
    version_id: Mapped[str] = mapped_column(ForeignKey("workflow_versions.id"))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED)
    pool: Mapped[str] = mapped_column(String(100))
    # Every pool the run's descriptor names (its own and those nodes are pinned to): the
    # only pools whose events about it are accepted. None for runs older than the column.
    pools: Mapped[list[str] | None] = mapped_column(JsonType, nullable=True)
    input: Mapped[Any]
    output: Mapped[Any | None] = mapped_column(JsonType, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(
        String(IDEMPOTENCY_KEY_LENGTH), nullable=True
    )
    # The workflow versions its sub-workflow nodes call, by reference key ("<name>" or
    # "<name>@<version>") -> version id, resolved when the run started. None: none.
    subworkflows: Mapped[dict[str, str] | None] = mapped_column(JsonType, nullable=True)
    # A sub-workflow's run: the run and the node execution that called it.
    parent_run_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    parent_execution: Mapped[str | None] = mapped_column(String(400), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)


class NodeRun(Base):
    """One execution of a node: the top-level one (iteration "") or one iteration of it
    inside a map, a loop or a sub-workflow (iteration "items#3", "items#3/retry#0")."""

    __tablename__ = "node_runs"
    __table_args__ = (
        UniqueConstraint("run_id", "node_id", "iteration", name="uq_node_runs_execution"),
        # The executions of one node in the order they were first reported: the pages of
        # `iterations` read only the rows they return.
        Index("ix_node_runs_node", "run_id", "node_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    node_id: Mapped[str] = mapped_column(String(MAX_NODE_ID_LENGTH))
    iteration: Mapped[str] = mapped_column(
        String(MAX_ITERATION_LENGTH), default="", server_default=""
    )
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    input: Mapped[Any | None] = mapped_column(JsonType, nullable=True)
    output: Mapped[Any | None] = mapped_column(JsonType, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # What a WAITING execution waits for (`data_plane.protocol.WaitInfo` as JSON).
    wait: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)


class RunEventRecord(Base):
    """Every event ingested, keyed by its id: the guard that applies each event once."""

    __tablename__ = "run_events"

    event_id: Mapped[str] = mapped_column(String(EVENT_ID_LENGTH), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    node_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class ControlStatus(StrEnum):
    """What became of a control request: PENDING until the data plane reports it applied
    or refused, or until it expires undelivered. A report from the data plane is final;
    UNDELIVERED is the control plane's own conclusion, which a report of a delivery made
    in time (the clocks of the planes differ a little) still corrects."""

    PENDING = "PENDING"
    APPLIED = "APPLIED"
    REFUSED = "REFUSED"
    UNDELIVERED = "UNDELIVERED"


class ControlRequest(Base):
    """A cancel, pause, resume, signal or decision for a run, sent to its pool as a signed
    control message (`data_plane.protocol.ControlMessage`, control id = this row's id)."""

    __tablename__ = "control_requests"
    __table_args__ = (
        Index("ix_control_requests_run", "run_id", "requested_at"),
        Index("ix_control_requests_pending", "status", "dispatched_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    action: Mapped[str] = mapped_column(String(16))
    compensate: Mapped[bool] = mapped_column(Boolean, default=False)
    # A signal's event or a decision (`ControlSignal`, `ControlDecision` as JSON).
    payload: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=ControlStatus.PENDING)
    # Why it was refused or not delivered.
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Who asked: the id of the API token the request came with.
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    # When NATS accepted its control message; the sweep publishes rows without it.
    dispatched_at: Mapped[datetime | None] = mapped_column(nullable=True)
    settled_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ApiToken(Base):
    """A bearer token for the CLI or a machine, kept as its SHA-256: an instance admin's,
    or one role in one workspace."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    instance_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    workspace_id: Mapped[str | None] = mapped_column(
        ForeignKey("workspaces.id"), nullable=True, index=True
    )
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Who created it (a principal id); None for the admin token of the settings.
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Policy(Base):
    """A Rego policy module set through the API (files named in the settings are the
    others)."""

    __tablename__ = "policies"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200))


class Secret(Base):
    """A project secret as the registry knows it: its name and the Vault version last
    written. The value is in Vault only, at `<prefix>/<workspace>/<project>/<name>`."""

    __tablename__ = "secrets"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(SECRET_NAME_LENGTH))
    version: Mapped[int] = mapped_column(Integer)
    # The principal that wrote the current version.
    set_by: Mapped[str] = mapped_column(String(MAX_PRINCIPAL_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TaskStatus(StrEnum):
    """Where a human task is: OPEN while its `core.approval` node waits, then the outcome
    its node reported, or CANCELLED when the node or its run ended without one."""

    OPEN = "OPEN"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    TIMED_OUT = "TIMED_OUT"
    CANCELLED = "CANCELLED"


class Task(Base):
    """A human task: one execution of a `core.approval` node, as its `node.waiting`
    events describe it (`data_plane.protocol.TaskInfo`)."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_project_opened", "project_id", "opened_at"),
        Index("ix_tasks_run", "run_id"),
    )

    # "<run id>:<execution key>", as the data plane names it.
    id: Mapped[str] = mapped_column(String(MAX_TASK_ID_LENGTH), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    node_id: Mapped[str] = mapped_column(String(MAX_NODE_ID_LENGTH))
    iteration: Mapped[str] = mapped_column(String(MAX_ITERATION_LENGTH), default="")
    title: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # JSON Schema of a decision (`approved` and the node's form).
    form: Mapped[dict[str, Any]]
    required: Mapped[int] = mapped_column(Integer)
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.OPEN)
    due_at: Mapped[datetime | None] = mapped_column(nullable=True)
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)


class TaskAssignee(Base):
    """Who a task is assigned to now (an escalation replaces the rows)."""

    __tablename__ = "task_assignees"
    __table_args__ = (Index("ix_task_assignees_assignee", "assignee", "task_id"),)

    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id"), primary_key=True)
    assignee: Mapped[str] = mapped_column(String(MAX_PRINCIPAL_LENGTH), primary_key=True)


class TaskDecision(Base):
    """One principal's decision on a task, and the control request that carries it to the
    run (its status is the decision's delivery)."""

    __tablename__ = "task_decisions"
    __table_args__ = (
        UniqueConstraint("task_id", "decided_by", name="uq_task_decisions_principal"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id"))
    decided_by: Mapped[str] = mapped_column(String(MAX_PRINCIPAL_LENGTH))
    decided_at: Mapped[datetime]
    decision: Mapped[dict[str, Any]]
    control_request_id: Mapped[str] = mapped_column(ForeignKey("control_requests.id"))
