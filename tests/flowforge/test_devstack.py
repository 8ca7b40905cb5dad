"""`flowforge dev`'s stack: every component as its own process, and nothing lost on restart."""

import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors_sdk import load_definition_file
from flowforge.devstack import DevPorts, DevStack
from flowforge.servers import ServerStartError, free_port
from flowforge.supervisor import HealthPolicy

HELLO = Path(__file__).parents[2] / "examples" / "hello.yaml"


def graphql(stack: DevStack, query: str, **variables: Any) -> Any:
    response = httpx.post(
        stack.graphql_url,
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {stack.admin_token}"},
        timeout=30,
    )
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


def run_hello(stack: DevStack, name: str) -> dict[str, Any]:
    project = graphql(stack, "{ projects { id } }")["projects"][0]["id"]
    published = graphql(
        stack,
        "mutation($p: ID!, $d: JSON!) { publishWorkflow(projectId: $p, definition: $d) "
        "{ ... on WorkflowVersion { workflowId version } } }",
        p=project,
        d=load_definition_file(HELLO),
    )["publishWorkflow"]
    run_id = graphql(
        stack,
        "mutation($w: ID!, $i: JSON) { startRun(workflowId: $w, input: $i) { id } }",
        w=published["workflowId"],
        i={"name": name},
    )["startRun"]["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = graphql(stack, "query($id: ID!) { run(id: $id) { id status output } }", id=run_id)
        if run["run"]["status"] in ("SUCCEEDED", "FAILED"):
            return dict(run["run"])
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish")


def new_stack(data_dir: Path, lines: list[str], **options: Any) -> DevStack:
    ports = DevPorts(free_port(), free_port(), free_port(), free_port(), free_port(span=2))
    return DevStack(data_dir, ports, report=lines.append, **options)


def test_dev_stack_runs_a_workflow_and_keeps_everything_across_a_restart(tmp_path: Path) -> None:
    lines: list[str] = []
    stack = new_stack(tmp_path / "data", lines)
    try:
        stack.start()
        children = list(stack.processes)
        first = run_hello(stack, "Ada")
    finally:
        stack.stop()
    token = stack.admin_token

    assert first["status"] == "SUCCEEDED"
    assert first["output"] == {"greeting": "Hello, Ada!"}
    assert any("✓ control plane ready" in line for line in lines)
    assert (tmp_path / "data" / "admin-token").read_text().strip() == token

    assert len(children) == 5
    assert not any(child.running for child in children)

    again = new_stack(tmp_path / "data", [])
    try:
        again.start()
        project = graphql(again, "{ projects { id } }")["projects"][0]["id"]
        runs = graphql(
            again, "query($p: ID!) { runs(projectId: $p) { nodes { id status } } }", p=project
        )
        second = run_hello(again, "Bob")
    finally:
        again.stop()

    assert again.admin_token == token
    assert {"id": first["id"], "status": "SUCCEEDED"} in runs["runs"]["nodes"]
    assert second["output"] == {"greeting": "Hello, Bob!"}


def test_a_busy_port_is_refused_with_the_option_to_change_it(tmp_path: Path) -> None:
    stack = new_stack(tmp_path / "data", [])
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", stack.ports.nats))
        busy.listen()
        with pytest.raises(ServerStartError, match="--nats-port"):
            stack.start()
    assert stack.processes == []


def test_a_hung_data_plane_is_restarted_and_runs_make_progress_again(tmp_path: Path) -> None:
    """Hardening #10: a data plane alive but stuck (SIGSTOP) is noticed by its heartbeat."""
    lines: list[str] = []
    stack = new_stack(tmp_path / "data", lines, data_plane_health=HealthPolicy(grace=3, failures=2))
    try:
        stack.start()
        data_plane = next(p for p in stack.processes if p.name == "data plane")
        os.kill(data_plane.process.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 90
        while data_plane in stack.processes:
            assert time.monotonic() < deadline, lines
            stack.supervisor.poll()
            time.sleep(0.2)
        run = run_hello(stack, "Ada")
    finally:
        stack.stop()

    assert data_plane.process.returncode is not None
    assert any("data plane unhealthy since" in line for line in lines)
    assert any("data plane restarted" in line for line in lines)
    assert run["output"] == {"greeting": "Hello, Ada!"}
