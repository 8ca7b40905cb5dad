"""The checks of one scope of a definition, the top level or one body: its nodes, its
edges and its output. `_validation.py` runs them for every scope, in the order and with
the issue locations its docstring describes."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from connectors_sdk._definition import MAX_BODY_DEPTH, EdgeSpec, NodeSpec, find_cycles
from connectors_sdk._errors import DefinitionIssue, ExpressionError
from connectors_sdk._expressions import (
    CONFLICTING_FIELDS,
    LITERAL_REQUIRED,
    check_expression_syntax,
    is_expression,
    iter_expression_strings,
    join_location,
)
from connectors_sdk._flow import ERROR_PORT, NodeFailure
from connectors_sdk._node import Node, ports_depend_on_config, why_no_breaker
from connectors_sdk._ports import port_gaps
from connectors_sdk._publishing import PUBLISH_CONTEXT
from connectors_sdk._registry import NodeRegistry
from connectors_sdk.nodes.approval import Approval
from connectors_sdk.nodes.control import Merge
from connectors_sdk.nodes.wait import Wait

_SECRET_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
# Errors that hold whatever the expressions give: a literal required, fields in conflict,
# a field the config does not have.
_REPORTED_UNDER_EXPRESSIONS = frozenset({LITERAL_REQUIRED, CONFLICTING_FIELDS, "extra_forbidden"})


@dataclass(frozen=True)
class Scope:
    """The top level, or one body: the nodes and edges of one graph."""

    nodes: list[NodeSpec]
    edges: list[EdgeSpec]
    output: Any
    # The node whose body this is (None: the top level), and the ids of every node whose
    # body holds this scope, outermost first.
    holder: NodeSpec | None = None
    enclosing: tuple[str, ...] = ()
    # The location of the scope's node list in the definition: "nodes", "nodes[2].body.nodes".
    location: str = "nodes"

    @property
    def depth(self) -> int:
        return len(self.enclosing)

    @property
    def label(self) -> str:
        return "the top level" if self.holder is None else f"the body of {self.holder.id!r}"

    @property
    def where(self) -> str:
        return "at the top level" if self.holder is None else f"in the body of {self.holder.id!r}"

    def owner(self, source: str | None = None) -> str | None:
        """The node an issue of one of the scope's own fields (an edge, the output) names:
        at the top level an edge's source when it is known, in a body the node holding it."""
        return source if self.holder is None else self.holder.id

    def field(self, name: str) -> str:
        """The path of one of the scope's own fields (edges, output) from the issue's
        node, or from the definition at the top level."""
        return name if self.holder is None else f"body.{name}"


class ScopeChecker:
    """The checks of one scope's nodes and edges."""

    def __init__(
        self,
        scope: Scope,
        registry: NodeRegistry,
        input_schema: dict[str, Any],
        scope_of: Mapping[str, Scope],
    ) -> None:
        self.scope = scope
        self.registry = registry
        self.input_schema = input_schema
        self.scope_of = scope_of
        self.issues: list[DefinitionIssue] = []
        self.specs: dict[str, NodeSpec] = {}
        for spec in scope.nodes:
            self.specs.setdefault(spec.id, spec)
        self.classes: dict[str, type[Node]] = {
            node_id: self.registry.get(spec.type)
            for node_id, spec in self.specs.items()
            if spec.type in self.registry
        }
        # Edges whose ends exist and differ: the graph the later checks reason about.
        self.graph_edges: list[EdgeSpec] = []
        self.port_cache: dict[str, tuple[str, ...] | None] = {}

    def add(self, node_id: str | None, field: str, message: str) -> None:
        self.issues.append(DefinitionIssue(node_id, field, message))

    def run(self) -> list[DefinitionIssue]:
        self.check_types()
        self.check_configs()
        self.check_bodies()
        self.check_breakers()
        self.check_edges()
        self.check_joins()
        self.check_cycles()
        self.check_expressions()
        self.check_ports()
        self.check_secrets()
        self.check_compensations()
        return self.issues

    def check_types(self) -> None:
        known = ", ".join(cls.type for cls in self.registry.types()) or "(none)"
        for spec in self.scope.nodes:
            if spec.type not in self.registry:
                self.add(spec.id, "type", f"unknown node type {spec.type!r}; known types: {known}")

    def check_configs(self) -> None:
        for node_id, cls in self.classes.items():
            for field, message in _model_errors(cls.Config, self.specs[node_id].config):
                self.add(node_id, join_location("config", field), message)

    def check_bodies(self) -> None:
        for spec in self.scope.nodes:
            cls = self.registry.get(spec.type) if spec.type in self.registry else None
            if cls is not None and cls.has_body and spec.body is None:
                self.add(
                    spec.id,
                    "body",
                    f"{cls.type} runs a body (the nodes it runs per item or iteration) and "
                    "has none; add one: `body: {nodes: [...], edges: [...]}`",
                )
            elif cls is not None and not cls.has_body and spec.body is not None:
                with_body = ", ".join(c.type for c in self.registry.types() if c.has_body)
                self.add(
                    spec.id,
                    "body",
                    f"{cls.type} has no body; remove `body`, or give the node a type that "
                    f"runs one ({with_body or 'none is installed'})",
                )
            elif self.scope.holder is not None and (field := _waits_on_the_run(spec)):
                what = "an approval" if field == "type" else "a wait for a signal"
                self.add(
                    spec.id,
                    field,
                    f"{what} cannot be {self.scope.where}: signals and decisions reach the "
                    "run's own graph, not the iterations of a body; wait at the top level, "
                    f"before or after {self.scope.holder.id!r}",
                )
            elif spec.body is not None and self.scope.depth >= MAX_BODY_DEPTH:
                chain = " > ".join(repr(node_id) for node_id in self.scope.enclosing)
                self.add(
                    spec.id,
                    "body",
                    f"bodies nest at most {MAX_BODY_DEPTH} deep, and {chain} already hold "
                    f"one another, so {spec.id!r} cannot hold a body; flatten the "
                    "iteration (map over the combined items in one body) or split the "
                    "workflow",
                )

    def check_breakers(self) -> None:
        for node_id, cls in self.classes.items():
            reason = why_no_breaker(cls)
            if self.specs[node_id].breaker is not None and reason is not None:
                self.add(node_id, "breaker", f"{reason}; remove `breaker`")

    def check_edges(self) -> None:
        seen: dict[tuple[str, str | None, str], int] = {}
        for i, edge in enumerate(self.scope.edges):
            where = self.scope.field(f"edges[{i}]")
            source_known = edge.source in self.specs
            owner = self.scope.owner(edge.source if source_known else None)
            if not source_known:
                self.add(owner, f"{where}.from", self._unknown_node("from", edge.source))
            if edge.to not in self.specs:
                self.add(owner, f"{where}.to", self._unknown_node("to", edge.to))
            if source_known and edge.to == edge.source:
                self.add(owner, where, f"self loop on {edge.source!r}: an edge must join two nodes")
            key = (edge.source, edge.port, edge.to)
            if key in seen:
                duplicate = self.scope.field(f"edges[{seen[key]}]")
                self.add(owner, where, f"duplicate of {duplicate}; remove one")
            seen.setdefault(key, i)
            if source_known and edge.source in self.classes:
                self._check_port(owner, f"{where}.port", edge.source, edge.port)
            if source_known and edge.to in self.specs and edge.to != edge.source:
                self.graph_edges.append(edge)

    def _unknown_node(self, end: str, node_id: str) -> str:
        other = self.scope_of.get(node_id)
        if other is not None and other is not self.scope:
            return self._other_scope(end, node_id, other)
        known = ", ".join(self.specs)
        if self.scope.holder is None:
            return f"edge {end} unknown node {node_id!r}; nodes are: {known}"
        return f"edge {end} unknown node {node_id!r}; the nodes of {self.scope.label} are: {known}"

    def _other_scope(self, end: str, node_id: str, other: Scope) -> str:
        here = self.scope.enclosing
        problem = (
            f"edge {end} {node_id!r}, a node of {other.label}, {self.scope.where}: an edge "
            "joins two nodes of one scope"
        )
        if other.enclosing[: len(here)] == here:
            holder = other.enclosing[len(here)]
            return f"{problem}; connect {holder!r} instead: its output holds its body's results"
        if here[: len(other.enclosing)] == other.enclosing:
            return (
                f"{problem}; a body reads the outputs of enclosing nodes in expressions "
                f"instead: `${{ {_node_reference(node_id)} }}`"
            )
        return f"{problem}; move the nodes into one body, or read the other's output after it"

    def _check_port(self, owner: str | None, field: str, source: str, port: str | None) -> None:
        if port == ERROR_PORT:
            return
        cls = self.classes[source]
        ports = self._ports(source)
        if ports is None:
            return
        listed = ", ".join(repr(p) for p in ports)
        if ports and port is None:
            self.add(
                owner,
                field,
                f"node {source!r} ({cls.type}) routes by port: name one of {listed}",
            )
        elif not ports and port is not None:
            self.add(
                owner,
                field,
                f"node {source!r} ({cls.type}) has no ports; remove port {port!r} (only "
                f"{ERROR_PORT!r} is allowed: it routes the node's failures)",
            )
        elif port is not None and port not in ports:
            if ports_depend_on_config(cls):
                message = (
                    f"{port!r} is not a port of node {source!r} ({cls.type}); its config "
                    f"gives it the ports {listed}"
                )
            else:
                message = f"{port!r} is not a port of {cls.type}; its ports are {listed}"
            self.add(owner, field, message)

    def _ports(self, node_id: str) -> tuple[str, ...] | None:
        """The ports of a node for its config as written; None when they are unknown
        because that config does not validate (reported once, by the config check or
        here)."""
        if node_id in self.port_cache:
            return self.port_cache[node_id]
        cls = self.classes[node_id]
        ports: tuple[str, ...] | None = cls.ports
        if ports_depend_on_config(cls):
            config = self.specs[node_id].config
            try:
                ports = cls.ports_for(cls.Config.model_validate(config))
            except ValidationError:
                ports = _ports_despite_expressions(cls, config)
            if ports is None and not any(
                i.node_id == node_id and i.field.startswith("config") for i in self.issues
            ):
                self.add(
                    node_id,
                    "config",
                    f"the ports of {cls.type} depend on its config, which holds expressions "
                    "where the ports are named, so its edges cannot be checked; write those "
                    "fields literally",
                )
        self.port_cache[node_id] = ports
        return ports

    def check_joins(self) -> None:
        for node_id, cls in self.classes.items():
            if cls.type != Merge.type:
                continue
            sources = list(dict.fromkeys(e.source for e in self.graph_edges if e.to == node_id))
            if len(sources) < 2:
                has = f"its only edges come from {sources[0]!r}" if sources else "it has none"
                self.add(
                    node_id,
                    "edges",
                    f"node {node_id!r} ({cls.type}) joins branches, so it needs edges from at "
                    f"least 2 nodes; {has}. Add an edge from each branch it joins, or remove "
                    "the merge",
                )

    def check_cycles(self) -> None:
        edges = [(edge.source, edge.to) for edge in self.graph_edges]
        for cycle in find_cycles(list(self.specs), edges):
            self.add(cycle[0], "edges", f"cycle: {' -> '.join(cycle)}; remove an edge to break it")

    def check_expressions(self) -> None:
        for spec in self.scope.nodes:
            for prefix, value in (("config", spec.config), ("inputs", spec.inputs)):
                self._check_syntax(spec.id, prefix, value)
        self._check_syntax(self.scope.owner(), self.scope.field("output"), self.scope.output)

    def _check_syntax(self, node_id: str | None, prefix: str, value: Any) -> None:
        for location, text in iter_expression_strings(value):
            try:
                check_expression_syntax(text)
            except ExpressionError as exc:
                self.add(node_id, join_location(prefix, location), exc.message)

    def check_ports(self) -> None:
        for node_id, cls in self.classes.items():
            spec = self.specs[node_id]
            if spec.inputs is not None:
                for field, message in _model_errors(cls.Input, spec.inputs):
                    self.add(node_id, join_location("inputs", field), message)
                continue
            source, label = self._default_source(node_id)
            if source is None:
                continue
            for name, message in port_gaps(source, cls.Input.model_json_schema(), label):
                self.add(node_id, f"inputs.{name}", message)

    def _default_source(self, node_id: str) -> tuple[Any, str]:
        """The schema of what flows into a node whose `inputs` is omitted."""
        incoming = [edge for edge in self.graph_edges if edge.to == node_id]
        sources = list(dict.fromkeys(edge.source for edge in incoming))
        if not sources:
            if self.scope.holder is None:
                return self.input_schema, "the workflow input"
            # The item, or the previous iteration's output: known at run time only.
            return None, ""
        if len(sources) == 1:
            source = sources[0]
            error_edges = [edge.port == ERROR_PORT for edge in incoming]
            if all(error_edges):
                return NodeFailure.input_schema(), f"the error edge from {source!r}"
            cls = self.classes.get(source)
            if cls is None or any(error_edges):
                # Unknown, or either the output or the failure: nothing to compare with.
                return None, ""
            return cls.Output.model_json_schema(), f"{source!r} output"
        schema = {
            "type": "object",
            "properties": {source: {} for source in sources},
            "additionalProperties": False,
        }
        return schema, f"the predecessors ({', '.join(sources)})"

    def check_compensations(self) -> None:
        """A node's `compensation` names another node of the top level, which runs only
        as a compensation: it has no edges and no compensation of its own."""
        ids = {spec.id for spec in self.scope.nodes}
        targets: set[str] = set()
        for spec in self.scope.nodes:
            problem = _compensation_issue(self.scope, spec, ids)
            if problem is not None:
                self.add(spec.id, "compensation", problem)
            elif spec.compensation is not None:
                targets.add(spec.compensation)
        linked = {e.source for e in self.scope.edges} | {e.to for e in self.scope.edges}
        for spec in self.scope.nodes:
            if spec.id not in targets:
                continue
            if spec.id in linked:
                self.add(
                    spec.id,
                    "id",
                    f"node {spec.id!r} compensates other nodes, so it runs only as a "
                    "compensation: remove its edges",
                )
            if spec.compensation is not None:
                self.add(
                    spec.id,
                    "compensation",
                    f"node {spec.id!r} compensates other nodes and cannot have a "
                    "compensation of its own",
                )

    def check_secrets(self) -> None:
        for spec in self.scope.nodes:
            given, fields = spec.secret_map, spec.secret_fields
            for name, project_name in given.items():
                for bad in dict.fromkeys([name, project_name]):
                    if not _SECRET_NAME.match(bad):
                        self.add(
                            spec.id,
                            fields[name],
                            f"bad secret name {bad!r}: use letters, digits, '_', '.' and '-'",
                        )
            node_cls = self.classes.get(spec.id)
            for needed in node_cls.secrets if node_cls is not None else ():
                if needed not in given:
                    self.add(
                        spec.id,
                        "secrets",
                        f"{spec.type} needs the secret {needed!r}: map it onto a project "
                        f"secret, e.g. secrets: {{{needed}: <project secret name>}}",
                    )


def _waits_on_the_run(spec: NodeSpec) -> str | None:
    """The field that makes a node wait for what reaches the run itself (a signal, a
    decision), or None."""
    if spec.type == Approval.type:
        return "type"
    if spec.type == Wait.type and spec.config.get("signal") is not None:
        return "config.signal"
    return None


def _compensation_issue(scope: Scope, spec: NodeSpec, ids: set[str]) -> str | None:
    target = spec.compensation
    if target is None:
        return None
    if scope.holder is not None:
        return (
            f"nodes {scope.where} cannot be compensated: compensation undoes the run's own "
            f"nodes; give {scope.holder.id!r} a compensation instead"
        )
    if target == spec.id:
        return "a node cannot compensate itself; name another node that undoes it"
    if target not in ids:
        return f"unknown node {target!r}; name a node of the workflow that undoes {spec.id!r}"
    return None


def error_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path = join_location(path, f"[{part}]" if isinstance(part, int) else part)
    return path


_PLAIN_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _node_reference(node_id: str) -> str:
    return f".nodes.{node_id}" if _PLAIN_ID.match(node_id) else f'.nodes["{node_id}"]'


def _ports_despite_expressions(cls: type[Node], config: dict[str, Any]) -> tuple[str, ...] | None:
    """The ports of a config that fails to validate only where it holds expressions
    (`core.wait`'s `until`), read from the config as written; None if they cannot be."""
    if _model_errors(cls.Config, config):
        return None
    try:
        return cls.ports_for(cls.Config.model_construct(**config))
    except Exception:
        return None


def _model_errors(model: type[BaseModel], value: dict[str, Any]) -> list[tuple[str, str]]:
    """Validate literal values against a model; errors under expressions are dropped,
    except those that do not depend on what the expressions give."""
    try:
        model.model_validate(value, context=PUBLISH_CONTEXT)
    except ValidationError as exc:
        return [
            (error_path(error["loc"]), error["msg"])
            for error in exc.errors()
            if error["type"] in _REPORTED_UNDER_EXPRESSIONS
            or not _under_expression(value, error["loc"])
        ]
    return []


def _under_expression(value: Any, loc: tuple[int | str, ...]) -> bool:
    current = value
    for part in loc:
        if is_expression(current):
            return True
        in_mapping = isinstance(current, Mapping) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if not (in_mapping or in_list):
            return False
        current = current[part]
    return is_expression(current)
