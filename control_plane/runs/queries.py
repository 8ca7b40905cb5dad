import strawberry

from control_plane.graphql.context import Info
from control_plane.runs import service
from control_plane.runs.executions import check_page_size
from control_plane.runs.types import PageInfo, Run, RunConnection
from data_plane.protocol import RunStatus


@strawberry.type
class Query:
    @strawberry.field(description="One run with its nodes.")
    async def run(self, info: Info, id: strawberry.ID) -> Run:
        async with info.context.services.sessions() as session:
            return Run.from_row(await service.get_run(session, id))

    @strawberry.field(description="Runs of a project, newest first.")
    async def runs(
        self,
        info: Info,
        project_id: strawberry.ID,
        status: RunStatus | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> RunConnection:
        check_page_size(first)
        async with info.context.services.sessions() as session:
            page = await service.list_runs(
                session, project_id, status.value if status else None, first, after
            )
        return RunConnection(
            nodes=[Run.from_row(r) for r in page.runs],
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
        )
