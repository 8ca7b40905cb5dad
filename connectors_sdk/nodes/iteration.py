"""Nodes with a body: `core.map` runs it per item of a list, `core.loop` repeats it.

The interpreter runs the body (see `Body` in the definition model); these classes hold
the nodes' config and output contracts, checked at publish time.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from connectors_sdk._definition import Duration
from connectors_sdk._expressions import CONFLICTING_FIELDS
from connectors_sdk._node import AnyObject, Node

MAX_MAP_ITEMS = 100_000
MAX_LOOP_ITERATIONS = 100_000


class Map(Node):
    """Run the body once per item of a list, at most `concurrency` items at once.

    Output: {"results": [...], "failures": [...]}, results in item order. With
    `on_item_failure: fail` (the default) the first failed item fails the node; with
    `collect`, a failed item's result is null and {"index", "error"} is listed in
    `failures`.
    """

    type = "core.map"
    has_body = True

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        items: list[Any] = Field(
            max_length=MAX_MAP_ITEMS,
            description="The list to map over, usually an expression: ${ .nodes.fetch.rows }.",
        )
        concurrency: int = Field(10, ge=1, le=1000, description="Items running at once.")
        on_item_failure: Literal["fail", "collect"] = Field(
            "fail", description="fail: the node fails; collect: failures listed beside results."
        )

    class Output(BaseModel):
        results: list[Any]
        failures: list[dict[str, Any]]

    Input = AnyObject


class Loop(Node):
    """Repeat the body, each iteration taking the previous one's output as input, until
    `until` holds or while `while` holds, at most `max_iterations` times, waiting `wait`
    between iterations.

    The conditions are evaluated after each iteration, with `.previous` the output it
    produced and `.index` its number (from 0). Output: {"count", "last", "exhausted"}
    (`exhausted`: the last iteration ran without the condition ending the loop), and
    with `collect: true` also "outputs", every iteration's output in order.
    """

    type = "core.loop"
    has_body = True

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid", populate_by_name=True)

        until: Any = Field(None, description="Stop once this holds (jq truthiness).")
        while_: Any = Field(None, alias="while", description="Go on while this holds.")
        max_iterations: int = Field(ge=1, le=MAX_LOOP_ITERATIONS)
        wait: Duration | None = Field(None, description="Time between iterations.")
        collect: bool = Field(False, description="Keep every iteration's output.")

        # On the field rather than the model: a model validator does not run while
        # another field is missing (max_iterations), so the conflict would surface only
        # once that is fixed; and this error names `while`.
        @field_validator("while_")
        @classmethod
        def _one_condition(cls, value: Any, info: ValidationInfo) -> Any:
            if value is not None and info.data.get("until") is not None:
                raise PydanticCustomError(
                    CONFLICTING_FIELDS,
                    "give `until` or `while`, not both: `until` stops the loop once it "
                    "holds, `while` goes on while it holds; keep one (negate the condition "
                    "to turn one into the other)",
                )
            return value

    class Output(BaseModel):
        count: int
        last: Any
        exhausted: bool
        outputs: list[Any] | None = None

    Input = AnyObject
