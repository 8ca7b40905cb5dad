import strawberry

from control_plane.graphql.context import Info
from control_plane.identity.types import Me


@strawberry.type
class Query:
    @strawberry.field(description="Who the request is from, and the roles it holds.")
    def me(self, info: Info) -> Me:
        return Me.of(info.context.principal)
