"""Nodes run by an activity: on the pool's task queue, or as a local activity
(lightweight nodes). Retries and timeouts are Temporal's, from the node's policy."""

from datetime import timedelta

from temporalio import workflow

from connectors_sdk import NodeSpec
from data_plane.activities.nodes import NodeActivities
from data_plane.messages import ChainStepFailure, RunNodeInput
from data_plane.protocol import task_queue
from data_plane.workflows.retry import (
    ActivityFailure,
    attempts_used,
    failure_message,
    failure_type,
    reraise_cancellation,
    retryable,
    temporal_policy,
)
from data_plane.workflows.runtime import NodeFailedError, Prepared, Runtime, Settlement

# Activities on a queue heartbeat (`activities/nodes.py`), so that cancelling the run
# reaches a node that is running; runs started before keep scheduling them without.
HEARTBEAT_PATCH = "activity-heartbeats"
HEARTBEAT_TIMEOUT = timedelta(seconds=10)


async def run_activity(rt: Runtime, node_id: str) -> list[Settlement]:
    return [await execute_activity(rt, rt.node(node_id), local=False)]


async def run_local_activity(rt: Runtime, node_id: str) -> list[Settlement]:
    return [await execute_activity(rt, rt.node(node_id), local=True)]


async def execute_activity(
    rt: Runtime,
    node: NodeSpec,
    local: bool,
    prepared: Prepared | None = None,
    first_failure: ChainStepFailure | None = None,
) -> Settlement:
    """Run one node by an activity, after `first_failure` if its first attempt was made
    inside a chain (that attempt is reported, then the policy's retries follow)."""
    if prepared is None:
        try:
            prepared = await rt.prepare(node)
        except NodeFailedError as exc:
            return rt.failed(node, str(exc), exc.error_type)
    retry = node.retry
    request = node_request(rt, node, prepared)
    if first_failure is not None:
        rt.emit("node.started", node.id, at=first_failure.started_at, input=prepared.input)
        if not retryable(retry, first_failure.type, first_failure.retryable) or (
            retry.max_attempts == 1
        ):
            return rt.failed(node, first_failure.message, first_failure.type)
        rt.emit("node.retrying", node.id, error=first_failure.message)
        await workflow.sleep(retry.initial_interval)
        request.attempt_offset = 1
    # A local activity hands the workflow's pending events to the outbox first (see
    # `events.py`); an activity on a task queue may start much later, so events leave
    # on their own meanwhile.
    carried = rt.events.carry() if local else []
    request.events = carried
    request.defer_events = local
    policy = temporal_policy(retry, request.attempt_offset)
    try:
        if local:
            with rt.events.local_activity():
                result = await workflow.execute_local_activity_method(
                    NodeActivities.run_node,
                    request,
                    activity_id=rt.key(node.id),
                    start_to_close_timeout=node.timeout,
                    schedule_to_close_timeout=retry.total_timeout,
                    retry_policy=policy,
                )
        else:
            result = await workflow.execute_activity_method(
                NodeActivities.run_node,
                request,
                activity_id=rt.key(node.id),
                task_queue=task_queue(node.pool or rt.run.pool),
                start_to_close_timeout=node.timeout,
                schedule_to_close_timeout=retry.total_timeout,
                heartbeat_timeout=HEARTBEAT_TIMEOUT if workflow.patched(HEARTBEAT_PATCH) else None,
                retry_policy=policy,
            )
    except ActivityFailure as exc:
        rt.events.give_back(carried)
        reraise_cancellation(exc)
        return rt.failed(node, failure_message(exc), failure_type(exc), attempts_used(exc, retry))
    rt.events.observe(result.finished_at)
    if local:
        # Local activities leave their started and succeeded events to the workflow.
        attempt = result.attempt
        rt.emit(
            "node.started", node.id, at=result.started_at, attempt=attempt, input=prepared.input
        )
        rt.emit("node.succeeded", node.id, attempt=attempt, output=result.output)
    return Settlement(node.id, "SUCCEEDED", result.output, result.port)


def node_request(rt: Runtime, node: NodeSpec, prepared: Prepared) -> RunNodeInput:
    return RunNodeInput(
        run_id=rt.run.run_id,
        pool=rt.run.pool,
        node_id=node.id,
        node_type=node.type,
        config=prepared.config,
        input=prepared.input,
        max_attempts=node.retry.max_attempts,
        timeout_seconds=node.timeout.total_seconds(),
        protocol=rt.run.protocol,
        iteration=rt.scope.iteration,
        breaker=node.breaker,
        secrets=node.secret_map,
        grants=rt.run.grants if node.secrets else None,
    )
