from control_plane.access.roles import Permission
from control_plane.db.models import Run as RunRow
from control_plane.db.models import Workflow as WorkflowRow
from control_plane.graphql.permissions import (
    Declarations,
    OwnedBy,
    Reached,
    Rule,
    project_argument,
    project_of,
)
from control_plane.runs.types import Run

_OPERATE_RUN = Rule.on(Permission.OPERATE_RUNS, project_of(RunRow, "id"))


def _project(run: Run) -> str:
    return run.project_id


DECLARATIONS = Declarations(
    fields={
        "Query.run": Rule.on_result(),
        "Query.runs": Rule.on(Permission.READ, project_argument("projectId")),
        "Mutation.startRun": Rule.on(
            Permission.OPERATE_RUNS, project_of(WorkflowRow, "workflowId")
        ),
        "Mutation.cancelRun": _OPERATE_RUN,
        "Mutation.pauseRun": _OPERATE_RUN,
        "Mutation.resumeRun": _OPERATE_RUN,
        "Mutation.signalRun": _OPERATE_RUN,
        "Mutation.sendSignal": Rule.on(Permission.OPERATE_RUNS, project_argument("projectId")),
    },
    types={
        "Run": OwnedBy(_project),
        # Inside a run, checked as the run.
        **dict.fromkeys(
            [
                "RunConnection",
                "NodeRun",
                "NodeExecution",
                "NodeExecutionConnection",
                "NodeStatusCount",
                "Wait",
                "ControlRequest",
                "SentSignal",
                "SignalsSent",
                "PageInfo",
                "NotFound",
            ],
            Reached(),
        ),
    },
)
