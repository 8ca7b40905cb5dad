"""From a request's `Authorization` header to its `Principal`, or a refusal.

An opaque `ff_...` bearer is an API token; a JWT is checked against the OIDC issuer when
one is configured. Either way the principal carries every role it holds, read once.
"""

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from control_plane.access.principal import Principal
from control_plane.access.roles import Role
from control_plane.db.models import ApiToken
from control_plane.errors import UnauthenticatedError
from control_plane.tokens.service import find_token, note_use, refusal

MISSING = "missing credentials: send the header 'Authorization: Bearer <token>'"


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


async def authenticate(
    sessions: async_sessionmaker[AsyncSession], authorization: str | None
) -> Principal:
    """The principal of the request, or UnauthenticatedError saying why not."""
    token = bearer_token(authorization)
    if token is None:
        raise UnauthenticatedError(MISSING)
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        row = await find_token(session, token)
        why = refusal(row, now)
        if why is not None or row is None:
            raise UnauthenticatedError(why)
        note_use(row, now)
        return token_principal(row)


def token_principal(row: ApiToken) -> Principal:
    roles = (
        {row.workspace_id: Role(row.role)}
        if row.workspace_id is not None and row.role is not None
        else {}
    )
    return Principal(
        id=f"token:{row.id}",
        kind="token",
        name=row.name,
        instance_admin=row.instance_admin,
        workspace_roles=roles,
    )
