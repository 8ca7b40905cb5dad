import strawberry
from sqlalchemy import select

from control_plane.db.models import Policy as PolicyRow
from control_plane.graphql.context import Info
from control_plane.policies.types import Policy, PolicyOrigin


@strawberry.type
class Query:
    @strawberry.field(
        description="Every policy in force: the files of the settings, then those set "
        "through the API, by name (instance admins)."
    )
    async def policies(self, info: Info) -> list[Policy]:
        files = [
            Policy(
                name=m.name,
                source=m.source,
                origin=PolicyOrigin.FILE,
                updated_at=None,
                updated_by=None,
            )
            for m in info.context.services.policies.files
        ]
        async with info.context.services.sessions() as session:
            rows = await session.scalars(select(PolicyRow).order_by(PolicyRow.name))
            return files + [policy_of(row) for row in rows]


def policy_of(row: PolicyRow) -> Policy:
    return Policy(
        name=row.name,
        source=row.source,
        origin=PolicyOrigin.DATABASE,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )
