"""The two extensions every field goes through: `ErrorMasking` (outermost) and
`Authorization`; no resolver repeats either."""

import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo
from strawberry.extensions import SchemaExtension

from control_plane.access.principal import Scope
from control_plane.access.roles import Permission
from control_plane.errors import ControlPlaneError, ForbiddenError
from control_plane.graphql.context import Context
from control_plane.graphql.permissions import Declarations, OwnedBy, Rule

logger = logging.getLogger(__name__)

Resolver = Callable[..., Any]
Call = Callable[[], Any]
"""The field's resolution, arguments bound."""
# graphql-core's, not strawberry's `Info`: extensions see the raw resolution (its context
# is our `Context`).
ResolveInfo = GraphQLResolveInfo[Any]
_ROOTS = frozenset({"Query", "Mutation", "Subscription"})
_INTROSPECTION = frozenset({"__schema", "__type"})


class ErrorMasking(SchemaExtension):
    """A `ControlPlaneError` becomes a GraphQL error with its `code`; anything else is
    logged with an incident id and answered with that id only, never its text."""

    def resolve(
        self, _next: Resolver, root: Any, info: ResolveInfo, *args: Any, **kwargs: Any
    ) -> Any:
        try:
            result = _next(root, info, *args, **kwargs)
        except Exception as exc:
            raise _masked(exc) from exc
        if inspect.isawaitable(result):
            return _masking(result)
        return result


async def _masking(result: Awaitable[Any]) -> Any:
    try:
        return await result
    except Exception as exc:
        raise _masked(exc) from exc


def _masked(exc: Exception) -> GraphQLError:
    if isinstance(exc, GraphQLError):
        return exc
    if isinstance(exc, ControlPlaneError):
        return GraphQLError(str(exc), extensions=exc.extensions())
    incident = uuid.uuid4().hex[:12]
    logger.error("unexpected error (incident %s)", incident, exc_info=exc)
    return GraphQLError(
        f"internal error (incident {incident}); see the control plane log",
        extensions={"code": "INTERNAL", "incident": incident},
    )


class Authorization(SchemaExtension):
    """Default-deny: each field is resolved only as its declaration allows
    (`control_plane.graphql.permissions`)."""

    def __init__(self, declarations: Declarations) -> None:
        self.declarations = declarations

    def resolve(
        self, _next: Resolver, root: Any, info: ResolveInfo, *args: Any, **kwargs: Any
    ) -> Any:
        parent, name = info.parent_type.name, info.field_name
        context: Context = info.context
        if name in _INTROSPECTION and not context.services.settings.expose_schema:
            raise ForbiddenError("introspection is off on this server (FLOWFORGE_CP_EXPOSE_SCHEMA)")
        if name.startswith("__") or parent.startswith("__"):
            return _next(root, info, *args, **kwargs)
        if parent in _ROOTS:
            rule = self.declarations.fields.get(f"{parent}.{name}")
            if rule is None:
                raise ForbiddenError(f"{parent}.{name} declares no permission, so none may use it")
            return self._root(rule, info, kwargs, lambda: _next(root, info, *args, **kwargs))
        declared = self.declarations.types.get(parent)
        if declared is None:
            raise ForbiddenError(f"{parent} declares no permission, so none may read it")
        if isinstance(declared, OwnedBy):
            return self._owned(declared, root, info, lambda: _next(root, info, *args, **kwargs))
        return _next(root, info, *args, **kwargs)

    async def _root(
        self, rule: Rule, info: ResolveInfo, arguments: Mapping[str, Any], call: Call
    ) -> Any:
        principal = info.context.principal
        if rule.kind == "instance":
            principal.require(rule.permission)
        elif rule.kind == "arguments":
            assert rule.lookup is not None
            scope = await rule.lookup(info.context, arguments)
            if scope is not None:
                principal.require(rule.permission, scope)
        result = await _value(call)
        if rule.kind == "result" and result is not None:
            declared = self.declarations.types.get(type(result).__name__)
            if not isinstance(declared, OwnedBy):
                raise ForbiddenError(
                    f"{info.parent_type.name}.{info.field_name} returns "
                    "an object with no scope to check"
                )
            scope = await _resolved(info.context, declared.scope(result))
            principal.require(rule.permission, scope)
        return result

    def _owned(self, declared: OwnedBy, root: Any, info: ResolveInfo, call: Call) -> Any:
        found = declared.scope(root)
        # Most fields of an object meet a scope this request resolved already: checked
        # without awaiting, so reading a large page stays cheap.
        scope = found if isinstance(found, Scope) else info.context.known_scope(found)
        if scope is None:
            return self._owned_later(found, info, call)
        info.context.principal.require(Permission.READ, scope)
        return call()

    async def _owned_later(self, found: str | Scope, info: ResolveInfo, call: Call) -> Any:
        info.context.principal.require(Permission.READ, await _resolved(info.context, found))
        return await _value(call)


async def _value(call: Call) -> Any:
    result = call()
    return await result if inspect.isawaitable(result) else result


async def _resolved(context: Context, found: str | Scope) -> Scope:
    """`found` itself, or the scope of the project whose id it is."""
    if isinstance(found, Scope):
        return found
    scope = await context.project_scope(found)
    if scope is None:
        raise ForbiddenError("the object's project no longer exists")
    return scope
