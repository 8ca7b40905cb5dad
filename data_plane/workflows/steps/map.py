"""`core.map`: the node's body run once per item of a list, in child workflows of
`BATCH_SIZE` items (see `workflows/map.py`), at most `concurrency` items at once.

The output is {"results": [...], "failures": [...]}: results in item order; with
`on_item_failure: collect`, a failed item's result is null and its failure is listed
beside the results, otherwise the first failure fails the node and no further batch starts.
"""

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError

from connectors_sdk.nodes.iteration import Map
from data_plane.messages import ItemFailure, MapBatchInput, MapBatchResult
from data_plane.workflows.retry import reraise_cancellation
from data_plane.workflows.runtime import NodeFailedError, Runtime, Settlement

# Items per child workflow; see `workflows/map.py` for the numbers behind it.
BATCH_SIZE = 100


async def run_map(rt: Runtime, node_id: str) -> list[Settlement]:
    node = rt.node(node_id)
    try:
        prepared, config = await rt.prepare_config(node, Map.Config)
    except NodeFailedError as exc:
        return [rt.failed(node, str(exc), exc.error_type)]
    rt.emit("node.started", node.id, input=prepared.input)
    body = rt.body_input(node)
    collect = config.on_item_failure == "collect"
    batches = [
        MapBatchInput(
            **body,
            first_index=first,
            items=config.items[first : first + BATCH_SIZE],
            concurrency=min(config.concurrency, BATCH_SIZE),
            collect_failures=collect,
        )
        for first in range(0, len(config.items), BATCH_SIZE)
    ]
    # Enough children at once for `concurrency` items to run side by side.
    slots = asyncio.Semaphore(max(1, config.concurrency // BATCH_SIZE))
    failures: list[ItemFailure] = []

    async def one(number: int, batch: MapBatchInput) -> MapBatchResult | None:
        async with slots:
            if failures and not collect:
                return None
            # By name: the workflow module imports the interpreter this step is part of.
            result: MapBatchResult = await workflow.execute_child_workflow(
                "MapBatchWorkflow",
                batch,
                result_type=MapBatchResult,
                id=f"{rt.run.run_id}:{rt.key(node.id)}:{number}",
                task_queue=workflow.info().task_queue,
            )
            failures.extend(result.failures)
            return result

    try:
        done = await asyncio.gather(*(one(i, b) for i, b in enumerate(batches)))
    except ChildWorkflowError as exc:
        reraise_cancellation(exc)
        return [rt.failed(node, f"a batch of items failed: {exc.cause or exc}", "MapFailed")]
    if failures and not collect:
        first_failure = min(failures, key=lambda f: f.index)
        message = f"item {first_failure.index} failed: {first_failure.error}"
        return [rt.failed(node, message, "MapItemFailed")]
    results: list[Any] = [r for batch in done if batch is not None for r in batch.results]
    output = {
        "results": results,
        "failures": [f.model_dump() for f in sorted(failures, key=lambda f: f.index)],
    }
    return [rt.succeeded(node, output)]
