"""Control-flow nodes, evaluated inside the workflow: `core.if` and `core.transform`."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from connectors_sdk._node import AnyObject, Node, NodeResult


class If(Node):
    """Route the input to the `true` or the `false` port by a condition.

    The condition is usually an expression, `${ .nodes.fetch.status == 200 }`, evaluated
    before the node runs. Truthiness is jq's: only false and null are false.
    """

    type = "core.if"
    pure = True
    ports = ("true", "false")

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        condition: Any = Field(
            description="Any JSON value; false and null take the `false` port, all else `true`."
        )

    Input = AnyObject
    Output = AnyObject

    def evaluate(self, config: Config, input: AnyObject) -> NodeResult:
        taken = config.condition is not None and config.condition is not False
        return NodeResult(output=input.model_dump(mode="json"), port="true" if taken else "false")


class Transform(Node):
    """Output a new object built by an expression, e.g. `${ {city: .input.city} }`.

    A value that is not an object is wrapped as `{"value": <value>}`.
    """

    type = "core.transform"
    pure = True

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        value: Any = Field(description="The output: an object, or a value to wrap.")

    Input = AnyObject
    Output = AnyObject

    def evaluate(self, config: Config, input: AnyObject) -> NodeResult:
        value = config.value
        return NodeResult(output=value if isinstance(value, dict) else {"value": value})
