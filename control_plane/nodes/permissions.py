from control_plane.graphql.permissions import Declarations, Reached, Rule

DECLARATIONS = Declarations(
    fields={"Query.nodeTypes": Rule.authenticated()},
    types={"NodeType": Reached()},
)
