"""The agent's second loop: control messages (cancel, pause, resume, signals and
decisions on human tasks) from
`ff.control.<pool>`, delivered to the run's workflow as the `control` update.

Each message is verified as descriptors are (trusted key, signature, protocol, expiry,
pool), then delivered with the update id "<control id>:<stream sequence>": a redelivery
of the message gets Temporal's first answer, while a copy published again reaches the
workflow, which refuses a control id it has applied (`replayed`). What became of a
request goes to the event outbox as `control.applied` or `control.refused` (the reason in
`error`) before the message is acknowledged, so a crash means redelivery, never a lost
outcome.

A message for a run whose workflow does not exist yet (its descriptor is still on its
way) is tried again, later and later, until it expires. A message that is not applied is
copied to `ff.dead.control.<pool>` with the reason in headers:

    code          reported to the control plane   why
    malformed, unknown_key, bad_signature, unsupported_protocol
                  no (nothing in it can be trusted)
    expired       no: the control plane marks the request UNDELIVERED itself at its expiry
    wrong_pool    no: another pool's runs are not this pool's to report on
    replayed      no: the first delivery of that control id reported its outcome
    run_ended     yes ("the run had already ended")
    refused       yes: the workflow's reason ("the run is not paused", ...)
"""

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nats.aio.msg import Msg
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError, RPCStatusCode

from data_plane.errors import ControlRejectedError
from data_plane.messages import CONTROL_UPDATE, ControlOutcome, ControlRequest
from data_plane.outbox import EventOutbox
from data_plane.protocol import (
    CONTROL_STREAM,
    Bus,
    ControlMessage,
    EventKind,
    RunEvent,
    agent_consumer,
    consume,
    control_subject,
    dead_control_subject,
    dead_letter,
    verify_control,
)
from data_plane.workflows.state import Decision, Signal

logger = logging.getLogger(__name__)

# The reason a workflow gives for a control id it has already applied (`ControlOutcome`).
REPLAYED = "replayed"
# Refusals the control plane hears of (see the module docstring).
_REPORTED = frozenset({"run_ended", "refused"})
# How long one delivery may take: well inside the consumer's ack wait (60 s).
_DELIVERY_TIMEOUT = 20.0
# The longest wait before a message for a run not started yet is tried again.
_MAX_RETRY_DELAY = 10.0


class _NotDeliveredYet(Exception):
    """The run's workflow cannot take the update now (not started yet, busy): try later."""


class ControlReceiver:
    def __init__(
        self,
        bus: Bus,
        outbox: EventOutbox,
        temporal: Client,
        trusted_keys: Mapping[str, Ed25519PublicKey],
        pool: str,
    ) -> None:
        self._bus = bus
        self._outbox = outbox
        self._temporal = temporal
        self._trusted_keys = trusted_keys
        self._pool = pool

    async def run(self, stop: asyncio.Event) -> None:
        """Pull and deliver control messages until `stop` is set."""
        logger.info("agent pulling %s", control_subject(self._pool))
        await consume(self._bus, CONTROL_STREAM, agent_consumer(self._pool), self._handle_all, stop)

    async def _handle_all(self, messages: list[Msg]) -> None:
        for message in messages:
            try:
                await self.handle(message)
            except Exception:
                # NATS trouble: the message stays unacknowledged and comes back after the
                # consumer's ack wait.
                logger.exception("could not handle a control message; it will be redelivered")

    async def handle(self, message: Msg) -> None:
        try:
            control = verify_control(message.data, self._trusted_keys, self._pool)
            outcome = await self._deliver(control, message.metadata.sequence.stream)
        except ControlRejectedError as exc:
            await self._refuse(message, exc)
            return
        except _NotDeliveredYet as exc:
            delay = min(0.5 * 2 ** (message.metadata.num_delivered or 1), _MAX_RETRY_DELAY)
            logger.info("%s; trying again in %.0f s", exc, delay)
            await message.nak(delay=delay)
            return
        if not outcome.applied:
            await self._refuse(message, _not_applied(control, outcome.reason))
            return
        logger.info(
            "applied the %s of run %s (control %s)",
            control.action,
            control.run_id,
            control.control_id,
            extra={"run_id": control.run_id},
        )
        self._report(control, "control.applied")
        await message.ack()

    async def _deliver(self, control: ControlMessage, sequence: int) -> ControlOutcome:
        """The workflow's answer to the update.

        Raises:
            ControlRejectedError: the run has ended, or its workflow refused the update.
            _NotDeliveredYet: the workflow does not exist yet, or did not answer in time.
        """
        handle = self._temporal.get_workflow_handle(control.run_id)
        request = ControlRequest(
            control_id=control.control_id,
            sequence=sequence,
            action=control.action,
            compensate=control.compensate,
            signal=control.signal and Signal(**control.signal.model_dump()),
            decision=control.decision and Decision(**control.decision.model_dump()),
        )
        try:
            async with asyncio.timeout(_DELIVERY_TIMEOUT):
                outcome: ControlOutcome = await handle.execute_update(
                    CONTROL_UPDATE,
                    request,
                    id=f"{control.control_id}:{sequence}",
                    result_type=ControlOutcome,
                )
        except WorkflowUpdateFailedError as exc:
            reason = _refusal(control, f"its workflow failed the update: {exc.cause}")
            raise ControlRejectedError("refused", reason, control) from exc
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:
            raise _NotDeliveredYet(
                f"run {control.run_id} did not answer its {control.action} in time"
            ) from exc
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise _NotDeliveredYet(f"Temporal refused the {control.action}: {exc}") from exc
            await self._check_ended(control)
            raise _NotDeliveredYet(
                f"run {control.run_id} has no workflow yet for its {control.action}"
            ) from exc
        return outcome

    async def _check_ended(self, control: ControlMessage) -> None:
        """Raise the `run_ended` refusal if the run's workflow exists and has closed."""
        try:
            described = await self._temporal.get_workflow_handle(control.run_id).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return
            raise
        if described.status != WorkflowExecutionStatus.RUNNING:
            raise ControlRejectedError("run_ended", "the run had already ended", control)

    async def _refuse(self, message: Msg, exc: ControlRejectedError) -> None:
        logger.warning("refused a control message (%s): %s", exc.code, exc)
        await dead_letter(self._bus, dead_control_subject(self._pool), message, exc.code, str(exc))
        if exc.control is not None and exc.code in _REPORTED:
            self._report(exc.control, "control.refused", str(exc))
        # Last, so that a crash before it means redelivery, not a refusal half recorded.
        await message.term()

    def _report(self, control: ControlMessage, kind: EventKind, error: str | None = None) -> None:
        event = RunEvent.create(
            control.run_id,
            kind,
            datetime.now(UTC),
            control_id=control.control_id,
            error=error,
            protocol=control.protocol,
        )
        self._outbox.put([event])


def _refusal(control: ControlMessage, reason: str) -> str:
    return f"the run refused its {control.action}: {reason}"


def _not_applied(control: ControlMessage, reason: str | None) -> ControlRejectedError:
    if reason == REPLAYED:
        return ControlRejectedError(
            "replayed",
            f"control {control.control_id} was already applied to run {control.run_id}: "
            "this copy of it is a replay",
            control,
        )
    return ControlRejectedError(
        "refused", _refusal(control, reason or "its workflow gave no reason"), control
    )
