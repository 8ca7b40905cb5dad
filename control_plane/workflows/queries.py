import strawberry

from control_plane.errors import InvalidInputError
from control_plane.graphql.context import Info
from control_plane.workflows import service
from control_plane.workflows.types import Workflow


@strawberry.type
class Query:
    @strawberry.field(description="Workflows of a project, by name.")
    async def workflows(self, info: Info, project_id: strawberry.ID) -> list[Workflow]:
        async with info.context.services.sessions() as session:
            return [Workflow.from_row(r) for r in await service.list_workflows(session, project_id)]

    @strawberry.field(description="One workflow, by id or by project and name.")
    async def workflow(
        self,
        info: Info,
        id: strawberry.ID | None = None,
        project_id: strawberry.ID | None = None,
        name: str | None = None,
    ) -> Workflow | None:
        async with info.context.services.sessions() as session:
            if id is not None:
                return Workflow.from_row(await service.get_workflow(session, id))
            if project_id is not None and name is not None:
                row = await service.find_workflow(session, project_id, name)
                return Workflow.from_row(row) if row is not None else None
        raise InvalidInputError("workflow: give either id, or projectId and name", field="id")
