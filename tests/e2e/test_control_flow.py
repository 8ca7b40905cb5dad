"""Switch, merge, error edges, retries and map on the real stack."""

from typing import Any

from fixtures.http_peer import HttpPeer
from fixtures.stack import Stack


def flow(name: str, nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "flowforge/v1", "name": name, "nodes": nodes, "edges": edges}


def transform(node_id: str, value: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "core.transform", "config": {"value": value}}


def statuses(run: dict[str, Any]) -> dict[str, str]:
    return {n["nodeId"]: n["status"] for n in run["nodes"]}


def size_switch() -> dict[str, Any]:
    return {
        "id": "size",
        "type": "core.switch",
        "config": {
            "cases": [
                {"port": "big", "condition": "${ .input.n > 100 }"},
                {"port": "medium", "condition": "${ .input.n > 10 }"},
            ]
        },
    }


async def test_a_switch_takes_the_first_case_that_holds_and_the_merge_still_runs(
    sqlite_stack: Stack,
) -> None:
    definition = flow(
        "sizes",
        [
            size_switch(),
            transform("big", {"size": "big"}),
            transform("medium", {"size": "medium"}),
            transform("small", {"size": "small"}),
            {"id": "join", "type": "core.merge", "config": {"mode": "not_skipped"}},
        ],
        [
            {"from": "size", "port": "big", "to": "big"},
            {"from": "size", "port": "medium", "to": "medium"},
            {"from": "size", "port": "default", "to": "small"},
            {"from": "big", "to": "join"},
            {"from": "medium", "to": "join"},
            {"from": "small", "to": "join"},
        ],
    )
    published = await sqlite_stack.publish(definition)

    for n, taken in [(500, "big"), (50, "medium"), (5, "small")]:
        started = await sqlite_stack.start_run(published["workflowId"], {"n": n})
        run = await sqlite_stack.wait_for_run(started["data"]["startRun"]["id"])

        assert run["status"] == "SUCCEEDED", run
        assert run["output"] == {"join": {taken: {"size": taken}}}
        skipped = {"big", "medium", "small"} - {taken}
        assert {k for k, v in statuses(run).items() if v == "SKIPPED"} == skipped


async def test_an_all_merge_is_skipped_when_a_branch_was_not_taken(sqlite_stack: Stack) -> None:
    definition = flow(
        "all-or-nothing",
        [
            transform("start", {}),
            {"id": "check", "type": "core.if", "config": {"condition": "${ .input.both }"}},
            transform("always", {"a": 1}),
            transform("sometimes", {"b": 2}),
            {"id": "join", "type": "core.merge", "config": {"mode": "all"}},
        ],
        [
            {"from": "start", "to": "check"},
            {"from": "start", "to": "always"},
            {"from": "check", "port": "true", "to": "sometimes"},
            {"from": "always", "to": "join"},
            {"from": "sometimes", "to": "join"},
        ],
    )
    published = await sqlite_stack.publish(definition)

    both = await sqlite_stack.start_run(published["workflowId"], {"both": True})
    one = await sqlite_stack.start_run(published["workflowId"], {"both": False})
    joined = await sqlite_stack.wait_for_run(both["data"]["startRun"]["id"])
    skipped = await sqlite_stack.wait_for_run(one["data"]["startRun"]["id"])

    assert joined["output"] == {"join": {"always": {"a": 1}, "sometimes": {"b": 2}}}
    assert skipped["status"] == "SUCCEEDED"
    assert statuses(skipped)["join"] == "SKIPPED"


async def test_an_error_edge_receives_the_failure_and_the_run_goes_on(
    sqlite_stack: Stack, http_peer: HttpPeer
) -> None:
    definition = flow(
        "fallback",
        [
            {
                "id": "fetch",
                "type": "core.http",
                "config": {"url": http_peer.url("/status/503")},
                "retry": {"max_attempts": 2, "initial_interval": "50ms"},
            },
            transform("use", {"ok": True}),
            transform("alert", {"why": "${ .nodes.fetch.error.message }", "n": "${ .input.n }"}),
        ],
        [
            {"from": "fetch", "to": "use"},
            {"from": "fetch", "port": "error", "to": "alert"},
        ],
    )

    run = await sqlite_stack.run_to_end(definition, {"n": 1})

    assert run["status"] == "SUCCEEDED", run
    assert statuses(run) == {"fetch": "FAILED", "use": "SKIPPED", "alert": "SUCCEEDED"}
    assert "503" in run["output"]["alert"]["why"]
    assert http_peer.hits["/status/503"] == 2


async def test_an_error_type_listed_as_non_retryable_fails_at_once(
    sqlite_stack: Stack, http_peer: HttpPeer
) -> None:
    fetch = {
        "id": "fetch",
        "type": "core.http",
        "config": {"url": http_peer.url("/status/503")},
        "retry": {
            "max_attempts": 5,
            "initial_interval": "50ms",
            "non_retryable_errors": ["http_status"],
        },
    }

    run = await sqlite_stack.run_to_end(flow("no-retry", [fetch], []))

    assert run["status"] == "FAILED"
    assert http_peer.hits["/status/503"] == 1


def mapping(items: str, body: list[dict[str, Any]], **config: Any) -> dict[str, Any]:
    return {
        "id": "each",
        "type": "core.map",
        "config": {"items": items, **config},
        "body": {"nodes": body, "edges": []},
    }


async def test_a_map_gives_every_items_result_in_order(sqlite_stack: Stack) -> None:
    body = [{"id": "inc", "type": "test.count", "inputs": {"count": "${ .item }"}}]
    definition = flow("counted", [mapping("${ [range(.input.n)] }", body, concurrency=150)], [])

    run = await sqlite_stack.run_to_end(definition, {"n": 250})

    assert run["status"] == "SUCCEEDED", run
    results = run["output"]["each"]["results"]
    assert results == [{"inc": {"count": i + 1}} for i in range(250)]
    assert run["output"]["each"]["failures"] == []


async def test_a_map_collecting_failures_lists_them_beside_the_results(
    sqlite_stack: Stack,
) -> None:
    body = [
        {
            "id": "inc",
            "type": "test.count",
            "inputs": {"count": "${ .item }"},
            "config": {"fail_attempts": "${ if .item % 3 == 0 then 9 else 0 end }"},
            "retry": {"max_attempts": 1},
        }
    ]
    definition = flow(
        "collected", [mapping("${ [range(7)] }", body, on_item_failure="collect")], []
    )

    run = await sqlite_stack.run_to_end(definition)

    assert run["status"] == "SUCCEEDED", run
    output = run["output"]["each"]
    assert [r is None for r in output["results"]] == [i % 3 == 0 for i in range(7)]
    assert [f["index"] for f in output["failures"]] == [0, 3, 6]
    assert "planned failure" in output["failures"][0]["error"]


async def test_a_failing_item_fails_the_map_by_default(sqlite_stack: Stack) -> None:
    body = [
        {
            "id": "inc",
            "type": "test.count",
            "inputs": {"count": "${ .item }"},
            "config": {"fail_attempts": "${ if .item == 4 then 9 else 0 end }"},
            "retry": {"max_attempts": 1},
        }
    ]
    definition = flow("strict", [mapping("${ [range(6)] }", body)], [])

    run = await sqlite_stack.run_to_end(definition)

    assert run["status"] == "FAILED"
    assert "item 4 failed" in run["error"]


def looping(body: list[dict[str, Any]], output: Any = None, **config: Any) -> dict[str, Any]:
    return {
        "id": "again",
        "type": "core.loop",
        "config": config,
        "body": {"nodes": body, "edges": [], "output": output},
    }


async def test_a_loop_repeats_its_body_on_the_previous_output_until_its_condition_holds(
    sqlite_stack: Stack,
) -> None:
    body = [{"id": "inc", "type": "test.count"}]
    definition = flow(
        "until-five",
        [
            transform("start", {"count": "${ .input.from }"}),
            looping(
                body,
                output="${ .nodes.inc }",
                until="${ .previous.count >= 5 }",
                max_iterations=10,
                collect=True,
            ),
        ],
        [{"from": "start", "to": "again"}],
    )

    run = await sqlite_stack.run_to_end(definition, {"from": 1})

    assert run["status"] == "SUCCEEDED", run
    loop = run["output"]["again"]
    assert loop["count"] == 4
    assert loop["exhausted"] is False
    assert [o["count"] for o in loop["outputs"]] == [2, 3, 4, 5]


async def test_a_loop_that_never_meets_its_condition_stops_at_its_limit(
    sqlite_stack: Stack,
) -> None:
    body = [transform("check", {"ok": False, "i": "${ .index }"})]
    definition = flow(
        "recheck",
        [looping(body, until="${ .previous.check.ok }", max_iterations=3, wait="50ms")],
        [],
    )

    run = await sqlite_stack.run_to_end(definition)

    assert run["status"] == "SUCCEEDED", run
    assert run["output"]["again"] == {
        "count": 3,
        "last": {"check": {"ok": False, "i": 2}},
        "exhausted": True,
    }


async def test_a_loop_condition_and_a_nested_body_read_the_enclosing_nodes(
    sqlite_stack: Stack,
) -> None:
    inner = {
        "id": "inner",
        "type": "core.map",
        "config": {"items": "${ [range(2)] }"},
        "body": {
            "nodes": [transform("tag", {"step": "${ .nodes.setup.step }", "i": "${ .index }"})],
            "edges": [],
        },
    }
    definition = flow(
        "reads-outside",
        [
            transform("setup", {"limit": 3, "step": "s"}),
            looping(
                [{"id": "inc", "type": "test.count"}, inner],
                output="${ .nodes.inc }",
                until="${ .previous.count >= .nodes.setup.limit }",
                max_iterations=10,
            ),
        ],
        [{"from": "setup", "to": "again"}],
    )

    run = await sqlite_stack.run_to_end(definition)

    assert run["status"] == "SUCCEEDED", run["error"]
    assert run["output"]["again"]["count"] == 3
    assert run["output"]["again"]["exhausted"] is False
