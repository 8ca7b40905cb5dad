"""The `flowforge` CLI against a running stack."""

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from control_plane.db.engine import create_engine, session_factory
from control_plane.runs.progress import apply_events
from data_plane.protocol import RunEvent
from flowforge.cli.main import app

from fixtures.approvals import approval_flow, principal, wait_for_task
from fixtures.http_peer import HttpPeer
from fixtures.stack import Stack, assert_eventually, commit_runs, started_with_slow_node

HELLO = str(Path(__file__).parents[2] / "examples" / "hello.yaml")


@pytest.fixture
def stack(sqlite_stack: Stack) -> Stack:
    """The CLI only talks GraphQL: one database backend is enough."""
    return sqlite_stack


async def flowforge(stack: Stack, *args: str, token: str | None = None) -> tuple[int, str]:
    """Run a CLI command in a thread (the stack serves from this event loop), with the
    stack's admin token unless given another."""
    result = await asyncio.to_thread(
        CliRunner().invoke, app, [*args, "--url", stack.url, "--token", token or stack.token]
    )
    return result.exit_code, result.output


async def test_push_run_and_show(stack: Stack) -> None:
    code, out = await flowforge(stack, "workflow", "push", HELLO)
    assert code == 0, out
    assert re.search(r"hello version 1 \(sha256 [0-9a-f]{12}", out)

    code, out = await flowforge(stack, "run", "hello", "--input", '{"name": "Ada"}', "--wait")
    assert code == 0, out
    assert "✓ greet succeeded" in out
    assert "- shout skipped" in out
    assert '"greeting": "Hello, Ada!"' in out
    run_id = re.search(r"run (\S+) SUCCEEDED", out).group(1)  # type: ignore[union-attr]

    code, out = await flowforge(stack, "runs", "show", run_id)
    assert code == 0, out
    assert f"run {run_id}  SUCCEEDED" in out
    assert "attempts 1" in out
    assert 'output {"greeting": "Hello, Ada!"}' in out

    code, out = await flowforge(stack, "runs", "show", run_id, "--json")
    assert code == 0, out
    shown = json.loads(out)
    assert shown["status"] == "SUCCEEDED"
    assert {n["nodeId"]: n["status"] for n in shown["nodes"]}["log"] == "SUCCEEDED"


async def test_runs_show_marks_a_stalled_run_and_counts_iterations(stack: Stack) -> None:
    code, out = await flowforge(stack, "workflow", "push", HELLO)
    assert code == 0, out
    project = await stack.project_id()
    found = await stack.data("query($p: ID!) { workflows(projectId: $p) { id } }", p=project)
    workflow_id = found["workflows"][0]["id"]
    [run] = await commit_runs(stack, workflow_id, [{"name": "Ada"}], handed_over=True)
    now = datetime.now(UTC)
    engine = create_engine(stack.cp_settings.database_url)
    try:
        async with session_factory(engine).begin() as session:
            await apply_events(
                session,
                stack.pool,
                [
                    *(
                        RunEvent.create(run.id, "node.succeeded", now, "greet", iteration=f"p#{i}")
                        for i in range(3)
                    ),
                    RunEvent.create(run.id, "node.failed", now, "greet", iteration="p#3"),
                    RunEvent.create(run.id, "run.stalled", now, error="interpreter: KeyError"),
                ],
            )
    finally:
        await engine.dispose()

    code, out = await flowforge(stack, "runs", "show", run.id)
    code_list, listed = await flowforge(stack, "runs", "list", "--status", "running")

    assert code == 0, out
    assert f"run {run.id}  RUNNING (stalled)" in out
    assert "error  interpreter: KeyError" in out
    assert "executions 3 succeeded, 1 failed" in out
    assert code_list == 0, listed
    assert run.id in listed


async def test_push_of_an_invalid_file_lists_the_problems(stack: Stack, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: flowforge/v1\nname: bad\nnodes:\n  - {id: a, type: core.http, config: {}}\n"
    )

    code, out = await flowforge(stack, "workflow", "push", str(bad))

    assert code == 1
    assert "refused" in out
    assert "node a, config.url:" in out


async def test_run_refuses_bad_input_and_unknown_workflows(stack: Stack) -> None:
    await flowforge(stack, "workflow", "push", HELLO)

    code, out = await flowforge(stack, "run", "hello", "--input", "{name: Ada}")
    assert code == 1
    assert "--input is not JSON" in out

    code, out = await flowforge(stack, "run", "hello", "--input", '{"name": 7}')
    assert code == 1
    assert "INVALID_INPUT" in out

    code, out = await flowforge(stack, "run", "nope")
    assert code == 1
    assert "no workflow named 'nope'" in out


async def test_wrong_token_is_reported(stack: Stack) -> None:
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["runs", "list", "--url", stack.url, "--token", "wrong"]
    )

    assert result.exit_code == 1
    assert "UNAUTHENTICATED" in result.output


async def test_push_of_a_folder_publishes_each_definition_once(stack: Stack) -> None:
    examples = str(Path(HELLO).parent)

    code, first = await flowforge(stack, "workflow", "push", examples)
    assert code == 0, first
    code, again = await flowforge(stack, "workflow", "push", examples)
    assert code == 0, again

    assert "hello version 1" in first
    assert "hello version 1" in again


async def test_nodes_list_shows_how_each_type_runs(stack: Stack) -> None:
    code, out = await flowforge(stack, "nodes", "list")

    assert code == 0, out
    assert re.search(r"core\.if\s+v1\s+pure", out)
    assert re.search(r"core\.log\s+v1\s+lightweight", out)
    assert re.search(r"core\.http\s+v1\s+activity", out)


async def test_runs_pause_resume_and_cancel_say_what_became_of_each_request(
    stack: Stack, http_peer: HttpPeer
) -> None:
    run_id = await started_with_slow_node(stack, http_peer, 60)

    code, out = await flowforge(stack, "runs", "pause", run_id, "--wait")
    assert code == 0, out
    assert out.strip() == f"pause of run {run_id}: APPLIED"

    async def paused() -> bool:
        # The run's own events follow the request's outcome.
        return (await stack.run(run_id))["status"] == "PAUSED"

    await assert_eventually(paused)

    code, out = await flowforge(stack, "runs", "resume", run_id)
    assert code == 0, out
    assert out.startswith(f"resume of run {run_id}: PENDING (until ")

    async def running_again() -> bool:
        return (await stack.run(run_id))["status"] == "RUNNING"

    await assert_eventually(running_again)
    code, out = await flowforge(stack, "runs", "cancel", run_id, "--wait", "--json")
    assert code == 0, out
    cancelled = json.loads(out)
    assert (cancelled["action"], cancelled["status"], cancelled["runId"]) == (
        "CANCEL",
        "APPLIED",
        run_id,
    )
    assert cancelled["compensate"] is False
    assert (await stack.wait_for_run(run_id))["status"] == "CANCELLED"


async def test_runs_control_commands_exit_non_zero_when_refused(
    stack: Stack, http_peer: HttpPeer
) -> None:
    run_id = await started_with_slow_node(stack, http_peer, 60)

    code, out = await flowforge(stack, "runs", "resume", run_id)
    assert code == 1
    assert "only a paused run resumes" in out

    code, out = await flowforge(stack, "runs", "pause", "no-such-run", "--json")
    assert code == 1
    assert "run 'no-such-run' does not exist" in out

    code, out = await flowforge(stack, "runs", "cancel", run_id, "--compensate", "--wait")
    assert code == 0, out
    assert out.strip() == f"cancel of run {run_id}: APPLIED"


def test_bus_commands_set_up_a_server_and_mint_credentials(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    runner = CliRunner()

    init = runner.invoke(app, ["bus", "init", "--dir", str(keys), "--resolver-dir", "/r"])
    pool = runner.invoke(app, ["bus", "credentials", "--dir", str(keys), "--pool", "onprem"])
    again = runner.invoke(app, ["bus", "credentials", "--dir", str(keys), "--pool", "onprem"])
    bad = runner.invoke(app, ["bus", "credentials", "--dir", str(keys), "--pool", "a.b"])
    nobody = runner.invoke(app, ["bus", "credentials", "--dir", str(keys)])

    assert init.exit_code == 0, init.output
    config = (keys / "nats-auth.conf").read_text()
    assert config.startswith("operator: ey") and 'dir: "/r"' in config
    assert pool.exit_code == 0
    creds = Path(pool.output.strip())
    assert creds.stat().st_mode & 0o777 == 0o600
    assert "BEGIN NATS USER JWT" in creds.read_text()
    assert again.output == pool.output  # the same credentials until they are revoked
    assert bad.exit_code == 1 and "letters, digits" in bad.output
    assert nobody.exit_code == 1 and "--pool NAME or --control-plane" in nobody.output


async def test_tasks_list_and_complete_decide_a_waiting_approval(stack: Stack) -> None:
    olga = await principal(stack, "olga", groups=["ops"])
    published = await stack.publish(approval_flow("cli-approval", assignees=["group:ops"]))
    run_id = (await stack.start_run(published["workflowId"]))["data"]["startRun"]["id"]
    opened = await wait_for_task(stack, run_id, "ask")

    code, out = await flowforge(
        stack, "tasks", "list", "--assignee", "group:ops", "--status", "open"
    )
    assert code == 0, out
    assert f"{opened['id']}  OPEN" in out and "assignees group:ops  approvals 0/1" in out
    # The admin is in no group: the task is not theirs to decide.
    code, out = await flowforge(stack, "tasks", "complete", opened["id"], "--approve")
    assert code == 1 and "is assigned to group:ops; admin" in out

    code, out = await flowforge(
        stack,
        "tasks",
        "complete",
        opened["id"],
        "--approve",
        "--field",
        "note=fine",
        "--field",
        "count=2",
        "--json",
        token=olga.token,
    )
    assert code == 0, out
    [decision] = json.loads(out)["decisions"]
    assert decision["decidedBy"] == olga.id
    assert decision["decision"] == {"approved": True, "note": "fine", "count": 2}
    run = await stack.wait_for_run(run_id)
    assert run["status"] == "SUCCEEDED", run

    code, out = await flowforge(
        stack, "tasks", "complete", opened["id"], "--reject", token=olga.token
    )
    assert code == 1
    assert f"task {opened['id']} is APPROVED" in out
    code, out = await flowforge(stack, "tasks", "list", "--status", "APPROVED", "--json")
    assert code == 0, out
    assert [t["id"] for t in json.loads(out)] == [opened["id"]]


async def test_tasks_complete_refuses_what_it_cannot_send(stack: Stack) -> None:
    code, out = await flowforge(stack, "tasks", "complete", "r:ask")
    assert code == 1 and "give one of --approve and --reject" in out
    code, out = await flowforge(stack, "tasks", "complete", "r:ask", "--approve", "--field", "x")
    assert code == 1 and "--field 'x': write it as key=value" in out
    code, out = await flowforge(
        stack, "tasks", "complete", "r:ask", "--reject", "--decision", "[1]"
    )
    assert code == 1 and "--decision must be a JSON object" in out
    code, out = await flowforge(stack, "tasks", "complete", "r:ask", "--approve")
    assert code == 1 and "task 'r:ask' does not exist" in out
