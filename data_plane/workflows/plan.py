"""The execution plan: how each node of a run executes, decided once by the agent.

The agent builds the plan when it accepts a descriptor and passes it in the workflow
input; the interpreter only reads it. A run therefore keeps the plan it started with,
whatever node packages or planning rules a worker has when it replays the run later:
changing how plans are built changes new runs only. Pure; imported by the workflow.
"""

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, Field

from connectors_sdk import JoinMode, Node, NodeRegistry, NodeSpec, WorkflowDefinition
from connectors_sdk.nodes.approval import Approval
from connectors_sdk.nodes.control import If, Merge, Switch, Transform
from connectors_sdk.nodes.iteration import Loop, Map
from connectors_sdk.nodes.subworkflow import SubWorkflow
from connectors_sdk.nodes.wait import Wait
from data_plane.workflows.chains import find_chains

# How one node executes (see `workflows/steps/`):
# - pure: evaluated inside the workflow, no activity (the node types in IN_WORKFLOW);
# - local: a Temporal local activity (lightweight nodes, and pure types the workflow
#   sandbox does not hold);
# - activity: an activity on its pool's task queue;
# - chain: the first node of a chain of lightweight nodes, run with its followers in one
#   local activity (`workflows/chains.py`);
# - map: a `core.map`, its body run per item in child workflows;
# - loop: a `core.loop`, its body repeated in a child workflow;
# - subworkflow: a `core.subworkflow`, another workflow run as a child run;
# - wait: a `core.wait`, a timer or a condition of the workflow;
# - approval: a `core.approval`, a human task the workflow waits on.
StepKind = Literal[
    "pure", "local", "activity", "chain", "map", "loop", "subworkflow", "wait", "approval"
]

# Node types the interpreter evaluates itself.
IN_WORKFLOW: Mapping[str, type[Node]] = {node.type: node for node in (If, Switch, Merge, Transform)}

# Node types with a body, by the step that runs them.
BODY_STEPS: Mapping[str, StepKind] = {Map.type: "map", Loop.type: "loop"}

PLAN_VERSION = 1


class PlanNode(BaseModel):
    step: StepKind
    # A chain's first node: the ids of the nodes the chain runs, its own first.
    chain: list[str] = Field(default_factory=list)
    # A follower in a chain: the chain's first node, whose step runs this one.
    chained_in: str | None = None
    # How the node joins its incoming branches (see `workflows/scheduler.py`).
    join: JoinMode = JoinMode.NOT_SKIPPED
    # The plan of a node's body (map, loop).
    body: "ExecutionPlan | None" = None


class ExecutionPlan(BaseModel):
    version: int = PLAN_VERSION
    # Every node id that runs in the graph (all but compensating nodes), each after all
    # of its predecessors.
    order: list[str]
    nodes: dict[str, PlanNode]


def build_plan(definition: WorkflowDefinition, registry: NodeRegistry, pool: str) -> ExecutionPlan:
    """Plan a validated definition of a run of `pool` against the node types installed.

    Raises:
        KeyError: A node type is not installed (validation reports it first).
        DefinitionInvalidError: The edges form a cycle.
    """
    nodes = {
        node.id: PlanNode(
            step=_step(registry.get(node.type), node, pool),
            join=_join_mode(node),
        )
        for node in definition.nodes
    }
    for node in definition.nodes:
        if node.body is not None:
            body = build_plan(node.body.definition(), registry, pool)
            nodes[node.id] = PlanNode(step=BODY_STEPS[node.type], body=body)
    for head, chain in find_chains(definition, lambda n: nodes[n.id].step == "local").items():
        nodes[head] = PlanNode(step="chain", chain=[n.id for n in chain])
        for follower in chain[1:]:
            nodes[follower.id] = PlanNode(step="local", chained_in=head)
    # Compensating nodes run only as compensations (`workflows/compensation.py`).
    compensators = definition.compensators()
    order = [n for n in definition.topological_order() if n not in compensators]
    return ExecutionPlan(order=order, nodes=nodes)


def _step(node_cls: type[Node], node: NodeSpec, pool: str) -> StepKind:
    pinned_elsewhere = node.pool not in (None, pool)
    if pinned_elsewhere and not (node_cls.interpreted or node_cls.has_body):
        # Only a worker of the pool a node is pinned to may run it: on its queue.
        return "activity"
    return _mode(node_cls)


def _join_mode(node: NodeSpec) -> JoinMode:
    if node.type != Merge.type:
        return JoinMode.NOT_SKIPPED
    return Merge.Config.model_validate(node.config).mode


def _mode(node_cls: type[Node]) -> StepKind:
    if node_cls.type in IN_WORKFLOW:
        return "pure"
    if node_cls.type == SubWorkflow.type:
        return "subworkflow"
    if node_cls.type == Wait.type:
        return "wait"
    if node_cls.type == Approval.type:
        return "approval"
    # Other pure node types are evaluated by a local activity: the workflow sandbox only
    # holds the interpreter's own.
    return "local" if node_cls.pure or node_cls.lightweight else "activity"


PlanNode.model_rebuild()
