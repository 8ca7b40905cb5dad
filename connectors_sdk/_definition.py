"""The workflow definition model: nodes, edges, retry policies and durations.

A definition is the DAG a user publishes (YAML or JSON)::

    apiVersion: flowforge/v1
    name: hot-days
    nodes:
      - id: fetch
        type: core.http
        config: {url: "https://api.example.com/temp?city=${ .input.city }"}
      - id: hot
        type: core.if
        config: {condition: "${ .nodes.fetch.body.temp > 25 }"}
      - {id: alert, type: core.log, config: {message: "hot in ${ .input.city }"}}
    edges:
      - {from: fetch, to: hot}
      - {from: hot, port: "true", to: alert}

The models check structure only; `validate_definition` (in `_validation.py`) checks the
rest against a `NodeRegistry`. Data flow when a node's `inputs` is omitted: see
`WorkflowDefinition.default_input`.
"""

import functools
import hashlib
import heapq
import json
import os
import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from connectors_sdk._canonical import canonical_json
from connectors_sdk._errors import ConnectorError, DefinitionInvalidError, DefinitionIssue

# Fixed by the format rather than tuned per installation, so that a definition valid for
# the CLI is valid for every control plane: node ids and names are stored in 100-character
# columns, and a run's nodes are all held in one Temporal workflow history. MAX_NODES
# counts the nodes of every scope, bodies included.
MAX_NODES = 1000
MAX_ID_LENGTH = 100
# How many bodies may hold one another: a map in a loop in a map. Each level multiplies
# the executions of what it holds, and each is a scope the interpreter plans on its own.
MAX_BODY_DEPTH = 3
MAX_DURATION = timedelta(days=365)

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_DURATION = re.compile(rf"(?:{_DURATION_PART.pattern})+")
_UNIT_SECONDS = {"h": Decimal(3600), "m": Decimal(60), "s": Decimal(1), "ms": Decimal("0.001")}


def parse_duration(text: str) -> timedelta:
    """Parse a duration such as "30s", "1m", "500ms", "1h" or "2h30m".

    Args:
        text: Numbers (decimals allowed) each followed by a unit: h, m, s or ms.

    Returns:
        The duration; it must be positive.

    Raises:
        ValueError: `text` is not a positive duration.
    """
    stripped = text.strip()
    if not _DURATION.fullmatch(stripped):
        raise ValueError(
            f"bad duration {text!r}: write numbers with units h, m, s or ms, e.g. '30s', '2h30m'"
        )
    seconds = sum(
        Decimal(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(stripped)
    )
    if seconds <= 0:
        raise ValueError(f"bad duration {text!r}: it must be longer than zero")
    _check_at_most_max(text, seconds)
    return timedelta(microseconds=round(seconds * 1_000_000))


def _check_at_most_max(given: object, seconds: Decimal | float) -> None:
    if not float(seconds) <= MAX_DURATION.total_seconds():
        raise ValueError(
            f"bad duration {given!r}: at most {_format_duration(MAX_DURATION)} "
            f"({MAX_DURATION.days} days) is allowed"
        )


def _to_timedelta(value: object) -> object:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value <= 0:
            raise ValueError(f"bad duration {value!r}: seconds must be more than zero")
        _check_at_most_max(value, value)
        return timedelta(seconds=value)
    if isinstance(value, timedelta) and value <= timedelta(0):
        raise ValueError(f"bad duration {value}: it must be longer than zero")
    if isinstance(value, timedelta):
        _check_at_most_max(value, value.total_seconds())
    return value


def _format_duration(value: timedelta) -> str:
    micros = Decimal(value // timedelta(microseconds=1))
    seconds = (micros / Decimal(1_000_000)).normalize()
    return f"{seconds:f}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(_to_timedelta),
    PlainSerializer(_format_duration, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": f"^{_DURATION.pattern}$"},
                {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": MAX_DURATION.total_seconds(),
                },
            ],
            "description": 'A duration: "30s", "500ms", "2h30m", or a number of seconds.',
        },
        mode="validation",
    ),
    WithJsonSchema({"type": "string"}, mode="serialization"),
]
"""A positive `timedelta` given as "30s", "500ms", "2h30m" or a number of seconds; JSON
serialisation gives "<seconds>s" ("1800s", "0.5s")."""


_ErrorType = Annotated[
    str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=r"^[A-Za-z0-9_.-]+$")
]


class RetryPolicy(BaseModel):
    """How the data plane retries a failing activity node.

    The node fails when its attempts run out, when an error is not retryable (the node
    says so, or its type is in `non_retryable_errors`), or when `total_timeout` has passed.
    """

    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(3, ge=1, description="Attempts in all, the first included.")
    initial_interval: Duration = Field(timedelta(seconds=1), description="First wait.")
    backoff: float = Field(2.0, ge=1, description="Multiplier of the wait after each attempt.")
    max_interval: Duration = Field(timedelta(seconds=60), description="Longest wait.")
    # Added with defaults, and left out of the canonical form while unset: definitions
    # written before them keep their meaning and their hash.
    non_retryable_errors: list[_ErrorType] = Field(
        default_factory=list,
        exclude_if=lambda value: not value,
        description="Error types that fail the node at once, without retrying: the `code` "
        "of the ConnectorError the node raises (as NodeFailure.type shows it).",
    )
    total_timeout: Duration | None = Field(
        None,
        description="Limit across all attempts and the waits between them; none if null.",
        exclude_if=lambda value: value is None,
    )

    @model_validator(mode="after")
    def _intervals_ordered(self) -> "RetryPolicy":
        if self.max_interval < self.initial_interval:
            raise ValueError(
                f"max_interval ({_format_duration(self.max_interval)}) is shorter than "
                f"initial_interval ({_format_duration(self.initial_interval)})"
            )
        return self

    @field_validator("non_retryable_errors")
    @classmethod
    def _error_types_unique(cls, types: list[str]) -> list[str]:
        repeated = sorted({t for t in types if types.count(t) > 1})
        if repeated:
            raise ValueError(
                f"{', '.join(map(repr, repeated))} listed more than once; list each error type once"
            )
        return types


class BreakerPolicy(BaseModel):
    """When a worker stops calling a failing target for a while: its circuit breaker.

    A worker keeps one breaker per node type and target (for `core.http`, the URL's
    host and port; see `Node.breaker_target`). After `failures` consecutive failures that
    say the target is unwell (retryable `ConnectorExecutionError`s), the breaker opens:
    for `cool_down`, attempts of those nodes fail at once with the error type
    "CircuitOpen", without calling the node. Then one probe at a time goes through; a
    success closes the breaker, a failure opens it again.

    Fields left unset are inherited, in this order: the definition's node, the worker's
    `FLOWFORGE_DP_BREAKER_NODE_TYPES`, the node type's `breaker`, the worker's defaults.
    Written `false` in a definition, a policy turns the breaker off (`enabled: false`).
    """

    model_config = ConfigDict(extra="forbid")

    # Left out of the canonical form while at their defaults: the policy is stored as
    # the author wrote it, and unset fields stay inherited rather than frozen.
    enabled: bool = Field(
        True,
        exclude_if=lambda value: value,
        description="False: no breaker for this node; calls always go through.",
    )
    failures: int | None = Field(
        None,
        ge=1,
        le=1000,
        exclude_if=lambda value: value is None,
        description="Consecutive failures that open the breaker; unset: inherited.",
    )
    cool_down: Duration | None = Field(
        None,
        exclude_if=lambda value: value is None,
        description="How long the breaker stays open before a probe; unset: inherited.",
    )

    @model_validator(mode="before")
    @classmethod
    def _false_turns_off(cls, data: object) -> object:
        if data is False:
            return {"enabled": False}
        if isinstance(data, bool | str | int | float | list):
            raise ValueError(
                f"{json.dumps(data)} is not a breaker policy: write "
                "{failures: 5, cool_down: 30s} (either field may be left out), or false to "
                "turn the breaker off"
            )
        return data

    @model_validator(mode="after")
    def _off_takes_nothing_else(self) -> "BreakerPolicy":
        if not self.enabled and (self.failures is not None or self.cool_down is not None):
            raise ValueError(
                "a breaker turned off (enabled: false) takes no failures or cool_down; "
                "remove them, or remove `enabled: false`"
            )
        return self


class NodeSpec(BaseModel):
    """One node of a workflow definition."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(max_length=MAX_ID_LENGTH, pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")
    type: str
    config: dict[str, Any] = Field(
        default_factory=dict, description="Validated by the node type's Config; may hold ${}."
    )
    inputs: dict[str, Any] | None = Field(
        None,
        description="The node's input object, values may be ${} expressions; omitted: the "
        "default data flow (see WorkflowDefinition.default_input).",
    )
    secrets: list[str] | dict[str, str] = Field(
        default_factory=list,
        description="The project secrets the node receives: a list of names (the node sees "
        "each under its own name), or a mapping from the name the node sees (the node "
        "type's secret) to the project secret's name.",
    )
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    timeout: Duration = Field(timedelta(seconds=30), description="Limit of one attempt.")
    # A pool names a NATS subject token and a task queue: no dots, spaces or wildcards.
    pool: str | None = Field(None, max_length=MAX_ID_LENGTH, pattern=r"^[A-Za-z0-9_-]+$")
    title: str | None = None
    # Fields added after the first release are left out of the canonical form while
    # unset, so that definitions written before them keep their hash.
    body: "Body | None" = Field(
        None,
        description="The sub-graph a node type with a body (core.map, core.loop) runs per "
        "item or iteration.",
        exclude_if=lambda value: value is None,
    )
    compensation: str | None = Field(
        None,
        max_length=MAX_ID_LENGTH,
        description="The id of the node that undoes this one (saga): it runs, newest "
        "first, when the run fails or is cancelled with compensation after this node "
        "succeeded.",
        exclude_if=lambda value: value is None,
    )
    breaker: BreakerPolicy | None = Field(
        None,
        description="This node's circuit breaker: {failures, cool_down}, or false to turn "
        "it off; omitted: the node type's and the worker's.",
        exclude_if=lambda value: value is None,
    )

    @property
    def secret_map(self) -> dict[str, str]:
        """The node's secrets: the name the node sees each under, to the project
        secret's name."""
        if isinstance(self.secrets, dict):
            return dict(self.secrets)
        return {name: name for name in self.secrets}

    @property
    def secret_fields(self) -> dict[str, str]:
        """Where each secret is mapped, by the name the node sees it under:
        `secrets.<name>` in a mapping, `secrets[<i>]` in a list (what errors name)."""
        if isinstance(self.secrets, dict):
            return {name: f"secrets.{name}" for name in self.secrets}
        return {name: f"secrets[{i}]" for i, name in enumerate(self.secrets)}


class EdgeSpec(BaseModel):
    """An edge `from` a node (through one of its ports, if it has ports) `to` another."""

    model_config = ConfigDict(
        extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    source: str = Field(alias="from")
    port: str | None = None
    to: str


def _at_most_max_nodes(value: object) -> object:
    # Before the nodes are validated one by one: a huge list is refused without that cost.
    if isinstance(value, list) and len(value) > MAX_NODES:
        raise PydanticCustomError(
            "too_many_nodes",
            "{count} nodes; a definition holds at most {limit}: split the workflow",
            {"count": len(value), "limit": MAX_NODES},
        )
    return value


def _at_most_max_nodes_in_all(value: object) -> object:
    # The same, over the nodes of every body too, still before any of them is validated.
    if not isinstance(value, list):
        return value
    total = _count_raw_nodes(value)
    if total > len(value) and total > MAX_NODES:
        raise PydanticCustomError(
            "too_many_nodes",
            "{count} nodes, {inner} of them in bodies; a definition holds at most {limit} "
            "in all: split the workflow",
            {"count": total, "inner": total - len(value), "limit": MAX_NODES},
        )
    return _at_most_max_nodes(value)


def _count_raw_nodes(nodes: list[Any]) -> int:
    # Iterative: however deep the raw bodies nest, counting them cannot hit the recursion
    # limit. Anything malformed is left to the models to report.
    count = 0
    pending = [nodes]
    while pending:
        current = pending.pop()
        count += len(current)
        for node in current:
            body = node.get("body") if isinstance(node, Mapping) else None
            inner = body.get("nodes") if isinstance(body, Mapping) else None
            if isinstance(inner, list):
                pending.append(inner)
    return count


class Body(BaseModel):
    """The nodes a `core.map` runs per item, or a `core.loop` per iteration.

    Its nodes' ids are unique across the whole definition; their expressions see the
    enclosing scopes' node outputs as `.nodes.<id>` too, and `.item` and `.index` (map)
    or `.index` and `.previous` (loop). Nodes without predecessors take the item (map)
    or the previous iteration's output (loop; the loop node's input for the first) as
    input, as {"value": ...} when it is not an object. Its edges join its own nodes
    only. Its output is `output` evaluated at the end of the iteration, or {node id:
    output} of its sink nodes that ran. Bodies nest at most `MAX_BODY_DEPTH` deep.
    """

    model_config = ConfigDict(
        extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    nodes: Annotated[list[NodeSpec], BeforeValidator(_at_most_max_nodes)] = Field(min_length=1)
    edges: list[EdgeSpec] = Field(default_factory=list)
    output: Any = Field(None, description="Evaluated at the end of each iteration.")

    def definition(self) -> "WorkflowDefinition":
        """The body as a definition of its own, the form the interpreter runs."""
        return WorkflowDefinition.model_validate(
            {"apiVersion": "flowforge/v1", "name": "body", **self.model_dump(by_alias=True)}
        )


NodeSpec.model_rebuild()


class WorkflowDefinition(BaseModel):
    """A workflow: a DAG of nodes, the schema of its run input and its output mapping."""

    model_config = ConfigDict(
        extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    api_version: Literal["flowforge/v1"] = Field(alias="apiVersion")
    name: str = Field(max_length=MAX_ID_LENGTH, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    description: str = ""
    input: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object"}, description="JSON Schema of the run input."
    )
    output: Any = Field(
        None,
        description="Evaluated at the end against the context; omitted: {node id: output} "
        "of the sink nodes that ran.",
    )
    nodes: Annotated[list[NodeSpec], BeforeValidator(_at_most_max_nodes_in_all)] = Field(
        min_length=1
    )
    edges: list[EdgeSpec] = Field(default_factory=list)

    # The graph helpers below see the top level only: a body is a scope of its own, which
    # the interpreter plans and runs apart (`Body.definition()`). `all_nodes` sees all.

    def node(self, node_id: str) -> NodeSpec:
        """Return the top-level node with this id (the first, if ids repeat).

        Raises:
            KeyError: No top-level node has this id (a body's nodes are not searched).
        """
        return self._index.nodes[node_id]

    def predecessors(self, node_id: str) -> list[EdgeSpec]:
        """Return the edges into a top-level node, in definition order."""
        return list(self._index.incoming.get(node_id, ()))

    def successors(self, node_id: str) -> list[EdgeSpec]:
        """Return the edges out of a top-level node, in definition order."""
        return list(self._index.outgoing.get(node_id, ()))

    def compensators(self) -> set[str]:
        """Return the ids of the top-level nodes that compensate others (named by a
        node's `compensation`): they run only as compensations, never in the graph."""
        return {spec.compensation for spec in self.nodes if spec.compensation is not None}

    def all_nodes(self) -> list[NodeSpec]:
        """Return every node of every scope: the top level's and those of the bodies.

        Use it for what concerns each node wherever it runs (its type, pool, secrets);
        the graph helpers concern the top level only.

        Returns:
            The nodes depth-first in definition order: each node is followed by the
            nodes of its body, and theirs, before the next node of its scope.
        """
        found: list[NodeSpec] = []
        pending = list(reversed(self.nodes))
        while pending:
            spec = pending.pop()
            found.append(spec)
            if spec.body is not None:
                pending.extend(reversed(spec.body.nodes))
        return found

    @functools.cached_property
    def _index(self) -> "_GraphIndex":
        # Built once: the interpreter asks for every node's edges, and scanning all edges
        # per question made a 1,000-node definition cost seconds per workflow task. A
        # definition is not changed once validated; `model_copy` gives a fresh index.
        nodes: dict[str, NodeSpec] = {}
        for spec in self.nodes:
            nodes.setdefault(spec.id, spec)
        incoming: dict[str, list[EdgeSpec]] = {}
        outgoing: dict[str, list[EdgeSpec]] = {}
        for edge in self.edges:
            incoming.setdefault(edge.to, []).append(edge)
            outgoing.setdefault(edge.source, []).append(edge)
        return _GraphIndex(nodes, incoming, outgoing)

    def topological_order(self) -> list[str]:
        """Return the top-level node ids so that every edge points forward.

        Deterministic: of the nodes ready at each step, the first in definition order
        comes first. Edges naming unknown nodes are ignored (validation reports them).
        A body is ordered on its own: `node.body.definition().topological_order()`.

        Raises:
            DefinitionInvalidError: The edges form a cycle.
        """
        ids = [spec.id for spec in self.nodes]
        index: dict[str, int] = {}
        for i, node_id in enumerate(ids):
            index.setdefault(node_id, i)
        edges = [(e.source, e.to) for e in self.edges if e.source in index and e.to in index]
        indegree = dict.fromkeys(index, 0)
        outgoing: dict[str, list[str]] = {node_id: [] for node_id in index}
        for source, to in edges:
            indegree[to] += 1
            outgoing[source].append(to)
        ready = [index[node_id] for node_id, degree in indegree.items() if degree == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            node_id = ids[heapq.heappop(ready)]
            order.append(node_id)
            for to in outgoing[node_id]:
                indegree[to] -= 1
                if indegree[to] == 0:
                    heapq.heappush(ready, index[to])
        if len(order) < len(index):
            issues = [
                DefinitionIssue(cycle[0], "edges", f"cycle: {' -> '.join(cycle)}")
                for cycle in find_cycles(list(index), edges)
            ]
            raise DefinitionInvalidError(issues)
        return order

    def default_input(self, node_id: str, run_input: Any, outputs: Mapping[str, Any]) -> Any:
        """The input of a top-level node whose `inputs` is omitted.

        Returns:
            The run input for a node without predecessors; that node's output for a node
            with one predecessor; {"<id>": <output>, ...} for several, in definition order.
        """
        sources = list(dict.fromkeys(edge.source for edge in self.predecessors(node_id)))
        if not sources:
            return run_input
        if len(sources) == 1:
            return outputs.get(sources[0])
        return {source: outputs.get(source) for source in sources}

    def canonical(self) -> dict[str, Any]:
        """The definition as JSON-compatible data with every field present, the form
        that is stored, shipped and hashed."""
        return self.model_dump(by_alias=True, mode="json")


class _GraphIndex:
    __slots__ = ("incoming", "nodes", "outgoing")

    def __init__(
        self,
        nodes: dict[str, NodeSpec],
        incoming: dict[str, list[EdgeSpec]],
        outgoing: dict[str, list[EdgeSpec]],
    ) -> None:
        self.nodes = nodes
        self.incoming = incoming
        self.outgoing = outgoing


def find_cycles(node_ids: list[str], edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Find one cycle per strongly connected component of two or more nodes.

    Args:
        node_ids: The nodes, in definition order.
        edges: (source, target) pairs between known nodes; self loops are skipped.

    Returns:
        Cycles as node id lists that start and end with the same node, starting from
        the component's first node in definition order.
    """
    position = {node_id: i for i, node_id in enumerate(node_ids)}
    outgoing: dict[str, list[str]] = {node_id: [] for node_id in node_ids}
    for source, to in edges:
        if source != to:
            outgoing[source].append(to)
    cycles = []
    for component in _strongly_connected(node_ids, outgoing):
        if len(component) < 2:
            continue
        members = set(component)
        start = min(component, key=position.__getitem__)
        cycles.append(_path_back(start, members, outgoing))
    cycles.sort(key=lambda cycle: position[cycle[0]])
    return cycles


def _path_back(start: str, members: set[str], outgoing: dict[str, list[str]]) -> list[str]:
    # Breadth-first from `start` inside its component: the shortest way back to it.
    parent: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node_id in frontier:
            for to in outgoing[node_id]:
                if to == start:
                    path = [node_id]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if to in members and to not in parent:
                    parent[to] = node_id
                    following.append(to)
        frontier = following
    return [start, start]


def _strongly_connected(node_ids: list[str], outgoing: dict[str, list[str]]) -> list[list[str]]:
    # Tarjan's algorithm, iterative so that long chains do not hit the recursion limit.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in node_ids:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node_id, next_child = work.pop()
            if next_child == 0:
                index[node_id] = low[node_id] = len(index)
                stack.append(node_id)
                on_stack.add(node_id)
            children = outgoing[node_id]
            if next_child < len(children):
                work.append((node_id, next_child + 1))
                child = children[next_child]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node_id] = min(low[node_id], index[child])
                continue
            if low[node_id] == index[node_id]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node_id:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node_id])
    return components


class _JSONSafeLoader(yaml.SafeLoader):
    """Safe YAML without timestamps, so that every value read is JSON data, and without
    aliases: a few nested anchors expand into gigabytes once the data is walked."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None,
                None,
                f"alias *{event.anchor} is not allowed in a definition; write the value out",
                event.start_mark,
            )
        return super().compose_node(parent, index)


_JSONSafeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_definition_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a definition file without validating it.

    Args:
        path: A `.yaml`, `.yml` or `.json` file.

    Returns:
        The raw mapping, to pass to `validate_definition` or `parse_definition`.

    Raises:
        ConnectorError: Code "unreadable_definition": the file is missing, has another
            suffix, does not parse (the message gives the line and column) or does not
            hold a mapping.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        raise _unreadable(f"{file}: unknown suffix {file.suffix!r}; use .yaml, .yml or .json")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _unreadable(f"{file}: cannot read: {exc}") from exc
    try:
        data = json.loads(text) if suffix == ".json" else yaml.load(text, Loader=_JSONSafeLoader)
    except json.JSONDecodeError as exc:
        raise _unreadable(f"{file}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc
    except RecursionError as exc:
        raise _unreadable(f"{file}: nested too deeply to read") from exc
    except yaml.YAMLError as exc:
        raise _unreadable(_yaml_message(file, exc)) from exc
    if not isinstance(data, dict):
        raise _unreadable(f"{file}: holds {type(data).__name__}, not a mapping of fields")
    return data


def _yaml_message(file: Path, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(file)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    return f"{where}: invalid YAML: {problem}" + (f" ({context})" if context else "")


def _unreadable(message: str) -> ConnectorError:
    return ConnectorError(message, code="unreadable_definition")


def definition_sha256(defn: WorkflowDefinition | Mapping[str, Any]) -> str:
    """Hash a definition: SHA-256 hex of its canonical JSON.

    A model is hashed through `canonical()`. A mapping is hashed as it is, not
    re-validated, so that an agent hashes exactly the data the control plane signed
    whatever SDK version it runs: ship and hash the same form (`canonical()`).

    Args:
        defn: A `WorkflowDefinition` or its JSON-compatible mapping.

    Returns:
        64 lower-case hex digits.
    """
    data = defn.canonical() if isinstance(defn, WorkflowDefinition) else dict(defn)
    return hashlib.sha256(canonical_json(data)).hexdigest()
