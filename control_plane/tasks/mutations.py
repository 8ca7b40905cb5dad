from datetime import UTC, datetime, timedelta

import strawberry
from strawberry.scalars import JSON

from control_plane.errors import InvalidInputError, NotFoundError
from control_plane.graphql.context import Info
from control_plane.graphql.errors import graphql_errors
from control_plane.graphql.results import NotFound
from control_plane.tasks import service
from control_plane.tasks.types import CompleteTaskResult, Task
from control_plane.workflows.types import ValidationFailed


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Decide an open human task as the caller: the decision (`approved` and "
        "the form's fields) is checked against Task.form, recorded with who decided and "
        "when, and sent to the run; follow its delivery in Task.decisions. Each principal "
        "decides a task once."
    )
    @graphql_errors
    async def complete_task(
        self, info: Info, task_id: strawberry.ID, decision: JSON
    ) -> CompleteTaskResult:
        services = info.context.services
        ttl = timedelta(seconds=services.settings.control_ttl_seconds)
        try:
            async with services.sessions.begin() as session:
                task, request = await service.complete_task(
                    session, task_id, decision, info.context.requested_by, datetime.now(UTC), ttl
                )
        except NotFoundError as exc:
            return NotFound(message=str(exc))
        except InvalidInputError as exc:
            return ValidationFailed.of(exc, "taskId")
        await services.dispatcher.dispatch_control_soon(request.id)
        return Task.from_row(task)
