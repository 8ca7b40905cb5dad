from typing import Any

import pytest
from pydantic import BaseModel

from connectors_sdk import (
    AnyObject,
    Node,
    NodeContext,
    NodeRegistry,
    default_registry,
    validate_definition,
)
from connectors_sdk.nodes.approval import Approval
from connectors_sdk.nodes.control import Merge, Switch
from connectors_sdk.nodes.wait import Wait


class Weather(Node):
    """Reports the weather of a city (a typed test node)."""

    type = "test.weather"

    class Input(BaseModel):
        city: str
        days: int = 1

    class Output(BaseModel):
        city: str
        temp: float
        samples: int
        note: str | None = None

    async def run(self, ctx: NodeContext, config: AnyObject, input: Input) -> Output:
        return self.Output(city=input.city, temp=21.5, samples=input.days * 24)


class Alert(Node):
    """Needs a temperature and a city (a typed test node)."""

    type = "test.alert"

    class Config(BaseModel):
        channel: str
        retries: int = 0

    class Input(BaseModel):
        city: str
        temp: float
        level: int = 0

    async def run(self, ctx: NodeContext, config: Config, input: Input) -> AnyObject:
        return AnyObject()


class Count(Node):
    """Needs an integer count."""

    type = "test.count"

    class Input(BaseModel):
        samples: str

    async def run(self, ctx: NodeContext, config: AnyObject, input: Input) -> AnyObject:
        return AnyObject()


@pytest.fixture(scope="session")
def registry() -> NodeRegistry:
    registry = default_registry()
    # The newer core nodes too: an environment installed before they were added lacks
    # their entry points until `pip install -e .` runs again (registering twice is
    # harmless).
    for cls in (Weather, Alert, Count, Switch, Merge, Wait, Approval):
        registry.register(cls)
    return registry


def definition(nodes: list[dict[str, Any]], edges=(), **fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "flowforge/v1",
        "name": "test-flow",
        "nodes": nodes,
        "edges": list(edges),
        **fields,
    }


@pytest.fixture
def make_definition():
    return definition


@pytest.fixture
def issues(registry: NodeRegistry):
    """Validate a definition of these nodes and edges: its issues as (node, field, message)."""

    def issues(nodes, edges=()) -> list[tuple[str | None, str, str]]:
        found = validate_definition(definition(nodes, edges), registry)[1]
        return [(i.node_id, i.field, i.message) for i in found]

    return issues
