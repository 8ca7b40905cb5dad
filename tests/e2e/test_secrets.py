"""Secrets reach the node that maps them, for its attempt, and nowhere else: not Temporal's
history, the run's events, the registry database or the logs, even from a node that tries
to leak its secret through its output, its logs and an exception."""

import asyncio
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.api.history.v1 import History

from control_plane.db.engine import create_engine
from control_plane.db.models import Base
from data_plane.protocol import ARTEFACT_BUCKET, as_artefact_ref, events_subject
from tests.fixtures.bus import messages_on

from fixtures.http_peer import HttpPeer
from fixtures.replay import record, replay
from fixtures.stack import Stack

SET_SECRET = """mutation($p: ID!, $n: String!, $v: String!) {
  setSecret(projectId: $p, name: $n, value: $v) { __typename ... on Secret { name version } }
}"""


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    """Every record of this process, as a log file would have it, from before the stack
    starts (the data plane redacts through the handlers present when it starts)."""
    path = tmp_path / "process.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()


async def set_secret(stack: Stack, name: str, value: str) -> None:
    data = await stack.data(SET_SECRET, p=await stack.project_id(), n=name, v=value)
    assert data["setSecret"] == {"__typename": "Secret", "name": name, "version": 1}


def leaking_flow(name: str, peer: HttpPeer, fail: bool = False) -> dict[str, Any]:
    token = {"token": "api_token"}
    nodes: list[dict[str, Any]] = [
        {"id": "leak", "type": "test.leak_secret", "secrets": token, "config": {"fail": fail}},
        {"id": "local", "type": "test.leak_secret_local", "secrets": token},
        # After `local`: the two run as one chain, one local activity.
        {"id": "chained", "type": "test.leak_secret_local", "secrets": token},
        # An output over the inline limit: kept as an artefact, by reference.
        {"id": "big", "type": "test.leak_secret", "secrets": token, "config": {"pad_kb": 300}},
        {
            "id": "call",
            "type": "core.http",
            "secrets": ["api_token"],
            "config": {
                "url": peer.url("/echo"),
                "secret_headers": {"Authorization": "Bearer {api_token}"},
            },
        },
    ]
    edges = [{"from": "local", "to": "chained"}]
    return {"apiVersion": "flowforge/v1", "name": name, "nodes": nodes, "edges": edges}


async def every_row(database_url: str) -> str:
    """Every row of every table of the registry, as text."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = [
                str((await connection.execute(select(table))).all())
                for table in Base.metadata.sorted_tables
            ]
    finally:
        await engine.dispose()
    return "\n".join(rows)


async def history_bytes(stack: Stack, run_id: str) -> bytes:
    history = await stack.temporal.get_workflow_handle(run_id).fetch_history()
    return bytes(History(events=history.events).SerializeToString())


async def test_a_secret_reaches_its_nodes_and_leaks_nowhere(
    secrets_stack: Stack, http_peer: HttpPeer, log_file: Path, database_url: str
) -> None:
    stack = secrets_stack
    value = f"ff-{uuid.uuid4().hex}"
    await set_secret(stack, "api_token", value)

    run = await stack.run_to_end(leaking_flow("leaks", http_peer))
    assert run["status"] == "SUCCEEDED", run
    nodes = {node["nodeId"]: node for node in run["nodes"]}
    for node_id in ("leak", "local", "chained"):
        # The node had the value (its length), and its echoes of it were redacted.
        assert nodes[node_id]["output"] == {
            "echoed": "token=[redacted]",
            "nested": {"[redacted]": ["[redacted]"]},
            "length": len(value),
            "padding": "",
        }
    big = as_artefact_ref(nodes["big"]["output"])
    assert big is not None, nodes["big"]
    assert nodes["call"]["output"]["body"]["headers"]["authorization"] == "Bearer [redacted]"

    failed = await stack.run_to_end(leaking_flow("leaks-failing", http_peer, fail=True))
    assert failed["status"] == "FAILED", failed
    error = {node["nodeId"]: node for node in failed["nodes"]}["leak"]["error"]
    assert "the server refused token [redacted]" in error

    needle = value.encode()
    for run_id in (run["id"], failed["id"]):
        assert needle not in await history_bytes(stack, run_id)
        assert value not in str(await stack.run(run_id))
    # A run with secret grants replays, and is kept for the replay tests (it holds none).
    history = await stack.temporal.get_workflow_handle(run["id"]).fetch_history()
    await replay(history)
    record(history, "secret-grants")
    events = await messages_on(stack.nats, events_subject(stack.pool), limit=10_000)
    bucket = await stack.nats.jetstream().object_store(ARTEFACT_BUCKET)
    stored = (await bucket.get(big.sha256)).data or b""
    assert b'"padding":"[redacted]pppp' in stored and needle not in stored
    assert events, "the runs reported events"
    assert not [msg.subject for msg in events if needle in msg.data]
    assert value not in await every_row(database_url)
    if database_url.startswith("sqlite"):
        database = Path(database_url.split("///", 1)[1])
        for path in database.parent.glob(database.name + "*"):
            assert needle not in await asyncio.to_thread(path.read_bytes), path
    logged = await asyncio.to_thread(log_file.read_text)
    assert "the token is [redacted]" in logged
    assert "Bearer [redacted]" in logged
    assert value not in logged
