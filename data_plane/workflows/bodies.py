"""Running one iteration of a body (a map item, a loop iteration) as a scope of its own.

A body is a sub-graph of a `core.map` or `core.loop` node. Each iteration gets its own
state, its iteration path (`<node id>#<index>` added to the enclosing scope's path), the
extra names its expressions see, and the outputs of the enclosing scopes. Its output is
the body's `output` expression, or {node id: output} of its sink nodes that ran, as for
a run. The first nodes of a body take the item (map) or the previous iteration's output
(loop) as input, wrapped as {"value": ...} when it is not an object. Orchestration only;
imported by the workflow.
"""

from dataclasses import dataclass
from typing import Any

from connectors_sdk import ExpressionError
from data_plane.messages import BodyInput
from data_plane.workflows.events import EventBuffer
from data_plane.workflows.interpreter import Pacer, drive
from data_plane.workflows.runtime import RunInfo, Runtime, Scope
from data_plane.workflows.scheduler import Topology
from data_plane.workflows.state import RunState


@dataclass(frozen=True)
class IterationResult:
    output: Any = None
    # Why the iteration failed: a node failure no error edge of the body handled.
    error: str | None = None


def as_node_input(value: Any) -> Any:
    """What a body's first nodes take: the item (or previous output) when it is an
    object, else {"value": <it>}, as `core.transform` wraps a value that is not one."""
    return value if isinstance(value, dict) else {"value": value}


def iteration_path(enclosing: str, node_id: str, index: int) -> str:
    scope = f"{node_id}#{index}"
    return f"{enclosing}/{scope}" if enclosing else scope


def iteration_scope(params: BodyInput, index: int, value: Any, **context: Any) -> Scope:
    """The scope of iteration `index` of a body: its first nodes take `value`, its
    expressions see `.index` and `context` besides the enclosing outputs."""
    return Scope(
        iteration=iteration_path(params.enclosing, params.node_id, index),
        input=as_node_input(value),
        context={"index": index, **context},
        outer=params.outer,
        outer_sizes=params.outer_sizes,
    )


async def run_iteration(
    run: RunInfo, body: Topology, scope: Scope, events: EventBuffer, pacer: Pacer
) -> IterationResult:
    rt = Runtime(run, body, RunState(), events, scope)
    await drive(rt, pacer)
    if rt.state.failure is not None:
        return IterationResult(error=rt.state.failure)
    definition = body.definition
    if definition.output is not None:
        try:
            return IterationResult(
                output=await rt.evaluate(
                    definition.output, f"{scope.iteration}-output", part=("", "output")
                )
            )
        except ExpressionError as exc:
            return IterationResult(error=f"body output: {exc}")
    outputs = rt.state.outputs
    return IterationResult(
        output={
            node.id: outputs[node.id]
            for node in definition.nodes
            if not definition.successors(node.id) and node.id in outputs
        }
    )
