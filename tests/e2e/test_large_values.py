"""Values over the inline limit travel by reference through the artefact store."""

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import obstore
import pytest

from data_plane.protocol import ArtefactRef, as_artefact_ref
from flowforge.inprocess import running_stack
from flowforge.nats_accounts import BusAuthority
from flowforge.servers import ServerProcess

from fixtures.http_peer import HttpPeer
from fixtures.s3 import S3Server
from fixtures.stack import Stack


@pytest.fixture
async def s3_stack(
    sqlite_url: str,
    temporal_server: ServerProcess,
    nats_server: ServerProcess,
    bus_authority: BusAuthority,
    s3_server: S3Server,
    s3_bucket: str,
    tmp_path: Path,
) -> AsyncIterator[Stack]:
    """A stack whose data plane, a child process configured by its environment as in
    production, keeps artefacts under `artefacts/` in a bucket of the session's S3 server."""
    s3 = s3_server.settings(s3_bucket, prefix="artefacts/")
    async with running_stack(
        sqlite_url,
        temporal_server,
        nats_server,
        tmp_path,
        bus_authority,
        data_plane_command=(sys.executable, "-m", "data_plane"),
        data_plane_options={"artefact_store": "s3", "artefact_s3": s3},
    ) as stack:
        yield stack


def big_answer(http_peer: HttpPeer, characters: int) -> dict[str, Any]:
    """A workflow that fetches a JSON body of `characters` characters and picks its length."""
    return {
        "apiVersion": "flowforge/v1",
        "name": "big-answer",
        "nodes": [
            {
                "id": "fetch",
                "type": "core.http",
                "config": {"url": http_peer.url(f"/bytes?n={characters}")},
            },
            {
                "id": "pick",
                "type": "core.transform",
                "config": {"value": {"length": "${ .nodes.fetch.body.data | length }"}},
            },
        ],
        "edges": [{"from": "fetch", "to": "pick"}],
    }


def fetched_reference(run: dict[str, Any], characters: int) -> ArtefactRef:
    """The reference that stood in for the fetched body, after checking the run's output."""
    assert run["status"] == "SUCCEEDED", run["error"]
    assert run["output"] == {"pick": {"length": characters}}
    fetched = next(n for n in run["nodes"] if n["nodeId"] == "fetch")
    ref = as_artefact_ref(fetched["output"])
    assert ref is not None and ref.size > characters
    return ref


async def test_a_10_mb_response_flows_by_reference_into_a_node_that_picks_one_field(
    sqlite_stack: Stack, http_peer: HttpPeer
) -> None:
    run = await sqlite_stack.run_to_end(big_answer(http_peer, 10_000_000))

    fetched_reference(run, 10_000_000)
    # Neither Temporal's history nor the events carried the value itself.
    history = await sqlite_stack.temporal.get_workflow_handle(run["id"]).fetch_history()
    assert len(history.to_json()) < 1_000_000


async def test_a_node_taking_a_referenced_output_as_input_receives_the_value(
    sqlite_stack: Stack, http_peer: HttpPeer
) -> None:
    definition = {
        "apiVersion": "flowforge/v1",
        "name": "big-relay",
        "nodes": [
            {
                "id": "fetch",
                "type": "core.http",
                "config": {"url": http_peer.url("/bytes?n=400000")},
            },
            {"id": "measure", "type": "test.measure"},
        ],
        "edges": [{"from": "fetch", "to": "measure"}],
    }

    run = await sqlite_stack.run_to_end(definition)

    assert run["status"] == "SUCCEEDED", run["error"]
    assert run["output"]["measure"]["characters"] > 400_000


async def test_a_data_plane_on_s3_keeps_a_large_output_in_its_bucket(
    s3_stack: Stack, http_peer: HttpPeer, s3_server: S3Server, s3_bucket: str
) -> None:
    run = await s3_stack.run_to_end(big_answer(http_peer, 3_000_000))

    ref = fetched_reference(run, 3_000_000)
    stored = await obstore.head_async(s3_server.objects(s3_bucket), f"artefacts/{ref.sha256}")
    assert stored["size"] == ref.size
