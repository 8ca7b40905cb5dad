"""A local harness that runs one node the way the data plane does.

result = await run_node(HttpRequest, {"url": url}, {})
assert result.status == 200
"""

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from connectors_sdk._errors import ConnectorError
from connectors_sdk._node import Node, NodeContext, NodeResult


async def run_node(
    node_cls: type[Node],
    config: dict[str, Any],
    input: dict[str, Any],
    *,
    secrets: Mapping[str, str] | None = None,
    attempt: int = 1,
) -> BaseModel:
    """Validate config and input, run the node, validate its output.

    Expressions are not evaluated: pass config and input as the interpreter would after
    evaluating them.

    Args:
        node_cls: The node class.
        config: Its config, validated by `node_cls.Config`.
        input: Its input, validated by `node_cls.Input`.
        secrets: Resolved secrets, by name.
        attempt: The attempt number the node sees in its context.

    Returns:
        For an activity node, an instance of `node_cls.Output`; for a pure node, a
        `NodeResult` whose output has been validated by `node_cls.Output`.

    Raises:
        pydantic.ValidationError: The config, input or output does not fit its model.
        ConnectorError: Whatever the node raises; code "bad_port" when a pure node
            returns a port its type does not declare.
    """
    node_config = node_cls.Config.model_validate(config)
    node_input = node_cls.Input.model_validate(input)
    node = node_cls()
    if node_cls.pure:
        result = node.evaluate(node_config, node_input)
        output = node_cls.Output.model_validate(result.output).model_dump(mode="json")
        allowed: tuple[str | None, ...] = node_cls.ports or (None,)
        if result.port not in allowed:
            raise ConnectorError(
                f"{node_cls.type} returned port {result.port!r}; its ports are {node_cls.ports!r}",
                code="bad_port",
            )
        return NodeResult(output=output, port=result.port)
    ctx = NodeContext(
        run_id="test-run",
        node_id="test-node",
        attempt=attempt,
        logger=logging.LoggerAdapter(
            logging.getLogger(f"flowforge.node.{node_cls.type}"),
            {"run_id": "test-run", "node_id": "test-node"},
        ),
        secrets=dict(secrets or {}),
    )
    returned: Any = await node.run(ctx, node_config, node_input)
    if isinstance(returned, BaseModel):
        returned = returned.model_dump(mode="json")
    return node_cls.Output.model_validate(returned)
