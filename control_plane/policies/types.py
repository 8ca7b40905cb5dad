from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from control_plane.graphql.results import NotFound
from control_plane.workflows.types import ValidationFailed


@strawberry.enum(description="Where a policy comes from.")
class PolicyOrigin(Enum):
    FILE = "FILE"
    DATABASE = "DATABASE"


@strawberry.type(description="A Rego policy in force (docs/policies.md).")
class Policy:
    name: str = strawberry.field(description="Its file's path, or the name it was set under.")
    source: str
    origin: PolicyOrigin
    updated_at: datetime | None = strawberry.field(description="Null for a file.")
    updated_by: str | None = strawberry.field(description="Null for a file.")


@strawberry.type(description="The policy was deleted.")
class PolicyDeleted:
    name: str


SetPolicyResult = Annotated[Policy | ValidationFailed, strawberry.union("SetPolicyResult")]
DeletePolicyResult = Annotated[PolicyDeleted | NotFound, strawberry.union("DeletePolicyResult")]
