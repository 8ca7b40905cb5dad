"""The execution plan: how each node of a run executes, decided once by the agent.

The agent builds the plan when it accepts a descriptor and passes it in the workflow
input; the interpreter only reads it. A run therefore keeps the plan it started with,
whatever node packages or planning rules a worker has when it replays the run later:
changing how plans are built changes new runs only. Pure; imported by the workflow.
"""

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, Field

from connectors_sdk import Node, NodeRegistry, WorkflowDefinition
from connectors_sdk.nodes.control import If, Transform
from data_plane.workflows.chains import find_chains

# How one node executes (see `workflows/steps/`):
# - pure: evaluated inside the workflow, no activity (the node types in IN_WORKFLOW);
# - local: a Temporal local activity (lightweight nodes, and pure types the workflow
#   sandbox does not hold);
# - activity: an activity on its pool's task queue;
# - chain: the first node of a chain of lightweight nodes, run with its followers in one
#   local activity (`workflows/chains.py`).
StepKind = Literal["pure", "local", "activity", "chain"]

# Node types the interpreter evaluates itself.
IN_WORKFLOW: Mapping[str, type[Node]] = {If.type: If, Transform.type: Transform}

# How a node joins its incoming branches (see `workflows/scheduler.py`).
JoinMode = Literal["all", "first", "not_skipped"]

PLAN_VERSION = 1


class PlanNode(BaseModel):
    step: StepKind
    # A chain's first node: the ids of the nodes the chain runs, its own first.
    chain: list[str] = Field(default_factory=list)
    # A follower in a chain: the chain's first node, whose step runs this one.
    chained_in: str | None = None
    join: JoinMode = "not_skipped"


class ExecutionPlan(BaseModel):
    version: int = PLAN_VERSION
    # Every node id, each after all of its predecessors.
    order: list[str]
    nodes: dict[str, PlanNode]


def build_plan(definition: WorkflowDefinition, registry: NodeRegistry, pool: str) -> ExecutionPlan:
    """Plan a validated definition of a run of `pool` against the node types installed.

    Raises:
        KeyError: A node type is not installed (validation reports it first).
        DefinitionInvalidError: The edges form a cycle.
    """
    modes = {node.type: _mode(registry.get(node.type)) for node in definition.nodes}
    nodes = {node.id: PlanNode(step=modes[node.type]) for node in definition.nodes}
    for node in definition.nodes:
        if node.pool not in (None, pool):
            # Only a worker of that pool may run it: an activity on the pool's queue.
            nodes[node.id] = PlanNode(step="activity")
    for head, chain in find_chains(definition, lambda n: nodes[n.id].step == "local").items():
        nodes[head] = PlanNode(step="chain", chain=[n.id for n in chain])
        for follower in chain[1:]:
            nodes[follower.id] = PlanNode(step="local", chained_in=head)
    return ExecutionPlan(order=definition.topological_order(), nodes=nodes)


def _mode(node_cls: type[Node]) -> StepKind:
    if node_cls.type in IN_WORKFLOW:
        return "pure"
    # Other pure node types are evaluated by a local activity: the workflow sandbox only
    # holds the interpreter's own.
    return "local" if node_cls.pure or node_cls.lightweight else "activity"
