"""API tokens: stored as SHA-256 hashes, checked on every GraphQL request."""

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.db.models import ApiToken


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def generate_token() -> str:
    return "ff_" + secrets.token_urlsafe(32)


async def ensure_token(session: AsyncSession, name: str, token: str) -> None:
    digest = hash_token(token)
    found = await session.scalar(select(ApiToken).where(ApiToken.token_sha256 == digest))
    if found is None:
        session.add(ApiToken(name=name, token_sha256=digest))


async def token_id(session: AsyncSession, token: str) -> str | None:
    """The id of the registered API token `token`, None if it is not one."""
    digest = hash_token(token)
    return await session.scalar(select(ApiToken.id).where(ApiToken.token_sha256 == digest))


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None
