"""The control-flow vocabulary that definitions, validation, node types and the
interpreter share: the error port, the join modes of `core.merge`, and what an error
edge delivers to its target."""

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

ERROR_PORT = "error"
"""The port of error edges. Any node may have an edge `{from: x, port: error, to: y}`:
it is taken when `x` fails (after its retries) and gives `y` a `NodeFailure`. No node
type may declare a port of this name."""


class JoinMode(StrEnum):
    """When a `core.merge` node runs, and with which input.

    Attributes:
        ALL: Once every incoming branch has finished, and only if every branch arrived;
            if any was skipped, the merge is skipped. Input: {source id: output}.
        NOT_SKIPPED: Once every incoming branch has finished, with the outputs of the
            branches that arrived; skipped only if every branch was skipped.
            Input: {source id: output} of those.
        FIRST: As soon as the first branch arrives, with that branch's output as it is;
            later arrivals are ignored. Skipped if every branch was skipped.
    """

    ALL = "all"
    NOT_SKIPPED = "not_skipped"
    FIRST = "first"


class NodeFailure(BaseModel):
    """How a node failed: what the target of its error edge receives, as `error`.

    Attributes:
        message: The error message, as the run shows it.
        type: The error's type, the names `RetryPolicy.non_retryable_errors` lists: the
            `code` of the `ConnectorError` the node raised, or one of the data plane's
            (`InvalidNodeData`, `NodeCrashed`, `NodeTimedOut`, `OutputTooLarge`, ...).
        attempts: The attempts made, the failed last one included.
        node_id: The id of the node that failed.
    """

    model_config = ConfigDict(extra="forbid")

    message: str
    type: str
    attempts: int = Field(ge=1)
    node_id: str

    def as_input(self) -> dict[str, Any]:
        """Return the input of an error edge's target.

        Returns:
            {"error": {"message": ..., "type": ..., "attempts": ..., "node_id": ...}}.
        """
        return {"error": self.model_dump(mode="json")}

    @classmethod
    def input_schema(cls) -> dict[str, Any]:
        """Return the JSON Schema of `as_input()`'s result.

        Returns:
            An object schema with one required property, `error`.
        """
        return {
            "type": "object",
            "properties": {"error": cls.model_json_schema()},
            "required": ["error"],
            "additionalProperties": False,
        }
