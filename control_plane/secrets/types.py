from datetime import datetime
from typing import Annotated

import strawberry

from control_plane.db.models import Secret as SecretRow
from control_plane.graphql.results import NotFound
from control_plane.workflows.types import ValidationFailed


@strawberry.type(
    description="A project secret, as the registry knows it: never its value, which only "
    "Vault holds and only the runs granted it read."
)
class Secret:
    id: strawberry.ID
    project_id: strawberry.ID
    name: str = strawberry.field(description="What definitions map onto their nodes.")
    version: int = strawberry.field(description="Vault's version of the current value.")
    set_by: str = strawberry.field(description="The principal that set the current value.")
    created_at: datetime
    updated_at: datetime = strawberry.field(description="When the current value was set.")

    @classmethod
    def from_row(cls, row: SecretRow) -> "Secret":
        return cls(
            id=strawberry.ID(row.id),
            project_id=strawberry.ID(row.project_id),
            name=row.name,
            version=row.version,
            set_by=row.set_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.type(description="The secret was deleted, every version of its value with it.")
class SecretDeleted:
    project_id: strawberry.ID
    name: str


SetSecretResult = Annotated[
    Secret | NotFound | ValidationFailed, strawberry.union("SetSecretResult")
]
DeleteSecretResult = Annotated[SecretDeleted | NotFound, strawberry.union("DeleteSecretResult")]
