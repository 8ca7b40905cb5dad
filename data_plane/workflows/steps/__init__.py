"""One step per way a node executes, all behind one interface: given the run's runtime
and a node id, run the node and return how it ended (`Settlement`s: one per node the step
ran; a chain's step settles its followers too). A step reports a node's failure as a
settlement; anything it raises is a fault of the interpreter (see `DagRunWorkflow`).
Orchestration only."""

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from data_plane.workflows.plan import StepKind
from data_plane.workflows.runtime import Runtime, Settlement
from data_plane.workflows.steps.activity import run_activity, run_local_activity
from data_plane.workflows.steps.approval import run_approval
from data_plane.workflows.steps.chain import run_chain
from data_plane.workflows.steps.loop import run_loop
from data_plane.workflows.steps.map import run_map
from data_plane.workflows.steps.pure import run_pure
from data_plane.workflows.steps.subworkflow import run_subworkflow
from data_plane.workflows.steps.wait import run_wait

Step = Callable[[Runtime, str], Coroutine[Any, Any, list[Settlement]]]

STEPS: Mapping[StepKind, Step] = {
    "pure": run_pure,
    "local": run_local_activity,
    "activity": run_activity,
    "chain": run_chain,
    "map": run_map,
    "loop": run_loop,
    "subworkflow": run_subworkflow,
    "wait": run_wait,
    "approval": run_approval,
}

__all__ = ["STEPS", "Step"]
