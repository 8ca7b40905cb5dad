"""The ingest side of human tasks: what the events of `core.approval` nodes do to the
task rows, applied by `runs/progress.py::apply_events` in the same transaction.

A `node.waiting` event that carries a task opens it; one of a later escalation (more
`escalations`) replaces its assignees, due time and title. The node's end closes it:
`node.succeeded` with the outcome its output shows, `node.cancelled` or `node.failed` as
CANCELLED; the end of the run closes what is still open as CANCELLED. Ingest applies
each event id once, but events of one run may come from several batches and redeliveries,
so a closed task never opens again, an older wait never replaces a newer one, and the one
change a closed task still takes is from CANCELLED (by the run's end) to the outcome its
node reports, whichever came first.
"""

from collections.abc import Iterator, Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.db.models import Run, Task, TaskAssignee, TaskStatus
from data_plane.protocol import (
    TERMINAL_RUN_STATUSES,
    RunEvent,
    RunStatus,
    TaskInfo,
    execution_key,
)

_NODE_ENDS = frozenset({"node.succeeded", "node.cancelled", "node.failed"})
_CHUNK = 1000


def task_id_of(event: RunEvent) -> str:
    """The id the data plane gives the task of the node execution an event is about."""
    return f"{event.run_id}:{execution_key(event.node_id or '', event.iteration)}"


async def tasks_of(
    session: AsyncSession, events: Sequence[RunEvent], runs: dict[str, Run]
) -> dict[str, Task]:
    """The task rows a batch may touch, locked: those of its node executions, and the
    open tasks of the runs it may end."""
    ids = {task_id_of(e) for e in events if e.node_id is not None}
    ending = {e.run_id for e in events if e.node_id is None and e.kind.startswith("run.")}
    found: dict[str, Task] = {}
    for chunk in _chunks(ids):
        query = select(Task).where(Task.id.in_(chunk)).order_by(Task.id).with_for_update()
        found.update((t.id, t) for t in await session.scalars(query))
    for chunk in _chunks(ending & runs.keys()):
        query = (
            select(Task)
            .where(Task.run_id.in_(chunk), Task.status == TaskStatus.OPEN)
            .order_by(Task.id)
            .with_for_update()
        )
        found.update((t.id, t) for t in await session.scalars(query))
    return found


async def apply_task_event(
    session: AsyncSession, tasks: dict[str, Task], run: Run, event: RunEvent
) -> None:
    """Apply one event (already applied to its run and node) to the tasks it concerns."""
    if event.kind == "node.waiting" and event.wait is not None and event.wait.task is not None:
        await _open(session, tasks, run, event, event.wait.task)
    elif event.kind in _NODE_ENDS and event.node_id is not None:
        task = tasks.get(task_id_of(event))
        if task is not None:
            _close(task, _outcome(event), event)
    elif event.node_id is None and RunStatus(run.status) in TERMINAL_RUN_STATUSES:
        for task in tasks.values():
            if task.run_id == run.id and task.status == TaskStatus.OPEN:
                task.status, task.closed_at = TaskStatus.CANCELLED, event.at


async def _open(
    session: AsyncSession, tasks: dict[str, Task], run: Run, event: RunEvent, info: TaskInfo
) -> None:
    task = tasks.get(info.task_id)
    due = event.wait.until if event.wait is not None else None
    if task is None:
        ended = RunStatus(run.status) in TERMINAL_RUN_STATUSES
        task = Task(
            id=info.task_id,
            run_id=run.id,
            project_id=run.project_id,
            node_id=event.node_id,
            iteration=event.iteration,
            title=info.title,
            form=info.form,
            required=info.required,
            escalations=info.escalations,
            # A wait reported after its run's end (a late batch) is no task to decide.
            status=TaskStatus.CANCELLED if ended else TaskStatus.OPEN,
            due_at=due,
            opened_at=event.at,
            closed_at=(run.finished_at or event.at) if ended else None,
        )
        session.add(task)
        tasks[task.id] = task
    elif task.status != TaskStatus.OPEN or info.escalations <= task.escalations:
        return
    else:
        task.escalations, task.due_at, task.title = info.escalations, due, info.title
        await session.execute(delete(TaskAssignee).where(TaskAssignee.task_id == task.id))
    session.add_all(
        TaskAssignee(task_id=task.id, assignee=name) for name in dict.fromkeys(info.assignees)
    )


def _outcome(event: RunEvent) -> TaskStatus:
    if event.kind != "node.succeeded":
        return TaskStatus.CANCELLED
    output = event.output if isinstance(event.output, dict) else {}
    if "timed_out_at" in output:
        return TaskStatus.TIMED_OUT
    return TaskStatus.APPROVED if output.get("approved") is True else TaskStatus.REJECTED


def _close(task: Task, outcome: TaskStatus, event: RunEvent) -> None:
    current = TaskStatus(task.status)
    if current == TaskStatus.OPEN or (
        current == TaskStatus.CANCELLED and outcome != TaskStatus.CANCELLED
    ):
        task.status, task.closed_at = outcome, event.at


def _chunks(items: set[str]) -> Iterator[list[str]]:
    ordered = sorted(items)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]
