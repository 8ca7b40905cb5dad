"""`run.nodes`: one summary per node, counts of its executions and pages of them, read
through the API from rows the ingest wrote (no data plane)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from control_plane.runs.executions import derived_status
from data_plane.protocol import EventKind, NodeStatus, RunEvent

from fixtures.api import Api

FLOW = {
    "apiVersion": "flowforge/v1",
    "name": "fan-out",
    "nodes": [
        {"id": "items", "type": "core.transform", "config": {"value": [1, 2, 3]}},
        {"id": "fetch", "type": "core.transform", "config": {"value": {"ok": True}}},
    ],
    "edges": [{"from": "items", "to": "fetch"}],
}
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
NODE_FIELDS = "nodeId status attempts input output error startedAt finishedAt"
RUN = f"""query($id: ID!, $first: Int! = 50, $after: String) {{ run(id: $id) {{
  status error
  nodes {{ {NODE_FIELDS} counts {{ status count }}
    iterations(first: $first, after: $after) {{
      nodes {{ iteration status attempts input output error startedAt finishedAt }}
      pageInfo {{ hasNextPage endCursor }} }} }} }} }}"""


def at(seconds: int) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def event(
    run_id: str, kind: EventKind, seconds: int, node: str | None = None, **fields: Any
) -> RunEvent:
    return RunEvent.create(run_id, kind, T0 + timedelta(seconds=seconds), node, **fields)


async def read_run(api: Api, run_id: str, **variables: Any) -> dict[str, Any]:
    run: dict[str, Any] = (await api.data(RUN, id=run_id, **variables))["run"]
    return run


def by_id(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {node["nodeId"]: node for node in run["nodes"]}


async def test_a_node_that_ran_once_reads_as_it_always_did(api: Api) -> None:
    run_id = await api.queued_run(await api.publish(FLOW))
    await api.apply(
        [
            event(run_id, "node.started", 1, "items", input={"a": 1}),
            event(run_id, "node.succeeded", 2, "items", output=[1, 2, 3]),
        ]
    )

    [items] = (await read_run(api, run_id))["nodes"]

    assert {k: items[k] for k in NODE_FIELDS.split()} == {
        "nodeId": "items",
        "status": "SUCCEEDED",
        "attempts": 1,
        "input": {"a": 1},
        "output": [1, 2, 3],
        "error": None,
        "startedAt": at(1),
        "finishedAt": at(2),
    }
    assert items["counts"] == [{"status": "SUCCEEDED", "count": 1}]
    assert [e["iteration"] for e in items["iterations"]["nodes"]] == [""]


async def test_each_iteration_of_a_node_is_an_execution_of_its_own(api: Api) -> None:
    run_id = await api.queued_run(await api.publish(FLOW))
    first, second, third = "items#0", "items#1", "items#2"
    await api.apply(
        [
            event(run_id, "node.started", 1, "items"),
            event(run_id, "node.started", 2, "fetch", iteration=first, input={"n": 1}),
            event(run_id, "node.succeeded", 3, "fetch", iteration=first, output={"r": 1}),
            event(run_id, "node.started", 2, "fetch", iteration=second, input={"n": 2}),
            event(run_id, "node.retrying", 3, "fetch", iteration=second, error="timeout"),
            event(run_id, "node.started", 4, "fetch", iteration=second, attempt=2),
            event(run_id, "node.failed", 5, "fetch", iteration=second, attempt=2, error="gone"),
            event(run_id, "node.started", 6, "fetch", iteration=third, input={"n": 3}),
        ]
    )
    # Redelivered: applied once.
    await api.apply([event(run_id, "node.succeeded", 3, "fetch", iteration=first, output={})])

    nodes = by_id(await read_run(api, run_id))

    assert list(nodes) == ["items", "fetch"]
    assert nodes["items"]["status"] == "RUNNING"
    assert nodes["items"]["counts"] == [{"status": "RUNNING", "count": 1}]
    fetch = nodes["fetch"]
    assert fetch["status"] == "RUNNING"
    assert fetch["counts"] == [
        {"status": "RUNNING", "count": 1},
        {"status": "SUCCEEDED", "count": 1},
        {"status": "FAILED", "count": 1},
    ]
    executions = fetch["iterations"]["nodes"]
    assert [(e["iteration"], e["status"], e["attempts"]) for e in executions] == [
        (first, "SUCCEEDED", 1),
        (second, "FAILED", 2),
        (third, "RUNNING", 1),
    ]
    assert executions[0]["output"] == {"r": 1}
    assert (executions[1]["error"], executions[1]["finishedAt"]) == ("gone", at(5))
    assert fetch["iterations"]["pageInfo"]["hasNextPage"] is False


async def test_a_node_with_only_iterations_shows_their_outcome_and_bounds(api: Api) -> None:
    run_id = await api.queued_run(await api.publish(FLOW))
    await api.apply(
        [
            event(run_id, "node.started", 1, "fetch", iteration="items#0"),
            event(run_id, "node.succeeded", 4, "fetch", iteration="items#0"),
            event(run_id, "node.started", 2, "fetch", iteration="items#1", attempt=3),
            event(run_id, "node.failed", 3, "fetch", iteration="items#1", attempt=3, error="x"),
        ]
    )

    [fetch] = (await read_run(api, run_id))["nodes"]

    assert (fetch["status"], fetch["attempts"]) == ("FAILED", 3)
    assert (fetch["startedAt"], fetch["finishedAt"]) == (at(1), at(4))
    assert (fetch["input"], fetch["output"], fetch["error"]) == (None, None, None)


@pytest.mark.parametrize(
    ("counts", "status"),
    [
        ({NodeStatus.SUCCEEDED: 9, NodeStatus.RETRYING: 1}, NodeStatus.RUNNING),
        ({NodeStatus.SUCCEEDED: 9, NodeStatus.WAITING: 1}, NodeStatus.WAITING),
        ({NodeStatus.SUCCEEDED: 9, NodeStatus.FAILED: 1}, NodeStatus.FAILED),
        ({NodeStatus.SUCCEEDED: 9, NodeStatus.SKIPPED: 1}, NodeStatus.SUCCEEDED),
        ({NodeStatus.SKIPPED: 3}, NodeStatus.SKIPPED),
        ({NodeStatus.COMPENSATED: 2, NodeStatus.SUCCEEDED: 1}, NodeStatus.COMPENSATED),
    ],
)
def test_the_status_of_a_node_with_only_iterations(
    counts: dict[NodeStatus, int], status: NodeStatus
) -> None:
    assert derived_status(counts) == status


async def test_ten_thousand_iterations_are_counted_and_paged(api: Api) -> None:
    run_id = await api.queued_run(await api.publish(FLOW))
    events = [
        event(
            run_id,
            "node.failed" if i % 1000 == 999 else "node.succeeded",
            1,
            "fetch",
            iteration=f"items#{i}",
            output={"i": i},
        )
        for i in range(10_000)
    ]
    for start in range(0, len(events), 1000):
        await api.apply(events[start : start + 1000])

    [fetch] = (await read_run(api, run_id))["nodes"]
    page = fetch["iterations"]
    [again] = (await read_run(api, run_id, after=page["pageInfo"]["endCursor"], first=200))["nodes"]

    assert fetch["status"] == "FAILED"
    assert fetch["counts"] == [
        {"status": "SUCCEEDED", "count": 9_990},
        {"status": "FAILED", "count": 10},
    ]
    assert [e["iteration"] for e in page["nodes"]] == [f"items#{i}" for i in range(50)]
    assert page["nodes"][7]["output"] == {"i": 7}
    assert page["pageInfo"]["hasNextPage"] is True
    next_page = again["iterations"]["nodes"]
    assert [e["iteration"] for e in next_page] == [f"items#{i}" for i in range(50, 250)]


async def test_pages_of_iterations_hold_every_execution_once(api: Api) -> None:
    run_id = await api.queued_run(await api.publish(FLOW))
    await api.apply(
        [event(run_id, "node.succeeded", 1, "fetch", iteration=f"items#{i}") for i in range(120)]
    )
    seen: list[str] = []
    after = None

    while True:
        [fetch] = (await read_run(api, run_id, first=50, after=after))["nodes"]
        page = fetch["iterations"]
        seen += [e["iteration"] for e in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert seen == [f"items#{i}" for i in range(120)]


@pytest.mark.parametrize(("first", "after"), [(0, None), (201, None), (10, "nope")])
async def test_a_page_size_out_of_bounds_or_a_foreign_cursor_is_refused(
    api: Api, first: int, after: str | None
) -> None:
    run_id = await api.queued_run(await api.publish(FLOW))
    await api.apply([event(run_id, "node.succeeded", 1, "fetch")])

    body = await api.graphql(RUN, id=run_id, first=first, after=after)

    [error] = body["errors"]
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert error["extensions"]["field"] == ("after" if after else "first")


async def test_a_stalled_run_shows_its_error_until_it_goes_on(api: Api) -> None:
    run_id = await api.queued_run(await api.publish(FLOW))
    await api.apply(
        [
            event(run_id, "run.started", 1),
            event(run_id, "run.stalled", 2, error="interpreter: KeyError 'x'"),
        ]
    )
    stalled = await read_run(api, run_id)

    await api.apply([event(run_id, "node.started", 3, "fetch")])
    continued = await read_run(api, run_id)

    assert (stalled["status"], stalled["error"]) == ("RUNNING", "interpreter: KeyError 'x'")
    assert (continued["status"], continued["error"]) == ("RUNNING", None)
