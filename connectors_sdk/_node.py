"""`Node`, the base class of node types, with the context and result it works with.

A node type declares its ports as pydantic models and is checked when its class statement
runs, so a malformed node fails at import rather than in the middle of a run::

    class Fetch(Node):
        type = "acme.fetch"

        class Config(BaseModel):
            url: str

        class Output(BaseModel):
            status: int

        async def run(self, ctx: NodeContext, config: Config, input: AnyObject) -> Output:
            ...

Pure nodes (`pure = True`) implement a synchronous `evaluate` instead; the interpreter
calls it inside the workflow, so it must do no I/O and read no clock. Both are called
through `execute_node` / `evaluate_node` (`_execute.py`), which validate around them.
"""

import builtins
import inspect
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr

from connectors_sdk._definition import BreakerPolicy
from connectors_sdk._errors import NodeDefinitionError
from connectors_sdk._flow import ERROR_PORT

TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
PORT_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
_SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")


class AnyObject(BaseModel):
    """A port or config that accepts any JSON object; the default of `Input`, `Output`
    and `Config`, for loosely typed nodes such as transforms."""

    model_config = ConfigDict(extra="allow")


@dataclass(frozen=True)
class NodeContext:
    """What an activity node receives besides its config and input.

    Attributes:
        run_id: The run this execution belongs to.
        node_id: The node's id in the workflow definition.
        attempt: 1 for the first try, then 2, 3, ... on retries.
        logger: Where the node logs; the worker binds `run_id` and `node_id` to it.
        secrets: The secrets granted to this node, by the name the node sees them under
            (its type's `secrets`, and any others its definition maps), as `SecretStr`:
            `.get_secret_value()` where the value is used, never in a log, an output or
            an error message (the worker redacts known values from those anyway).
        idempotency_key: Stable across retries and worker restarts for one execution of
            the node: "<run id>:<node id>", plus "@<iteration path>" inside an
            iteration. Use it as the idempotency key of the node's side effects (an
            `Idempotency-Key` header, a unique request id), so that a retried attempt
            does not repeat them.
        iteration: The iteration path of this execution: scopes "<node id>#<index>"
            joined by "/" (e.g. "items#3"), or "" outside any iteration.
    """

    run_id: str
    node_id: str
    attempt: int
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger]
    secrets: Mapping[str, SecretStr] = field(default_factory=dict)
    # Added with defaults, at the end: contexts built by older callers keep working.
    idempotency_key: str = ""
    iteration: str = ""


class NodeResult(BaseModel):
    """What a pure node's `evaluate` returns, and what `execute_node` returns for any node.

    Attributes:
        output: The node's output object.
        port: The output port taken: one of the node's ports for its config
            (`Node.ports_for`), or None for a node without ports.
    """

    output: dict[str, Any]
    port: str | None = None


class Node:
    """Base class of node types.

    Class attributes:
        type: Dotted, lower-case name, e.g. "core.http" (required).
        version: Version of the node type's contract, 1 by default.
        title: Display name (default: the class name split into words).
        description: One-line description (default: the first line of the docstring).
        Input, Output, Config: pydantic models of the ports and the config; each defaults
            to `AnyObject`. Declare them as nested classes.
        ports: Named output ports the node routes to (core.if: ("true", "false")); a
            node whose ports depend on its config overrides `ports_for` instead. No
            port may be named "error": that name is reserved for error edges.
        pure: Evaluated inside the workflow with no I/O; implement `evaluate`.
        lightweight: Runs as a Temporal local activity (short, CPU-only work).
        has_body: Runs a sub-graph of nodes (the definition's `body`) per item or
            iteration; the interpreter executes it, so the class implements neither
            `run` nor `evaluate` (`core.map`, `core.loop`).
        interpreted: The interpreter executes the node itself, without `run` or
            `evaluate` (`core.subworkflow`; nodes with a body are too).
        secrets: Names of the secrets the node type needs: a definition maps each onto a
            project secret (`secrets: {api_key: acme_prod_key}`), or publishing fails;
            the node reads them from `ctx.secrets` by these names.
        breaker: The node type's default circuit breaker policy (`BreakerPolicy`; its
            unset fields, or None, leave the worker's defaults); `BreakerPolicy(enabled=
            False)` turns breakers off for the type. A definition's node may override it.
            Which target a breaker guards: `breaker_target`.

    Activity nodes implement `async def run(self, ctx, config, input) -> Output`; pure
    nodes `def evaluate(self, config, input) -> NodeResult`. Subclass with
    `abstract=True` to share behaviour between node types without declaring one.

    Raises:
        NodeDefinitionError: When a subclass is malformed, as its class statement runs.
    """

    type: ClassVar[str]
    version: ClassVar[int] = 1
    title: ClassVar[str]
    description: ClassVar[str]
    # `builtins.type`: inside this class body, `type` is the node type name.
    Input: ClassVar[builtins.type[BaseModel]] = AnyObject
    Output: ClassVar[builtins.type[BaseModel]] = AnyObject
    Config: ClassVar[builtins.type[BaseModel]] = AnyObject
    ports: ClassVar[tuple[str, ...]] = ()
    pure: ClassVar[bool] = False
    lightweight: ClassVar[bool] = False
    has_body: ClassVar[bool] = False
    interpreted: ClassVar[bool] = False
    secrets: ClassVar[tuple[str, ...]] = ()
    breaker: ClassVar[BreakerPolicy | None] = None

    def __init_subclass__(cls, *, abstract: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if abstract:
            return
        problems = _problems(cls)
        if problems:
            raise NodeDefinitionError(
                f"node class {cls.__module__}.{cls.__qualname__} is malformed: "
                + "; ".join(problems)
            )
        if "title" not in cls.__dict__:
            cls.title = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", cls.__name__)
        if "description" not in cls.__dict__:
            doc = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
            cls.description = doc.splitlines()[0] if doc else ""

    async def run(self, ctx: NodeContext, config: Any, input: Any) -> BaseModel:
        """Run an activity node.

        Args:
            ctx: Run and attempt identifiers, logger and secrets.
            config: The node's config, validated by `Config` (expressions evaluated).
            input: The node's input, validated by `Input`.

        Returns:
            An `Output` instance.

        Raises:
            ConnectorExecutionError: The work failed; `retryable` tells whether to retry.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement run()")

    def evaluate(self, config: Any, input: Any) -> NodeResult:
        """Evaluate a pure node: no I/O, no clock, no randomness.

        Args:
            config: The node's config, validated by `Config` (expressions evaluated).
            input: The node's input, validated by `Input`.

        Returns:
            The output object and, for a node with ports, the port taken.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement evaluate()")

    @classmethod
    def ports_for(cls, config: Any) -> tuple[str, ...]:
        """Return the ports of a node with this config (the default: `ports`).

        Override it in a pure node whose ports depend on its config (`core.switch`).
        Validation calls it with the config as written in the definition, so the fields
        it reads must be literal (see `core.switch`); the run checks the port `evaluate`
        returns against it.

        Args:
            config: The node's config, validated by `Config`.

        Returns:
            The port names, or () for a node without ports.
        """
        return cls.ports

    @classmethod
    def breaker_target(cls, config: Any, input: Any) -> str | None:
        """Return the target a call of this node talks to, which its circuit breaker guards.

        The worker keeps one breaker per node type and target, so that one failing
        service does not stop every node of the type. The default, None, gives the node
        type one breaker for all its calls; `core.http` returns the URL's "host:port".

        Args:
            config: The node's config, validated by `Config` (expressions evaluated).
            input: The node's input, validated by `Input`.

        Returns:
            A short, stable name of the target (no secrets: it appears in errors), or
            None for the node type's one breaker.
        """
        return None

    @classmethod
    def schemas(cls) -> dict[str, dict[str, Any]]:
        """Return the JSON Schemas of the node type's ports and config.

        Returns:
            {"input": ..., "output": ..., "config": ...}, from `model_json_schema()`.
        """
        return {
            "input": cls.Input.model_json_schema(),
            "output": cls.Output.model_json_schema(),
            "config": cls.Config.model_json_schema(),
        }


def ports_depend_on_config(cls: type[Node]) -> bool:
    """Tell whether a node type's ports come from each node's config (`core.switch`).

    Args:
        cls: A node class.

    Returns:
        True when the class overrides `Node.ports_for`: its `ports` attribute does not
        list the ports, which validation reads from the config as written.
    """
    return inspect.getattr_static(cls, "ports_for") is not inspect.getattr_static(Node, "ports_for")


def why_no_breaker(cls: type[Node]) -> str | None:
    """Tell why nodes of a type cannot have a circuit breaker, if they cannot.

    Returns:
        None for a type whose nodes make calls from an activity; for a pure node type,
        or one the interpreter runs itself (a body, a sub-workflow, a wait), the reason.
    """
    if cls.pure:
        return f"{cls.type} is pure: it makes no calls, so no breaker can guard them"
    if cls.has_body:
        return (
            f"{cls.type} is run by the interpreter itself, not by a call a breaker could "
            "guard; give the nodes of its body their breakers instead"
        )
    if cls.interpreted:
        return f"{cls.type} is run by the interpreter itself, not by a call a breaker could guard"
    return None


def _problems(cls: type[Node]) -> list[str]:
    problems: list[str] = []
    node_type = cls.__dict__.get("type")
    if node_type is None:
        problems.append('declare `type = "<family>.<name>"`, e.g. "acme.fetch"')
    elif not isinstance(node_type, str) or not TYPE_PATTERN.match(node_type):
        problems.append(
            f"type {node_type!r} must be dotted lower-case words like 'acme.fetch' "
            f"(pattern {TYPE_PATTERN.pattern})"
        )
    version = cls.version
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        problems.append(f"version {version!r} must be an integer >= 1")
    for name in ("Input", "Output", "Config"):
        model = getattr(cls, name)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            problems.append(f"{name} must be a pydantic BaseModel subclass, not {model!r}")
    for name in ("title", "description"):
        if name in cls.__dict__ and not isinstance(cls.__dict__[name], str):
            problems.append(f"{name} must be a string")
    problems += _tuple_problems(cls, "ports", PORT_PATTERN)
    if isinstance(cls.ports, tuple) and ERROR_PORT in cls.ports:
        problems.append(
            f"ports must not include {ERROR_PORT!r}: it is reserved for error edges, which "
            "every node has; rename that port"
        )
    for name in ("ports_for", "breaker_target"):
        if not isinstance(inspect.getattr_static(cls, name), classmethod):
            problems.append(f"{name} must be a @classmethod")
    if cls.breaker is not None and not isinstance(cls.breaker, BreakerPolicy):
        problems.append(f"breaker must be a BreakerPolicy or None, not {cls.breaker!r}")
    problems += _tuple_problems(cls, "secrets", _SECRET_PATTERN)
    no_breaker = why_no_breaker(cls)
    if cls.breaker is not None and no_breaker is not None:
        problems.append(f"{no_breaker}; drop `breaker`")
    if cls.pure and cls.lightweight:
        problems.append("a node is either pure (runs in the workflow) or lightweight, not both")
    if cls.has_body or cls.interpreted:
        if cls.pure or cls.lightweight:
            problems.append("a node the interpreter runs itself is neither pure nor lightweight")
        if cls.has_body and (cls.ports or ports_depend_on_config(cls)):
            problems.append("a node with a body has no ports")
    elif cls.pure:
        if cls.evaluate is Node.evaluate:
            problems.append("a pure node must implement `def evaluate(self, config, input)`")
        elif inspect.iscoroutinefunction(cls.evaluate):
            problems.append("evaluate() must be synchronous: pure nodes do no I/O")
    else:
        if cls.run is Node.run:
            problems.append(
                "implement `async def run(self, ctx, config, input)`, "
                "or set `pure = True` and implement evaluate()"
            )
        elif not inspect.iscoroutinefunction(cls.run):
            problems.append("run() must be `async def`")
        if cls.ports or ports_depend_on_config(cls):
            # An activity returns its Output only, so it has no way to pick a port.
            problems.append("only pure nodes can have ports; drop `ports` or make it pure")
    return problems


def _tuple_problems(cls: type[Node], name: str, pattern: re.Pattern[str]) -> list[str]:
    values = getattr(cls, name)
    if not isinstance(values, tuple) or not all(isinstance(v, str) for v in values):
        return [f"{name} must be a tuple of strings, not {values!r}"]
    bad = [v for v in values if not pattern.match(v)]
    if bad:
        return [f"{name} {bad!r} must match {pattern.pattern}"]
    if len(set(values)) != len(values):
        return [f"{name} {values!r} has duplicates"]
    return []
