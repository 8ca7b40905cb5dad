"""What each GraphQL field asks of the principal: the declarations every domain's
`permissions.py` makes, read by the `Authorization` extension.

Authorization is default-deny and schema-wide. Every field of `Query` and `Mutation`
declares a `Rule`; every other object type declares how its objects are scoped:
`OwnedBy` (a workspace or project the principal must be able to read, checked on each
field, so an object reached from a permitted parent is checked too) or `Reached` (values
that exist only inside an object checked already: a run's nodes, a page's info, an
error). A field whose parent declares nothing is refused, and a test walks the schema to
find one before a user does.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from sqlalchemy import select

from control_plane.access.principal import Scope
from control_plane.access.roles import Permission
from control_plane.db.models import Run, Task, Workflow
from control_plane.graphql.context import Context

ScopeLookup = Callable[[Context, Mapping[str, Any]], Awaitable[Scope | None]]
"""The scope of the object a field's arguments name; None when there is no such object
(the resolver then answers NotFound, as it would for anyone)."""

T = TypeVar("T")
RuleKind = Literal["authenticated", "instance", "arguments", "result", "listed"]


@dataclass(frozen=True)
class Rule:
    """The permission a root field asks for, and where its scope comes from."""

    kind: RuleKind
    permission: Permission = Permission.READ
    lookup: ScopeLookup | None = None

    @classmethod
    def authenticated(cls) -> "Rule":
        """Any principal: the field reads nothing of a workspace."""
        return cls("authenticated")

    @classmethod
    def instance(cls, permission: Permission) -> "Rule":
        """An instance admin only."""
        return cls("instance", permission)

    @classmethod
    def on(cls, permission: Permission, lookup: ScopeLookup) -> "Rule":
        """`permission` on the object the arguments name, checked before the resolver."""
        return cls("arguments", permission, lookup)

    @classmethod
    def on_result(cls) -> "Rule":
        """Read on the object the resolver returns (it changes nothing)."""
        return cls("result")

    @classmethod
    def listed(cls) -> "Rule":
        """The resolver lists only what the principal sees (`Principal.sees`); each
        object listed is still checked on its own fields."""
        return cls("listed")


@dataclass(frozen=True)
class OwnedBy:
    """Objects of a workspace or project: reading any field asks for READ there."""

    scope: Callable[[Any], str | Scope]
    """The object's scope, or the id of its project (resolved to a scope per request)."""


@dataclass(frozen=True)
class Reached:
    """Values found only inside an object checked already; nothing more to check."""


TypeRule = OwnedBy | Reached


@dataclass(frozen=True)
class Declarations:
    fields: Mapping[str, Rule]
    """"Query.run", "Mutation.startRun" ... -> its rule."""
    types: Mapping[str, TypeRule]

    @classmethod
    def merge(cls, parts: Sequence["Declarations"]) -> "Declarations":
        return cls(_merged([p.fields for p in parts]), _merged([p.types for p in parts]))


def _merged(tables: Sequence[Mapping[str, T]]) -> dict[str, T]:
    merged: dict[str, T] = {}
    for table in tables:
        twice = merged.keys() & table.keys()
        if twice:
            raise ValueError(f"declared twice: {sorted(twice)}")
        merged.update(table)
    return merged


def project_argument(name: str) -> ScopeLookup:
    """The scope of the project whose id is the argument `name`."""

    async def lookup(context: Context, arguments: Mapping[str, Any]) -> Scope | None:
        return await context.project_scope(str(arguments[name]))

    return lookup


def project_of(model: type[Run | Workflow | Task], name: str) -> ScopeLookup:
    """The scope of the project of the `model` row whose id is the argument `name`."""

    async def lookup(context: Context, arguments: Mapping[str, Any]) -> Scope | None:
        async with context.services.sessions() as session:
            project_id = await session.scalar(
                select(model.project_id).where(model.id == str(arguments[name]))
            )
        return await context.project_scope(project_id) if project_id is not None else None

    return lookup


def workspace_argument(name: str) -> ScopeLookup:
    """The scope of the workspace whose id is the argument `name`."""

    async def lookup(context: Context, arguments: Mapping[str, Any]) -> Scope | None:
        return await context.workspace_scope(str(arguments[name]))

    return lookup
