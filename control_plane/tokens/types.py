from datetime import datetime
from typing import Annotated

import strawberry

from control_plane.db.models import ApiToken as ApiTokenRow
from control_plane.graphql.results import NotFound
from control_plane.members.types import Role
from control_plane.workflows.types import ValidationFailed


@strawberry.type(description="An API token, without its value (shown once, when created).")
class ApiToken:
    id: strawberry.ID
    name: str
    workspace_id: strawberry.ID | None = strawberry.field(
        description="The workspace it holds its role in; null for an instance admin's."
    )
    role: Role | None
    instance_admin: bool
    created_by: str | None = strawberry.field(description="The principal that created it.")
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = strawberry.field(
        description="When it last authenticated a request (to the minute)."
    )
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: ApiTokenRow) -> "ApiToken":
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            workspace_id=strawberry.ID(row.workspace_id) if row.workspace_id else None,
            role=Role(row.role) if row.role else None,
            instance_admin=row.instance_admin,
            created_by=row.created_by,
            created_at=row.created_at,
            expires_at=row.expires_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )


@strawberry.type(description="A new API token and, this once, its value.")
class CreatedApiToken:
    api_token: ApiToken
    token: str = strawberry.field(
        description="Send as 'Authorization: Bearer <token>'; it is kept only as a hash "
        "and cannot be shown again."
    )


CreateApiTokenResult = Annotated[
    CreatedApiToken | NotFound | ValidationFailed, strawberry.union("CreateApiTokenResult")
]
RevokeApiTokenResult = Annotated[ApiToken | NotFound, strawberry.union("RevokeApiTokenResult")]
