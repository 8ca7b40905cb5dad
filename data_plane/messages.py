"""Inputs and results of the Temporal workflow and activities (one model per boundary).

Fields are added only with defaults so that running workflows and older workers keep working.
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from connectors_sdk import BreakerPolicy
from data_plane.protocol import ControlAction, ParentLink, RunEvent
from data_plane.workflows.plan import ExecutionPlan
from data_plane.workflows.state import Decision, RunState, Signal

# How a node type executed in runs started without a plan (see `workflows/legacy.py`).
NodeMode = Literal["pure", "local", "activity"]


class ChildRun(BaseModel):
    """A workflow a run calls as a sub-workflow, with the plan the agent made for it."""

    workflow_id: str
    version: int
    definition: dict[str, Any]
    plan: ExecutionPlan


class SecretGrants(BaseModel):
    """Which project secrets a run may read (its descriptor's signed grants: names, never
    values), and the workspace and project they belong to."""

    workspace_id: str
    project_id: str
    names: list[str]


class DagRunInput(BaseModel):
    run_id: str
    pool: str
    definition: dict[str, Any]
    input: dict[str, Any] = Field(default_factory=dict)
    # How each node executes, decided by the agent when the run starts, so that replays
    # never depend on which node packages or planning rules a worker has later. None for
    # runs started before plans: they run (and replay) in `workflows/legacy.py`.
    plan: ExecutionPlan | None = None
    # The wire protocol of the run's descriptor, in which its events are reported.
    protocol: int = 1
    # The workflows the run's sub-workflow nodes call, by reference key (see
    # `connectors_sdk.nodes.subworkflow.reference_key`), passed on to the child runs.
    subworkflows: dict[str, ChildRun] = Field(default_factory=dict)
    # Set on the run of a sub-workflow: the run and node that called it.
    parent: ParentLink | None = None
    # Where a run that continued as new stands: its state, carried whole.
    resume: RunState | None = None
    # History events after which the run continues as new at its next quiet moment
    # (nothing running), well inside Temporal's limits.
    history_limit: int = Field(5_000, ge=100)
    # How each node type executes, for runs without a plan.
    modes: dict[str, NodeMode] = Field(default_factory=dict)
    # The largest output of a node evaluated inside the workflow (pure nodes), as the
    # worker's FLOWFORGE_DP_MAX_OUTPUT_BYTES when the run started.
    max_output_bytes: int = 256 * 1024
    # The secrets the run may read; None when its descriptor grants none.
    grants: SecretGrants | None = None


# The update the agent delivers a control message by (`DagRunWorkflow.control`).
CONTROL_UPDATE = "control"


class ControlRequest(BaseModel):
    """A control message, as the agent hands it to the run's workflow.

    The agent sets the update id to "<control_id>:<sequence>": Temporal answers a
    redelivered message (same stream sequence) with the first answer, while a message
    published again (a replay: same control id, another sequence) reaches the workflow,
    which refuses it.
    """

    control_id: str
    # The message's sequence in its JetStream stream.
    sequence: int
    action: ControlAction
    # cancel: run the compensations of the completed nodes.
    compensate: bool = False
    # signal: the event for the run's `core.wait` nodes (its `received_at` is set by the
    # workflow).
    signal: Signal | None = None
    # decide: a decision on one of the run's human tasks.
    decision: Decision | None = None


class ControlOutcome(BaseModel):
    applied: bool
    # Why it was not applied: "replayed", or the run's state ("the run is not paused").
    reason: str | None = None


class DagRunResult(BaseModel):
    status: Literal["SUCCEEDED", "FAILED", "CANCELLED", "COMPENSATED"]
    output: Any = None
    error: str | None = None


class RunNodeInput(BaseModel):
    run_id: str
    pool: str
    node_id: str
    node_type: str
    config: dict[str, Any]
    input: Any
    max_attempts: int
    # Events the workflow produced since its last activity, published before the node runs.
    events: list[RunEvent] = Field(default_factory=list)
    # Leave the node's started/succeeded events to the workflow instead of publishing them
    # (local activities: the workflow batches them, which keeps a lightweight node's cost
    # at that of a bare local activity). `events` are still published first: the workflow
    # sends its first events with its first activity, so a run shows RUNNING at once.
    defer_events: bool = False
    # Attempts already made elsewhere (the first attempt inside a chain), for numbering.
    attempt_offset: int = 0
    # Limit of one attempt; enforced by the activity itself for steps of a chain.
    timeout_seconds: float | None = None
    # The node's iteration path ("" at top level), part of its execution key.
    iteration: str = ""
    # The wire protocol of the run's events.
    protocol: int = 1
    # The definition's breaker policy of the node (None: the node type's and the
    # worker's); read by the activity only, so it changes no workflow command.
    breaker: BreakerPolicy | None = None
    # The secrets the node maps (the name it sees -> the project secret's name) and the
    # run's grants; the activity fetches their values for the attempt. Names only.
    secrets: dict[str, str] = Field(default_factory=dict)
    grants: SecretGrants | None = None


class RunNodeResult(BaseModel):
    output: dict[str, Any]
    port: str | None = None
    attempt: int = 1
    started_at: datetime | None = None
    finished_at: datetime | None = None


class PublishEventsInput(BaseModel):
    pool: str
    events: list[RunEvent]


class RunChainInput(BaseModel):
    """Lightweight nodes run one after the other, each on the previous one's output."""

    steps: list[RunNodeInput]
    # Events to publish before the first step (the run's first events; see RunNodeInput).
    events: list[RunEvent] = Field(default_factory=list)


class ChainStepFailure(BaseModel):
    message: str
    retryable: bool
    started_at: datetime
    type: str = "NodeFailed"


class RunChainResult(BaseModel):
    """The results of the steps that succeeded, in order; `failure` of the next one, if any."""

    results: list[RunNodeResult]
    failure: ChainStepFailure | None = None


class EvaluateExpressionsInput(BaseModel):
    """A definition value whose expressions run in an evaluator process."""

    value: Any
    context: dict[str, Any]
    # Events to publish first (the run's first events; see RunNodeInput).
    events: list[RunEvent] = Field(default_factory=list)


class EvaluateExpressionsResult(BaseModel):
    """The evaluated value, or why it could not be evaluated (recorded either way, so a
    replay never evaluates again)."""

    value: Any = None
    error: str | None = None


class BodyInput(BaseModel):
    """What a child workflow running a node's body needs (map batches, loops)."""

    run_id: str
    pool: str
    protocol: int
    max_output_bytes: int
    run_input: Any = None
    node_id: str
    # The iteration path of the scope the node is in ("" at top level).
    enclosing: str = ""
    body: dict[str, Any]
    plan: ExecutionPlan
    subworkflows: dict[str, ChildRun] = Field(default_factory=dict)
    # Outputs of the enclosing scopes' nodes that the body's expressions read.
    outer: dict[str, Any] = Field(default_factory=dict)
    outer_sizes: dict[str, int] = Field(default_factory=dict)
    grants: SecretGrants | None = None


class MapBatchInput(BodyInput):
    """Items of a map to run through its body (see `workflows/map.py`)."""

    first_index: int
    items: list[Any]
    concurrency: int
    collect_failures: bool


class ItemFailure(BaseModel):
    index: int
    error: str


class MapBatchResult(BaseModel):
    # In item order; None for an item that failed or did not run.
    results: list[Any]
    failures: list[ItemFailure] = Field(default_factory=list)


class LoopProgress(BaseModel):
    """Where a loop stands, carried whole when its workflow continues as new."""

    # Iterations done so far.
    count: int = 0
    # The output of the last iteration done; the loop node's input before the first.
    previous: Any = None
    outputs: list[Any] | None = None


class LoopInput(BodyInput):
    """A loop to run through its body (see `workflows/loop.py`)."""

    max_iterations: int
    # The condition as written (an expression, usually), and whether holding stops the
    # loop (`until`) or continues it (`while`); None: run max_iterations times.
    condition: Any = None
    stop_when: bool = True
    wait_seconds: float | None = None
    collect: bool = False
    progress: LoopProgress = Field(default_factory=LoopProgress)
    history_limit: int = Field(5_000, ge=100)


class LoopResult(BaseModel):
    count: int
    last: Any = None
    # The loop ran max_iterations times without its condition ending it.
    exhausted: bool = False
    outputs: list[Any] | None = None
    # Why an iteration failed (a failure its body did not handle).
    error: str | None = None
