"""`execute_node` and `evaluate_node`: validation around a node, its output as JSON data,
the port check; and `testing.run_node`, which goes through them."""

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from connectors_sdk import (
    AnyObject,
    ConnectorError,
    ConnectorExecutionError,
    Node,
    NodeContext,
    NodeResult,
    evaluate_node,
    execute_node,
    find_breaker_target,
)
from connectors_sdk.nodes.control import If
from connectors_sdk.testing import run_node


class Stamp(Node):
    """Outputs when it ran, a count, and what it saw of its context."""

    type = "test.stamp"

    class Config(BaseModel):
        times: int

    class Input(BaseModel):
        name: str

    class Output(BaseModel):
        at: datetime
        count: int
        seen: dict[str, Any]

    async def run(self, ctx: NodeContext, config: Config, input: Input) -> Output:
        seen = {"key": ctx.idempotency_key, "iteration": ctx.iteration, "attempt": ctx.attempt}
        return self.Output(at=datetime(2024, 5, 1, tzinfo=UTC), count=config.times, seen=seen)


class Liar(Node):
    """Returns whatever output its config holds, valid or not."""

    type = "test.liar"

    class Output(BaseModel):
        count: int

    async def run(self, ctx: NodeContext, config: AnyObject, input: AnyObject) -> Any:
        return config.model_dump()


class Failing(Node):
    """Fails with an error that retrying cannot fix."""

    type = "test.failing"

    async def run(self, ctx: NodeContext, config: AnyObject, input: AnyObject) -> AnyObject:
        raise ConnectorExecutionError("upstream said 503", retryable=False, code="upstream")


class Picker(Node):
    """Takes the port its config names, out of ports its config declares."""

    type = "test.picker"
    pure = True

    class Config(BaseModel):
        ports: list[str]
        take: str | None

    @classmethod
    def ports_for(cls, config: Config) -> tuple[str, ...]:
        return tuple(config.ports)

    def evaluate(self, config: Config, input: AnyObject) -> NodeResult:
        return NodeResult(output={"took": config.take}, port=config.take)


def context(**fields: Any) -> NodeContext:
    return NodeContext(
        run_id="r1", node_id="n1", attempt=2, logger=logging.getLogger("test"), **fields
    )


async def test_an_activity_node_gets_its_context_and_its_output_comes_back_as_json_data():
    ctx = context(idempotency_key="r1:n1@items#3", iteration="items#3")

    result = await execute_node(Stamp, {"times": 2}, {"name": "a"}, ctx)

    assert result == NodeResult(
        output={
            "at": "2024-05-01T00:00:00Z",
            "count": 2,
            "seen": {"key": "r1:n1@items#3", "iteration": "items#3", "attempt": 2},
        },
        port=None,
    )


@pytest.mark.parametrize(
    ("config", "input", "field"),
    [
        ({}, {"name": "a"}, "times"),
        ({"times": "many"}, {"name": "a"}, "times"),
        ({"times": 1}, {}, "name"),
    ],
)
async def test_config_and_input_that_do_not_fit_their_models_are_refused(config, input, field):
    with pytest.raises(ValidationError) as caught:
        await execute_node(Stamp, config, input, context())
    assert [error["loc"] for error in caught.value.errors()] == [(field,)]


async def test_an_output_that_does_not_fit_its_model_is_refused():
    assert (await execute_node(Liar, {"count": 3}, {}, context())).output == {"count": 3}
    with pytest.raises(ValidationError, match="count"):
        await execute_node(Liar, {"count": "three"}, {}, context())


async def test_errors_the_node_raises_pass_through_unchanged():
    with pytest.raises(ConnectorExecutionError) as caught:
        await execute_node(Failing, {}, {}, context())
    assert (caught.value.code, caught.value.retryable) == ("upstream", False)


class Regional(Node):
    """Calls the service of its config's region; its breakers are kept per region."""

    type = "test.regional"

    class Config(BaseModel):
        region: str

    @classmethod
    def breaker_target(cls, config: Config, input: AnyObject) -> str | None:
        return f"{config.region}.example.com"

    async def run(self, ctx: NodeContext, config: Config, input: AnyObject) -> AnyObject:
        return input


def test_the_breaker_target_is_found_from_the_validated_config_and_input():
    assert find_breaker_target(Regional, {"region": "eu"}, {}) == "eu.example.com"
    assert find_breaker_target(Stamp, {"times": "not even validated"}, {}) is None


def test_finding_the_breaker_target_refuses_config_as_execute_node_would():
    with pytest.raises(ValidationError, match="region"):
        find_breaker_target(Regional, {}, {})


async def test_a_pure_node_gives_the_same_result_through_either_function():
    executed = await execute_node(If, {"condition": 0}, {"temp": 30}, context())

    assert executed == evaluate_node(If, {"condition": 0}, {"temp": 30})
    assert executed == NodeResult(output={"temp": 30}, port="true")


def test_evaluate_node_validates_like_execute_node():
    with pytest.raises(ValidationError, match="condition"):
        evaluate_node(If, {}, {})


def test_evaluate_node_refuses_a_node_that_is_not_pure():
    with pytest.raises(ConnectorError, match=r"test\.stamp is not a pure node") as caught:
        evaluate_node(Stamp, {"times": 1}, {"name": "a"})
    assert caught.value.code == "not_pure"


def test_the_port_must_be_one_of_the_ports_for_this_config():
    taken = evaluate_node(Picker, {"ports": ["left", "right"], "take": "right"}, {})
    assert taken.port == "right"

    with pytest.raises(ConnectorError, match="its ports for this config are 'left'") as caught:
        evaluate_node(Picker, {"ports": ["left"], "take": "right"}, {})
    assert caught.value.code == "bad_port"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"ports": ["left"], "take": None}, "returned no port; return one of its ports"),
        ({"ports": [], "take": "left"}, "returned port 'left' but has no ports"),
        ({"ports": ["error"], "take": "error"}, "returned port 'error', which only a failure"),
    ],
)
def test_a_missing_port_an_unexpected_port_and_the_error_port_are_refused(config, message):
    with pytest.raises(ConnectorError, match=message) as caught:
        evaluate_node(Picker, config, {})
    assert caught.value.code == "bad_port"


async def test_run_node_returns_the_output_model_and_gives_a_stable_idempotency_key():
    first = await run_node(Stamp, {"times": 1}, {"name": "a"})
    retried = await run_node(Stamp, {"times": 1}, {"name": "a"}, attempt=2)
    chosen = await run_node(Stamp, {"times": 1}, {"name": "a"}, idempotency_key="k")

    assert isinstance(first, Stamp.Output)
    assert first.at == datetime(2024, 5, 1, tzinfo=UTC)
    assert first.seen == {"key": "test-run:test-node", "iteration": "", "attempt": 1}
    assert retried.seen == {**first.seen, "attempt": 2}
    assert chosen.seen["key"] == "k"


async def test_run_node_checks_the_port_of_a_pure_node_against_its_config():
    result = await run_node(Picker, {"ports": ["left"], "take": "left"}, {})
    assert result == NodeResult(output={"took": "left"}, port="left")
    with pytest.raises(ConnectorError, match="returned port 'up'"):
        await run_node(Picker, {"ports": ["left"], "take": "up"}, {})
