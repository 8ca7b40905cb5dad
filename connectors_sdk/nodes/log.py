"""`core.log`: write a message to the worker's log and pass the input through."""

import json
import logging
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from connectors_sdk._node import AnyObject, Node, NodeContext

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def _as_text(value: Any) -> Any:
    # `message: "${ .input.count }"` evaluates to a number: log its JSON form.
    if isinstance(value, str) or value is None:
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Log(Node):
    """Log a message, then output the node's input unchanged."""

    type = "core.log"
    lightweight = True

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        message: Annotated[str, BeforeValidator(_as_text)] = Field(
            description="The message; other JSON values are logged as compact JSON."
        )
        level: Literal["debug", "info", "warning", "error"] = "info"

    Input = AnyObject
    Output = AnyObject

    async def run(self, ctx: NodeContext, config: Config, input: AnyObject) -> AnyObject:
        ctx.logger.log(
            _LEVELS[config.level],
            "%s",
            config.message,
            extra={"run_id": ctx.run_id, "node_id": ctx.node_id},
        )
        return AnyObject.model_validate(input.model_dump(mode="json"))
