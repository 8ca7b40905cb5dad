import time
from fixtures.stack import Stack

async def test_scale(sqlite_stack: Stack) -> None:
    t = time.monotonic()
    d = {"apiVersion": "flowforge/v1", "name": "big-map", "nodes": [
        {"id": "each", "type": "core.map", "config": {"items": "${ [range(10000)] }", "concurrency": 500},
         "body": {"nodes": [{"id": "sq", "type": "core.transform", "config": {"value": {"v": "${ .item * .item }"}}}], "output": "${ .nodes.sq.v }"}}]}
    pub = await sqlite_stack.publish(d)
    st = await sqlite_stack.start_run(pub["workflowId"])
    rid = st["data"]["startRun"]["id"]
    run = await sqlite_stack.wait_for_run(rid, within=600, interval=1)
    print("MAP", run["status"], run["error"], time.monotonic() - t)
    h = await sqlite_stack.temporal.get_workflow_handle(rid).fetch_history()
    print("parent events", len(h.events))
    t = time.monotonic()
    d = {"apiVersion": "flowforge/v1", "name": "big-loop", "nodes": [
        {"id": "again", "type": "core.loop", "config": {"max_iterations": 20000},
         "body": {"nodes": [{"id": "inc", "type": "core.transform", "config": {"value": {"n": "${ .index + 1 }"}}}], "output": "${ .nodes.inc }"}}]}
    pub = await sqlite_stack.publish(d)
    st = await sqlite_stack.start_run(pub["workflowId"])
    rid = st["data"]["startRun"]["id"]
    run = await sqlite_stack.wait_for_run(rid, within=900, interval=1)
    print("LOOP", run["status"], run["error"], run["output"], time.monotonic() - t)
