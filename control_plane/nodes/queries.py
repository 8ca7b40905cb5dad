import strawberry

from control_plane.graphql.context import Info
from control_plane.nodes.types import NodeType


@strawberry.type
class Query:
    @strawberry.field(description="Node types installed on the control plane.")
    def node_types(self, info: Info) -> list[NodeType]:
        return [NodeType.from_class(c) for c in info.context.services.registry.types()]
