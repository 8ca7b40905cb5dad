"""Execute one node: validate its config and input, run or evaluate it, validate its
output and the port it took. The one implementation of these steps, used by the data
plane's activities, by the interpreter for pure nodes, and by `connectors_sdk.testing`.

`evaluate_node` runs inside the Temporal workflow: it does no I/O, reads no clock and
does not touch asyncio; the pure node's `evaluate` must not either.
"""

import inspect
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from connectors_sdk._errors import ConnectorError
from connectors_sdk._flow import ERROR_PORT
from connectors_sdk._node import Node, NodeContext, NodeResult


async def execute_node(
    node_cls: type[Node], config: Mapping[str, Any], input: Any, ctx: NodeContext
) -> NodeResult:
    """Execute a node of any kind: `evaluate` for a pure node, `await run(ctx, ...)`
    otherwise, with the same validation around either.

    Expressions are not evaluated here: pass config and input as they are after the
    interpreter evaluated them.

    Args:
        node_cls: The node class.
        config: Its config, validated by `node_cls.Config`.
        input: Its input, validated by `node_cls.Input`.
        ctx: What the node sees of its run; pure nodes do not see it.

    Returns:
        The output, validated by `node_cls.Output` and dumped as JSON-compatible data,
        and the port taken (always None for a node that is not pure).

    Raises:
        pydantic.ValidationError: The config, input or output does not fit its model.
        ConnectorError: What the node raised (`ConnectorExecutionError` included), or
            code "bad_port" when the port is not one of the node's ports for this config.
    """
    node_config, node_input = _validate(node_cls, config, input)
    node = node_cls()
    if node_cls.pure:
        result = node.evaluate(node_config, node_input)
        return _checked(node_cls, node_config, result.output, result.port)
    returned: Any = await node.run(ctx, node_config, node_input)
    return _checked(node_cls, node_config, returned, None)


def evaluate_node(node_cls: type[Node], config: Mapping[str, Any], input: Any) -> NodeResult:
    """Evaluate a pure node synchronously, as the interpreter does inside the workflow.

    Args:
        node_cls: A pure node class (`pure = True`).
        config: Its config, validated by `node_cls.Config`.
        input: Its input, validated by `node_cls.Input`.

    Returns:
        The output, validated by `node_cls.Output` and dumped as JSON-compatible data,
        and the port taken.

    Raises:
        pydantic.ValidationError: The config, input or output does not fit its model.
        ConnectorError: What the node raised; code "not_pure" when the node is not pure
            (run it with `execute_node`); code "bad_port" when the port is not one of
            the node's ports for this config.
    """
    if not node_cls.pure:
        raise ConnectorError(
            f"{node_cls.type} is not a pure node: it cannot be evaluated in the workflow; "
            "run it with execute_node",
            code="not_pure",
        )
    node_config, node_input = _validate(node_cls, config, input)
    result = node_cls().evaluate(node_config, node_input)
    return _checked(node_cls, node_config, result.output, result.port)


def find_breaker_target(node_cls: type[Node], config: Mapping[str, Any], input: Any) -> str | None:
    """Find the target whose circuit breaker guards a call of a node (`Node.breaker_target`).

    Args:
        node_cls: The node class.
        config: Its config as `execute_node` takes it, validated by `node_cls.Config`.
        input: Its input as `execute_node` takes it, validated by `node_cls.Input`.

    Returns:
        The target, or None for the node type's one breaker. A node type that does not
        override `breaker_target` has no target, and its config is not validated here.

    Raises:
        pydantic.ValidationError: The config or input does not fit its model, as
            `execute_node` would raise it.
    """
    if inspect.getattr_static(node_cls, "breaker_target") is inspect.getattr_static(
        Node, "breaker_target"
    ):
        return None
    return node_cls.breaker_target(*_validate(node_cls, config, input))


def _validate(
    node_cls: type[Node], config: Mapping[str, Any], input: Any
) -> tuple[BaseModel, BaseModel]:
    return node_cls.Config.model_validate(config), node_cls.Input.model_validate(input)


def _checked(node_cls: type[Node], config: BaseModel, output: Any, port: str | None) -> NodeResult:
    if isinstance(output, BaseModel):
        output = output.model_dump(mode="json")
    checked = node_cls.Output.model_validate(output).model_dump(mode="json")
    ports = node_cls.ports_for(config)
    allowed: tuple[str | None, ...] = ports or (None,)
    # A success must never take the error port: that would run the node's error edges.
    if port not in allowed or port == ERROR_PORT:
        raise ConnectorError(_bad_port(node_cls, port, ports), code="bad_port")
    return NodeResult(output=checked, port=port)


def _bad_port(node_cls: type[Node], port: str | None, ports: tuple[str, ...]) -> str:
    if port == ERROR_PORT:
        return (
            f"{node_cls.type} returned port {ERROR_PORT!r}, which only a failure takes; "
            "return another port, or raise to fail the node"
        )
    if not ports:
        return f"{node_cls.type} returned port {port!r} but has no ports; return port=None"
    listed = ", ".join(repr(p) for p in ports)
    if port is None:
        return (
            f"{node_cls.type} returned no port; return one of its ports for this config: {listed}"
        )
    return f"{node_cls.type} returned port {port!r}; its ports for this config are {listed}"
