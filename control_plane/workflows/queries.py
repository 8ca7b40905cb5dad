import strawberry

from control_plane.errors import InvalidInputError
from control_plane.graphql.context import Info
from control_plane.pagination import DEFAULT_LIST_PAGE, ListPage
from control_plane.workflows import service
from control_plane.workflows.types import Workflow


@strawberry.type
class Query:
    @strawberry.field(
        description="Workflows of a project, by name. At most `first` (1 to 200), after the "
        "workflow whose id is `after`; a page shorter than `first` is the last."
    )
    async def workflows(
        self,
        info: Info,
        project_id: strawberry.ID,
        first: int = DEFAULT_LIST_PAGE,
        after: strawberry.ID | None = None,
    ) -> list[Workflow]:
        page = ListPage(first, after)
        async with info.context.services.sessions() as session:
            rows = await service.list_workflows(session, project_id, page)
        return [Workflow.from_row(r) for r in rows]

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
