"""Runs survive restarts: of the control plane (events are ingested when it returns) and of
the data plane (descriptors wait in NATS, cut-off nodes are retried on the new worker)."""

import asyncio

from data_plane.protocol import INGEST_CONSUMER, events_stream

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
            events_stream(stack.pool), INGEST_CONSUMER
        )
        return info.num_pending == 0 and info.num_ack_pending == 0

    await assert_eventually(nothing_pending)


async def test_run_started_while_the_data_plane_is_down_runs_when_it_returns(
    stack: Stack,
) -> None:
    flow = {
        "apiVersion": "flowforge/v1",
        "name": "waits-for-agent",
        "nodes": [{"id": "only", "type": "core.transform", "config": {"value": {"ok": True}}}],
    }
    published = await stack.publish(flow)
    await stack.stop_data_plane()

    started = await stack.start_run(published["workflowId"])
    run_id = started["data"]["startRun"]["id"]
    await asyncio.sleep(1.0)
    assert (await stack.run(run_id))["status"] == "QUEUED"

    await stack.start_data_plane()
    run = await stack.wait_for_run(run_id)
    assert run["status"] == "SUCCEEDED"
    assert run["output"] == {"only": {"ok": True}}


async def test_node_cut_off_by_a_worker_restart_is_retried_on_the_new_worker(
    stack: Stack, http_peer: HttpPeer
) -> None:
    flow = {
        "apiVersion": "flowforge/v1",
        "name": "survives-worker-restart",
        "nodes": [
            {
                "id": "slow",
                "type": "core.http",
                "config": {"url": http_peer.url("/slow?seconds=1.5")},
                "retry": {"max_attempts": 3, "initial_interval": "100ms"},
            }
        ],
    }
    published = await stack.publish(flow)
    started = await stack.start_run(published["workflowId"])
    run_id = started["data"]["startRun"]["id"]

    async def node_running() -> bool:
        return http_peer.hits["/slow"] == 1

    await assert_eventually(node_running)
    await stack.stop_data_plane()
    await stack.start_data_plane()

    run = await stack.wait_for_run(run_id)
    assert run["status"] == "SUCCEEDED", run
    assert run["nodes"][0]["attempts"] == 2
    assert http_peer.hits["/slow"] == 2
