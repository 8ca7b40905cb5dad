"""Nodes the interpreter evaluates itself (`plan.IN_WORKFLOW`): no activity."""

from connectors_sdk import evaluate_node
from data_plane.workflows.plan import IN_WORKFLOW
from data_plane.workflows.runtime import NodeFailedError, Runtime, Settlement


async def run_pure(rt: Runtime, node_id: str) -> list[Settlement]:
    node = rt.node(node_id)
    try:
        prepared = await rt.prepare(node)
    except NodeFailedError as exc:
        return [rt.failed(node, str(exc), exc.error_type)]
    rt.emit("node.started", node.id, input=prepared.input)
    node_cls = IN_WORKFLOW[node.type]
    try:
        result = evaluate_node(node_cls, prepared.config, prepared.input)
    except Exception as exc:
        # Pure nodes only validate and compute; any error is the definition's or the data's.
        return [rt.failed(node, str(exc), type(exc).__name__)]
    return [rt.succeeded(node, result.output, result.port)]
