"""How the events the data plane reports move runs and nodes: the transition table, and
`apply_events`, which applies it to the registry.

`TRANSITIONS` holds one row per event kind: for each current status of the run, and of
the node execution the event is about, which status follows. A status a row does not
list stays as it is. No row leaves a terminal status, so a late, repeated or
out-of-order event cannot reopen a finished run or node. Events reach the control plane
from several processes (the workflow's worker, the workers of pinned pools), in no
guaranteed order across them: the table is what makes the end state the same whatever
order they arrive in.

One row leaves a terminal status on purpose: `node.compensating` follows SUCCEEDED, since
only a completed node is compensated. `control.*` events are about a control request,
not a status: their rows move nothing, and `apply_events` settles the request they name
instead (`control.py`). The events of `core.approval` nodes also open and close their
human tasks (`tasks/lifecycle.py`).
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, TypeVar

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.db.models import (
    ControlRequest,
    NodeRun,
    Run,
    RunEventRecord,
    Workflow,
    WorkflowVersion,
)
from control_plane.runs.control import settle
from control_plane.tasks.lifecycle import apply_task_event, tasks_of
from data_plane.protocol import (
    TERMINAL_RUN_STATUSES,
    EventKind,
    NodeStatus,
    RunEvent,
    RunStatus,
)


@dataclass(frozen=True)
class Transition:
    """What one kind of event does: current status -> next, for the run and the node."""

    run: Mapping[RunStatus, RunStatus]
    node: Mapping[NodeStatus, NodeStatus] = field(default_factory=dict)


_UNFINISHED_RUN = tuple(s for s in RunStatus if s not in TERMINAL_RUN_STATUSES)
# The statuses an execution's own events may move it out of.
_OPEN_NODE = (NodeStatus.PENDING, NodeStatus.RUNNING, NodeStatus.RETRYING, NodeStatus.WAITING)
# Any report about a queued run, its own or one of its nodes', shows the run has started.
_STARTS_RUN: Final = {RunStatus.QUEUED: RunStatus.RUNNING}


# A node starting again moves a waiting run back to RUNNING.
_RESUMES_RUN: Final = {**_STARTS_RUN, RunStatus.WAITING: RunStatus.RUNNING}
# Where a run goes on while it is asked to stop: a pause or a cancel holds until the
# workflow reports its end, whatever its nodes report meanwhile.
_LIVE_RUN = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING)


def _node_to(status: NodeStatus, run: Mapping[RunStatus, RunStatus] = _STARTS_RUN) -> Transition:
    return Transition(run=run, node=dict.fromkeys(_OPEN_NODE, status))


def _run_to(status: RunStatus, *sources: RunStatus) -> Transition:
    return Transition(run=dict.fromkeys(sources or _UNFINISHED_RUN, status))


TRANSITIONS: Final[Mapping[EventKind, Transition]] = {
    "run.started": Transition(run=_STARTS_RUN),
    # A stalled run keeps its status; its error says it is stalled (see `apply_run_event`).
    "run.stalled": Transition(run=_STARTS_RUN),
    "run.succeeded": _run_to(RunStatus.SUCCEEDED),
    "run.failed": _run_to(RunStatus.FAILED),
    "run.waiting": _run_to(RunStatus.WAITING, RunStatus.QUEUED, RunStatus.RUNNING),
    "run.paused": _run_to(RunStatus.PAUSED, *_LIVE_RUN),
    "run.resumed": _run_to(RunStatus.RUNNING, RunStatus.PAUSED),
    "run.cancelling": _run_to(RunStatus.CANCELLING, *_LIVE_RUN, RunStatus.PAUSED),
    "run.compensating": _run_to(RunStatus.COMPENSATING),
    "run.cancelled": _run_to(RunStatus.CANCELLED),
    "run.compensated": _run_to(RunStatus.COMPENSATED),
    "node.started": _node_to(NodeStatus.RUNNING, _RESUMES_RUN),
    "node.retrying": _node_to(NodeStatus.RETRYING, _RESUMES_RUN),
    "node.waiting": _node_to(NodeStatus.WAITING),
    "node.succeeded": _node_to(NodeStatus.SUCCEEDED),
    "node.failed": _node_to(NodeStatus.FAILED),
    "node.skipped": _node_to(NodeStatus.SKIPPED),
    "node.cancelled": _node_to(NodeStatus.CANCELLED),
    "node.compensating": Transition(
        run=_STARTS_RUN,
        node=dict.fromkeys((*_OPEN_NODE, NodeStatus.SUCCEEDED), NodeStatus.COMPENSATING),
    ),
    "node.compensated": Transition(
        run=_STARTS_RUN, node={NodeStatus.COMPENSATING: NodeStatus.COMPENSATED}
    ),
    "control.applied": Transition(run={}),
    "control.refused": Transition(run={}),
}

# Events that may end a run that never started (failed at the agent, cancelled queued).
_NOT_STARTED = frozenset({"run.failed", "run.cancelled", "control.applied", "control.refused"})

# What a run.stalled event without a reason shows: a stall must be visible.
STALLED_WITHOUT_REASON = "the data plane stopped interpreting this run and gave no reason"


def apply_run_event(run: Run, event: RunEvent) -> None:
    """Apply one event (of the run or of one of its nodes) to the run's row.

    A run.stalled event records its error on the run, which goes on (RUNNING); any other
    event of the run afterwards clears it: a fixed worker continued the run.
    """
    current = RunStatus(run.status)
    if current in TERMINAL_RUN_STATUSES:
        return
    run.error = (event.error or STALLED_WITHOUT_REASON) if event.kind == "run.stalled" else None
    new = TRANSITIONS[event.kind].run.get(current)
    if new is not None:
        run.status = new
    if new == RunStatus.SUCCEEDED:
        run.output, run.finished_at = event.output, event.at
    elif new == RunStatus.FAILED:
        run.error, run.finished_at = event.error, event.at
    elif new in TERMINAL_RUN_STATUSES:
        run.finished_at = event.at
        run.error = event.error
    if run.started_at is None and event.kind not in _NOT_STARTED:
        run.started_at = event.at


def apply_node_event(node: NodeRun, event: RunEvent) -> None:
    """Apply one node event to the row of that execution of the node.

    Attempts only grow, and the input and start of an attempt are recorded even when its
    event arrives after the outcome.
    """
    if event.kind in ("node.started", "node.retrying", "node.failed"):
        node.attempts = max(node.attempts, event.attempt)
    if event.kind == "node.started":
        node.input = event.input
        node.started_at = min(node.started_at or event.at, event.at)
    new = TRANSITIONS[event.kind].node.get(NodeStatus(node.status))
    if new is None:
        return
    node.status = new
    # What it waits for, while it waits: a new wait (an escalated task) replaces the last.
    node.wait = event.wait.model_dump(mode="json") if event.wait is not None else None
    if new == NodeStatus.RETRYING:
        node.error = event.error
    elif new == NodeStatus.SUCCEEDED:
        node.output, node.error, node.finished_at = event.output, None, event.at
    elif new in (NodeStatus.FAILED, NodeStatus.CANCELLED):
        node.error, node.finished_at = event.error, event.at
    elif new == NodeStatus.COMPENSATED:
        # A failed compensation leaves its error on the node it was to undo.
        node.error = event.error


def fail_run(run: Run, error: str | None, at: datetime) -> None:
    """Mark a run FAILED unless it already finished (for failures the control plane sees
    itself, such as a descriptor that cannot be dispatched)."""
    if RunStatus(run.status) not in TERMINAL_RUN_STATUSES:
        run.status, run.error, run.finished_at = RunStatus.FAILED, error, at


@dataclass(frozen=True)
class Applied:
    """What `apply_events` did: how many events were new, and which it refused because
    their pool has no say in their run."""

    new: int
    refused: list[RunEvent]


async def apply_events(session: AsyncSession, pool: str, events: Sequence[RunEvent]) -> Applied:
    """Apply events that pool `pool` reported to their runs.

    Events already applied (by id) and events of unknown runs are skipped. An event about
    a run whose descriptor does not name `pool` is refused (and not remembered, so that it
    cannot shadow the genuine event with the same id). A node event applies to one
    execution, keyed by (run, node, iteration); a control event to the control request
    it names, if that request is of its run, and never to the run. Only the rows a batch
    touches are read, a few queries per thousand events: a run with many iterations costs
    no more per batch.
    """
    seen: set[str] = set()
    for ids in _chunks({e.event_id for e in events}):
        seen.update(
            await session.scalars(
                select(RunEventRecord.event_id).where(RunEventRecord.event_id.in_(ids))
            )
        )
    # Locked (in one order, against deadlocks) so that replicas applying events of one run
    # at the same time cannot overwrite each other's transitions. A node row is only
    # written with its run's lock held, so the run locks order the node locks as well.
    runs: dict[str, Run] = {}
    for ids in _chunks({e.run_id for e in events}):
        locked = select(Run).where(Run.id.in_(ids)).order_by(Run.id).with_for_update()
        runs.update((run.id, run) for run in await session.scalars(locked))
    await _adopt_children(session, pool, events, runs)
    nodes: dict[tuple[str, str, str], NodeRun] = {}
    for keys in _chunks({_execution(e) for e in events if _is_node_event(e)}):
        key = tuple_(NodeRun.run_id, NodeRun.node_id, NodeRun.iteration)
        query = select(NodeRun).where(key.in_(keys)).order_by(NodeRun.id).with_for_update()
        nodes.update(((n.run_id, n.node_id, n.iteration), n) for n in await session.scalars(query))
    controls: dict[str, ControlRequest] = {}
    for ids in _chunks({e.control_id for e in events if _is_control_event(e) and e.control_id}):
        requests = (
            select(ControlRequest)
            .where(ControlRequest.id.in_(ids))
            .order_by(ControlRequest.id)
            .with_for_update()
        )
        controls.update((c.id, c) for c in await session.scalars(requests))
    tasks = await tasks_of(session, events, runs)
    applied = 0
    refused: list[RunEvent] = []
    for event in events:
        run = runs.get(event.run_id)
        if event.event_id in seen or run is None:
            continue
        if pool not in (run.pools or [run.pool]):
            refused.append(event)
            continue
        seen.add(event.event_id)
        applied += 1
        session.add(
            RunEventRecord(
                event_id=event.event_id,
                run_id=event.run_id,
                kind=event.kind,
                node_id=event.node_id,
                at=event.at,
            )
        )
        if _is_control_event(event):
            # Only a request of this very run: a pool settles requests of its runs only.
            request = controls.get(event.control_id or "")
            if request is not None and request.run_id == run.id:
                settle(request, event)
            continue
        apply_run_event(run, event)
        if _is_node_event(event):
            execution = _execution(event)
            node = nodes.get(execution)
            if node is None:
                node = NodeRun(
                    run_id=event.run_id,
                    node_id=event.node_id,
                    iteration=event.iteration,
                    status=NodeStatus.PENDING,
                    attempts=0,
                )
                nodes[execution] = node
                session.add(node)
            apply_node_event(node, event)
        await apply_task_event(session, tasks, run, event)
    await session.flush()
    return Applied(applied, refused)


async def _adopt_children(
    session: AsyncSession, pool: str, events: Sequence[RunEvent], runs: dict[str, Run]
) -> None:
    """Record the runs of sub-workflows that `run.started` events announce.

    A child run belongs to its parent's project and hears from its parent's pools; the
    workflow version it names must be of that project, or the event is left unapplied
    (as an event of an unknown run).
    """
    for event in events:
        link = event.parent
        if event.kind != "run.started" or link is None or event.run_id in runs:
            continue
        parent = runs.get(link.run_id) or await session.get(Run, link.run_id)
        if parent is None or pool not in (parent.pools or [parent.pool]):
            continue
        version = await session.scalar(
            select(WorkflowVersion)
            .join(Workflow, Workflow.id == WorkflowVersion.workflow_id)
            .where(
                Workflow.id == link.workflow_id,
                Workflow.project_id == parent.project_id,
                WorkflowVersion.version == link.version,
            )
        )
        if version is None or await session.get(Run, event.run_id) is not None:
            continue
        child = Run(
            id=event.run_id,
            project_id=parent.project_id,
            workflow_id=link.workflow_id,
            version_id=version.id,
            version=version.version,
            pool=parent.pool,
            pools=parent.pools,
            input=event.input if isinstance(event.input, dict) else {},
            parent_run_id=parent.id,
            parent_execution=link.execution,
            # Started by its parent in the data plane: never dispatched.
            dispatched_at=event.at,
        )
        session.add(child)
        runs[child.id] = child


def _is_control_event(event: RunEvent) -> bool:
    return event.kind in ("control.applied", "control.refused")


def _is_node_event(event: RunEvent) -> bool:
    return event.node_id is not None and bool(TRANSITIONS[event.kind].node)


def _execution(event: RunEvent) -> tuple[str, str, str]:
    return (event.run_id, event.node_id or "", event.iteration)


# Keys per query: well under the bound-parameter limits of SQLite and asyncpg (32,766).
_CHUNK = 1000
_Key = TypeVar("_Key", str, tuple[str, str, str])


def _chunks(items: set[_Key]) -> Iterator[list[_Key]]:
    ordered = sorted(items)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]
