"""From a request's `Authorization` header to its `Principal`, or a refusal.

An `ff_...` bearer is an API token; a JWT is checked against the OIDC issuer when one is
configured, and its user created on first sight. Either way the principal carries every
role it holds, read once per request.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from control_plane.access.principal import Principal
from control_plane.access.roles import Role
from control_plane.db.models import ApiToken, User
from control_plane.errors import UnauthenticatedError
from control_plane.identity.oidc import OidcIdentity, OidcVerifier, looks_like_jwt
from control_plane.members.service import roles_of
from control_plane.tokens.service import find_token, note_use, refusal

MISSING = "missing credentials: send the header 'Authorization: Bearer <token>'"
NO_OIDC = (
    "the bearer is a JWT, but this control plane trusts no OIDC issuer; set "
    "FLOWFORGE_CP_OIDC__ISSUER (docs/operations.md) or use an API token"
)
# As for API tokens: "last seen" to the minute, not a write per request.
LAST_SEEN_PRECISION = timedelta(minutes=1)


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


class Authenticator:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        verifier: OidcVerifier | None,
        instance_admins: Sequence[str],
    ) -> None:
        self._sessions = sessions
        self._verifier = verifier
        self._instance_admins = frozenset(instance_admins)

    async def authenticate(self, authorization: str | None) -> Principal:
        """The principal of the request, or UnauthenticatedError saying why not."""
        token = bearer_token(authorization)
        if token is None:
            raise UnauthenticatedError(MISSING)
        if looks_like_jwt(token):
            if self._verifier is None:
                raise UnauthenticatedError(NO_OIDC)
            return await self._user(await self._verifier.verify(token))
        now = datetime.now(UTC)
        async with self._sessions.begin() as session:
            row = await find_token(session, token)
            why = refusal(row, now)
            if why is not None or row is None:
                raise UnauthenticatedError(why)
            note_use(row, now)
            return token_principal(row)

    async def _user(self, identity: OidcIdentity) -> Principal:
        now = datetime.now(UTC)
        async with self._sessions.begin() as session:
            user = await _seen(session, identity, now)
            members = [f"group:{g}" for g in sorted(identity.groups)]
            if user.email:
                members.insert(0, f"user:{user.email.lower()}")
            roles = await roles_of(session, members)
        return Principal(
            id=f"user:{user.id}",
            kind="user",
            name=user.name or user.email or user.subject,
            email=user.email,
            groups=identity.groups,
            instance_admin=any(m in self._instance_admins for m in members),
            workspace_roles=roles.workspaces,
            project_roles=roles.projects,
        )


async def _seen(session: AsyncSession, identity: OidcIdentity, now: datetime) -> User:
    """The user the identity is, created on first sight, its claims kept current."""
    user = await session.scalar(
        select(User).where(User.issuer == identity.issuer, User.subject == identity.subject)
    )
    if user is None:
        user = User(issuer=identity.issuer, subject=identity.subject, last_seen_at=now)
        session.add(user)
    if user.email != identity.email or user.name != identity.name:
        user.email, user.name = identity.email, identity.name
    if now - user.last_seen_at >= LAST_SEEN_PRECISION:
        user.last_seen_at = now
    await session.flush()
    return user


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
