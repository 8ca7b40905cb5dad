"""`core.subworkflow`: another published workflow run as a child workflow.

The child is a run of its own: its id is derived from the calling run and node (the same
on every replay and retry), and it reports its nodes like any run. Its `run.started`
event, which names its parent so that the control plane records the child run, is sent
by the calling run before the child starts: nothing of the child reaches the control
plane before it. Its output is the node's output;
its failure, the node's failure.
"""

import uuid

from temporalio import workflow
from temporalio.exceptions import ApplicationError, ChildWorkflowError

from connectors_sdk.nodes.subworkflow import SubWorkflow, reference_key
from data_plane.messages import DagRunInput, DagRunResult
from data_plane.protocol import ParentLink
from data_plane.workflows.retry import reraise_cancellation
from data_plane.workflows.runtime import NodeFailedError, Runtime, Settlement

# Child run ids are UUIDs (the registry's run ids), derived in this namespace.
CHILD_RUNS = uuid.UUID("6f1b8f0e-4f0c-4c62-9d25-3b8f1f6a2c51")


def child_run_id(run_id: str, execution: str) -> str:
    return str(uuid.uuid5(CHILD_RUNS, f"{run_id}/{execution}"))


async def run_subworkflow(rt: Runtime, node_id: str) -> list[Settlement]:
    node = rt.node(node_id)
    try:
        prepared, config = await rt.prepare_config(node, SubWorkflow.Config)
    except NodeFailedError as exc:
        return [rt.failed(node, str(exc), exc.error_type)]
    key = reference_key(config.workflow, config.version)
    called = rt.run.calls.get(key)
    if called is None:
        # The control plane resolves every call when the run starts; a missing one is a
        # descriptor this release cannot run, not the interpreter's fault.
        message = f"the run's descriptor holds no definition of {key!r}"
        return [rt.failed(node, message, "SubWorkflowUnresolved")]
    rt.emit("node.started", node.id, input=prepared.input)
    execution = rt.key(node.id)
    child_id = child_run_id(rt.run.run_id, execution)
    parent = ParentLink(
        run_id=rt.run.run_id,
        execution=execution,
        workflow_id=called.workflow_id,
        version=called.version,
    )
    child_input = prepared.input if isinstance(prepared.input, dict) else {"value": prepared.input}
    request = DagRunInput(
        run_id=child_id,
        pool=rt.run.pool,
        definition=called.definition,
        input=child_input,
        plan=called.plan,
        protocol=rt.run.protocol,
        max_output_bytes=rt.run.max_output_bytes,
        subworkflows=dict(rt.run.calls),
        parent=parent,
        grants=rt.run.grants,
    )
    rt.events.emit_for(child_id, "run.started", input=child_input, parent=parent)
    await rt.events.drain()
    try:
        # By name: the workflow module imports the interpreter this step is part of.
        result: DagRunResult = await workflow.execute_child_workflow(
            "DagRunWorkflow",
            request,
            result_type=DagRunResult,
            id=child_id,
            task_queue=workflow.info().task_queue,
        )
    except ChildWorkflowError as exc:
        reraise_cancellation(exc)
        cause = exc.cause
        reason = cause.message if isinstance(cause, ApplicationError) else str(cause or exc)
        return [rt.failed(node, f"sub-workflow {key!r} failed: {reason}", "SubWorkflowFailed")]
    output = result.output if isinstance(result.output, dict) else {"value": result.output}
    return [rt.succeeded(node, output)]
