"""A local harness that runs one node the way the data plane does: through
`connectors_sdk.execute_node`.

result = await run_node(HttpRequest, {"url": url}, {})
assert result.status == 200
"""

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, SecretStr

from connectors_sdk._execute import execute_node
from connectors_sdk._node import Node, NodeContext

_RUN_ID = "test-run"
_NODE_ID = "test-node"


async def run_node(
    node_cls: type[Node],
    config: dict[str, Any],
    input: dict[str, Any],
    *,
    secrets: Mapping[str, str] | None = None,
    attempt: int = 1,
    idempotency_key: str = f"{_RUN_ID}:{_NODE_ID}",
) -> BaseModel:
    """Validate config and input, run the node, validate its output and port.

    Expressions are not evaluated: pass config and input as the interpreter would after
    evaluating them. The node sees run id "test-run" and node id "test-node".

    Args:
        node_cls: The node class.
        config: Its config, validated by `node_cls.Config`.
        input: Its input, validated by `node_cls.Input`.
        secrets: The secrets' values, by the name the node sees them under (each
            reaches the node as a `SecretStr`).
        attempt: The attempt number the node sees in its context.
        idempotency_key: The idempotency key the node sees in its context; keep it
            across calls to test what a retried attempt does.

    Returns:
        For an activity node, an instance of `node_cls.Output` (built from the output as
        the worker stores it, JSON-compatible data); for a pure node, a `NodeResult`
        whose output has been validated by `node_cls.Output`.

    Raises:
        pydantic.ValidationError: The config, input or output does not fit its model.
        ConnectorError: Whatever the node raises; code "bad_port" when a pure node
            returns a port that is not one of its ports for this config.
    """
    ctx = NodeContext(
        run_id=_RUN_ID,
        node_id=_NODE_ID,
        attempt=attempt,
        logger=logging.LoggerAdapter(
            logging.getLogger(f"flowforge.node.{node_cls.type}"),
            {"run_id": _RUN_ID, "node_id": _NODE_ID},
        ),
        secrets={name: SecretStr(value) for name, value in (secrets or {}).items()},
        idempotency_key=idempotency_key,
    )
    result = await execute_node(node_cls, config, input, ctx)
    if node_cls.pure:
        return result
    return node_cls.Output.model_validate(result.output)
