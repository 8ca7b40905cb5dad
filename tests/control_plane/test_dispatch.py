"""A run committed but never published (a crash, NATS down) is published by the sweep."""

from control_plane.db.engine import create_engine, session_factory
from control_plane.runs.service import start_run

from fixtures.stack import Stack

FLOW = {
    "apiVersion": "flowforge/v1",
    "name": "swept",
    "nodes": [{"id": "only", "type": "core.transform", "config": {"value": {"ok": True}}}],
}


async def test_queued_run_that_was_never_published_still_runs(stack: Stack) -> None:
    published = await stack.publish(FLOW)
    engine = create_engine(stack.cp_settings.database_url)
    try:
        # What the startRun mutation commits before it publishes; the publish never happens.
        async with session_factory(engine).begin() as session:
            run, created = await start_run(
                session,
                published["workflowId"],
                None,
                {},
                None,
                stack.pool,
                stack.cp_settings.limits,
            )
    finally:
        await engine.dispose()
    assert created

    finished = await stack.wait_for_run(run.id)

    assert finished["status"] == "SUCCEEDED"
    assert finished["output"] == {"only": {"ok": True}}
