import strawberry
from strawberry.scalars import JSON

from control_plane.errors import InvalidInputError
from control_plane.graphql.context import Info
from control_plane.workflows import service
from control_plane.workflows.types import (
    DefinitionIssue,
    PublishWorkflowResult,
    ValidationFailed,
    WorkflowVersion,
)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Publish a definition as an immutable version (the first publish of a "
        "name creates the workflow; identical content returns the existing version)."
    )
    async def publish_workflow(
        self, info: Info, project_id: strawberry.ID, definition: JSON
    ) -> PublishWorkflowResult:
        if not isinstance(definition, dict):
            raise InvalidInputError("definition: must be a JSON object", field="definition")
        services = info.context.services
        async with info.context.transaction() as transaction:
            result = await service.publish_workflow(
                transaction.session,
                services.registry,
                project_id,
                definition,
                services.settings.limits,
                services.settings.all_pools,
            )
            if not isinstance(result, list):
                await services.policies.check(
                    transaction.session, "publish", info.context.principal, result
                )
        if isinstance(result, list):
            return ValidationFailed(errors=[DefinitionIssue.from_issue(i) for i in result])
        return WorkflowVersion.from_row(result)
