from control_plane.access.roles import Permission
from control_plane.db.models import Task as TaskRow
from control_plane.graphql.permissions import (
    Declarations,
    OwnedBy,
    Reached,
    Rule,
    project_argument,
    project_of,
)
from control_plane.tasks.types import Task


def _project(task: Task) -> str:
    return task.project_id


DECLARATIONS = Declarations(
    fields={
        "Query.task": Rule.on_result(),
        "Query.tasks": Rule.on(Permission.READ, project_argument("projectId")),
        # The assignee is checked by the service, which knows the task.
        "Mutation.completeTask": Rule.on(Permission.DECIDE_TASKS, project_of(TaskRow, "taskId")),
    },
    types={"Task": OwnedBy(_project), "TaskConnection": Reached(), "TaskDecision": Reached()},
)
