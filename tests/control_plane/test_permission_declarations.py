"""Authorization is default-deny and schema-wide: every field of the schema has a declared
permission, and a field without one is refused, not served."""

from typing import Any, cast

import pytest
import strawberry
from graphql import GraphQLObjectType

from control_plane.access.principal import Principal
from control_plane.graphql.context import Context, Services
from control_plane.graphql.extensions import Authorization, ErrorMasking
from control_plane.graphql.permissions import Declarations
from control_plane.graphql.schema import DECLARATIONS, Mutation, Query, schema
from control_plane.settings import ControlPlaneSettings

ROOTS = ("Query", "Mutation", "Subscription")


def _object_types() -> dict[str, GraphQLObjectType]:
    return {
        name: kind
        for name, kind in schema._schema.type_map.items()
        if isinstance(kind, GraphQLObjectType) and not name.startswith("__")
    }


def test_every_field_of_the_schema_declares_a_permission() -> None:
    undeclared = []
    for name, kind in _object_types().items():
        if name in ROOTS:
            undeclared += [
                f"{name}.{f}" for f in kind.fields if f"{name}.{f}" not in DECLARATIONS.fields
            ]
        elif name not in DECLARATIONS.types:
            undeclared.append(name)

    assert undeclared == []


def test_every_declaration_names_a_field_or_type_of_the_schema() -> None:
    types = _object_types()
    root_fields = {f"{n}.{f}" for n in ROOTS if n in types for f in types[n].fields}

    assert set(DECLARATIONS.fields) - root_fields == set()
    assert set(DECLARATIONS.types) - set(types) == set()


def _context(principal: Principal) -> Context:
    # `me` reads nothing but the principal and the settings: no database behind it.
    services = Services(ControlPlaneSettings(), *(cast(Any, None) for _ in range(5)))
    return Context(services, principal)


ADMIN = Principal(id="token:admin", kind="token", name="admin", instance_admin=True)


async def test_a_field_without_a_declaration_is_refused_even_to_an_instance_admin() -> None:
    fields = {k: v for k, v in DECLARATIONS.fields.items() if k != "Query.me"}
    partial = strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=[lambda: Authorization(Declarations(fields, DECLARATIONS.types)), ErrorMasking],
    )

    result = await partial.execute("{ me { id } }", context_value=_context(ADMIN))

    assert result.data is None
    assert result.errors is not None
    [error] = result.errors
    assert error.message == "Query.me declares no permission, so none may use it"
    assert error.extensions == {"code": "FORBIDDEN"}


async def test_a_type_without_a_declaration_is_refused() -> None:
    types = {k: v for k, v in DECLARATIONS.types.items() if k != "Me"}
    partial = strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=[lambda: Authorization(Declarations(DECLARATIONS.fields, types)), ErrorMasking],
    )

    result = await partial.execute("{ me { id name } }", context_value=_context(ADMIN))

    assert result.errors is not None
    assert {e.message for e in result.errors} == {"Me declares no permission, so none may read it"}


@pytest.mark.parametrize(
    "query", ["{ __schema { queryType { name } } }", '{ __type(name: "Run") { name } }']
)
async def test_introspection_is_refused_unless_the_schema_is_exposed(query: str) -> None:
    refused = await schema.execute(query, context_value=_context(ADMIN))
    exposed = _context(ADMIN)
    exposed.services.settings = ControlPlaneSettings(expose_schema=True)
    answered = await schema.execute(query, context_value=exposed)

    assert refused.errors is not None
    assert refused.errors[0].extensions == {"code": "FORBIDDEN"}
    assert "introspection is off" in refused.errors[0].message
    assert answered.errors is None
