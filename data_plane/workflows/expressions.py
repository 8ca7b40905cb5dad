"""How the interpreter evaluates `${ ... }` expressions under limits (pure; runs in the
workflow sandbox).

A value's expressions are evaluated inside the workflow when every program in it is in
the inline subset (`connectors_sdk.is_inline_program`) and the data they read is at most
`INLINE_MAX_CONTEXT_BYTES`: their cost is then bounded, and a replay computes the same
value again. Otherwise the value goes to the `evaluate_expressions` local activity, whose
result (value or error) is recorded in history, so a replay never runs the programs.

The context holds only the node outputs the programs name (`referenced_nodes`), or all
of them when a program names `.nodes` in another way; at most `MAX_CONTEXT_BYTES` of it
leaves the workflow.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors_sdk import (
    INLINE_SUBSET_VERSION,
    WorkflowDefinition,
    find_expressions,
    is_inline_program,
    referenced_nodes,
)

# The patch id of this way of evaluating: with it a run evaluates out of process and
# paces its workflow tasks; without it (runs started before) it evaluates everything in
# the workflow as it always did. Changing the inline subset bumps INLINE_SUBSET_VERSION.
PATCH_ID = f"bounded-expressions-{INLINE_SUBSET_VERSION}"
INLINE_MAX_CONTEXT_BYTES = 64 * 1024
MAX_CONTEXT_BYTES = 16 * 1024 * 1024
# Node visits per workflow activation before the interpreter waits for a short timer, so
# that a large definition never keeps one activation past the deadlock detector's 2 s.
VISITS_PER_ACTIVATION = 100


def json_size(value: Any) -> int:
    """Bytes of a value as compact JSON."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


@dataclass(frozen=True)
class ExpressionPlan:
    programs: tuple[str, ...]
    # The node outputs the programs read, None for all.
    nodes: frozenset[str] | None
    inline: bool


def plan_expressions(value: Any) -> ExpressionPlan | None:
    """What evaluating a value needs; None when it holds no expression."""
    programs = tuple(dict.fromkeys(program for _, program in find_expressions(value)))
    if not programs:
        return None
    nodes: set[str] | None = set()
    for program in programs:
        named = referenced_nodes(program)
        if named is None or nodes is None:
            nodes = None
        else:
            nodes.update(named)
    return ExpressionPlan(
        programs=programs,
        nodes=None if nodes is None else frozenset(nodes),
        inline=all(is_inline_program(program) for program in programs),
    )


def visible_outputs(
    plan: ExpressionPlan, outputs: Mapping[str, Any]
) -> tuple[dict[str, Any], Iterable[str]]:
    """The node outputs a plan's programs see, in a fixed order, and their ids."""
    if plan.nodes is None:
        return dict(outputs), list(outputs)
    names = [name for name in sorted(plan.nodes) if name in outputs]
    return {name: outputs[name] for name in names}, names


def outer_names(body: WorkflowDefinition, *more: Any) -> set[str] | None:
    """The node outputs a body's expressions read, nested bodies' included, and those
    `more` values (a loop's condition) read (None: all of them), so that only those of the
    enclosing scopes travel to the workflows running its iterations."""
    names: set[str] = set()
    values = [body.output, *more]
    for node in body.all_nodes():
        values += [node.config, node.inputs, node.body.output if node.body else None]
    for value in values:
        plan = plan_expressions(value)
        if plan is None:
            continue
        if plan.nodes is None:
            return None
        names |= plan.nodes
    return names
