from datetime import UTC, datetime, timedelta

import strawberry
from strawberry.scalars import JSON

from control_plane.db.transaction import Transaction
from control_plane.errors import InvalidInputError, NotFoundError
from control_plane.graphql.context import Info
from control_plane.graphql.results import NotFound
from control_plane.runs import control, signals
from control_plane.runs.types import (
    ControlRequest,
    ControlRunResult,
    Run,
    SendSignalResult,
    SignalsSent,
)
from control_plane.workflows.types import ValidationFailed
from data_plane.protocol import ControlAction, ControlSignal


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Start a run of a workflow version (the latest when version is omitted). "
        "A second call with the same idempotencyKey returns the first run."
    )
    async def start_run(
        self,
        info: Info,
        workflow_id: strawberry.ID,
        version: int | None = None,
        input: JSON | None = None,
        idempotency_key: str | None = None,
    ) -> Run:
        context = info.context
        async with context.transaction() as transaction:
            run = await context.services.launcher.start(
                transaction, context.principal, workflow_id, version, input, idempotency_key
            )
        return Run.from_row(run)

    @strawberry.mutation(
        description="Ask the run's data plane to cancel the run: waits end, running nodes "
        "are cancelled and, with compensate, the compensations of its completed nodes run. "
        "Follow the request in Run.controlRequests."
    )
    async def cancel_run(
        self, info: Info, id: strawberry.ID, compensate: bool = False
    ) -> ControlRunResult:
        return await _request_control(info, id, "cancel", compensate)

    @strawberry.mutation(
        description="Ask the run's data plane to pause the run: running nodes finish, none "
        "starts until resumeRun."
    )
    async def pause_run(self, info: Info, id: strawberry.ID) -> ControlRunResult:
        return await _request_control(info, id, "pause")

    @strawberry.mutation(description="Ask the run's data plane to resume a paused run.")
    async def resume_run(self, info: Info, id: strawberry.ID) -> ControlRunResult:
        return await _request_control(info, id, "resume")

    @strawberry.mutation(
        description="Send a signal to one run, for its core.wait nodes that wait for it "
        "(and for its correlation key, when they name one). A run that has not reached "
        "such a wait yet keeps the signal until one takes it."
    )
    async def signal_run(
        self,
        info: Info,
        id: strawberry.ID,
        signal: str,
        correlation: str | None = None,
        payload: JSON | None = None,
    ) -> ControlRunResult:
        try:
            event = signals.signal_event(signal, correlation, payload)
        except InvalidInputError as exc:
            return ValidationFailed.of(exc, "id")
        return await _request_control(info, id, "signal", event=event)

    @strawberry.mutation(
        description="Send a signal to every unfinished run of the project with a node "
        "WAITING for it now (and for its correlation key, when the wait names one): one "
        "request per run. A run that has not reached its wait yet is not reached: signal "
        "it with signalRun."
    )
    async def send_signal(
        self,
        info: Info,
        project_id: strawberry.ID,
        signal: str,
        correlation: str | None = None,
        payload: JSON | None = None,
    ) -> SendSignalResult:
        context = info.context
        ttl = timedelta(seconds=context.services.settings.control_ttl_seconds)
        try:
            event = signals.signal_event(signal, correlation, payload)
            async with context.transaction() as transaction:
                requests = await signals.send_signal(
                    transaction.session,
                    project_id,
                    event,
                    context.requested_by,
                    datetime.now(UTC),
                    ttl,
                )
                for request in requests:
                    _dispatch_after_commit(info, transaction, request.id)
        except NotFoundError as exc:
            return NotFound(message=str(exc))
        except InvalidInputError as exc:
            return ValidationFailed.of(exc, "id")
        return SignalsSent(requests=[ControlRequest.from_row(r) for r in requests])


async def _request_control(
    info: Info,
    run_id: str,
    action: ControlAction,
    compensate: bool = False,
    event: ControlSignal | None = None,
) -> ControlRunResult:
    context = info.context
    ttl = timedelta(seconds=context.services.settings.control_ttl_seconds)
    try:
        async with context.transaction() as transaction:
            request = await control.request_control(
                transaction.session,
                run_id,
                action,
                compensate,
                context.requested_by,
                datetime.now(UTC),
                ttl,
                payload=event,
            )
            _dispatch_after_commit(info, transaction, request.id)
    except NotFoundError as exc:
        return NotFound(message=str(exc))
    except InvalidInputError as exc:
        return ValidationFailed.of(exc, "id")
    return ControlRequest.from_row(request)


def _dispatch_after_commit(info: Info, transaction: Transaction, control_id: str) -> None:
    dispatcher = info.context.services.dispatcher
    transaction.after_commit(lambda: dispatcher.dispatch_control_soon(control_id))
