"""A registry written by the previous release (schema 0002) is upgraded when the control
plane starts, and everything in it stays readable and goes on."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import MetaData, insert
from sqlalchemy.engine import Connection

from control_plane.db.engine import alembic_config, create_engine
from control_plane.tokens.service import hash_token
from data_plane.protocol import RunEvent
from flowforge.nats_accounts import BusAuthority
from flowforge.servers import ServerProcess

from fixtures.api import serving_api

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
OLD_TOKEN = "ff_token-issued-by-the-previous-release"
DEFINITION = {
    "apiVersion": "flowforge/v1",
    "name": "greeter",
    "nodes": [{"id": "greet", "type": "core.transform", "config": {"value": {"hi": 1}}}],
}


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def fill_as_the_previous_release(connection: Connection, pool: str) -> None:
    """Rows as release 0002 wrote them, through the tables as they are in that schema."""
    schema = MetaData()
    schema.reflect(connection)
    tables = schema.tables
    rows: list[tuple[str, list[dict[str, Any]]]] = [
        ("workspaces", [{"id": "ws", "name": "default", "created_at": at(0)}]),
        (
            "projects",
            [{"id": "pr", "workspace_id": "ws", "name": "default", "created_at": at(0)}],
        ),
        ("workflows", [{"id": "wf", "project_id": "pr", "name": "greeter", "created_at": at(1)}]),
        (
            "workflow_versions",
            [
                {
                    "id": "v1",
                    "workflow_id": "wf",
                    "version": 1,
                    "sha256": "a" * 64,
                    "definition": DEFINITION,
                    "created_at": at(1),
                }
            ],
        ),
        (
            "runs",
            [
                _run("done", "SUCCEEDED", pool, [pool], output={"greet": {"hi": 1}}),
                # Started before runs remembered their pools (pools is null).
                _run("in-flight", "RUNNING", pool, None),
            ],
        ),
        (
            "node_runs",
            [
                _node("done", "SUCCEEDED", output={"hi": 1}, finished_at=at(4)),
                _node("in-flight", "RUNNING"),
            ],
        ),
        (
            "run_events",
            [
                _event("done", "node.started", "greet"),
                _event("done", "node.succeeded", "greet"),
                _event("done", "run.succeeded", None),
                _event("in-flight", "node.started", "greet"),
            ],
        ),
        (
            "api_tokens",
            [
                {
                    "id": "tk",
                    "name": "ci",
                    "token_sha256": hash_token(OLD_TOKEN),
                    "created_at": at(0),
                }
            ],
        ),
    ]
    for table, values in rows:
        connection.execute(insert(tables[table]), values)


def _run(
    run_id: str, status: str, pool: str, pools: list[str] | None, **fields: Any
) -> dict[str, Any]:
    finished = status == "SUCCEEDED"
    return {
        "id": run_id,
        "project_id": "pr",
        "workflow_id": "wf",
        "version_id": "v1",
        "version": 1,
        "status": status,
        "pool": pool,
        "pools": pools,
        "input": {"name": "Ada"},
        "output": fields.get("output"),
        "error": None,
        "idempotency_key": None,
        "created_at": at(2),
        "dispatched_at": at(2),
        "started_at": at(3),
        "finished_at": at(5) if finished else None,
    }


def _node(run_id: str, status: str, **fields: Any) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "node_id": "greet",
        "status": status,
        "attempts": 1,
        "input": {"name": "Ada"},
        "output": fields.get("output"),
        "error": None,
        "started_at": at(3),
        "finished_at": fields.get("finished_at"),
    }


def _event(run_id: str, kind: str, node_id: str | None) -> dict[str, Any]:
    return {
        "event_id": f"{run_id}:{node_id or '-'}:{kind}:1",
        "run_id": run_id,
        "kind": kind,
        "node_id": node_id,
        "at": at(3),
        "received_at": at(3),
    }


RUN = """query($id: ID!) { run(id: $id) { status output
  nodes { nodeId status attempts input output finishedAt counts { status count }
    iterations { nodes { iteration status } } } } }"""


async def test_a_registry_of_the_previous_release_is_upgraded_and_goes_on(
    database_url: str, nats_server: ServerProcess, bus_authority: BusAuthority, tmp_path: Path
) -> None:
    pool = f"t{uuid.uuid4().hex[:10]}"
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), "0002")
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(fill_as_the_previous_release, pool)
    finally:
        await engine.dispose()

    async with serving_api(database_url, nats_server, bus_authority, tmp_path, pool) as api:
        workflows = await api.data(
            '{ workflows(projectId: "pr") { name versions { version definition } } '
            'runs(projectId: "pr") { nodes { id status } } }',
            token=OLD_TOKEN,
        )
        done = (await api.data(RUN, token=OLD_TOKEN, id="done"))["run"]
        redelivered = await api.apply(
            [RunEvent.create("in-flight", "node.started", at(3), "greet", attempt=1)]
        )
        went_on = await api.apply(
            [
                RunEvent.create("in-flight", "node.succeeded", at(6), "greet", output={"hi": 2}),
                RunEvent.create("in-flight", "run.succeeded", at(7), output={"greet": {"hi": 2}}),
            ]
        )
        finished = (await api.data(RUN, id="in-flight"))["run"]

    assert workflows["workflows"] == [
        {"name": "greeter", "versions": [{"version": 1, "definition": DEFINITION}]}
    ]
    assert workflows["runs"]["nodes"] == [
        {"id": "in-flight", "status": "RUNNING"},
        {"id": "done", "status": "SUCCEEDED"},
    ]
    assert done["status"] == "SUCCEEDED"
    assert done["output"] == {"greet": {"hi": 1}}
    assert done["nodes"] == [
        {
            "nodeId": "greet",
            "status": "SUCCEEDED",
            "attempts": 1,
            "input": {"name": "Ada"},
            "output": {"hi": 1},
            "finishedAt": at(4).isoformat(),
            "counts": [{"status": "SUCCEEDED", "count": 1}],
            "iterations": {"nodes": [{"iteration": "", "status": "SUCCEEDED"}]},
        }
    ]
    assert redelivered.new == 0
    assert went_on.new == 2
    assert finished["status"] == "SUCCEEDED"
    [greet] = finished["nodes"]
    assert (greet["status"], greet["output"]) == ("SUCCEEDED", {"hi": 2})
    assert greet["counts"] == [{"status": "SUCCEEDED", "count": 1}]
