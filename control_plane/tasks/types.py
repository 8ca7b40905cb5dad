from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from control_plane.db.models import ControlStatus, TaskStatus
from control_plane.db.models import Task as TaskRow
from control_plane.graphql.context import Info
from control_plane.graphql.results import NotFound
from control_plane.runs.types import PageInfo
from control_plane.tasks.service import RecordedDecision
from control_plane.workflows.types import ValidationFailed

strawberry.enum(
    TaskStatus,
    description="Where a human task is: OPEN while its node waits, then the outcome its "
    "node took (APPROVED, REJECTED, TIMED_OUT), or CANCELLED when the node or its run "
    "ended without one.",
)


@strawberry.type(description="One principal's decision on a task.")
class TaskDecision:
    decided_by: str = strawberry.field(description='Who decided: "user:<id>" or "token:<id>".')
    decided_at: datetime
    decision: JSON = strawberry.field(description="`approved` and the form's fields.")
    delivery: ControlStatus = strawberry.field(
        description="What became of the control request that carries it to the run: "
        "PENDING, then APPLIED, or REFUSED or UNDELIVERED (then it may be given again)."
    )
    reason: str | None = strawberry.field(description="Why it was refused or undelivered.")

    @classmethod
    def from_recorded(cls, recorded: RecordedDecision) -> "TaskDecision":
        row = recorded.decision
        return cls(
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            decision=JSON(row.decision),
            delivery=recorded.delivery,
            reason=recorded.reason,
        )


@strawberry.type(
    description="A human task: one execution of a core.approval node, open until enough "
    "of its assignees decided or it is due."
)
class Task:
    id: strawberry.ID = strawberry.field(description='"<run id>:<execution key>".')
    run_id: strawberry.ID
    project_id: strawberry.Private[str]
    node_id: str
    iteration: str = strawberry.field(description='The iteration path; "" at top level.')
    title: str | None
    required: int = strawberry.field(description="How many decisions must approve.")
    form: JSON = strawberry.field(
        description="The JSON Schema a decision must fit: `approved` and the node's form."
    )
    status: TaskStatus
    due_at: datetime | None = strawberry.field(
        description="When it comes due (and is escalated or times out); null: never."
    )
    escalations: int = strawberry.field(
        description="How many times it was reassigned because it came due."
    )
    opened_at: datetime
    closed_at: datetime | None

    @classmethod
    def from_row(cls, row: TaskRow) -> "Task":
        return cls(
            id=strawberry.ID(row.id),
            run_id=strawberry.ID(row.run_id),
            project_id=row.project_id,
            node_id=row.node_id,
            iteration=row.iteration,
            title=row.title,
            required=row.required,
            form=JSON(row.form),
            status=TaskStatus(row.status),
            due_at=row.due_at,
            escalations=row.escalations,
            opened_at=row.opened_at,
            closed_at=row.closed_at,
        )

    @strawberry.field(
        description="Who may decide now (user ids, role:<name>, group:<name>); an "
        "escalation replaces them."
    )
    async def assignees(self, info: Info) -> list[str]:
        return await info.context.task_assignees.load(self.id)

    @strawberry.field(description="The decisions given so far, oldest first.")
    async def decisions(self, info: Info) -> list[TaskDecision]:
        rows = await info.context.task_decisions.load(self.id)
        return [TaskDecision.from_recorded(row) for row in rows]


@strawberry.type
class TaskConnection:
    nodes: list[Task]
    page_info: PageInfo


# What completeTask returns: the task with the decision recorded, or why it was not (no
# such task; the task is closed, the decision does not fit the form, or was given before).
CompleteTaskResult = Annotated[
    Task | NotFound | ValidationFailed, strawberry.union("CompleteTaskResult")
]
