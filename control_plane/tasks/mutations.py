from datetime import UTC, datetime, timedelta

import strawberry
from strawberry.scalars import JSON

from control_plane.errors import InvalidInputError, NotFoundError
from control_plane.graphql.context import Info
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
    async def complete_task(
        self, info: Info, task_id: strawberry.ID, decision: JSON
    ) -> CompleteTaskResult:
        context = info.context
        dispatcher = context.services.dispatcher
        ttl = timedelta(seconds=context.services.settings.control_ttl_seconds)
        try:
            async with context.transaction() as transaction:
                task, request = await service.complete_task(
                    transaction.session,
                    task_id,
                    decision,
                    context.principal,
                    datetime.now(UTC),
                    ttl,
                )
                await context.services.policies.check_decision(
                    transaction.session, context.principal, task
                )
                request_id = request.id
                transaction.after_commit(lambda: dispatcher.dispatch_control_soon(request_id))
        except NotFoundError as exc:
            return NotFound(message=str(exc))
        except InvalidInputError as exc:
            return ValidationFailed.of(exc, "taskId")
        return Task.from_row(task)
