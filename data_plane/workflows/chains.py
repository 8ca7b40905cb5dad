"""Finding chains of lightweight nodes that can run in one local activity.

A chain is a straight run of lightweight nodes `a -> b -> c` in which each follower has
exactly one incoming edge (plain, no port) from the node before it, that node has no other
outgoing edge, and the follower takes its predecessor's output as is (`inputs` omitted) and
has a literal config (no expressions). Such a chain needs nothing from the workflow between
its steps, so the interpreter runs it as one local activity instead of one per node; each
node keeps its own events, validation, retry policy and timeout (see `DagRunWorkflow`).
Pure; runs inside the workflow sandbox.
"""

from collections.abc import Callable

from connectors_sdk import NodeSpec, WorkflowDefinition, find_expressions

MAX_CHAIN = 64


def find_chains(
    definition: WorkflowDefinition, is_local: Callable[[NodeSpec], bool]
) -> dict[str, list[NodeSpec]]:
    """Chains of two or more nodes that each run as a local activity (`is_local`), keyed
    by the id of their first node."""
    chains: dict[str, list[NodeSpec]] = {}
    followers: set[str] = set()
    for node_id in definition.topological_order():
        node = definition.node(node_id)
        if node_id in followers or not is_local(node):
            continue
        chain = [node]
        while len(chain) < MAX_CHAIN and (follower := _follower(definition, is_local, chain[-1])):
            chain.append(follower)
        if len(chain) > 1:
            chains[node_id] = chain
            followers.update(n.id for n in chain[1:])
    return chains


def _follower(
    definition: WorkflowDefinition, is_local: Callable[[NodeSpec], bool], node: NodeSpec
) -> NodeSpec | None:
    outgoing = definition.successors(node.id)
    if len(outgoing) != 1 or outgoing[0].port is not None:
        return None
    follower = definition.node(outgoing[0].to)
    if (
        not is_local(follower)
        or len(definition.predecessors(follower.id)) != 1
        or follower.inputs is not None
        or next(find_expressions(follower.config), None) is not None
    ):
        return None
    return follower
