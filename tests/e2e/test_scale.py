"""Runs far larger than one Temporal history holds: a 10,000-item map and a
20,000-iteration loop of light bodies, on SQLite. Marked `scale` (slow)."""

from typing import Any

import pytest

from fixtures.stack import Stack

pytestmark = pytest.mark.scale


async def started(stack: Stack, node: dict[str, Any], name: str) -> str:
    published = await stack.publish({"apiVersion": "flowforge/v1", "name": name, "nodes": [node]})
    run = await stack.start_run(published["workflowId"])
    return str(run["data"]["startRun"]["id"])


async def test_a_map_over_10000_items_gives_every_result_and_keeps_histories_small(
    sqlite_stack: Stack,
) -> None:
    body = {
        "nodes": [
            {"id": "sq", "type": "core.transform", "config": {"value": "${ .item * .item }"}}
        ],
        "output": "${ .nodes.sq.value }",
    }
    node = {
        "id": "each",
        "type": "core.map",
        "config": {"items": "${ [range(10000)] }", "concurrency": 500},
        "body": body,
    }
    run_id = await started(sqlite_stack, node, "squares")

    run = await sqlite_stack.wait_for_run(run_id, within=900, interval=1)

    assert run["status"] == "SUCCEEDED", run["error"]
    assert run["output"]["each"]["results"] == [i * i for i in range(10000)]
    parent = await sqlite_stack.temporal.get_workflow_handle(run_id).fetch_history()
    assert len(parent.events) < 2000
    batch = await sqlite_stack.temporal.get_workflow_handle(f"{run_id}:each:99").fetch_history()
    assert len(batch.events) < 2000


async def test_a_loop_of_20000_iterations_ends_with_its_count_in_a_small_history(
    sqlite_stack: Stack,
) -> None:
    body = {
        "nodes": [
            {"id": "inc", "type": "core.transform", "config": {"value": {"n": "${ .index + 1 }"}}}
        ],
        "output": "${ .nodes.inc }",
    }
    node = {"id": "again", "type": "core.loop", "config": {"max_iterations": 20000}, "body": body}
    run_id = await started(sqlite_stack, node, "long-loop")

    run = await sqlite_stack.wait_for_run(run_id, within=900, interval=1)

    assert run["status"] == "SUCCEEDED", run["error"]
    assert run["output"]["again"] == {"count": 20000, "last": {"n": 20000}, "exhausted": True}
    # Its pure iterations record no events of their own: the history stays far below
    # the point where the loop would continue as new.
    loop = await sqlite_stack.temporal.get_workflow_handle(f"{run_id}:again").fetch_history()
    assert len(loop.events) < 5000
