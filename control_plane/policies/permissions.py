from control_plane.access.roles import Permission
from control_plane.graphql.permissions import Declarations, Reached, Rule

_ADMIN = Rule.instance(Permission.MANAGE_POLICIES)

DECLARATIONS = Declarations(
    fields={
        "Query.policies": _ADMIN,
        "Mutation.setPolicy": _ADMIN,
        "Mutation.deletePolicy": _ADMIN,
    },
    types={"Policy": Reached(), "PolicyDeleted": Reached()},
)
