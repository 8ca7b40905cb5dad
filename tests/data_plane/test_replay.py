"""The interpreter is deterministic: recorded histories replay without a mismatch.

`histories/` holds histories recorded by earlier versions of the interpreter; a change that
breaks them would break runs in flight when a worker is upgraded. `legacy-*.json` were
recorded before execution plans, and replay in `workflows/legacy.py`; `before-wakeup-*.json`
were recorded before the `drive-wakeup` patch (`workflows/interpreter.py`). To record them again
(only when such a break is intended and handled): FLOWFORGE_RECORD_HISTORIES=1 pytest
tests/data_plane/test_replay.py; to record a new one only, select it with `-k`, e.g.
`-k "fresh and bounded"`. Stack traces are left out of what is written (they name the
machine's paths and play no part in a replay).
"""

from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory

from fixtures.http_peer import HttpPeer
from fixtures.replay import record, replay
from fixtures.stack import Stack

HISTORIES = Path(__file__).parent / "histories"


def every_mechanism(http_peer: HttpPeer) -> dict:
    """Pure nodes, an if, a chain of lightweight nodes, an activity, skips and a join."""
    return {
        "apiVersion": "flowforge/v1",
        "name": "every-mechanism",
        "nodes": [
            {"id": "start", "type": "core.transform", "config": {"value": {"count": 1}}},
            {"id": "big", "type": "core.if", "config": {"condition": "${ .input.n > 2 }"}},
            {"id": "c1", "type": "test.count", "inputs": {"count": "${ .nodes.start.count }"}},
            {"id": "c2", "type": "test.count"},
            {"id": "fetch", "type": "core.http", "config": {"url": http_peer.url("/echo")}},
            {"id": "small", "type": "core.log", "config": {"message": "small"}},
            {"id": "join", "type": "core.transform", "config": {"value": {"done": True}}},
        ],
        "edges": [
            {"from": "start", "to": "big"},
            {"from": "big", "port": "true", "to": "c1"},
            {"from": "big", "port": "false", "to": "small"},
            {"from": "c1", "to": "c2"},
            {"from": "start", "to": "fetch"},
            {"from": "c2", "to": "join"},
            {"from": "fetch", "to": "join"},
        ],
    }


def retries_and_failure(http_peer: HttpPeer) -> dict:
    """A chain step that fails once and is retried, then an activity that keeps failing."""
    return {
        "apiVersion": "flowforge/v1",
        "name": "retries-and-failure",
        "nodes": [
            {"id": "c1", "type": "test.count"},
            {
                "id": "c2",
                "type": "test.count",
                "config": {"fail_attempts": 1},
                "retry": {"initial_interval": "50ms"},
            },
            {
                "id": "down",
                "type": "core.http",
                "config": {"url": http_peer.url("/status/503")},
                "inputs": {},
                "retry": {"max_attempts": 2, "initial_interval": "50ms"},
            },
        ],
        "edges": [{"from": "c1", "to": "c2"}, {"from": "c2", "to": "down"}],
    }


def bounded_expressions(http_peer: HttpPeer) -> dict:
    """Hardening #7: inline expressions evaluated in the workflow, others in the evaluator
    (recorded local activities), one of them over its time limit."""
    return {
        "apiVersion": "flowforge/v1",
        "name": "bounded-expressions",
        "nodes": [
            {"id": "start", "type": "core.transform", "config": {"value": {"n": "${ .input.n }"}}},
            {"id": "big", "type": "core.if", "config": {"condition": "${ .nodes.start.n > 2 }"}},
            {
                "id": "double",
                "type": "core.transform",
                "config": {"value": {"n": "${ .nodes.start.n * 2 }"}},
            },
            {
                "id": "fetch",
                "type": "core.http",
                "config": {"url": http_peer.url("/echo")},
                "inputs": {"body": {"n": "${ .node.input.n // .input.n }"}},
            },
            {
                "id": "endless",
                "type": "core.transform",
                "config": {"value": "${ last(range(1e15)) }"},
            },
        ],
        "edges": [
            {"from": "start", "to": "big"},
            {"from": "big", "port": "true", "to": "double"},
            {"from": "double", "to": "fetch"},
            {"from": "fetch", "to": "endless"},
        ],
    }


def control_flow(http_peer: HttpPeer) -> dict:
    """A switch, an error edge, a merge joining the first to arrive, a map (child workflows)
    and a loop (a child workflow, with a wait between iterations)."""
    return {
        "apiVersion": "flowforge/v1",
        "name": "control-flow",
        "nodes": [
            {
                "id": "route",
                "type": "core.switch",
                "config": {"cases": [{"port": "many", "condition": "${ .input.n > 2 }"}]},
            },
            {
                "id": "down",
                "type": "core.http",
                "config": {"url": http_peer.url("/status/500")},
                "inputs": {},
                "retry": {"max_attempts": 1},
            },
            {"id": "few", "type": "core.transform", "config": {"value": {"few": True}}},
            {"id": "fallback", "type": "core.transform", "config": {"value": {"down": True}}},
            {"id": "either", "type": "core.merge", "config": {"mode": "first"}},
            {
                "id": "each",
                "type": "core.map",
                "config": {"items": "${ [range(.input.n)] }", "concurrency": 2},
                "body": {
                    "nodes": [
                        {"id": "inc", "type": "test.count", "inputs": {"count": "${ .item }"}}
                    ]
                },
            },
            {
                "id": "again",
                "type": "core.loop",
                "config": {"max_iterations": 3, "until": "${ .index >= 1 }", "wait": "10ms"},
                "body": {
                    "nodes": [{"id": "tick", "type": "core.transform", "config": {"value": {}}}]
                },
            },
        ],
        "edges": [
            {"from": "route", "port": "many", "to": "down"},
            {"from": "route", "port": "default", "to": "few"},
            {"from": "down", "port": "error", "to": "fallback"},
            {"from": "fallback", "to": "either"},
            {"from": "few", "to": "either"},
            {"from": "either", "to": "each"},
            {"from": "each", "to": "again"},
        ],
    }


@pytest.mark.parametrize(
    ("make", "status"),
    [
        (every_mechanism, "SUCCEEDED"),
        (retries_and_failure, "FAILED"),
        (bounded_expressions, "FAILED"),
        (control_flow, "SUCCEEDED"),
    ],
)
async def test_a_fresh_run_replays(
    sqlite_stack: Stack, http_peer: HttpPeer, make: Any, status: str
) -> None:
    stack = sqlite_stack
    definition = make(http_peer)
    run = await stack.run_to_end(definition, {"n": 3})
    assert run["status"] == status, run

    history = await stack.temporal.get_workflow_handle(run["id"]).fetch_history()
    await replay(history)
    record(history, definition["name"])
    # The map's batches and the loop run as child workflows: theirs replay too.
    async for child in stack.temporal.list_workflows(f'WorkflowId STARTS_WITH "{run["id"]}:"'):
        child_history = await stack.temporal.get_workflow_handle(child.id).fetch_history()
        await replay(child_history)
        record(child_history, f"{definition['name']}-{child.workflow_type}")


RECORDED = {path.stem: path.read_text() for path in sorted(HISTORIES.glob("*.json"))}


@pytest.mark.parametrize("name", RECORDED)
async def test_recorded_history_replays(name: str) -> None:
    await replay(WorkflowHistory.from_json(name, RECORDED[name]))
