"""Sub-workflows: another published workflow run as a child run, linked to its parent."""

from typing import Any

from fixtures.replay import record, replay
from fixtures.stack import Stack


def workflow(
    name: str, nodes: list[dict[str, Any]], edges: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {"apiVersion": "flowforge/v1", "name": name, "nodes": nodes, "edges": edges or []}


def call(node_id: str, name: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "core.subworkflow", "config": {"workflow": name, **config}}


async def test_a_sub_workflow_runs_as_a_child_run_and_its_output_is_the_nodes(
    sqlite_stack: Stack,
) -> None:
    stack = sqlite_stack
    double = workflow(
        "double",
        [
            {
                "id": "twice",
                "type": "core.transform",
                "config": {"value": {"n": "${ .input.n * 2 }"}},
            }
        ],
    )
    assert (await stack.publish(double))["__typename"] == "WorkflowVersion"
    parent = workflow(
        "caller",
        [
            {"id": "start", "type": "core.transform", "config": {"value": {"n": "${ .input.n }"}}},
            call("child", "double"),
            {"id": "after", "type": "core.transform", "config": {"value": "${ .nodes.child }"}},
        ],
        [{"from": "start", "to": "child"}, {"from": "child", "to": "after"}],
    )

    run = await stack.run_to_end(parent, {"n": 21})

    assert run["status"] == "SUCCEEDED", run["error"]
    assert run["output"] == {"after": {"twice": {"n": 42}}}
    data = await stack.data(
        "query($p: ID!) { runs(projectId: $p, first: 10) { nodes { id status parentRunId "
        "parentExecution input output } } }",
        p=await stack.project_id(),
    )
    children = [r for r in data["runs"]["nodes"] if r["parentRunId"] == run["id"]]
    assert len(children) == 1
    child = children[0]
    assert child["status"] == "SUCCEEDED"
    assert child["parentExecution"] == "child"
    assert child["input"] == {"n": 21}
    assert child["output"] == {"twice": {"n": 42}}
    # Both histories replay, and are kept for the replay tests.
    for run_id, name in [(run["id"], "subworkflow-parent"), (child["id"], "subworkflow-child")]:
        history = await stack.temporal.get_workflow_handle(run_id).fetch_history()
        await replay(history)
        record(history, name)


async def test_a_pinned_version_is_called_even_after_a_newer_one_is_published(
    sqlite_stack: Stack,
) -> None:
    stack = sqlite_stack
    for answer in (1, 2):
        v = workflow(
            "answer", [{"id": "a", "type": "core.transform", "config": {"value": {"v": answer}}}]
        )
        assert (await stack.publish(v))["__typename"] == "WorkflowVersion"
    parent = workflow("asks", [call("pinned", "answer", version=1), call("latest", "answer")])

    run = await stack.run_to_end(parent)

    assert run["status"] == "SUCCEEDED", run["error"]
    assert run["output"] == {"pinned": {"a": {"v": 1}}, "latest": {"a": {"v": 2}}}


async def test_a_failing_sub_workflow_fails_its_node_with_the_childs_reason(
    sqlite_stack: Stack,
) -> None:
    stack = sqlite_stack
    broken = workflow(
        "broken",
        [
            {
                "id": "bad",
                "type": "test.count",
                "config": {"fail_attempts": 9},
                "retry": {"max_attempts": 1},
            }
        ],
    )
    assert (await stack.publish(broken))["__typename"] == "WorkflowVersion"

    run = await stack.run_to_end(workflow("calls-broken", [call("child", "broken")]))

    assert run["status"] == "FAILED"
    assert "sub-workflow 'broken' failed" in run["error"]


async def test_a_call_to_a_workflow_or_version_never_published_is_refused_at_publish(
    sqlite_stack: Stack,
) -> None:
    stack = sqlite_stack
    one = workflow("one", [{"id": "a", "type": "core.transform", "config": {"value": {}}}])
    assert (await stack.publish(one))["__typename"] == "WorkflowVersion"

    missing = await stack.publish(workflow("calls-nothing", [call("child", "nowhere")]))
    unpinned = await stack.publish(workflow("calls-v9", [call("child", "one", version=9)]))
    selfish = await stack.publish(workflow("selfish", [call("again", "selfish")]))

    assert missing["errors"] == [
        {
            "nodeId": "child",
            "field": "config.workflow",
            "message": "'nowhere' is not a workflow of this project; publish it first",
        }
    ]
    assert unpinned["errors"][0]["field"] == "config.version"
    assert "calls itself" in selfish["errors"][0]["message"]


async def test_a_cycle_through_another_workflow_is_refused_at_start(sqlite_stack: Stack) -> None:
    stack = sqlite_stack
    first = workflow("ping", [{"id": "a", "type": "core.transform", "config": {"value": {}}}])
    assert (await stack.publish(first))["__typename"] == "WorkflowVersion"
    assert (await stack.publish(workflow("pong", [call("back", "ping")])))["__typename"] == (
        "WorkflowVersion"
    )
    # A later version of ping calls pong, which calls the latest ping: a cycle.
    published = await stack.publish(workflow("ping", [call("forth", "pong")]))

    started = await stack.start_run(published["workflowId"])

    assert "cycle: ping -> pong -> ping" in str(started)
