import logging

import strawberry
from strawberry.scalars import JSON

from control_plane.graphql.context import Info
from control_plane.graphql.errors import graphql_errors
from control_plane.runs import service
from control_plane.runs.types import Run

logger = logging.getLogger(__name__)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Start a run of a workflow version (the latest when version is omitted). "
        "A second call with the same idempotencyKey returns the first run."
    )
    @graphql_errors
    async def start_run(
        self,
        info: Info,
        workflow_id: strawberry.ID,
        version: int | None = None,
        input: JSON | None = None,
        idempotency_key: str | None = None,
    ) -> Run:
        services = info.context.services
        async with services.sessions.begin() as session:
            run, created = await service.start_run(
                session,
                workflow_id,
                version,
                input,
                idempotency_key,
                services.settings.default_pool,
                services.settings.limits,
            )
        if created:
            try:
                await services.dispatcher.dispatch(run.id)
            except Exception:
                # The run is committed: the dispatch sweep publishes it once NATS answers.
                logger.warning("run %s queued; dispatch deferred", run.id, exc_info=True)
        return Run.from_row(run)
