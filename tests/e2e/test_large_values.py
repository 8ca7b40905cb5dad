"""Values over the inline limit travel by reference through the artefact store."""

from data_plane.protocol import as_artefact_ref

from fixtures.http_peer import HttpPeer
from fixtures.stack import Stack


async def test_a_10_mb_response_flows_by_reference_into_a_node_that_picks_one_field(
    sqlite_stack: Stack, http_peer: HttpPeer
) -> None:
    definition = {
        "apiVersion": "flowforge/v1",
        "name": "big-answer",
        "nodes": [
            {
                "id": "fetch",
                "type": "core.http",
                "config": {"url": http_peer.url("/bytes?n=10000000")},
            },
            {
                "id": "pick",
                "type": "core.transform",
                "config": {"value": {"length": "${ .nodes.fetch.body.data | length }"}},
            },
        ],
        "edges": [{"from": "fetch", "to": "pick"}],
    }

    run = await sqlite_stack.run_to_end(definition)

    assert run["status"] == "SUCCEEDED", run["error"]
    assert run["output"] == {"pick": {"length": 10_000_000}}
    fetched = next(n for n in run["nodes"] if n["nodeId"] == "fetch")
    ref = as_artefact_ref(fetched["output"])
    assert ref is not None and ref.size > 10_000_000
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
