"""`core.loop`: the node's body repeated in a child workflow (see `workflows/loop.py`)
until its condition ends it or `max_iterations` is reached."""

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError

from connectors_sdk.nodes.iteration import Loop
from data_plane.messages import LoopInput, LoopProgress, LoopResult
from data_plane.workflows.retry import reraise_cancellation
from data_plane.workflows.runtime import NodeFailedError, Runtime, Settlement

# Evaluated after each iteration, not before the loop starts.
CONDITIONS = ("until", "while")


async def run_loop(rt: Runtime, node_id: str) -> list[Settlement]:
    node = rt.node(node_id)
    try:
        prepared, config = await rt.prepare_config(node, Loop.Config, later=CONDITIONS)
    except NodeFailedError as exc:
        return [rt.failed(node, str(exc), exc.error_type)]
    rt.emit("node.started", node.id, input=prepared.input)
    condition = config.until if config.until is not None else config.while_
    request = LoopInput(
        **rt.body_input(node, condition),
        max_iterations=config.max_iterations,
        condition=condition,
        stop_when=config.until is not None,
        wait_seconds=config.wait.total_seconds() if config.wait is not None else None,
        collect=config.collect,
        progress=LoopProgress(previous=prepared.input),
    )
    try:
        # By name: the workflow module imports the interpreter this step is part of.
        result: LoopResult = await workflow.execute_child_workflow(
            "LoopWorkflow",
            request,
            result_type=LoopResult,
            id=f"{rt.run.run_id}:{rt.key(node.id)}",
            task_queue=workflow.info().task_queue,
        )
    except ChildWorkflowError as exc:
        reraise_cancellation(exc)
        return [rt.failed(node, f"the loop failed: {exc.cause or exc}", "LoopFailed")]
    if result.error is not None:
        return [rt.failed(node, result.error, "LoopIterationFailed")]
    output = result.model_dump(exclude={"error"}, exclude_none=True)
    output.setdefault("last", None)
    return [rt.succeeded(node, output)]
