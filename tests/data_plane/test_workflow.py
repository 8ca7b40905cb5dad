"""The interpreter's own failures end the run instead of leaving it stuck."""

import uuid
from datetime import timedelta

import pytest
from temporalio.client import WorkflowFailureError

from data_plane.messages import DagRunInput
from data_plane.protocol import task_queue
from data_plane.workflows.dag import DagRunWorkflow

from fixtures.stack import Stack


async def test_a_definition_the_interpreter_cannot_read_fails_the_run(stack: Stack) -> None:
    run_id = f"broken-{uuid.uuid4()}"
    broken = DagRunInput(run_id=run_id, pool=stack.pool, definition={"nodes": "not a list"})

    with pytest.raises(WorkflowFailureError) as info:
        await stack.temporal.execute_workflow(
            DagRunWorkflow.run,
            broken,
            id=run_id,
            task_queue=task_queue(stack.pool),
            execution_timeout=timedelta(seconds=30),
        )

    assert "interpreter error" in str(info.value.cause)
