from control_plane.graphql.permissions import Declarations, Reached, Rule

DECLARATIONS = Declarations(
    fields={"Query.me": Rule.authenticated()},
    types={"Me": Reached(), "HeldRole": Reached()},
)
