"""User input never makes the control plane reach out or block its event loop
(Hardening #8): no remote `$ref` is fetched, patterns cannot backtrack, and heavy
validation runs beside the loop, so `/healthz` is answered meanwhile."""

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, field_validator

from connectors_sdk import AnyObject, Node, NodeContext

from fixtures.http_peer import HttpPeer
from fixtures.stack import Stack

FLOW = {
    "apiVersion": "flowforge/v1",
    "name": "schema",
    "nodes": [{"id": "only", "type": "core.transform", "config": {"value": {"ok": True}}}],
}


def with_input(schema: dict[str, Any]) -> dict[str, Any]:
    return {**FLOW, "input": schema}


async def test_remote_ref_is_refused_at_publish_and_never_fetched(
    sqlite_stack: Stack, http_peer: HttpPeer
) -> None:
    remote = http_peer.url("/schema.json")

    refused = await sqlite_stack.publish(with_input({"$ref": remote}))

    assert refused["__typename"] == "ValidationFailed"
    [issue] = refused["errors"]
    assert issue["field"] == "input"
    assert f"$ref {remote!r} points outside the schema; nothing is fetched" in issue["message"]
    assert http_peer.hits == {}


async def test_local_refs_are_resolved(sqlite_stack: Stack) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"$ref": "#/$defs/name"}},
        "$defs": {"name": {"type": "string"}},
    }
    published = await sqlite_stack.publish(with_input(schema))

    body = await sqlite_stack.start_run(published["workflowId"], {"name": 7})

    assert "input['name']: 7 is not of type 'string'" in body["errors"][0]["message"]


async def test_dangling_local_ref_is_refused_at_publish(sqlite_stack: Stack) -> None:
    refused = await sqlite_stack.publish(with_input({"$ref": "#/$defs/missing"}))

    assert refused["errors"][0]["message"] == (
        "$ref '#/$defs/missing' does not resolve inside the schema"
    )


async def test_catastrophic_pattern_is_matched_in_linear_time(sqlite_stack: Stack) -> None:
    schema = {
        "type": "object",
        "properties": {"word": {"type": "string", "pattern": "^(a+)+$"}},
        "patternProperties": {"^(b+)+$": {"type": "integer"}},
    }
    published = await sqlite_stack.publish(with_input(schema))
    # Python's re takes minutes on these (2^n steps); RE2 answers at once.
    evil = "a" * 60 + "!"

    refused_word = await sqlite_stack.start_run(published["workflowId"], {"word": evil})
    refused_key = await sqlite_stack.start_run(published["workflowId"], {"b" * 60: "x"})

    assert "does not match '^(a+)+$'" in refused_word["errors"][0]["message"]
    assert "input['" + "b" * 60 + "']" in refused_key["errors"][0]["message"]


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=a)a", "(?<!x)y"])
async def test_patterns_re2_cannot_run_are_refused_at_publish(
    sqlite_stack: Stack, pattern: str
) -> None:
    schema = {"type": "object", "properties": {"w": {"type": "string", "pattern": pattern}}}

    refused = await sqlite_stack.publish(with_input(schema))

    [issue] = refused["errors"]
    assert issue["field"] == "input"
    assert issue["message"].startswith(f"pattern {pattern!r} is not supported (")


class _Gate:
    """Holds definition validation until the test lets it go, and records whether it did."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.released = threading.Event()
        self.released_in_time: bool | None = None


_gate = _Gate()


class Gated(Node):
    """A node whose config validation waits for the test (see `_Gate`)."""

    type = "test.gated"
    lightweight = True

    class Config(BaseModel):
        label: str

        @field_validator("label")
        @classmethod
        def _wait_for_the_test(cls, value: str) -> str:
            _gate.entered.set()
            # Bounded so that a blocked loop makes the test fail rather than hang.
            _gate.released_in_time = _gate.released.wait(timeout=60)
            return value

    async def run(self, ctx: NodeContext, config: Config, input: AnyObject) -> AnyObject:
        return input


@pytest.fixture
def gate(sqlite_stack: Stack) -> Iterator[_Gate]:
    global _gate
    _gate = _Gate()
    if "test.gated" not in sqlite_stack.registry:
        sqlite_stack.registry.register(Gated)
    yield _gate
    _gate.released.set()


async def test_healthz_is_answered_while_a_heavy_publish_validates(
    sqlite_stack: Stack, gate: _Gate
) -> None:
    nodes = [{"id": f"n{i}", "type": "core.log", "config": {"message": "m"}} for i in range(999)]
    nodes.append({"id": "gate", "type": "test.gated", "config": {"label": "x"}})
    publishing = asyncio.create_task(sqlite_stack.publish({**FLOW, "nodes": nodes}))
    assert await asyncio.to_thread(gate.entered.wait, 60), "validation never started"

    # Validation is now in progress and stays so until the gate is released.
    healthz = sqlite_stack.url.replace("/graphql", "/healthz")
    async with httpx.AsyncClient(timeout=60) as client:
        health = await client.get(healthz)
    gate.released.set()
    published = await publishing

    assert health.json() == {"status": "ok"}
    assert gate.released_in_time is True
    assert published["__typename"] == "WorkflowVersion"
