"""`flowforge run` and `flowforge runs ...`: start runs, look at them, cancel, pause,
resume and signal them."""

import json as jsonlib
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from data_plane.protocol import TERMINAL_RUN_STATUSES, NodeStatus, RunStatus
from flowforge.cli.client import GraphQLClient, connect, fail, print_json
from flowforge.cli.options import DataDir, Json, Project, Token, Url
from flowforge.cli.workflow import default_project

app = typer.Typer(help="Show, list, cancel, pause, resume and signal runs.", no_args_is_help=True)

RUN_FIELDS = """
id workflowId version status pool input output error createdAt startedAt finishedAt
nodes { nodeId status attempts input output error startedAt finishedAt counts { status count } }
"""
START = f"""
mutation Start($workflowId: ID!, $version: Int, $input: JSON, $key: String) {{
  startRun(workflowId: $workflowId, version: $version, input: $input, idempotencyKey: $key) {{
    {RUN_FIELDS}
  }}
}}"""
SHOW = f"query($id: ID!) {{ run(id: $id) {{ {RUN_FIELDS} }} }}"
FIND = "query($p: ID!, $n: String!) { workflow(projectId: $p, name: $n) { id } }"
SYMBOLS = {
    NodeStatus.PENDING: "·",
    NodeStatus.RUNNING: "▶",
    NodeStatus.RETRYING: "↻",
    NodeStatus.WAITING: "…",
    NodeStatus.SUCCEEDED: "✓",
    NodeStatus.FAILED: "✗",
    NodeStatus.SKIPPED: "-",
    NodeStatus.CANCELLED: "⊘",
    NodeStatus.COMPENSATING: "↺",
    NodeStatus.COMPENSATED: "↺",
}


def run_command(
    workflow: Annotated[str, typer.Argument(help="Workflow name.")],
    input: Annotated[str, typer.Option("--input", "-i", help="Run input as JSON.")] = "{}",
    version: Annotated[int | None, typer.Option(help="Version (default: latest).")] = None,
    idempotency_key: Annotated[
        str | None, typer.Option("--idempotency-key", help="Never start twice for this key.")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait and print node progress.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 300.0,
    project: Project = None,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """Start a run of a workflow.

    Example: flowforge run hello --input '{"name": "Ada"}' --wait
    """
    try:
        run_input = jsonlib.loads(input)
    except ValueError as exc:
        fail(f"--input is not JSON: {exc}")
    client = connect(url, token, data_dir)
    project_id = project or default_project(client)
    found = client.execute(FIND, p=project_id, n=workflow)["workflow"]
    if found is None:
        fail(f"no workflow named {workflow!r}; publish it with `flowforge workflow push FILE`")
    run = client.execute(
        START, workflowId=found["id"], version=version, input=run_input, key=idempotency_key
    )["startRun"]
    if not json:
        typer.echo(f"run {run['id']} {run['status']} ({workflow} v{run['version']})")
    if wait:
        run = _follow(client, run["id"], timeout, quiet=json)
    if json:
        print_json(run)
    elif wait:
        _print_outcome(run)
    if wait and run["status"] != RunStatus.SUCCEEDED:
        raise typer.Exit(1)


def _follow(client: GraphQLClient, run_id: str, timeout: float, quiet: bool) -> dict[str, Any]:
    seen: dict[str, tuple[str, int]] = {}
    stall: str | None = None
    deadline = time.monotonic() + timeout
    while True:
        run = client.execute(SHOW, id=run_id)["run"]
        for node in run["nodes"]:
            state = (node["status"], node["attempts"])
            if seen.get(node["nodeId"]) != state and not quiet:
                _print_node(node)
            seen[node["nodeId"]] = state
        if _stalled(run) and run["error"] != stall and not quiet:
            typer.echo(f"  ! stalled: {run['error']} (it goes on once a fixed worker takes it)")
        stall = run["error"] if _stalled(run) else None
        if run["status"] in TERMINAL_RUN_STATUSES:
            return dict(run)
        if time.monotonic() > deadline:
            fail(f"run {run_id} still {run['status']} after {timeout:.0f} s", code=2)
        time.sleep(0.2)


def _stalled(run: dict[str, Any]) -> bool:
    # The data plane could not go on interpreting the run: unfinished, with an error.
    return run["status"] not in TERMINAL_RUN_STATUSES and run["error"] is not None


def _print_node(node: dict[str, Any]) -> None:
    line = f"  {SYMBOLS.get(node['status'], '?')} {node['nodeId']} {node['status'].lower()}"
    if node["attempts"] > 1:
        line += f" (attempt {node['attempts']})"
    if node["error"] and node["status"] in (NodeStatus.RETRYING, NodeStatus.FAILED):
        line += f": {node['error']}"
    typer.echo(line)


def _print_outcome(run: dict[str, Any]) -> None:
    color = typer.colors.GREEN if run["status"] == RunStatus.SUCCEEDED else typer.colors.RED
    typer.secho(f"run {run['id']} {run['status']}", fg=color)
    if run["error"]:
        typer.echo(f"error: {run['error']}")
    if run["output"] is not None:
        typer.echo(jsonlib.dumps(run["output"], indent=2, sort_keys=True))


@app.command()
def show(
    run_id: Annotated[str, typer.Argument(help="Run id.")],
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """Show a run: status, and each node's status, attempts, input, output and error.

    Example: flowforge runs show 1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed
    """
    run = connect(url, token, data_dir).execute(SHOW, id=run_id)["run"]
    if json:
        print_json(run)
        return
    status = f"{run['status']} (stalled)" if _stalled(run) else run["status"]
    typer.echo(f"run {run['id']}  {status}  version {run['version']}  pool {run['pool']}")
    typer.echo(
        f"  created {run['createdAt']}  started {run['startedAt']}  finished {run['finishedAt']}"
    )
    typer.echo(f"  input  {jsonlib.dumps(run['input'], sort_keys=True)}")
    for node in run["nodes"]:
        _print_node(node)
        timing = f"started {node['startedAt']}  finished {node['finishedAt']}"
        typer.echo(f"      attempts {node['attempts']}  {timing}")
        if sum(c["count"] for c in node["counts"]) > 1:
            counts = ", ".join(f"{c['count']} {c['status'].lower()}" for c in node["counts"])
            typer.echo(f"      executions {counts}")
        if node["input"] is not None:
            typer.echo(f"      input  {jsonlib.dumps(node['input'], sort_keys=True)}")
        if node["output"] is not None:
            typer.echo(f"      output {jsonlib.dumps(node['output'], sort_keys=True)}")
    if run["error"]:
        typer.echo(f"  error  {run['error']}")
    if run["output"] is not None:
        typer.echo(f"  output {jsonlib.dumps(run['output'], sort_keys=True)}")


@app.command("list")
def list_runs(
    status: Annotated[
        RunStatus | None, typer.Option(case_sensitive=False, help="Only runs with this status.")
    ] = None,
    first: Annotated[int, typer.Option(help="How many.")] = 20,
    project: Project = None,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """List the latest runs of a project.

    Example: flowforge runs list --status FAILED
    """
    client = connect(url, token, data_dir)
    project_id = project or default_project(client)
    data = client.execute(
        "query($p: ID!, $s: RunStatus, $f: Int!) { runs(projectId: $p, status: $s, first: $f) "
        "{ nodes { id workflowId version status createdAt } } }",
        p=project_id,
        s=status.value if status else None,
        f=first,
    )["runs"]["nodes"]
    if json:
        print_json(data)
        return
    for run in data:
        typer.echo(f"{run['id']}  {run['status']:<12}  v{run['version']}  {run['createdAt']}")


CONTROL_FIELDS = """id runId action compensate status reason requestedAt expiresAt settledAt
  signal { name correlation payload }"""
CONTROL_RESULT = f"""
  __typename
  ... on ControlRequest {{ {CONTROL_FIELDS} }}
  ... on NotFound {{ message }}
  ... on ValidationFailed {{ errors {{ field message }} }}
"""
CANCEL = f"""mutation($id: ID!, $compensate: Boolean!) {{
  result: cancelRun(id: $id, compensate: $compensate) {{ {CONTROL_RESULT} }} }}"""
PAUSE = f"mutation($id: ID!) {{ result: pauseRun(id: $id) {{ {CONTROL_RESULT} }} }}"
RESUME = f"mutation($id: ID!) {{ result: resumeRun(id: $id) {{ {CONTROL_RESULT} }} }}"
SIGNAL = f"""mutation($id: ID!, $s: String!, $c: String, $p: JSON) {{
  result: signalRun(id: $id, signal: $s, correlation: $c, payload: $p) {{ {CONTROL_RESULT} }} }}"""
BROADCAST = f"""mutation($project: ID!, $s: String!, $c: String, $p: JSON) {{
  result: sendSignal(projectId: $project, signal: $s, correlation: $c, payload: $p) {{
    __typename
    ... on SignalsSent {{ requests {{ {CONTROL_FIELDS} }} }}
    ... on NotFound {{ message }}
    ... on ValidationFailed {{ errors {{ field message }} }} }} }}"""
CONTROL_REQUESTS = f"query($id: ID!) {{ run(id: $id) {{ controlRequests {{{CONTROL_FIELDS}}} }} }}"
RunId = Annotated[str, typer.Argument(help="Run id.")]
Wait = Annotated[
    bool,
    typer.Option("--wait", help="Wait until the data plane applied or refused the request."),
]
Timeout = Annotated[float, typer.Option(help="Seconds to wait with --wait.")]
SignalName = Annotated[str, typer.Argument(help="Signal name, as the wait's `signal` names it.")]
Correlation = Annotated[
    str | None,
    typer.Option("--correlation", "-c", help="Correlation key, as the wait's `correlation`."),
]
Payload = Annotated[str | None, typer.Option("--payload", "-p", help="Payload as JSON.")]
PayloadFile = Annotated[
    str | None,
    typer.Option("--payload-file", help="Read the JSON payload from a file ('-': stdin)."),
]


@app.command()
def cancel(
    run_id: RunId,
    compensate: Annotated[
        bool,
        typer.Option("--compensate", help="Ask for the compensations of its completed nodes too."),
    ] = False,
    wait: Wait = False,
    timeout: Timeout = 60.0,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """Cancel a run: waits end, running nodes are cancelled, nothing else starts.

    Example: flowforge runs cancel 1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed --compensate --wait
    """
    client = connect(url, token, data_dir)
    _control(client, CANCEL, run_id, wait, timeout, json, compensate=compensate)


def _control_command(name: str, mutation: str, summary: str) -> None:
    """Register `flowforge runs <name> RUN_ID`, which sends `mutation`."""

    def command(
        run_id: RunId,
        wait: Wait = False,
        timeout: Timeout = 60.0,
        url: Url = None,
        token: Token = None,
        data_dir: DataDir = None,
        json: Json = False,
    ) -> None:
        _control(connect(url, token, data_dir), mutation, run_id, wait, timeout, json)

    command.__doc__ = (
        f"{summary}\n\nExample: flowforge runs {name} 1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed --wait"
    )
    app.command(name)(command)


_control_command(
    "pause", PAUSE, "Pause a run: its running nodes finish, and none starts until it is resumed."
)
_control_command("resume", RESUME, "Resume a paused run.")


@app.command()
def signal(
    run_id: RunId,
    name: SignalName,
    correlation: Correlation = None,
    payload: Payload = None,
    payload_file: PayloadFile = None,
    wait: Wait = False,
    timeout: Timeout = 60.0,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """Send a signal to a run's waits for it. A run that has not reached such a wait yet
    keeps the signal until one takes it.

    Example: flowforge runs signal 1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed order.paid
    --correlation A-17 --payload '{"amount": 5}' --wait
    """
    value = _payload(payload, payload_file)
    client = connect(url, token, data_dir)
    _control(client, SIGNAL, run_id, wait, timeout, json, s=name, c=correlation, p=value)


@app.command()
def broadcast(
    name: SignalName,
    correlation: Correlation = None,
    payload: Payload = None,
    payload_file: PayloadFile = None,
    project: Project = None,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """Send a signal to every run of a project that waits for it now (with that
    correlation key, when its wait names one). A run not yet at its wait is not reached:
    use `flowforge runs signal RUN_ID NAME` for it.

    Example: flowforge runs broadcast order.paid --correlation A-17 --payload '{"amount": 5}'
    """
    value = _payload(payload, payload_file)
    client = connect(url, token, data_dir)
    project_id = project or default_project(client)
    result = client.execute(BROADCAST, project=project_id, s=name, c=correlation, p=value)["result"]
    _fail_on_refusal(result)
    requests = result["requests"]
    if json:
        print_json(requests)
        return
    if not requests:
        typer.echo(f"no run of the project waits for signal {name!r}: nothing sent")
    for request in requests:
        typer.echo(_request_line(request))


def _payload(payload: str | None, payload_file: str | None) -> Any:
    if payload is not None and payload_file is not None:
        fail("give the payload once: --payload or --payload-file, not both")
    if payload_file is not None:
        try:
            payload = sys.stdin.read() if payload_file == "-" else Path(payload_file).read_text()
        except OSError as exc:
            fail(f"--payload-file: cannot read {payload_file}: {exc.strerror}")
    if payload is None:
        return None
    try:
        return jsonlib.loads(payload)
    except ValueError as exc:
        fail(f"the payload is not JSON: {exc}")


def _control(
    client: GraphQLClient,
    mutation: str,
    run_id: str,
    wait: bool,
    timeout: float,
    json: bool,
    **variables: Any,
) -> None:
    """Send a control request; exits non-zero when it is refused or, with `wait`, when the
    data plane refuses it or it expires undelivered."""
    result = client.execute(mutation, id=run_id, **variables)["result"]
    _fail_on_refusal(result)
    request = _settled(client, result, timeout) if wait else result
    if json:
        print_json(request)
    else:
        typer.echo(_request_line(request))
    if request["status"] in ("REFUSED", "UNDELIVERED"):
        raise typer.Exit(1)


def _fail_on_refusal(result: dict[str, Any]) -> None:
    if result["__typename"] == "NotFound":
        fail(result["message"])
    if result["__typename"] == "ValidationFailed":
        fail("; ".join(issue["message"] for issue in result["errors"]))


def _request_line(request: dict[str, Any]) -> str:
    what = request["action"].lower()
    if request.get("signal"):
        what += f" {request['signal']['name']}"
        if request["signal"]["correlation"] is not None:
            what += f" ({request['signal']['correlation']})"
    line = f"{what} of run {request['runId']}: {request['status']}"
    if request["status"] == "PENDING":
        line += f" (until {request['expiresAt']})"
    if request["reason"]:
        line += f": {request['reason']}"
    return line


def _settled(client: GraphQLClient, request: dict[str, Any], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while request["status"] == "PENDING":
        if time.monotonic() > deadline:
            fail(f"the request {request['id']} is still PENDING after {timeout:.0f} s", code=2)
        time.sleep(0.2)
        found = client.execute(CONTROL_REQUESTS, id=request["runId"])["run"]["controlRequests"]
        request = next(r for r in found if r["id"] == request["id"])
    return request
