"""`core.approval`: a human task, open until enough of its assignees decided or it is
due. Decisions arrive by the `control` update (`workflows/control.py`), checked by the
control plane against the task's form; the step waits on them with a condition, and on
its due time with the condition's timeout."""

from datetime import timedelta
from typing import Any

from temporalio import workflow

from connectors_sdk.nodes.approval import Approval, decision_schema
from data_plane.protocol import TaskInfo, WaitInfo
from data_plane.workflows.runtime import NodeFailedError, Runtime, Settlement
from data_plane.workflows.state import Decision

Outcome = str | None


async def run_approval(rt: Runtime, node_id: str) -> list[Settlement]:
    node = rt.node(node_id)
    try:
        prepared, config = await rt.prepare_config(node, Approval.Config)
    except NodeFailedError as exc:
        return [rt.failed(node, str(exc), exc.error_type)]
    rt.emit("node.started", node.id, input=prepared.input)
    task_id = f"{rt.run.run_id}:{rt.key(node.id)}"
    state = rt.state
    assignees, escalations = config.assignees, 0
    state.open_tasks.append(task_id)
    try:
        while True:
            due = rt.events.now() + config.due if config.due is not None else None
            task = TaskInfo(
                task_id=task_id,
                title=config.title,
                assignees=assignees,
                required=config.required,
                form=decision_schema(config.form),
                escalations=escalations,
            )
            wait = WaitInfo(kind="approval", until=due, task=task)
            with rt.waiting(node.id, wait, attempt=escalations + 1):
                try:
                    await workflow.wait_condition(
                        lambda: _outcome(state.decisions.get(task_id, []), config) is not None,
                        timeout=None if due is None else max(due - workflow.now(), timedelta()),
                    )
                except TimeoutError:
                    if config.escalate_to is not None and escalations == 0:
                        assignees, escalations = config.escalate_to, 1
                        continue
                    late: dict[str, Any] = {
                        "decisions": _listed(state.decisions.get(task_id, [])),
                        "timed_out_at": workflow.now().isoformat(),
                    }
                    return [rt.succeeded(node, late, "timeout")]
            decisions = state.decisions.get(task_id, [])
            port = _outcome(decisions, config)
            output: dict[str, Any] = {
                "approved": port == "approved",
                "decisions": _listed(decisions),
            }
            return [rt.succeeded(node, output, port)]
    finally:
        state.open_tasks.remove(task_id)


def _outcome(decisions: list[Decision], config: Approval.Config) -> Outcome:
    """approved once `required` approve; rejected once too few assignees are left to.

    With roles and groups as assignees the number of people who may decide is not known
    here, so a task of `required` approvals is rejected by its first rejection only when
    one approval suffices; otherwise it stays open until it is approved or due.
    """
    approvals = sum(d.approved for d in decisions)
    if approvals >= config.required:
        return "approved"
    rejections = len(decisions) - approvals
    people = len(config.assignees)
    if rejections and (config.required == 1 or people - rejections < config.required):
        return "rejected"
    return None


def _listed(decisions: list[Decision]) -> list[dict[str, object]]:
    return [
        {
            "decided_by": d.decided_by,
            "decided_at": d.decided_at.isoformat() if d.decided_at else None,
            "decision": d.decision,
        }
        for d in decisions
    ]
