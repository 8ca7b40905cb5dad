"""`flowforge tasks ...`: list human tasks and decide them."""

import json as jsonlib
from typing import Annotated, Any

import typer

from control_plane.db.models import TaskStatus
from flowforge.cli.client import connect, fail, print_json
from flowforge.cli.options import DataDir, Json, Project, Token, Url
from flowforge.cli.workflow import default_project

app = typer.Typer(help="List human tasks (core.approval) and decide them.", no_args_is_help=True)


TASK_FIELDS = """id runId nodeId iteration title assignees required status dueAt escalations
openedAt closedAt decisions { decidedBy decidedAt decision delivery reason }"""
LIST = f"""query($p: ID!, $a: String, $s: TaskStatus, $f: Int!) {{
  tasks(projectId: $p, assignee: $a, status: $s, first: $f) {{ nodes {{ {TASK_FIELDS} }} }} }}"""
COMPLETE = f"""mutation($t: ID!, $d: JSON!) {{ result: completeTask(taskId: $t, decision: $d) {{
  __typename
  ... on Task {{ {TASK_FIELDS} }}
  ... on NotFound {{ message }}
  ... on ValidationFailed {{ errors {{ field message }} }} }} }}"""


@app.command("list")
def list_tasks(
    assignee: Annotated[
        str | None,
        typer.Option(help="Only tasks assigned to this user id, role:<name> or group:<name>."),
    ] = None,
    status: Annotated[
        TaskStatus | None, typer.Option(case_sensitive=False, help="Only tasks in this status.")
    ] = None,
    first: Annotated[int, typer.Option(help="How many.")] = 20,
    project: Project = None,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """List the latest human tasks of a project.

    Example: flowforge tasks list --assignee role:operator --status OPEN
    """
    client = connect(url, token, data_dir)
    project_id = project or default_project(client)
    found = client.execute(
        LIST, p=project_id, a=assignee, s=status.value if status else None, f=first
    )["tasks"]["nodes"]
    if json:
        print_json(found)
        return
    for task in found:
        typer.echo(_summary(task))


def _summary(task: dict[str, Any]) -> str:
    line = f"{task['id']}  {task['status']:<9}  {task['title'] or task['nodeId']}"
    line += f"  assignees {', '.join(task['assignees'])}"
    approvals = sum(d["decision"].get("approved") is True for d in task["decisions"])
    line += f"  approvals {approvals}/{task['required']}"
    if task["status"] == "OPEN" and task["dueAt"]:
        line += f"  due {task['dueAt']}"
    return line


@app.command()
def complete(
    task_id: Annotated[str, typer.Argument(help='Task id ("<run id>:<node id>").')],
    approve: Annotated[bool, typer.Option("--approve", help="Approve.")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Reject.")] = False,
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            "-f",
            help="A field of the form, key=value; the value is read as JSON when it is "
            "JSON (5, true, [1]), else as text. Repeatable.",
        ),
    ] = None,
    decision: Annotated[
        str | None,
        typer.Option("--decision", help="The form's fields as one JSON object."),
    ] = None,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    json: Json = False,
) -> None:
    """Decide a human task as the token's principal: approve or reject, with the form's
    fields.

    Example: flowforge tasks complete RUN_ID:approve --approve --field comment="within budget"
    """
    if approve == reject:
        fail("give one of --approve and --reject")
    fields: dict[str, Any] = {}
    if decision is not None:
        try:
            fields = jsonlib.loads(decision)
        except ValueError as exc:
            fail(f"--decision is not JSON: {exc}")
        if not isinstance(fields, dict):
            fail('--decision must be a JSON object, e.g. {"comment": "ok"}')
    for item in field or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--field {item!r}: write it as key=value")
        fields[key] = _value(value)
    body = {**fields, "approved": approve}
    result = connect(url, token, data_dir).execute(COMPLETE, t=task_id, d=body)["result"]
    if result["__typename"] == "NotFound":
        fail(result["message"])
    if result["__typename"] == "ValidationFailed":
        fail("; ".join(issue["message"] for issue in result["errors"]))
    if json:
        print_json(result)
        return
    verb = "approved" if approve else "rejected"
    typer.echo(f"{verb} task {result['id']}; the decision goes to run {result['runId']}")
    typer.echo(_summary(result))


def _value(text: str) -> Any:
    try:
        return jsonlib.loads(text)
    except ValueError:
        return text
