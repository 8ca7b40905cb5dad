import strawberry

from control_plane.db.models import TaskStatus
from control_plane.graphql.context import Info
from control_plane.runs.executions import check_page_size
from control_plane.runs.types import PageInfo
from control_plane.tasks import service
from control_plane.tasks.types import Task, TaskConnection


@strawberry.type
class Query:
    @strawberry.field(description="One human task, with its assignees and decisions.")
    async def task(self, info: Info, id: strawberry.ID) -> Task:
        async with info.context.services.sessions() as session:
            return Task.from_row(await service.get_task(session, id))

    @strawberry.field(
        description="Human tasks of a project, newest first: those assigned to `assignee` "
        "(a user id, role:<name> or group:<name>, as the node names it) and in `status`."
    )
    async def tasks(
        self,
        info: Info,
        project_id: strawberry.ID,
        assignee: str | None = None,
        status: TaskStatus | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> TaskConnection:
        check_page_size(first)
        async with info.context.services.sessions() as session:
            page = await service.list_tasks(session, project_id, assignee, status, first, after)
        return TaskConnection(
            nodes=[Task.from_row(t) for t in page.tasks],
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
        )
