"""Control-flow nodes, evaluated inside the workflow: `core.if`, `core.switch`,
`core.merge` and `core.transform`."""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from connectors_sdk._expressions import literal_only
from connectors_sdk._flow import ERROR_PORT, JoinMode
from connectors_sdk._node import PORT_PATTERN, AnyObject, Node, NodeResult

_SWITCH_PORTS_ARE_LITERAL = literal_only(
    "the ports of core.switch are read from the definition, before the run, to check and "
    "route its edges"
)


def _truthy(value: Any) -> bool:
    """jq's truthiness: only false and null are false."""
    return value is not None and value is not False


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
        port = "true" if _truthy(config.condition) else "false"
        return NodeResult(output=input.model_dump(mode="json"), port=port)


def _port_name(value: str) -> str:
    if not PORT_PATTERN.match(value):
        raise PydanticCustomError(
            "bad_port_name",
            "bad port name {value}: use lower-case letters, digits and '_', starting with a "
            "letter ({pattern})",
            {"value": repr(value), "pattern": PORT_PATTERN.pattern},
        )
    if value == ERROR_PORT:
        raise PydanticCustomError(
            "reserved_port",
            "port 'error' is reserved for error edges, which every node has; pick another name",
        )
    return value


class SwitchCase(BaseModel):
    """One case of a `core.switch`: the port taken when the condition holds."""

    model_config = ConfigDict(extra="forbid")

    port: Annotated[str, _SWITCH_PORTS_ARE_LITERAL] = Field(
        description="The port taken; a literal port name, not 'default' or 'error'."
    )
    condition: Any = Field(
        description="Any JSON value, usually an expression; only false and null are false."
    )

    @field_validator("port")
    @classmethod
    def _case_port(cls, value: str) -> str:
        _port_name(value)
        if value == "default":
            raise PydanticCustomError(
                "reserved_port",
                "port 'default' is the switch's default port; name the case's port otherwise",
            )
        return value


class Switch(Node):
    """Route the input to the port of the first case whose condition holds, else to the
    default port.

    Conditions are usually expressions, evaluated (all of them) before the node runs.
    Truthiness is jq's, as in `core.if`: only false and null are false. The ports are the
    cases' ports and the default port, read from the config as written, so they must be
    literal names; the conditions may be expressions.
    """

    type = "core.switch"
    pure = True

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        cases: Annotated[
            list[Annotated[SwitchCase, _SWITCH_PORTS_ARE_LITERAL]], _SWITCH_PORTS_ARE_LITERAL
        ] = Field(min_length=1, description="Tried in order; the first that holds is taken.")
        default: Annotated[str, _SWITCH_PORTS_ARE_LITERAL] = Field(
            "default", description="The port taken when no case holds."
        )

        @field_validator("cases")
        @classmethod
        def _unique_ports(cls, cases: list[SwitchCase]) -> list[SwitchCase]:
            first: dict[str, int] = {}
            for i, case in enumerate(cases):
                if case.port in first:
                    raise PydanticCustomError(
                        "duplicate_port",
                        "port {port} is taken by cases[{first}] and cases[{second}]; give each "
                        "case its own port (a condition can combine tests with `or`)",
                        {"port": repr(case.port), "first": first[case.port], "second": i},
                    )
                first.setdefault(case.port, i)
            return cases

        @field_validator("default")
        @classmethod
        def _default_port(cls, value: str, info: ValidationInfo) -> str:
            _port_name(value)
            cases = info.data.get("cases") or []
            if any(case.port == value for case in cases):
                raise PydanticCustomError(
                    "duplicate_port",
                    "default port {port} is also the port of a case; rename one",
                    {"port": repr(value)},
                )
            return value

    Input = AnyObject
    Output = AnyObject

    @classmethod
    def ports_for(cls, config: Config) -> tuple[str, ...]:
        return (*(case.port for case in config.cases), config.default)

    def evaluate(self, config: Config, input: AnyObject) -> NodeResult:
        port = next((c.port for c in config.cases if _truthy(c.condition)), config.default)
        return NodeResult(output=input.model_dump(mode="json"), port=port)


class Merge(Node):
    """Join branches: run once they arrive, as `mode` says, and output the input.

    The interpreter decides when a merge runs and what its input is (`JoinMode`): by
    default {source id: output} of the branches that arrived, or the first branch's
    output for mode `first`. A merge needs edges from at least two nodes.
    """

    type = "core.merge"
    pure = True

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        mode: Annotated[
            JoinMode,
            literal_only("the interpreter reads core.merge's mode before the run, to plan it"),
        ] = Field(JoinMode.ALL, description="When the merge runs: all, not_skipped or first.")

    Input = AnyObject
    Output = AnyObject

    def evaluate(self, config: Config, input: AnyObject) -> NodeResult:
        return NodeResult(output=input.model_dump(mode="json"))


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
