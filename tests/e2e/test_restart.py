"""Runs survive a control-plane restart: events published while it was down are ingested."""

from fixtures.http_peer import HttpPeer
from fixtures.stack import Stack, assert_eventually


async def test_run_finishes_and_is_fully_recorded_across_a_control_plane_restart(
    stack: Stack, http_peer: HttpPeer
) -> None:
    flow = {
        "apiVersion": "flowforge/v1",
        "name": "slow-pair",
        "nodes": [
            {
                "id": "first",
                "type": "core.http",
                "config": {"url": http_peer.url("/slow?seconds=1")},
            },
            {
                "id": "second",
                "type": "core.http",
                "config": {"url": http_peer.url("/echo")},
                "inputs": {},
            },
        ],
        "edges": [{"from": "first", "to": "second"}],
    }
    published = await stack.publish(flow)
    started = await stack.start_run(published["workflowId"])
    run_id = started["data"]["startRun"]["id"]

    async def first_node_running() -> bool:
        return http_peer.hits["/slow"] == 1

    await assert_eventually(first_node_running)
    await stack.stop_control_plane()
    # The whole rest of the run happens while the control plane is down.
    result = await stack.temporal.get_workflow_handle(run_id).result()
    assert result["status"] == "SUCCEEDED"
    await stack.start_control_plane()

    run = await stack.wait_for_run(run_id)
    assert run["status"] == "SUCCEEDED", run
    nodes = {n["nodeId"]: n for n in run["nodes"]}
    assert nodes["first"]["status"] == "SUCCEEDED"
    assert nodes["second"]["status"] == "SUCCEEDED"
    assert nodes["second"]["output"]["body"]["path"] == "/echo"
    assert run["output"] == {"second": nodes["second"]["output"]}

    async def nothing_pending() -> bool:
        info = await stack.nats.jetstream().consumer_info(
            "FF_EVENTS", stack.cp_settings.event_consumer
        )
        return info.num_pending == 0 and info.num_ack_pending == 0

    await assert_eventually(nothing_pending)
