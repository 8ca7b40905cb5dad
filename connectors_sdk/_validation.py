"""`validate_definition`: every check a workflow definition passes before it is published.

Checks, in this order, collecting all issues rather than stopping at the first:

1. structure (the pydantic models, bodies and the node count over all scopes included;
   if it fails, nothing else is checked) and the run input's JSON Schema;
2. node ids unique across the definition, bodies included (expressions address
   `.nodes.<id>` across scopes);

then for each scope, the top level and every body depth-first in definition order:

3. known node types;
4. config against each node type's `Config` (values that are expressions are skipped:
   they are only known at run time, except in fields that must be literal, see
   `literal_only`, and fields that exclude each other, `CONFLICTING_FIELDS`);
5. bodies: on the node types with `has_body` only, required for them, nested at most
   `MAX_BODY_DEPTH` deep; breakers: only on nodes that make calls (not pure, no body,
   not a sub-workflow);
6. edges: dangling ends, ends in another scope, duplicates, self loops, ports
   (`Node.ports_for` of the config as written; the error port on any node);
7. joins: a `core.merge` has edges from at least two nodes;
8. cycles;
9. expression syntax in `config`, `inputs` and the scope's `output`;
10. ports: what flows into a node against its `Input` (see `_ports.py`); a body's nodes
    without predecessors take the item or the previous iteration's output, known only at
    run time, so only their literal `inputs` are checked;
11. secret names.

Where an issue inside a body points: a body node is named by its own id, unique across
the definition, with the field relative to it as at the top level (`config.url`, `type`,
`edges` for a cycle or a join). A body's own fields, its edges and its output, are fields
of the node that holds the body: `body.edges[0].to`, `body.output`.

Expressions are checked for syntax, not for the node ids they name: `.nodes.<id>` of a
node that has not run, or that the expression's scope does not see, is null at run time,
and definitions published before bodies may rely on that.
"""

from collections.abc import Mapping
from typing import Any

import jsonschema
from pydantic import ValidationError

from connectors_sdk._definition import MAX_BODY_DEPTH, WorkflowDefinition
from connectors_sdk._errors import DefinitionInvalidError, DefinitionIssue
from connectors_sdk._registry import NodeRegistry
from connectors_sdk._scope_checks import Scope, ScopeChecker, error_path


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
    for error in exc.errors():
        node_id, field = _locate(error["loc"], data)
        issues.append(DefinitionIssue(node_id, field, error["msg"]))
    return issues


def _locate(loc: tuple[int | str, ...], data: Mapping[str, Any]) -> tuple[str | None, str]:
    """The innermost node with an id that an error is inside, and the path from it; the
    path from the definition when it is inside none."""
    node_id: str | None = None
    start = 0
    current: Any = data
    for i, part in enumerate(loc):
        current = _child(current, part)
        in_node_list = i > 0 and loc[i - 1] == "nodes" and (i == 1 or loc[i - 2] == "body")
        if in_node_list and isinstance(part, int) and i + 1 < len(loc):
            raw_id = current.get("id") if isinstance(current, Mapping) else None
            if isinstance(raw_id, str):
                node_id, start = raw_id, i + 1
    return node_id, error_path(loc[start:])


def _child(value: Any, part: int | str) -> Any:
    if isinstance(value, Mapping):
        return value.get(part)
    if isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
        return value[part]
    return None


class _Checker:
    """The checks of the whole definition, then those of each scope."""

    def __init__(self, defn: WorkflowDefinition, registry: NodeRegistry) -> None:
        self.defn = defn
        self.registry = registry
        self.issues: list[DefinitionIssue] = []
        self.scopes: list[Scope] = []
        self._collect(Scope(defn.nodes, defn.edges, defn.output))
        # Each node id's scope (the first, if ids repeat), to explain edges across scopes.
        self.scope_of: dict[str, Scope] = {}

    def _collect(self, scope: Scope) -> None:
        # Recursion is bounded: bodies deeper than MAX_BODY_DEPTH are reported, not walked.
        self.scopes.append(scope)
        for i, spec in enumerate(scope.nodes):
            if spec.body is None or scope.depth >= MAX_BODY_DEPTH:
                continue
            if spec.type in self.registry and not self.registry.get(spec.type).has_body:
                continue
            body = spec.body
            self._collect(
                Scope(
                    body.nodes,
                    body.edges,
                    body.output,
                    holder=spec,
                    enclosing=(*scope.enclosing, spec.id),
                    location=f"{scope.location}[{i}].body.nodes",
                )
            )

    def add(self, node_id: str | None, field: str, message: str) -> None:
        self.issues.append(DefinitionIssue(node_id, field, message))

    def run(self) -> list[DefinitionIssue]:
        self.check_input_schema()
        self.check_unique_ids()
        for scope in self.scopes:
            self.issues += ScopeChecker(scope, self.registry, self.defn.input, self.scope_of).run()
        return self.issues

    def check_input_schema(self) -> None:
        try:
            jsonschema.validators.validator_for(self.defn.input).check_schema(self.defn.input)
        except jsonschema.SchemaError as exc:
            self.add(None, "input", f"not a valid JSON Schema: {exc.message}")

    def check_unique_ids(self) -> None:
        first: dict[str, str] = {}
        for scope in self.scopes:
            for i, spec in enumerate(scope.nodes):
                where = f"{scope.location}[{i}]"
                if spec.id not in first:
                    first[spec.id] = where
                    self.scope_of[spec.id] = scope
                    continue
                across = "" if scope.holder is None else " across the definition, bodies included"
                self.add(
                    spec.id,
                    "id",
                    f"duplicate node id {spec.id!r} ({first[spec.id]} and {where}); "
                    f"node ids must be unique{across}",
                )
