"""The operations shown in docs/graphql-api.md are valid against the schema as it is."""

import re
from pathlib import Path

import pytest
from graphql import build_schema, parse, validate

from control_plane.graphql.schema import schema

SCHEMA = build_schema(schema.as_str())
DOC = Path(__file__).parents[2] / "docs" / "graphql-api.md"
OPERATIONS = [
    block
    for block in re.findall(r"```graphql\n(.*?)```", DOC.read_text(), re.DOTALL)
    if block.lstrip().startswith(("query", "mutation", "{"))
]


def test_the_page_shows_operations() -> None:
    assert len(OPERATIONS) >= 4


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.split("{")[0].strip())
def test_a_documented_operation_is_valid(operation: str) -> None:
    assert validate(SCHEMA, parse(operation)) == []
