"""A run whose history grows past its limit continues as new with its whole state."""

import uuid
from datetime import timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType

from connectors_sdk import WorkflowDefinition
from data_plane.messages import DagRunInput
from data_plane.protocol import task_queue
from data_plane.workflows.dag import DagRunWorkflow
from data_plane.workflows.plan import build_plan

from fixtures.http_peer import HttpPeer
from fixtures.replay import record, replay
from fixtures.stack import Stack


def counting_line(count: int, url: str) -> dict[str, Any]:
    """HTTP nodes each posting one more than the node before: every node an activity on
    the pool's queue (ending a workflow task), and a result that shows each ran in order."""
    nodes: list[dict[str, Any]] = [
        {
            "id": f"n{i}",
            "type": "core.http",
            "config": {"method": "POST", "url": url},
            "inputs": {"body": {"n": f"${{ .nodes.n{i - 1}.body.body.n + 1 }}" if i else 1}},
        }
        for i in range(count)
    ]
    edges = [{"from": f"n{i - 1}", "to": f"n{i}"} for i in range(1, count)]
    return {"apiVersion": "flowforge/v1", "name": "long-line", "nodes": nodes, "edges": edges}


async def test_a_long_run_continues_as_new_and_ends_with_every_result(
    sqlite_stack: Stack, http_peer: HttpPeer
) -> None:
    stack = sqlite_stack
    data = counting_line(40, http_peer.url("/echo"))
    definition = WorkflowDefinition.model_validate(data)
    run_id = f"long-{uuid.uuid4()}"
    params = DagRunInput(
        run_id=run_id,
        pool=stack.pool,
        definition=definition.canonical(),
        plan=build_plan(definition, stack.registry, stack.pool),
        protocol=2,
        history_limit=100,
    )

    handle = await stack.temporal.start_workflow(
        DagRunWorkflow.run,
        params,
        id=run_id,
        task_queue=task_queue(stack.pool),
        execution_timeout=timedelta(minutes=2),
    )
    result = await handle.result()

    assert result.output["n39"]["body"]["body"] == {"n": 40}
    first = await stack.temporal.get_workflow_handle(
        run_id, run_id=handle.first_execution_run_id
    ).fetch_history()
    assert first.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    # The length is known at workflow task boundaries: one task may go past the limit.
    assert len(first.events) < 300
    await replay(first)
    last = await stack.temporal.get_workflow_handle(run_id).fetch_history()
    await replay(last)
    record(first, "continued-as-new")
