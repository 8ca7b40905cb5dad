"""API tokens: shown once when created, kept as SHA-256 hashes; each an instance admin's
or one role in one workspace, with an optional expiry, revocable."""

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.access.roles import Role
from control_plane.db.models import ApiToken, Workspace
from control_plane.errors import InvalidInputError, NotFoundError
from control_plane.pagination import ListPage, page_of

PREFIX = "ff_"
NAME_LENGTH = 100
# Writing last_used_at on every request would make each read a write; a minute is as
# precise as "when was this token last used" needs.
LAST_USED_PRECISION = timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def generate_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


async def ensure_admin_token(session: AsyncSession, name: str, token: str) -> ApiToken:
    """Register `token` (from the settings) as an instance admin's, unless it is."""
    digest = hash_token(token)
    found = await session.scalar(select(ApiToken).where(ApiToken.token_sha256 == digest))
    if found is None:
        found = ApiToken(name=name, token_sha256=digest, instance_admin=True)
        session.add(found)
        await session.flush()
    return found


async def create_token(
    session: AsyncSession,
    name: str,
    workspace_id: str,
    role: Role,
    expires_at: datetime | None,
    created_by: str,
    now: datetime,
) -> tuple[ApiToken, str]:
    """A new token of `role` in the workspace; returns its row and its only clear copy."""
    name = name.strip()
    if not name or len(name) > NAME_LENGTH:
        raise InvalidInputError(f"name: 1 to {NAME_LENGTH} characters", field="name")
    if expires_at is not None and expires_at <= now:
        raise InvalidInputError(
            f"expiresAt: {expires_at.isoformat()} has passed; give a time in the future "
            "or none for a token that does not expire",
            field="expiresAt",
        )
    workspace = await session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFoundError(f"workspace {workspace_id!r} does not exist")
    token = generate_token()
    row = ApiToken(
        name=name,
        token_sha256=hash_token(token),
        workspace_id=workspace_id,
        role=role.value,
        expires_at=expires_at,
        created_by=created_by,
    )
    session.add(row)
    await session.flush()
    return row, token


async def revoke_token(session: AsyncSession, token_id: str, now: datetime) -> ApiToken:
    """Revoke the token (again: a no-op that keeps the first time)."""
    row = await session.get(ApiToken, token_id)
    if row is None:
        raise NotFoundError(f"API token {token_id!r} does not exist")
    if row.revoked_at is None:
        row.revoked_at = now
    return row


async def list_tokens(
    session: AsyncSession, workspace_id: str, page: ListPage
) -> Sequence[ApiToken]:
    """A page of the workspace's tokens, oldest first."""
    query = select(ApiToken).where(ApiToken.workspace_id == workspace_id)
    order = (ApiToken.created_at, ApiToken.id)
    return await page_of(session, query, order, page, lambda id: ApiToken.id == id)


async def find_token(session: AsyncSession, token: str) -> ApiToken | None:
    return await session.scalar(select(ApiToken).where(ApiToken.token_sha256 == hash_token(token)))


def refusal(row: ApiToken | None, now: datetime) -> str | None:
    """Why the token cannot be used now; None when it can."""
    if row is None:
        return "the API token is not valid; check FLOWFORGE_TOKEN or <data dir>/admin-token"
    if row.revoked_at is not None:
        return f"the API token {row.name!r} was revoked at {row.revoked_at.isoformat()}"
    if row.expires_at is not None and row.expires_at <= now:
        return f"the API token {row.name!r} expired at {row.expires_at.isoformat()}"
    return None


def note_use(row: ApiToken, now: datetime) -> bool:
    """Record that the token is used now; whether that changed the row."""
    if row.last_used_at is not None and now - row.last_used_at < LAST_USED_PRECISION:
        return False
    row.last_used_at = now
    return True
