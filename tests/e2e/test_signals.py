"""Signals from the API (and the CLI) to `core.wait` nodes on the real stack: the signed
control message, the agent, the run's workflow and back; and what each wait shows while
it waits."""

import asyncio
import json
from typing import Any

from typer.testing import CliRunner

from flowforge.cli.main import app

from fixtures.stack import Stack, assert_eventually

WAIT = "wait { kind until signal correlation taskId }"
RUN = f"""query($id: ID!) {{ run(id: $id) {{ id status output
  nodes {{ nodeId status output {WAIT} }}
  controlRequests {{ id action status reason signal {{ name correlation payload }} }} }} }}"""
RESULT = """__typename ... on ControlRequest { id status }
  ... on NotFound { message } ... on ValidationFailed { errors { field message } }"""
SIGNAL_RUN = f"""mutation($id: ID!, $s: String!, $c: String, $p: JSON) {{
  result: signalRun(id: $id, signal: $s, correlation: $c, payload: $p) {{ {RESULT} }} }}"""
SEND_SIGNAL = """mutation($project: ID!, $s: String!, $c: String, $p: JSON) {
  result: sendSignal(projectId: $project, signal: $s, correlation: $c, payload: $p) {
    __typename ... on SignalsSent { requests { id runId status } } } }"""
CANCEL = f"mutation($id: ID!) {{ result: cancelRun(id: $id) {{ {RESULT} }} }}"


def order_flow(name: str, before: dict[str, Any] | None = None) -> dict[str, Any]:
    """[before ->] hold (a wait for order.paid of the input's order, with a timeout) -> go,
    and hold -> late on the timeout."""
    first = [before] if before else []
    return {
        "apiVersion": "flowforge/v1",
        "name": name,
        "nodes": [
            *first,
            {
                "id": "hold",
                "type": "core.wait",
                "config": {
                    "signal": "order.paid",
                    "correlation": "${ .input.order }",
                    "timeout": "10m",
                },
            },
            {"id": "go", "type": "core.transform", "config": {"value": {"went": True}}},
            {"id": "late", "type": "core.transform", "config": {"value": {"late": True}}},
        ],
        "edges": [
            *([{"from": before["id"], "to": "hold"}] if before else []),
            {"from": "hold", "port": "done", "to": "go"},
            {"from": "hold", "port": "timeout", "to": "late"},
        ],
    }


async def start(stack: Stack, definition: dict[str, Any], input: Any = None) -> str:
    published = await stack.publish(definition)
    assert published["__typename"] == "WorkflowVersion", published
    started = await stack.start_run(published["workflowId"], input)
    return str(started["data"]["startRun"]["id"])


async def seen(stack: Stack, run_id: str) -> dict[str, Any]:
    run: dict[str, Any] = (await stack.data(RUN, id=run_id))["run"]
    return run


def node(run: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(n for n in run["nodes"] if n["nodeId"] == node_id)


async def waiting_at(stack: Stack, run_id: str, node_id: str) -> dict[str, Any]:
    """The run once it shows WAITING with `node_id` WAITING."""

    async def shown() -> dict[str, Any] | None:
        run = await seen(stack, run_id)
        nodes = {n["nodeId"]: n["status"] for n in run["nodes"]}
        return run if run["status"] == "WAITING" and nodes.get(node_id) == "WAITING" else None

    run: dict[str, Any] = await assert_eventually(shown, within=30)
    return run


async def applied(stack: Stack, run_id: str, control_id: str) -> dict[str, Any]:
    """The request once the data plane reported what became of it."""

    async def settled() -> dict[str, Any] | None:
        requests = (await seen(stack, run_id))["controlRequests"]
        found = next(r for r in requests if r["id"] == control_id)
        return found if found["status"] != "PENDING" else None

    request: dict[str, Any] = await assert_eventually(settled, within=30)
    return request


async def signal(stack: Stack, run_id: str, correlation: str | None, payload: Any) -> str:
    result = (await stack.data(SIGNAL_RUN, id=run_id, s="order.paid", c=correlation, p=payload))[
        "result"
    ]
    assert result["__typename"] == "ControlRequest", result
    return str(result["id"])


async def test_a_signal_with_the_run_s_correlation_ends_its_wait_and_another_does_not(
    sqlite_stack: Stack,
) -> None:
    stack = sqlite_stack
    run_id = await start(stack, order_flow("signal-correlated"), {"order": "A-17"})

    run = await waiting_at(stack, run_id, "hold")
    assert node(run, "hold")["wait"]["kind"] == "SIGNAL"
    assert node(run, "hold")["wait"]["signal"] == "order.paid"
    assert node(run, "hold")["wait"]["correlation"] == "A-17"
    assert node(run, "hold")["wait"]["until"] is not None

    other = await signal(stack, run_id, "B-2", {"amount": 3})
    assert (await applied(stack, run_id, other))["status"] == "APPLIED"
    still = await seen(stack, run_id)
    assert (still["status"], node(still, "hold")["status"]) == ("WAITING", "WAITING")

    paid = await signal(stack, run_id, "A-17", {"amount": 5})
    done = await stack.wait_for_run(run_id)

    assert done["status"] == "SUCCEEDED", done
    assert (await applied(stack, run_id, paid))["status"] == "APPLIED"
    run = await seen(stack, run_id)
    hold = node(run, "hold")
    assert hold["output"]["signal"] == "order.paid"
    assert hold["output"]["payload"] == {"amount": 5}
    assert hold["wait"] is None
    assert {n["nodeId"]: n["status"] for n in run["nodes"]}["late"] == "SKIPPED"


async def test_a_signal_sent_before_the_wait_is_reached_is_taken_when_it_is(
    sqlite_stack: Stack,
) -> None:
    stack = sqlite_stack
    cool_off = {"id": "cool", "type": "core.wait", "config": {"duration": "2s"}}
    run_id = await start(stack, order_flow("signal-early", cool_off), {"order": "A-17"})

    run = await waiting_at(stack, run_id, "cool")
    wait = node(run, "cool")["wait"]
    assert (wait["kind"], wait["signal"], wait["correlation"]) == ("DURATION", None, None)
    assert wait["until"] is not None
    early = await signal(stack, run_id, "A-17", "early")
    done = await stack.wait_for_run(run_id)

    assert done["status"] == "SUCCEEDED", done
    assert (await applied(stack, run_id, early))["status"] == "APPLIED"
    assert node(done, "hold")["output"]["payload"] == "early"


async def test_send_signal_resumes_the_runs_waiting_for_it_and_no_other(
    sqlite_stack: Stack,
) -> None:
    stack = sqlite_stack
    published = await stack.publish(order_flow("signal-broadcast"))
    assert published["__typename"] == "WorkflowVersion", published
    runs = []
    for order in ("A-17", "A-17", "B-2"):
        started = await stack.start_run(published["workflowId"], {"order": order})
        runs.append(started["data"]["startRun"]["id"])
    for run_id in runs:
        await waiting_at(stack, run_id, "hold")
    first, second, third = runs

    sent = (
        await stack.data(
            SEND_SIGNAL, project=await stack.project_id(), s="order.paid", c="A-17", p=7
        )
    )["result"]

    assert sent["__typename"] == "SignalsSent", sent
    assert sorted(r["runId"] for r in sent["requests"]) == sorted([first, second])
    for run_id in (first, second):
        done = await stack.wait_for_run(run_id)
        assert done["status"] == "SUCCEEDED", done
        assert node(done, "hold")["output"]["payload"] == 7
    left = await seen(stack, third)
    assert (left["status"], left["controlRequests"]) == ("WAITING", [])
    await stack.data(CANCEL, id=third)
    assert (await stack.wait_for_run(third))["status"] == "CANCELLED"


async def test_a_signal_to_an_ended_run_is_refused_saying_so(sqlite_stack: Stack) -> None:
    stack = sqlite_stack
    run_id = await start(stack, order_flow("signal-ended"), {"order": "A-17"})
    await waiting_at(stack, run_id, "hold")
    await signal(stack, run_id, "A-17", None)
    assert (await stack.wait_for_run(run_id))["status"] == "SUCCEEDED"

    refused = (await stack.data(SIGNAL_RUN, id=run_id, s="order.paid", c="A-17"))["result"]

    assert refused["__typename"] == "ValidationFailed"
    assert refused["errors"] == [
        {
            "field": "id",
            "message": f"id: run {run_id} cannot be signalled: it has already ended (SUCCEEDED)",
        }
    ]


async def flowforge(stack: Stack, *args: str, input: str | None = None) -> tuple[int, str]:
    """Run a CLI command in a thread (the stack serves from this event loop)."""
    result = await asyncio.to_thread(
        CliRunner().invoke, app, [*args, "--url", stack.url, "--token", stack.token], input
    )
    return result.exit_code, result.output


async def test_the_cli_signals_a_run_and_the_runs_waiting_and_refuses_clearly(
    sqlite_stack: Stack,
) -> None:
    stack = sqlite_stack
    one = await start(stack, order_flow("signal-cli"), {"order": "A-17"})
    await waiting_at(stack, one, "hold")

    code, out = await flowforge(
        stack, "runs", "signal", one, "order.paid", "-c", "A-17", "--payload", '{"n": 1}', "--wait"
    )
    assert code == 0, out
    assert out.strip() == f"signal order.paid (A-17) of run {one}: APPLIED"
    assert node(await stack.wait_for_run(one), "hold")["output"]["payload"] == {"n": 1}

    two = await start(stack, order_flow("signal-cli"), {"order": "B-2"})
    await waiting_at(stack, two, "hold")
    code, out = await flowforge(
        stack,
        "runs",
        "broadcast",
        "order.paid",
        "-c",
        "B-2",
        "--payload-file",
        "-",
        "--json",
        input='{"n": 2}',
    )
    assert code == 0, out
    [request] = json.loads(out)
    assert (request["runId"], request["signal"]["payload"]) == (two, {"n": 2})
    assert node(await stack.wait_for_run(two), "hold")["output"]["payload"] == {"n": 2}

    code, out = await flowforge(stack, "runs", "broadcast", "order.paid", "-c", "B-2")
    assert code == 0, out
    assert "no run of the project waits for signal 'order.paid'" in out

    code, out = await flowforge(stack, "runs", "signal", one, "order.paid")
    assert code == 1
    assert "cannot be signalled: it has already ended (SUCCEEDED)" in out
    code, out = await flowforge(stack, "runs", "signal", one, "order.paid", "--payload", "{")
    assert code == 1
    assert "the payload is not JSON" in out
