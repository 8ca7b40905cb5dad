"""`core.loop`: the node's body repeated in a child workflow (see `workflows/loop.py`)
until its condition ends it or `max_iterations` is reached."""

from pydantic import ValidationError
from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError

from connectors_sdk.nodes.iteration import Loop
from data_plane.errors import OutputTooLargeError
from data_plane.messages import LoopInput, LoopResult
from data_plane.workflows.expressions import json_size, outer_names
from data_plane.workflows.runtime import NodeFailedError, Runtime, Settlement

# Evaluated after each iteration, not before the loop starts.
CONDITIONS = ("until", "while")


async def run_loop(rt: Runtime, node_id: str) -> list[Settlement]:
    node = rt.node(node_id)
    try:
        prepared = await rt.prepare(node, later=CONDITIONS)
        config = Loop.Config.model_validate(prepared.config)
    except NodeFailedError as exc:
        return [rt.failed(node, str(exc), exc.error_type)]
    except ValidationError as exc:
        return [rt.failed(node, f"invalid loop config: {exc}", "InvalidNodeData")]
    rt.emit("node.started", node.id, input=prepared.input)
    body_plan = rt.topology.plan.nodes[node_id].body
    assert node.body is not None and body_plan is not None
    body = node.body.definition()
    names = outer_names(body)
    outer = {k: v for k, v in rt.outputs().items() if names is None or k in names}
    request = LoopInput(
        run_id=rt.run.run_id,
        pool=rt.run.pool,
        protocol=rt.run.protocol,
        max_output_bytes=rt.run.max_output_bytes,
        run_input=rt.run.input,
        node_id=node.id,
        enclosing=rt.scope.iteration,
        body=body.canonical(),
        plan=body_plan,
        max_iterations=config.max_iterations,
        condition=config.until if config.until is not None else config.while_,
        stop_when=config.until is not None,
        wait_seconds=config.wait.total_seconds() if config.wait is not None else None,
        collect=config.collect,
        outer=outer,
        subworkflows=dict(rt.run.calls),
        outer_sizes={k: rt.state.sizes.get(k, rt.scope.outer_sizes.get(k, 0)) for k in outer},
        progress={"previous": prepared.input},
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
        return [rt.failed(node, f"the loop failed: {exc.cause or exc}", "LoopFailed")]
    if result.error is not None:
        return [rt.failed(node, result.error, "LoopIterationFailed")]
    output = result.model_dump(exclude={"error"}, exclude_none=True)
    output.setdefault("last", None)
    size = json_size(output)
    if size > rt.run.max_output_bytes:
        error = OutputTooLargeError(node.id, size, rt.run.max_output_bytes)
        return [rt.failed(node, str(error), error.code)]
    rt.emit("node.succeeded", node.id, output=output)
    return [Settlement(node.id, "SUCCEEDED", output)]
