from datetime import UTC, datetime

import strawberry

from control_plane.errors import InvalidInputError, NotFoundError
from control_plane.graphql.context import Info
from control_plane.graphql.results import NotFound
from control_plane.workflows.types import ValidationFailed
from control_plane.workspaces import service
from control_plane.workspaces.types import (
    Project,
    ProjectResult,
    Workspace,
    WorkspaceResult,
)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create a workspace (instance admins).")
    async def create_workspace(self, info: Info, name: str) -> WorkspaceResult:
        try:
            async with info.context.transaction() as transaction:
                row = await service.create_workspace(transaction.session, name)
        except InvalidInputError as exc:
            return ValidationFailed.of(exc, "name")
        return Workspace.from_row(row)

    @strawberry.mutation(description="Rename a workspace (its owners).")
    async def rename_workspace(self, info: Info, id: strawberry.ID, name: str) -> WorkspaceResult:
        return await _update_workspace(info, id, name, None)

    @strawberry.mutation(
        description="Archive a workspace (instance admins): it stays readable, and no "
        "project of it takes a new publish or run."
    )
    async def archive_workspace(self, info: Info, id: strawberry.ID) -> WorkspaceResult:
        return await _update_workspace(info, id, None, datetime.now(UTC))

    @strawberry.mutation(description="Create a project in a workspace (its owners).")
    async def create_project(
        self,
        info: Info,
        workspace_id: strawberry.ID,
        name: str,
        tags: list[str] | None = None,
    ) -> ProjectResult:
        try:
            async with info.context.transaction() as transaction:
                row = await service.create_project(
                    transaction.session, workspace_id, name, tags or []
                )
        except NotFoundError as exc:
            return NotFound(message=str(exc))
        except InvalidInputError as exc:
            return ValidationFailed.of(exc, "name")
        return Project.from_row(row)

    @strawberry.mutation(
        description="Rename a project or replace its tags (its owners); what is not given stays."
    )
    async def update_project(
        self,
        info: Info,
        id: strawberry.ID,
        name: str | None = None,
        tags: list[str] | None = None,
    ) -> ProjectResult:
        return await _update_project(info, id, name, tags, None)

    @strawberry.mutation(
        description="Archive a project (its owners): it stays readable and takes no new "
        "publish or run."
    )
    async def archive_project(self, info: Info, id: strawberry.ID) -> ProjectResult:
        return await _update_project(info, id, None, None, datetime.now(UTC))


async def _update_workspace(
    info: Info, workspace_id: str, name: str | None, archived_at: datetime | None
) -> WorkspaceResult:
    try:
        async with info.context.transaction() as transaction:
            row = await service.update_workspace(
                transaction.session, workspace_id, name, archived_at
            )
    except NotFoundError as exc:
        return NotFound(message=str(exc))
    except InvalidInputError as exc:
        return ValidationFailed.of(exc, "name")
    return Workspace.from_row(row)


async def _update_project(
    info: Info,
    project_id: str,
    name: str | None,
    tags: list[str] | None,
    archived_at: datetime | None,
) -> ProjectResult:
    try:
        async with info.context.transaction() as transaction:
            row = await service.update_project(
                transaction.session, project_id, name, tags, archived_at
            )
    except NotFoundError as exc:
        return NotFound(message=str(exc))
    except InvalidInputError as exc:
        return ValidationFailed.of(exc, "name")
    return Project.from_row(row)
