"""Which nodes run next: pure functions over the plan and the run state.

A node is decided once the outcomes it depends on are known:

- a node without incoming edges runs;
- an edge is active when its source succeeded and the edge names no port or the port the
  source took, or, for an edge from the `error` port, when its source failed;
- a node joins its incoming branches by its join mode (`core.merge` sets one; every
  other node joins as `not_skipped`): `not_skipped` runs once every source is settled and
  at least one reached it, `all` only if every source reached it, `first` as soon as one
  did; a node that cannot run any more is skipped, and its own successors are decided in
  turn, so a branch not taken never leaves a join waiting;
- once the run has failed (a failure no error edge handles), nothing more starts.

Nodes are decided in plan order, so the same state always gives the same commands.
Pure; imported by the workflow, unit-tested without Temporal.
"""

import heapq
from collections.abc import Iterable, Set
from dataclasses import dataclass, field
from typing import Any, Literal

from connectors_sdk import ERROR_PORT, EdgeSpec, JoinMode, NodeFailure, WorkflowDefinition
from data_plane.workflows.expressions import ExpressionPlan, json_size, plan_expressions
from data_plane.workflows.plan import ExecutionPlan
from data_plane.workflows.state import Outcome, RunState


@dataclass(frozen=True)
class Topology:
    """What the scheduler reads of a definition and its plan, indexed once per run."""

    definition: WorkflowDefinition
    plan: ExecutionPlan
    position: dict[str, int]
    _expressions: dict[tuple[str, ...], ExpressionPlan | None] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def of(cls, definition: WorkflowDefinition, plan: ExecutionPlan) -> "Topology":
        position = {node_id: i for i, node_id in enumerate(plan.order)}
        return cls(definition, plan, position)

    def expressions(self, key: tuple[str, ...], value: Any) -> ExpressionPlan | None:
        """The expression plan of a part of the definition, named by `key` (found once:
        the definition does not change, and every item of a map reads the same parts)."""
        if key not in self._expressions:
            self._expressions[key] = plan_expressions(value)
        return self._expressions[key]

    def roots(self) -> list[str]:
        return [n for n in self.plan.order if not self.definition.predecessors(n)]

    def successors(self, node_id: str) -> list[str]:
        return list(dict.fromkeys(e.to for e in self.definition.successors(node_id)))

    def handles_errors(self, node_id: str) -> bool:
        return any(e.port == ERROR_PORT for e in self.definition.successors(node_id))


def edge_active(edge: EdgeSpec, outcome: Outcome | None) -> bool:
    if outcome is None:
        return False
    if edge.port == ERROR_PORT:
        return outcome.status == "FAILED"
    return outcome.status == "SUCCEEDED" and edge.port in (None, outcome.port)


def decide(topology: Topology, state: RunState, node_id: str) -> Literal["run", "skip"] | None:
    """Run or skip a node, or None while the outcomes it needs are not known."""
    if state.failure is not None:
        return "skip"
    incoming = topology.definition.predecessors(node_id)
    if not incoming:
        return "run"
    reached: dict[str, bool] = {}
    settled = True
    for edge in incoming:
        outcome = state.outcomes.get(edge.source)
        settled = settled and outcome is not None
        reached[edge.source] = reached.get(edge.source, False) or edge_active(edge, outcome)
    join = topology.plan.nodes[node_id].join
    if join == JoinMode.FIRST and any(reached.values()):
        return "run"
    if not settled:
        return None
    arrived = all(reached.values()) if join == JoinMode.ALL else any(reached.values())
    return "run" if arrived else "skip"


@dataclass
class Advance:
    """What `advance` decided: nodes to start, in plan order, and nodes it skipped."""

    start: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def advance(
    topology: Topology, state: RunState, candidates: Iterable[str], started: Set[str]
) -> Advance:
    """Decide the candidates (nodes whose inputs may have changed) and, through skips,
    their successors; skipped nodes are settled in `state`."""
    heap = [(topology.position[n], n) for n in dict.fromkeys(candidates)]
    heapq.heapify(heap)
    seen: set[str] = set()
    result = Advance()
    while heap:
        _, node_id = heapq.heappop(heap)
        if node_id in seen or node_id in state.outcomes or node_id in started:
            continue
        seen.add(node_id)
        decision = decide(topology, state, node_id)
        if decision == "skip":
            state.settle(node_id, Outcome(status="SKIPPED"))
            result.skipped.append(node_id)
            for successor in topology.successors(node_id):
                heapq.heappush(heap, (topology.position[successor], successor))
        elif decision == "run" and topology.plan.nodes[node_id].chained_in is None:
            # A chain's followers are started by their chain's step, never on their own.
            result.start.append(node_id)
    return result


def record_failure(topology: Topology, state: RunState, error: NodeFailure) -> None:
    """Settle a failed node: its error edges receive the error, or the run fails."""
    node_id = error.node_id
    if topology.handles_errors(node_id):
        output = error.as_input()
        state.settle(node_id, Outcome(status="FAILED", error=error), output, json_size(output))
        return
    state.settle(node_id, Outcome(status="FAILED", error=error))
    if state.failure is None:
        state.failure = f"node {node_id!r} failed: {error.message}"


def unsettled(topology: Topology, state: RunState) -> list[str]:
    return [n for n in topology.plan.order if n not in state.outcomes]
