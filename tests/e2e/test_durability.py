"""What survives a crash: each test kills a real process in the middle of a run (SIGKILL by
PID, or a full stop of `flowforge dev`) and checks that the run ends complete and correct,
with every side effect and every record once. docs/concepts.md, "What survives a crash",
states the same guarantees."""

import asyncio
import itertools
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from nats.js.errors import NotFoundError
from sqlalchemy import select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from control_plane.db.engine import create_engine, session_factory
from control_plane.db.models import NodeRun, RunEventRecord
from data_plane.protocol import (
    INGEST_CONSUMER,
    RUNS_STREAM,
    TERMINAL_RUN_STATUSES,
    agent_consumer,
    dead_stream,
    events_stream,
)
from flowforge.inprocess import Stack
from flowforge.nats_accounts import BusAuthority
from flowforge.servers import ServerProcess

from fixtures.dev import DevProcess
from fixtures.http_peer import HttpPeer
from fixtures.servers import OwnServer
from fixtures.stack import assert_eventually, stack_of_processes


def flow(name: str, nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "flowforge/v1", "name": name, "nodes": nodes, "edges": edges}


def http(node_id: str, url: str, **fields: Any) -> dict[str, Any]:
    # No inputs: taking a predecessor's output as it is would send its response headers.
    return {"id": node_id, "type": "core.http", "config": {"url": url}, "inputs": {}, **fields}


def chain(*node_ids: str) -> list[dict[str, Any]]:
    return [{"from": a, "to": b} for a, b in itertools.pairwise(node_ids)]


async def start(stack: Stack, definition: dict[str, Any]) -> str:
    published = await stack.publish(definition)
    assert published["__typename"] == "WorkflowVersion", published
    started = await stack.start_run(published["workflowId"])
    assert not started.get("errors"), started
    run_id: str = started["data"]["startRun"]["id"]
    return run_id


async def recorded(stack: Stack, run_id: str) -> tuple[list[str], list[str]]:
    """The registry's own rows of a run: the ids of the events it applied, and the node id
    of each node row."""
    engine = create_engine(stack.cp_settings.database_url)
    try:
        async with session_factory(engine)() as session:
            events = await session.scalars(
                select(RunEventRecord.event_id).where(RunEventRecord.run_id == run_id)
            )
            nodes = await session.scalars(select(NodeRun.node_id).where(NodeRun.run_id == run_id))
            return list(events), list(nodes)
    finally:
        await engine.dispose()


def expected_events(run_id: str, keys: list[str]) -> set[str]:
    """The ids of a run that succeeded at the first attempt of every node execution."""
    nodes = {f"{run_id}:{key}:node.{kind}:1" for key in keys for kind in ("started", "succeeded")}
    return nodes | {f"{run_id}:-:run.{kind}:1" for kind in ("started", "succeeded")}


def requests_made(peer: HttpPeer, path: str, count: int) -> Callable[[], Awaitable[bool]]:
    async def made() -> bool:
        return peer.hits[path] >= count

    return made


async def nothing_set_aside(stack: Stack) -> bool:
    """Nothing of the pool went to its dead-letter stream: no descriptor refused, no event
    message set aside."""
    try:
        info = await stack.nats.jetstream().stream_info(dead_stream(stack.pool))
    except NotFoundError:
        return True
    return info.state.messages == 0


async def test_a_node_cut_off_by_a_worker_crash_runs_again_and_its_effect_applies_once(
    sqlite_url: str,
    temporal_server: ServerProcess,
    nats_server: ServerProcess,
    bus_authority: BusAuthority,
    tmp_path: Path,
    http_peer: HttpPeer,
) -> None:
    # The first request is never answered while its client lives, so the crash cuts that
    # attempt off; Temporal, which hears nothing from a dead worker, retries it once the
    # node's short timeout has passed.
    charge = http(
        "charge",
        http_peer.url("/effect?hold=120&seconds=0.2"),
        timeout="3s",
        retry={"max_attempts": 5, "initial_interval": "200ms"},
    )
    charge["config"]["method"] = "POST"
    async with stack_of_processes(
        sqlite_url, temporal_server, nats_server, bus_authority, tmp_path
    ) as stack:
        run_id = await start(stack, flow("charge-once", [charge], []))

        await assert_eventually(requests_made(http_peer, "/effect", 1))
        stack.kill_data_plane()
        await stack.start_data_plane()
        run = await stack.wait_for_run(run_id, within=90)

    assert run["status"] == "SUCCEEDED", run
    keys = http_peer.effect_keys
    assert len(keys) >= 2
    assert set(keys) == {f"{run_id}:charge"}
    [node] = run["nodes"]
    assert node["status"] == "SUCCEEDED"
    assert node["attempts"] >= 2
    assert node["output"]["body"]["key"] == keys[0]
    assert node["output"]["body"]["request"] >= 2


async def test_a_descriptor_held_by_a_crashed_agent_is_redelivered_and_starts_one_run(
    sqlite_url: str,
    nats_server: ServerProcess,
    bus_authority: BusAuthority,
    tmp_path: Path,
) -> None:
    # Temporal is away while the agent pulls the descriptor: the agent holds it, retrying
    # the start, when it is killed.
    temporal = OwnServer.temporal(tmp_path / "temporal")
    try:
        async with stack_of_processes(
            sqlite_url, temporal.server, nats_server, bus_authority, tmp_path
        ) as stack:
            definition = flow(
                "started-once",
                [
                    {"id": "greet", "type": "core.transform", "config": {"value": {"hi": 1}}},
                    {"id": "note", "type": "core.log", "config": {"message": "once"}},
                ],
                chain("greet", "note"),
            )
            published = await stack.publish(definition)
            temporal.stop()
            started = await stack.start_run(published["workflowId"])
            run_id = started["data"]["startRun"]["id"]
            js = stack.nats.jetstream()

            async def held_by_the_agent() -> bool:
                info = await js.consumer_info(RUNS_STREAM, agent_consumer(stack.pool))
                return bool(info.num_pending == 0 and info.num_ack_pending == 1)

            await assert_eventually(held_by_the_agent)
            stack.kill_data_plane()
            temporal.start()
            await stack.start_data_plane()
            # Redelivered once the consumer's ack wait (60 s) has passed since the pull.
            run = await stack.wait_for_run(run_id, within=150)
            executions = [
                execution
                async for execution in stack.temporal.list_workflows(f'WorkflowId = "{run_id}"')
            ]
            events, node_rows = await recorded(stack, run_id)
    finally:
        temporal.stop()

    assert run["status"] == "SUCCEEDED", run
    assert [execution.status for execution in executions] == [WorkflowExecutionStatus.COMPLETED]
    assert sorted(node_rows) == ["greet", "note"]
    assert all(n["status"] == "SUCCEEDED" and n["attempts"] == 1 for n in run["nodes"])
    assert set(events) == expected_events(run_id, ["greet", "note"])


async def test_no_event_is_lost_when_the_bus_is_killed_and_restarted_mid_run(
    sqlite_url: str,
    temporal_server: ServerProcess,
    bus_authority: BusAuthority,
    tmp_path: Path,
    http_peer: HttpPeer,
) -> None:
    bus = OwnServer.nats(tmp_path / "nats", bus_authority)
    try:
        async with stack_of_processes(
            sqlite_url, temporal_server, bus.server, bus_authority, tmp_path
        ) as stack:
            definition = flow(
                "through-a-bus-crash",
                [
                    http("first", http_peer.url("/slow?seconds=1")),
                    {"id": "middle", "type": "core.log", "config": {"message": "between"}},
                    {"id": "side", "type": "core.transform", "config": {"value": {"s": 1}}},
                    http("last", http_peer.url("/slow?seconds=1")),
                ],
                [*chain("first", "middle", "last"), {"from": "first", "to": "side"}],
            )
            run_id = await start(stack, definition)

            await assert_eventually(requests_made(http_peer, "/slow", 1))
            bus.kill()
            # The run goes on without the bus: its events wait in the outbox.
            await assert_eventually(requests_made(http_peer, "/slow", 2))
            bus.start()
            run = await stack.wait_for_run(run_id, within=90)
            events, node_rows = await recorded(stack, run_id)
            assert await nothing_set_aside(stack)

    finally:
        bus.stop()

    assert run["status"] == "SUCCEEDED", run
    nodes = {n["nodeId"]: n for n in run["nodes"]}
    assert sorted(nodes) == sorted(node_rows) == ["first", "last", "middle", "side"]
    for node in nodes.values():
        assert node["status"] == "SUCCEEDED", node
        assert node["attempts"] == 1
        assert node["output"] is not None
    assert nodes["first"]["output"]["body"] == {"slept": 1.0}
    assert nodes["side"]["output"] == {"s": 1}
    assert run["output"] == {"last": nodes["last"]["output"], "side": {"s": 1}}
    assert set(events) == expected_events(run_id, ["first", "middle", "side", "last"])
    assert http_peer.hits["/slow"] == 2


async def test_ingest_resumes_after_a_control_plane_crash_and_records_every_node_once(
    sqlite_url: str,
    temporal_server: ServerProcess,
    nats_server: ServerProcess,
    bus_authority: BusAuthority,
    tmp_path: Path,
    http_peer: HttpPeer,
) -> None:
    steps = [f"step{i}" for i in range(4)]
    body = [
        {
            "id": "inc",
            "type": "core.log",
            "inputs": {"n": "${ .item }"},
            "config": {"message": "${ .item }"},
        },
        {"id": "echo", "type": "core.transform", "config": {"value": {"n": "${ .index }"}}},
    ]
    each = {
        "id": "each",
        "type": "core.map",
        "config": {"items": "${ [range(5)] }"},
        "body": {"nodes": body, "edges": chain("inc", "echo")},
    }
    definition = flow(
        "through-a-control-plane-crash",
        [*(http(step, http_peer.url("/slow?seconds=0.5")) for step in steps), each],
        chain(*steps, "each"),
    )
    async with stack_of_processes(
        sqlite_url,
        temporal_server,
        nats_server,
        bus_authority,
        tmp_path,
        control_plane_process=True,
    ) as stack:
        run_id = await start(stack, definition)
        js = stack.nats.jetstream()
        before = await js.consumer_info(events_stream(stack.pool), INGEST_CONSUMER)

        async def first_step_recorded() -> bool:
            nodes = {n["nodeId"]: n["status"] for n in (await stack.run(run_id))["nodes"]}
            return nodes.get("step0") == "SUCCEEDED"

        await assert_eventually(first_step_recorded)
        stack.kill_control_plane()

        # Events go on arriving on the stream, with nobody to ingest them.
        await assert_eventually(requests_made(http_peer, "/slow", 3))
        await stack.start_control_plane()
        run = await stack.wait_for_run(run_id, within=90)

        async def all_acknowledged() -> bool:
            info = await js.consumer_info(events_stream(stack.pool), INGEST_CONSUMER)
            return bool(info.num_pending == 0 and info.num_ack_pending == 0)

        # A batch the killed control plane had pulled comes back after the ingest
        # consumer's ack wait (30 s).
        await assert_eventually(all_acknowledged, within=90)
        after = await js.consumer_info(events_stream(stack.pool), INGEST_CONSUMER)
        stream = await js.stream_info(events_stream(stack.pool))
        events, node_rows = await recorded(stack, run_id)
        assert await nothing_set_aside(stack)

    assert run["status"] == "SUCCEEDED", run
    # The same durable consumer, read on from where it was, to the end of the stream.
    assert after.created == before.created
    assert after.ack_floor.stream_seq == stream.state.last_seq
    # One row per node id (the body's nodes included): no event made a second one. Each
    # execution of a body node shows in the events below, once per iteration.
    top_level = [*steps, "each"]
    assert Counter(n for n in node_rows if n in top_level) == Counter(top_level)
    assert set(node_rows) == {*top_level, "inc", "echo"}
    assert all(n["status"] == "SUCCEEDED" for n in run["nodes"]), run["nodes"]
    keys = [*steps, "each"] + [f"{n}@each#{i}" for i in range(5) for n in ("inc", "echo")]
    assert set(events) == expected_events(run_id, keys)
    assert run["output"]["each"]["results"] == [{"echo": {"n": i}} for i in range(5)]
    assert http_peer.hits["/slow"] == len(steps)


class DevApi:
    """The GraphQL API of a `flowforge dev` stack, as its admin."""

    def __init__(self, http: httpx.AsyncClient, dev: DevProcess) -> None:
        self._http, self._dev = http, dev

    async def data(self, query: str, **variables: Any) -> Any:
        response = await self._http.post(
            self._dev.graphql_url,
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self._dev.admin_token}"},
        )
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]

    async def start(self, definition: dict[str, Any]) -> str:
        project = (await self.data("{ projects { id } }"))["projects"][0]["id"]
        published = await self.data(
            "mutation($p: ID!, $d: JSON!) { publishWorkflow(projectId: $p, definition: $d) "
            "{ ... on WorkflowVersion { workflowId } } }",
            p=project,
            d=definition,
        )
        started = await self.data(
            "mutation($w: ID!) { startRun(workflowId: $w) { id } }",
            w=published["publishWorkflow"]["workflowId"],
        )
        run_id: str = started["startRun"]["id"]
        return run_id

    async def run(self, run_id: str) -> dict[str, Any]:
        data = await self.data(
            "query($id: ID!) { run(id: $id) { id status output error "
            "nodes { nodeId status attempts } } }",
            id=run_id,
        )
        run: dict[str, Any] = data["run"]
        return run


async def test_a_map_in_flight_survives_a_full_stop_and_start_of_flowforge_dev(
    flowforge_dev: DevProcess,
) -> None:
    items = 1000
    each = {
        "id": "each",
        "type": "core.map",
        "config": {"items": f"${{ [range({items})] }}", "concurrency": 50},
        "body": {
            "nodes": [
                {
                    "id": "inc",
                    "type": "core.log",
                    "inputs": {"n": "${ .item + 1 }"},
                    "config": {"message": "${ .index }"},
                }
            ],
            "edges": [],
        },
    }
    dev = flowforge_dev
    await asyncio.to_thread(dev.start)
    async with httpx.AsyncClient(timeout=30) as http:
        api = DevApi(http, dev)
        run_id = await api.start(flow("a-thousand-items", [each], []))
        temporal = await Client.connect(dev.temporal_address)

        async def running_batch() -> int | None:
            """The batch running now, if it is past the first two."""
            for number in range(items // 100):
                handle = temporal.get_workflow_handle(f"{run_id}:each:{number}")
                try:
                    status = (await handle.describe()).status
                except RPCError:  # not started yet
                    return None
                if status == WorkflowExecutionStatus.RUNNING:
                    return number if 2 <= number < items // 100 - 1 else None
            return None

        # Batches of 100 items run one after another here (concurrency 50): the third or a
        # later one running means at least 200 items are done and at least 100 are not.
        await assert_eventually(running_batch, within=90)
        assert await asyncio.to_thread(dev.stop) == 0
        assert not dev.left_running

        await asyncio.to_thread(dev.start)

        async def finished() -> dict[str, Any] | None:
            run = await api.run(run_id)
            return run if run["status"] in TERMINAL_RUN_STATUSES else None

        run = await assert_eventually(finished, within=120)
        temporal = await Client.connect(dev.temporal_address)
        batches = [
            (await temporal.get_workflow_handle(f"{run_id}:each:{n}").describe()).status
            for n in range(items // 100)
        ]

    assert run["status"] == "SUCCEEDED", run
    assert run["output"]["each"]["failures"] == []
    assert run["output"]["each"]["results"] == [{"inc": {"n": i + 1}} for i in range(items)]
    assert batches == [WorkflowExecutionStatus.COMPLETED] * (items // 100)
    each_row = next(n for n in run["nodes"] if n["nodeId"] == "each")
    assert each_row == {"nodeId": "each", "status": "SUCCEEDED", "attempts": 1}


async def test_a_run_waiting_for_an_approval_survives_a_full_stop_and_start_and_completes(
    flowforge_dev: DevProcess,
) -> None:
    ask = {
        "id": "ask",
        "type": "core.approval",
        "config": {"assignees": ["role:operator"], "title": "Go on?"},
    }
    done = {"id": "done", "type": "core.transform", "config": {"value": {"done": True}}}
    edges = [{"from": "ask", "port": "approved", "to": "done"}]
    task_query = (
        "query($id: ID!) { task(id: $id) { status assignees decisions { decidedBy delivery } } }"
    )
    complete = (
        "mutation($t: ID!, $d: JSON!) { completeTask(taskId: $t, decision: $d) { __typename "
        "... on ValidationFailed { errors { message } } } }"
    )
    dev = flowforge_dev
    await asyncio.to_thread(dev.start)
    async with httpx.AsyncClient(timeout=30) as http:
        api = DevApi(http, dev)
        run_id = await api.start(flow("approve-across-restart", [ask, done], edges))
        task_id = f"{run_id}:ask"

        async def opened() -> bool:
            project = (await api.data("{ projects { id } }"))["projects"][0]["id"]
            listed = await api.data(
                "query($p: ID!) { tasks(projectId: $p, status: OPEN) { nodes { id } } }", p=project
            )
            return task_id in [t["id"] for t in listed["tasks"]["nodes"]]

        await assert_eventually(opened, within=60)
        assert await asyncio.to_thread(dev.stop) == 0
        assert not dev.left_running
        await asyncio.to_thread(dev.start)

        first = await api.data(complete, t=task_id, d={"approved": True})
        again = await api.data(complete, t=task_id, d={"approved": True})

        async def finished() -> dict[str, Any] | None:
            run = await api.run(run_id)
            return run if run["status"] in TERMINAL_RUN_STATUSES else None

        run = await assert_eventually(finished, within=120)

        async def delivered() -> dict[str, Any] | None:
            # The decision's outcome is reported apart from the run's events, and may be
            # ingested after them.
            task: dict[str, Any] = (await api.data(task_query, id=task_id))["task"]
            pending = any(d["delivery"] == "PENDING" for d in task["decisions"])
            return None if pending else task

        task = await assert_eventually(delivered, within=30)
        output = await api.data("query($id: ID!) { run(id: $id) { output } }", id=run_id)

    assert first["completeTask"]["__typename"] == "Task"
    assert again["completeTask"]["__typename"] == "ValidationFailed"
    assert run["status"] == "SUCCEEDED", run
    assert {n["nodeId"]: n["status"] for n in run["nodes"]} == {
        "ask": "SUCCEEDED",
        "done": "SUCCEEDED",
    }
    assert output["run"]["output"] == {"done": {"done": True}}
    [decision] = task["decisions"]
    assert (task["status"], decision["delivery"]) == ("APPROVED", "APPLIED")
