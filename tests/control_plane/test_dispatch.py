"""A run committed but never published (a crash, NATS down) is published by the sweep;
a run that can never be published fails with the reason and holds back no other
(Hardening #3, #4)."""

from control_plane.limits import LimitSettings

from fixtures.stack import Stack, commit_runs

FLOW = {
    "apiVersion": "flowforge/v1",
    "name": "swept",
    "nodes": [{"id": "only", "type": "core.transform", "config": {"value": {"ok": True}}}],
}


async def test_queued_run_that_was_never_published_still_runs(stack: Stack) -> None:
    published = await stack.publish(FLOW)
    [run] = await commit_runs(stack, published["workflowId"], [{}])

    finished = await stack.wait_for_run(run.id)

    assert finished["status"] == "SUCCEEDED"
    assert finished["output"] == {"only": {"ok": True}}


async def test_a_run_too_large_for_the_bus_fails_and_the_runs_after_it_still_run(
    stack: Stack,
) -> None:
    published = await stack.publish(FLOW)
    # As on a bus whose maximum payload is below what the limits were set for: the input
    # passes startRun but its signed descriptor cannot fit in one NATS message.
    generous = LimitSettings().model_copy(update={"max_run_input_bytes": 4 * 1024 * 1024})
    huge, small = await commit_runs(
        stack, published["workflowId"], [{"blob": "x" * 800_000}, {}], limits=generous
    )

    failed = await stack.wait_for_run(huge.id)
    succeeded = await stack.wait_for_run(small.id)

    assert failed["status"] == "FAILED"
    assert "cannot be dispatched" in failed["error"]
    assert "maximum payload" in failed["error"]
    assert succeeded["status"] == "SUCCEEDED"
    # The control plane's link to the bus survived: it is still ready and still dispatches.
    ready = await stack.http.get(stack.url.removesuffix("/graphql") + "/readyz")
    assert ready.json() == {"ready": True, "bus": True}
    assert (await stack.run_to_end(FLOW))["status"] == "SUCCEEDED"
