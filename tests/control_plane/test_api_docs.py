"""docs/graphql-api.md matches the schema as it is: its schema block is the schema
(descriptions aside), every field of Query and Mutation is documented with the permission
it needs, and the operations it shows are valid."""

import re
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
    parse,
    validate,
)

from control_plane.graphql.roles_table import needs
from control_plane.graphql.schema import DECLARATIONS, schema

SCHEMA = build_schema(schema.as_str())
DOC = Path(__file__).parents[2] / "docs" / "graphql-api.md"
TEXT = DOC.read_text(encoding="utf-8")
BLOCKS = re.findall(r"```graphql\n(.*?)```", TEXT, re.DOTALL)
OPERATIONS = [block for block in BLOCKS if block.lstrip().startswith(("query", "mutation", "{"))]
[SCHEMA_BLOCK] = [block for block in BLOCKS if block.startswith("type Query {")]
# A row of a table whose header has a `needs` column: its first cell starts with a field.
NEEDS_TABLE = re.compile(r"^\|[^\n]*\| needs \|[^\n]*\n\|[-|]+\|\n((?:\|[^\n]*\n)+)", re.MULTILINE)


def test_the_page_shows_operations() -> None:
    assert len(OPERATIONS) >= 4


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.split("{")[0].strip())
def test_a_documented_operation_is_valid(operation: str) -> None:
    assert validate(SCHEMA, parse(operation)) == []


def _shape(built: GraphQLSchema) -> dict[str, Any]:
    """Every type's fields, arguments, members or values, without descriptions."""
    shape: dict[str, Any] = {}
    for name, kind in built.type_map.items():
        if name.startswith("__"):
            continue
        if isinstance(kind, GraphQLObjectType | GraphQLInterfaceType):
            shape[name] = {
                field_name: (
                    str(field.type),
                    {a: (str(arg.type), repr(arg.default_value)) for a, arg in field.args.items()},
                )
                for field_name, field in kind.fields.items()
            }
        elif isinstance(kind, GraphQLInputObjectType):
            shape[name] = {f: str(field.type) for f, field in kind.fields.items()}
        elif isinstance(kind, GraphQLUnionType):
            shape[name] = sorted(member.name for member in kind.types)
        elif isinstance(kind, GraphQLEnumType):
            shape[name] = sorted(kind.values)
        elif isinstance(kind, GraphQLScalarType):
            shape[name] = "scalar"
    return shape


def test_the_schema_on_the_page_is_the_schema() -> None:
    assert _shape(build_schema(SCHEMA_BLOCK)) == _shape(SCHEMA)


def _documented_needs() -> dict[str, set[str]]:
    """Field name -> what the page's `needs` columns say it needs."""
    found: dict[str, set[str]] = {}
    for rows in NEEDS_TABLE.findall(TEXT):
        for row in rows.splitlines():
            cells = [cell.strip() for cell in row.strip("|").split("|")]
            field = re.match(r"`(\w+)", cells[0])
            if field is not None and cells[-1]:
                found.setdefault(field.group(1), set()).add(cells[-1])
    return found


def test_every_root_field_is_documented_with_the_permission_it_needs() -> None:
    declared = {field.partition(".")[2]: needs(rule) for field, rule in DECLARATIONS.fields.items()}

    assert _documented_needs() == {field: {text} for field, text in declared.items()}
