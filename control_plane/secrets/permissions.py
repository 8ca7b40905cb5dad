from control_plane.access.roles import Permission
from control_plane.graphql.permissions import Declarations, OwnedBy, Reached, Rule, project_argument
from control_plane.secrets.types import Secret

_PROJECT = project_argument("projectId")


def _project(secret: Secret) -> str:
    return secret.project_id


DECLARATIONS = Declarations(
    fields={
        "Query.secrets": Rule.on(Permission.READ, _PROJECT),
        "Mutation.setSecret": Rule.on(Permission.MANAGE_SECRETS, _PROJECT),
        "Mutation.deleteSecret": Rule.on(Permission.MANAGE_SECRETS, _PROJECT),
    },
    types={"Secret": OwnedBy(_project), "SecretDeleted": Reached()},
)
