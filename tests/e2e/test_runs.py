"""Publish → run → result, through GraphQL, NATS and Temporal, on both databases; a node
output over the inline limit fails once (Hardening #5)."""

from typing import Any

from data_plane.protocol import as_artefact_ref

from fixtures.http_peer import HttpPeer
from fixtures.stack import Stack


def definition(name: str, nodes: list[dict[str, Any]], edges: list[dict[str, Any]], **extra: Any):
    return {"apiVersion": "flowforge/v1", "name": name, "nodes": nodes, "edges": edges, **extra}


def nodes_by_id(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {node["nodeId"]: node for node in run["nodes"]}


def failing_call(http_peer: HttpPeer, **fields: Any) -> dict[str, Any]:
    """A node whose every attempt gets a 503, three attempts 100 ms apart."""
    return {
        "id": "call",
        "type": "core.http",
        "config": {"url": http_peer.url("/status/503")},
        "retry": {"max_attempts": 3, "initial_interval": "100ms", "backoff": 1.0},
        **fields,
    }


async def test_published_workflow_runs_to_success_with_node_outputs(
    stack: Stack, http_peer: HttpPeer
) -> None:
    flow = definition(
        "fetch-and-shape",
        nodes=[
            {
                "id": "fetch",
                "type": "core.http",
                "config": {"method": "POST", "url": http_peer.url("/echo")},
                "inputs": {"body": {"city": "${ .input.city }"}},
            },
            {
                "id": "shape",
                "type": "core.transform",
                "config": {"value": {"city": "${ .nodes.fetch.body.body.city }", "ok": True}},
            },
        ],
        edges=[{"from": "fetch", "to": "shape"}],
        input={"type": "object", "properties": {"city": {"type": "string"}}},
    )
    run = await stack.run_to_end(flow, {"city": "Lyon"})

    assert run["status"] == "SUCCEEDED", run
    assert run["output"] == {"shape": {"city": "Lyon", "ok": True}}
    nodes = nodes_by_id(run)
    assert nodes["fetch"]["status"] == "SUCCEEDED"
    assert nodes["fetch"]["attempts"] == 1
    assert nodes["fetch"]["input"] == {"body": {"city": "Lyon"}}
    assert nodes["fetch"]["output"]["status"] == 200
    assert nodes["shape"]["output"] == {"city": "Lyon", "ok": True}
    assert run["startedAt"] is not None
    assert run["finishedAt"] is not None
    assert http_peer.hits["/echo"] == 1


IF_FLOW = definition(
    "branching",
    nodes=[
        {"id": "check", "type": "core.if", "config": {"condition": "${ .input.temp > 25 }"}},
        {"id": "cool", "type": "core.transform", "config": {"value": {"action": "cool"}}},
        {"id": "idle", "type": "core.transform", "config": {"value": {"action": "idle"}}},
    ],
    edges=[
        {"from": "check", "port": "true", "to": "cool"},
        {"from": "check", "port": "false", "to": "idle"},
    ],
)


async def test_if_branch_taken_runs_only_the_true_side(stack: Stack) -> None:
    run = await stack.run_to_end(IF_FLOW, {"temp": 30})

    assert run["status"] == "SUCCEEDED", run
    nodes = nodes_by_id(run)
    assert nodes["cool"]["status"] == "SUCCEEDED"
    assert nodes["idle"]["status"] == "SKIPPED"
    assert run["output"] == {"cool": {"action": "cool"}}


async def test_if_branch_not_taken_runs_only_the_false_side(stack: Stack) -> None:
    run = await stack.run_to_end(IF_FLOW, {"temp": 10})

    assert run["status"] == "SUCCEEDED", run
    nodes = nodes_by_id(run)
    assert nodes["cool"]["status"] == "SKIPPED"
    assert nodes["idle"]["status"] == "SUCCEEDED"
    assert run["output"] == {"idle": {"action": "idle"}}


async def test_parallel_branches_are_joined(stack: Stack, http_peer: HttpPeer) -> None:
    flow = definition(
        "fan-out-fan-in",
        nodes=[
            {"id": "start", "type": "core.transform", "config": {"value": {"n": "${ .input.n }"}}},
            {
                "id": "left",
                "type": "core.http",
                "config": {"url": http_peer.url("/slow?seconds=0.3")},
                "inputs": {},
            },
            {
                "id": "right",
                "type": "core.http",
                "config": {"url": http_peer.url("/slow?seconds=0.3")},
                "inputs": {},
            },
            {
                "id": "join",
                "type": "core.transform",
                "config": {
                    "value": {
                        "both": "${ [.node.input.left.body.slept, .node.input.right.body.slept] }"
                    }
                },
            },
        ],
        edges=[
            {"from": "start", "to": "left"},
            {"from": "start", "to": "right"},
            {"from": "left", "to": "join"},
            {"from": "right", "to": "join"},
        ],
    )
    run = await stack.run_to_end(flow, {"n": 1})

    assert run["status"] == "SUCCEEDED", run
    assert run["output"] == {"join": {"both": [0.3, 0.3]}}
    nodes = nodes_by_id(run)
    # The branches overlapped: each started before the other finished.
    assert nodes["left"]["startedAt"] < nodes["right"]["finishedAt"]
    assert nodes["right"]["startedAt"] < nodes["left"]["finishedAt"]
    assert http_peer.hits["/slow"] == 2


async def test_failing_node_is_retried_then_fails_the_run(
    stack: Stack, http_peer: HttpPeer
) -> None:
    flow = definition(
        "always-fails",
        nodes=[
            failing_call(http_peer),
            {"id": "after", "type": "core.transform", "config": {"value": {"never": True}}},
        ],
        edges=[{"from": "call", "to": "after"}],
    )
    run = await stack.run_to_end(flow)

    assert run["status"] == "FAILED", run
    assert "503" in run["error"]
    nodes = nodes_by_id(run)
    assert nodes["call"]["status"] == "FAILED"
    assert nodes["call"]["attempts"] == 3
    assert "503" in nodes["call"]["error"]
    assert nodes["after"]["status"] == "SKIPPED"
    assert http_peer.hits["/status/503"] == 3


async def test_node_whose_circuit_breaker_opens_fails_fast_with_an_error_that_says_so(
    sqlite_stack: Stack, http_peer: HttpPeer
) -> None:
    flow = definition(
        "breaker-opens",
        nodes=[failing_call(http_peer, breaker={"failures": 2, "cool_down": "1m"})],
        edges=[],
    )
    run = await sqlite_stack.run_to_end(flow)

    assert run["status"] == "FAILED", run
    call = nodes_by_id(run)["call"]
    assert call["attempts"] == 3
    host = http_peer.base_url.removeprefix("http://")
    assert call["error"].startswith(
        f"circuit open for core.http at {host} after 2 failures in a row"
    ), call["error"]
    assert "until it half-opens at" in call["error"]
    # The third attempt failed at once, without reaching the peer.
    assert http_peer.hits["/status/503"] == 2


async def test_client_error_is_not_retried(stack: Stack, http_peer: HttpPeer) -> None:
    flow = definition(
        "not-found",
        nodes=[
            {"id": "call", "type": "core.http", "config": {"url": http_peer.url("/status/404")}}
        ],
        edges=[],
    )
    run = await stack.run_to_end(flow)

    assert run["status"] == "FAILED", run
    assert nodes_by_id(run)["call"]["attempts"] == 1
    assert http_peer.hits["/status/404"] == 1


async def test_node_past_its_timeout_fails_with_a_timeout_error(
    stack: Stack, http_peer: HttpPeer
) -> None:
    flow = definition(
        "too-slow",
        nodes=[
            {
                "id": "call",
                "type": "core.http",
                "config": {"url": http_peer.url("/slow?seconds=3")},
                "timeout": "500ms",
                "retry": {"max_attempts": 1},
            }
        ],
        edges=[],
    )
    run = await stack.run_to_end(flow)

    assert run["status"] == "FAILED", run
    call = nodes_by_id(run)["call"]
    assert call["status"] == "FAILED"
    assert "timed out" in call["error"].lower() or "timeout" in call["error"].lower()


async def test_a_node_output_over_the_inline_limit_is_fetched_once_and_kept_by_reference(
    sqlite_stack: Stack, http_peer: HttpPeer
) -> None:
    """Hardening #5: a 5 MB response was fetched three times, then failed with
    "nats: maximum payload exceeded"; now it is fetched once and stored in the artefact
    store, and a reference travels in its place."""
    flow = definition(
        "large-output",
        [
            {
                "id": "fetch",
                "type": "core.http",
                "config": {"url": http_peer.url("/bytes?n=5000000")},
                "retry": {"max_attempts": 3, "initial_interval": "100ms", "backoff": 1.0},
            }
        ],
        [],
    )

    run = await sqlite_stack.run_to_end(flow)

    assert run["status"] == "SUCCEEDED", run["error"]
    fetch = nodes_by_id(run)["fetch"]
    assert fetch["attempts"] == 1
    ref = as_artefact_ref(fetch["output"])
    assert ref is not None and ref.size > 5_000_000
    assert http_peer.hits["/bytes"] == 1
