from collections.abc import Mapping
from typing import Any

from control_plane.access.principal import Scope
from control_plane.access.roles import Permission
from control_plane.graphql.context import Context
from control_plane.graphql.permissions import Declarations, Reached, Rule


async def membership_scope(
    context: Context, workspace_id: str, project_id: str | None
) -> Scope | None:
    """The workspace, or the project when one is named and is in that workspace; None
    when there is no such place."""
    if project_id is None:
        return await context.workspace_scope(workspace_id)
    scope = await context.project_scope(project_id)
    return scope if scope is not None and scope.workspace_id == workspace_id else None


async def _membership_scope(context: Context, arguments: Mapping[str, Any]) -> Scope | None:
    project_id = arguments.get("projectId")
    return await membership_scope(
        context, str(arguments["workspaceId"]), str(project_id) if project_id else None
    )


_MANAGE = Rule.on(Permission.MANAGE_MEMBERS, _membership_scope)

DECLARATIONS = Declarations(
    fields={
        "Query.members": Rule.on(Permission.READ, _membership_scope),
        "Mutation.addMember": _MANAGE,
        "Mutation.setRole": _MANAGE,
        "Mutation.removeMember": _MANAGE,
    },
    types={"Member": Reached(), "MemberRemoved": Reached()},
)
