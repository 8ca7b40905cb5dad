"""`validate_definition`: every check a workflow definition passes before it is published.

Checks, in this order, collecting all issues rather than stopping at the first:

1. structure (the pydantic models; if it fails, nothing else is checked) and the run
   input's JSON Schema;
2. unique node ids;
3. known node types;
4. config against each node type's `Config` (values that are expressions are skipped:
   they are only known at run time, except in fields that must be literal, see
   `literal_only`);
5. edges: dangling ends, duplicates, self loops, ports (`Node.ports_for` of the config as
   written; the error port on any node);
6. joins: a `core.merge` has edges from at least two nodes;
7. cycles;
8. expression syntax in `config`, `inputs` and `output`;
9. ports: what flows into a node against its `Input` (see `_ports.py`);
10. secret names.
"""

import re
from collections.abc import Mapping
from typing import Any

import jsonschema
from pydantic import BaseModel, ValidationError

from connectors_sdk._definition import EdgeSpec, NodeSpec, WorkflowDefinition, find_cycles
from connectors_sdk._errors import DefinitionInvalidError, DefinitionIssue, ExpressionError
from connectors_sdk._expressions import (
    LITERAL_REQUIRED,
    check_expression_syntax,
    is_expression,
    iter_expression_strings,
    join_location,
)
from connectors_sdk._flow import ERROR_PORT, NodeFailure
from connectors_sdk._node import Node, ports_depend_on_config
from connectors_sdk._ports import port_gaps
from connectors_sdk._registry import NodeRegistry
from connectors_sdk.nodes.control import Merge

_SECRET_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def validate_definition(
    data: Mapping[str, Any], registry: NodeRegistry
) -> tuple[WorkflowDefinition | None, list[DefinitionIssue]]:
    """Check a raw definition against the node types of a registry.

    Args:
        data: The definition as read from YAML or JSON.
        registry: The node types the definition may use.

    Returns:
        (definition, issues): the definition is None when the structure is invalid;
        the definition is publishable when `issues` is empty.
    """
    if not isinstance(data, Mapping):
        kind = type(data).__name__
        return None, [DefinitionIssue(None, "", f"a definition is a mapping, not {kind}")]
    try:
        defn = WorkflowDefinition.model_validate(data)
    except ValidationError as exc:
        return None, _structure_issues(exc, data)
    return defn, _Checker(defn, registry).run()


def parse_definition(data: Mapping[str, Any], registry: NodeRegistry) -> WorkflowDefinition:
    """Validate a raw definition and return it.

    Raises:
        DefinitionInvalidError: With every issue `validate_definition` found.
    """
    defn, issues = validate_definition(data, registry)
    if issues or defn is None:
        raise DefinitionInvalidError(issues)
    return defn


def _structure_issues(exc: ValidationError, data: Mapping[str, Any]) -> list[DefinitionIssue]:
    issues = []
    nodes = data.get("nodes")
    for error in exc.errors():
        loc = error["loc"]
        node_id = None
        if len(loc) > 2 and loc[0] == "nodes" and isinstance(loc[1], int):
            raw = nodes[loc[1]] if isinstance(nodes, list) and loc[1] < len(nodes) else None
            node_id = raw.get("id") if isinstance(raw, Mapping) else None
        if isinstance(node_id, str):
            field = _path(loc[2:])
        else:
            node_id, field = None, _path(loc)
        issues.append(DefinitionIssue(node_id, field, error["msg"]))
    return issues


def _path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path = join_location(path, f"[{part}]" if isinstance(part, int) else part)
    return path


class _Checker:
    def __init__(self, defn: WorkflowDefinition, registry: NodeRegistry) -> None:
        self.defn = defn
        self.registry = registry
        self.issues: list[DefinitionIssue] = []
        self.specs: dict[str, NodeSpec] = {}
        for spec in defn.nodes:
            self.specs.setdefault(spec.id, spec)
        self.classes: dict[str, type[Node]] = {
            node_id: registry.get(spec.type)
            for node_id, spec in self.specs.items()
            if spec.type in registry
        }
        # Edges whose ends exist and differ: the graph the later checks reason about.
        self.graph_edges: list[EdgeSpec] = []
        self.port_cache: dict[str, tuple[str, ...] | None] = {}

    def add(self, node_id: str | None, field: str, message: str) -> None:
        self.issues.append(DefinitionIssue(node_id, field, message))

    def run(self) -> list[DefinitionIssue]:
        self.check_input_schema()
        self.check_unique_ids()
        self.check_types()
        self.check_configs()
        self.check_edges()
        self.check_joins()
        self.check_cycles()
        self.check_expressions()
        self.check_ports()
        self.check_secrets()
        return self.issues

    def check_input_schema(self) -> None:
        try:
            jsonschema.validators.validator_for(self.defn.input).check_schema(self.defn.input)
        except jsonschema.SchemaError as exc:
            self.add(None, "input", f"not a valid JSON Schema: {exc.message}")

    def check_unique_ids(self) -> None:
        first: dict[str, int] = {}
        for i, spec in enumerate(self.defn.nodes):
            if spec.id in first:
                self.add(
                    spec.id,
                    "id",
                    f"duplicate node id {spec.id!r} (nodes[{first[spec.id]}] and nodes[{i}]); "
                    "node ids must be unique",
                )
            else:
                first[spec.id] = i

    def check_types(self) -> None:
        known = ", ".join(cls.type for cls in self.registry.types()) or "(none)"
        for spec in self.defn.nodes:
            if spec.type not in self.registry:
                self.add(spec.id, "type", f"unknown node type {spec.type!r}; known types: {known}")

    def check_configs(self) -> None:
        for node_id, cls in self.classes.items():
            for field, message in _model_errors(cls.Config, self.specs[node_id].config):
                self.add(node_id, join_location("config", field), message)

    def check_edges(self) -> None:
        seen: dict[tuple[str, str | None, str], int] = {}
        for i, edge in enumerate(self.defn.edges):
            where = f"edges[{i}]"
            source_known = edge.source in self.specs
            owner = edge.source if source_known else None
            if not source_known:
                self.add(None, f"{where}.from", self._unknown_node("from", edge.source))
            if edge.to not in self.specs:
                self.add(owner, f"{where}.to", self._unknown_node("to", edge.to))
            if source_known and edge.to == edge.source:
                self.add(owner, where, f"self loop on {edge.source!r}: an edge must join two nodes")
            key = (edge.source, edge.port, edge.to)
            if key in seen:
                self.add(owner, where, f"duplicate of edges[{seen[key]}]; remove one")
            seen.setdefault(key, i)
            if source_known and edge.source in self.classes:
                self._check_port(i, edge.source, edge.port)
            if source_known and edge.to in self.specs and edge.to != edge.source:
                self.graph_edges.append(edge)

    def _unknown_node(self, end: str, node_id: str) -> str:
        known = ", ".join(self.specs)
        return f"edge {end} unknown node {node_id!r}; nodes are: {known}"

    def _check_port(self, i: int, source: str, port: str | None) -> None:
        if port == ERROR_PORT:
            return
        cls = self.classes[source]
        field = f"edges[{i}].port"
        ports = self._ports(source)
        if ports is None:
            return
        listed = ", ".join(repr(p) for p in ports)
        if ports and port is None:
            self.add(
                source,
                field,
                f"node {source!r} ({cls.type}) routes by port: name one of {listed}",
            )
        elif not ports and port is not None:
            self.add(
                source,
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
            self.add(source, field, message)

    def _ports(self, node_id: str) -> tuple[str, ...] | None:
        """The ports of a node for its config as written; None when they are unknown
        because that config does not validate (reported once, by the config check or
        here)."""
        if node_id in self.port_cache:
            return self.port_cache[node_id]
        cls = self.classes[node_id]
        ports: tuple[str, ...] | None = cls.ports
        if ports_depend_on_config(cls):
            try:
                ports = cls.ports_for(cls.Config.model_validate(self.specs[node_id].config))
            except ValidationError:
                ports = None
                if not any(
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
        for spec in self.defn.nodes:
            for prefix, value in (("config", spec.config), ("inputs", spec.inputs)):
                self._check_syntax(spec.id, prefix, value)
        self._check_syntax(None, "output", self.defn.output)

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
            return self.defn.input, "the workflow input"
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

    def check_secrets(self) -> None:
        for spec in self.defn.nodes:
            for i, name in enumerate(spec.secrets):
                if not _SECRET_NAME.match(name):
                    self.add(
                        spec.id,
                        f"secrets[{i}]",
                        f"bad secret name {name!r}: use letters, digits, '_', '.' and '-'",
                    )


def _model_errors(model: type[BaseModel], value: dict[str, Any]) -> list[tuple[str, str]]:
    """Validate literal values against a model; errors under expressions are dropped,
    except those of fields that must be literal."""
    try:
        model.model_validate(value)
    except ValidationError as exc:
        return [
            (_path(error["loc"]), error["msg"])
            for error in exc.errors()
            if error["type"] == LITERAL_REQUIRED or not _under_expression(value, error["loc"])
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
