"""A chain of lightweight nodes (see `workflows/chains.py`) run in one local activity.

Each node keeps its own events, validation, retry policy and timeout: the activity stops
at the first failure and reports it, and that node's retries, then the nodes after it, run
one by one. If the chain's activity itself fails (a worker crash, a timeout), its nodes
run one by one from the start.
"""

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

from connectors_sdk import NodeSpec
from data_plane.activities.nodes import NodeActivities
from data_plane.messages import ChainStepFailure, RunChainInput
from data_plane.workflows.retry import ActivityFailure, reraise_cancellation
from data_plane.workflows.runtime import NodeFailedError, Prepared, Runtime, Settlement
from data_plane.workflows.steps.activity import execute_activity, node_request


async def run_chain(rt: Runtime, head_id: str) -> list[Settlement]:
    chain = [rt.node(node_id) for node_id in rt.topology.plan.nodes[head_id].chain]
    head, *followers = chain
    try:
        prepared = await rt.prepare(head)
    except NodeFailedError as exc:
        return [rt.failed(head, str(exc), exc.error_type)]
    steps = [node_request(rt, head, prepared)]
    steps += [node_request(rt, n, Prepared(n.config, None)) for n in followers]
    carried = rt.events.carry()
    try:
        with rt.events.local_activity():
            result = await workflow.execute_local_activity_method(
                NodeActivities.run_chain,
                RunChainInput(steps=steps, events=carried),
                activity_id=f"chain-{rt.key(head.id)}",
                start_to_close_timeout=sum((n.timeout for n in chain), timedelta()),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
    except ActivityFailure as exc:
        rt.events.give_back(carried)
        reraise_cancellation(exc)
        return await _one_by_one(rt, chain, prepared.config, prepared.input)
    settled: list[Settlement] = []
    node_input = prepared.input
    for node, step in zip(chain, result.results, strict=False):
        rt.events.observe(step.finished_at)
        rt.emit("node.started", node.id, at=step.started_at, input=node_input)
        rt.emit("node.succeeded", node.id, output=step.output)
        settled.append(Settlement(node.id, "SUCCEEDED", step.output, step.port))
        node_input = step.output
    if result.failure is not None:
        rest = chain[len(result.results) :]
        config = prepared.config if rest[0] is head else rest[0].config
        settled += await _one_by_one(rt, rest, config, node_input, result.failure)
    return settled


async def _one_by_one(
    rt: Runtime,
    nodes: list[NodeSpec],
    first_config: Any,
    node_input: Any,
    first_failure: ChainStepFailure | None = None,
) -> list[Settlement]:
    """Run nodes of a chain each by its own local activity until one fails; those left
    are skipped by the scheduler."""
    settled: list[Settlement] = []
    for i, node in enumerate(nodes):
        if rt.state.failure is not None:
            break  # the run failed elsewhere: nothing more starts
        config = first_config if i == 0 else node.config
        outcome = await execute_activity(
            rt,
            node,
            local=True,
            prepared=Prepared(config, node_input),
            first_failure=first_failure if i == 0 else None,
        )
        settled.append(outcome)
        if outcome.status != "SUCCEEDED":
            break
        node_input = outcome.output
    return settled
