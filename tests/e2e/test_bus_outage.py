"""A bus outage of more than a minute fails no node and loses no event (Hardening #9), and
a control plane started without the bus serves and catches up (Hardening #4).

Before, a NATS outage of about 20 s failed nodes whose work had succeeded ("nats: timeout"
from publishing events inside the activity): 3 of 3 runs ended FAILED although each HTTP
call was made once. Now events wait in the data plane's outbox and arrive, all of them,
when the bus returns.
"""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from flowforge.inprocess import Stack, running_stack
from flowforge.nats_accounts import BusAuthority
from flowforge.servers import ServerProcess

from fixtures.http_peer import HttpPeer
from fixtures.servers import OwnServer
from fixtures.stack import assert_eventually

OUTAGE_SECONDS = 65
RUNS = 3


@pytest.fixture
async def outage(
    sqlite_url: str, temporal_server: ServerProcess, bus_authority: BusAuthority, tmp_path: Path
) -> AsyncIterator[tuple[Stack, OwnServer]]:
    bus = OwnServer.nats(tmp_path / "nats", bus_authority)
    try:
        async with running_stack(
            sqlite_url, temporal_server, bus.server, tmp_path, bus_authority
        ) as stack:
            yield stack, bus
    finally:
        bus.stop()


async def test_runs_finish_through_a_long_bus_outage_and_every_event_arrives(
    outage: tuple[Stack, OwnServer], http_peer: HttpPeer
) -> None:
    stack, bus = outage
    flow = {
        "apiVersion": "flowforge/v1",
        "name": "through-an-outage",
        "nodes": [
            {
                "id": "call",
                "type": "core.http",
                "config": {"url": http_peer.url("/slow?seconds=2")},
            },
            {
                "id": "after",
                "type": "core.transform",
                "config": {"value": "${ .nodes.call.status }"},
            },
        ],
        "edges": [{"from": "call", "to": "after"}],
    }
    published = await stack.publish(flow)
    run_ids = []
    for _ in range(RUNS):
        started = await stack.start_run(published["workflowId"])
        run_ids.append(started["data"]["startRun"]["id"])

    async def all_calling() -> bool:
        runs = [await stack.run(run_id) for run_id in run_ids]
        return all(
            any(n["nodeId"] == "call" and n["status"] == "RUNNING" for n in run["nodes"])
            for run in runs
        )

    await assert_eventually(all_calling)
    bus.stop()

    # While the bus is away every run completes in Temporal...
    for run_id in run_ids:
        result = await stack.temporal.get_workflow_handle(run_id).result()
        assert result["status"] == "SUCCEEDED"
    # ... and the outage goes on past a minute, the registry not knowing yet.
    await asyncio.sleep(OUTAGE_SECONDS)
    assert [(await stack.run(run_id))["status"] for run_id in run_ids] == ["RUNNING"] * RUNS

    bus.start()
    finished = [await stack.wait_for_run(run_id, within=60) for run_id in run_ids]

    for run in finished:
        assert run["status"] == "SUCCEEDED", run
        nodes = {n["nodeId"]: n for n in run["nodes"]}
        assert nodes["call"]["status"] == "SUCCEEDED"
        assert nodes["call"]["attempts"] == 1
        assert nodes["after"]["status"] == "SUCCEEDED"
        assert run["output"] == {"after": {"value": 200}}
    assert http_peer.hits["/slow"] == RUNS


async def test_a_control_plane_started_while_the_bus_is_down_serves_and_catches_up(
    outage: tuple[Stack, OwnServer],
) -> None:
    stack, bus = outage
    flow = {
        "apiVersion": "flowforge/v1",
        "name": "queued-while-the-bus-is-down",
        "nodes": [{"id": "only", "type": "core.transform", "config": {"value": {"ok": True}}}],
    }
    published = await stack.publish(flow)
    await stack.stop_control_plane()
    bus.stop()

    await stack.start_control_plane(wait_ready=False)
    base = stack.url.removesuffix("/graphql")
    assert (await stack.http.get(f"{base}/healthz")).status_code == 200
    ready = await stack.http.get(f"{base}/readyz")
    assert ready.status_code == 503
    assert ready.json()["bus"] is False
    started = await stack.start_run(published["workflowId"])
    assert started["data"]["startRun"]["status"] == "QUEUED"

    bus.start()
    run = await stack.wait_for_run(started["data"]["startRun"]["id"], within=60)

    assert run["status"] == "SUCCEEDED"
    assert run["output"] == {"only": {"ok": True}}
    assert (await stack.http.get(f"{base}/readyz")).status_code == 200
