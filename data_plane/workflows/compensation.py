"""Compensation (saga): undoing the completed nodes of a run that cannot complete.

A node's `compensation` names another node of the definition, which runs only for this:
when the run fails, or is cancelled with compensation asked for, the compensations of
the nodes that succeeded run one at a time, the last to succeed first. Each runs as its
own execution, keyed by the node it undoes (`refund@charge#0`), with that node's output
as its input and `.compensating` ({"node": <id>}) in its expressions; the node it undoes
goes COMPENSATING, then COMPENSATED, with the error if its compensation failed. A failed
compensation does not stop the others. Orchestration only; imported by the workflow.
"""

from data_plane.workflows.bodies import as_node_input
from data_plane.workflows.runtime import Runtime, Scope
from data_plane.workflows.state import RunState
from data_plane.workflows.steps import STEPS


async def compensate(rt: Runtime) -> int:
    """Run the compensations of the run's completed nodes, newest first.

    Returns:
        How many ran.
    """
    state = rt.state
    done = 0
    for node_id in reversed(state.completed):
        target = rt.node(node_id).compensation
        if target is None:
            continue
        rt.emit("node.compensating", node_id)
        output = state.outputs.get(node_id)
        scope = Scope(
            iteration=f"{node_id}#0",
            input=as_node_input(output),
            context={"compensating": {"node": node_id}},
            outer=state.outputs,
            outer_sizes=state.sizes,
        )
        undo = Runtime(rt.run, rt.topology, RunState(), rt.events, scope)
        settlements = await STEPS[rt.topology.plan.nodes[target].step](undo, target)
        failed = next((s.error for s in settlements if s.error is not None), None)
        error = None if failed is None else f"compensation {target!r} failed: {failed.message}"
        rt.emit("node.compensated", node_id, error=error)
        done += 1
    state.completed.clear()
    return done
