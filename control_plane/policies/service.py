"""Policies set through the API: each stored only if it compiles, alone and with every
other policy in force."""

import re
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.db.models import Policy
from control_plane.errors import InvalidInputError, NotFoundError, PolicyError
from control_plane.policies.engine import PolicyEngine, PolicyModule
from control_plane.policies.guard import PolicyGuard, stored

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
MAX_SOURCE_BYTES = 256 * 1024


async def set_policy(
    session: AsyncSession,
    guard: PolicyGuard,
    name: str,
    source: str,
    by: str,
    now: datetime,
) -> Policy:
    """Store (or replace) the policy `name`.

    Raises:
        InvalidInputError: a bad name, a name of a policy file, a source over the size
            limit, or one that does not compile with the others.
    """
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidInputError(
            f"name: {name[:120]!r}: 1 to 100 letters, digits, '_', '.' or '-'", field="name"
        )
    if any(module.name == name for module in guard.files):
        raise InvalidInputError(
            f"name: {name!r} is a policy file of the settings; choose another name",
            field="name",
        )
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise InvalidInputError(
            f"source: {len(source.encode())} bytes; at most {MAX_SOURCE_BYTES}", field="source"
        )
    others = [m for m in await stored(session) if m.name != name]
    try:
        PolicyEngine.compile([*guard.files, *others, PolicyModule(name, source)])
    except PolicyError as exc:
        raise InvalidInputError(f"source: {exc}", field="source") from exc
    row = await session.get(Policy, name)
    if row is None:
        row = Policy(name=name, source=source, updated_at=now, updated_by=by)
        session.add(row)
    row.source, row.updated_at, row.updated_by = source, now, by
    await session.flush()
    return row


async def delete_policy(session: AsyncSession, name: str) -> None:
    row = await session.get(Policy, name)
    if row is None:
        raise NotFoundError(f"no policy named {name!r} was set through the API")
    await session.delete(row)
    await session.flush()
