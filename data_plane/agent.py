"""The agent: pulls signed run descriptors from JetStream and starts them on Temporal,
and delivers the pool's control messages to the runs (`controls.py`).

A descriptor is acknowledged only once Temporal has accepted the start (or already has a
workflow with that run id), so a crash at any point means redelivery, never loss, and a
redelivery never starts a second run. Descriptors that fail verification are copied to
`ff.dead.runs.<pool>` with the reason and never run.
"""

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nats.aio.msg import Msg
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from connectors_sdk import DefinitionInvalidError, NodeRegistry, parse_definition
from data_plane.controls import ControlReceiver
from data_plane.errors import DescriptorRejectedError
from data_plane.messages import ChildRun, DagRunInput, SecretGrants
from data_plane.outbox import EventOutbox
from data_plane.protocol import (
    RUNS_STREAM,
    Bus,
    RunDescriptor,
    RunEvent,
    agent_consumer,
    consume,
    dead_letter,
    dead_runs_subject,
    runs_subject,
    task_queue,
    verify_descriptor,
)
from data_plane.workflows.dag import DagRunWorkflow
from data_plane.workflows.plan import ExecutionPlan, build_plan

logger = logging.getLogger(__name__)


class Agent:
    def __init__(
        self,
        bus: Bus,
        outbox: EventOutbox,
        temporal: Client,
        registry: NodeRegistry,
        trusted_keys: Mapping[str, Ed25519PublicKey],
        pool: str,
        max_output_bytes: int,
    ) -> None:
        self._max_output_bytes = max_output_bytes
        self._bus = bus
        self._outbox = outbox
        self._temporal = temporal
        self._registry = registry
        self._trusted_keys = trusted_keys
        self._pool = pool
        self._controls = ControlReceiver(bus, outbox, temporal, trusted_keys, pool)

    async def run(self, stop: asyncio.Event) -> None:
        """Pull and handle descriptors and control messages until `stop` is set."""
        logger.info("agent pulling %s", runs_subject(self._pool))
        await asyncio.gather(
            consume(self._bus, RUNS_STREAM, agent_consumer(self._pool), self._handle_all, stop),
            self._controls.run(stop),
        )

    async def _handle_all(self, messages: list[Msg]) -> None:
        for message in messages:
            try:
                await self.handle(message)
            except Exception:
                # NATS or Temporal trouble: the descriptor stays unacknowledged and comes
                # back after the consumer's ack wait.
                logger.exception("could not handle a descriptor; it will be redelivered")

    async def handle(self, message: Msg) -> None:
        try:
            descriptor = verify_descriptor(message.data, self._trusted_keys, pool=self._pool)
            plan = self._plan(descriptor)
            children = self._children(descriptor)
        except (DescriptorRejectedError, DefinitionInvalidError) as exc:
            await self._dead_letter(message, exc.code, str(exc))
            # Only a descriptor whose signature held names a run we may report on.
            trusted = descriptor if isinstance(exc, DefinitionInvalidError) else exc.descriptor
            if trusted is not None:
                await self._report_failed(trusted, f"refused by pool {self._pool!r}: {exc}")
            # Last, so that a crash before it means redelivery, not a refusal half recorded.
            await message.term()
            return
        try:
            await self._temporal.start_workflow(
                DagRunWorkflow.run,
                DagRunInput(
                    run_id=descriptor.run_id,
                    pool=descriptor.pool,
                    definition=descriptor.definition,
                    input=descriptor.input,
                    plan=plan,
                    subworkflows=children,
                    protocol=descriptor.protocol,
                    max_output_bytes=self._max_output_bytes,
                    grants=_grants(descriptor),
                ),
                id=descriptor.run_id,
                task_queue=task_queue(descriptor.pool),
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                # The worker runs in this process: take the first workflow task with the
                # start reply instead of waiting for a poll.
                request_eager_start=True,
            )
            logger.info("started run %s", descriptor.run_id, extra={"run_id": descriptor.run_id})
        except WorkflowAlreadyStartedError:
            logger.info(
                "run %s already started; duplicate delivery acknowledged",
                descriptor.run_id,
                extra={"run_id": descriptor.run_id},
            )
        except Exception:
            logger.exception("could not start run %s; will retry", descriptor.run_id)
            await message.nak(delay=2.0)
            return
        await message.ack()

    def _plan(self, descriptor: RunDescriptor) -> ExecutionPlan:
        definition = parse_definition(descriptor.definition, self._registry)
        return build_plan(definition, self._registry, descriptor.pool)

    def _children(self, descriptor: RunDescriptor) -> dict[str, ChildRun]:
        """Plans for the workflows the run calls, made here like the run's own."""
        children = {}
        for key, child in descriptor.subworkflows.items():
            definition = parse_definition(child.definition, self._registry)
            children[key] = ChildRun(
                workflow_id=child.workflow_id,
                version=child.version,
                definition=child.definition,
                plan=build_plan(definition, self._registry, descriptor.pool),
            )
        return children

    async def _dead_letter(self, message: Msg, code: str, reason: str) -> None:
        logger.warning("refused descriptor (%s): %s", code, reason)
        await dead_letter(self._bus, dead_runs_subject(self._pool), message, code, reason)

    async def _report_failed(self, descriptor: RunDescriptor, error: str) -> None:
        event = RunEvent.create(descriptor.run_id, "run.failed", datetime.now(UTC), error=error)
        self._outbox.put([event])


def _grants(descriptor: RunDescriptor) -> SecretGrants | None:
    if not descriptor.secret_grants:
        return None
    return SecretGrants(
        workspace_id=descriptor.workspace_id,
        project_id=descriptor.project_id,
        names=sorted(descriptor.secret_grants),
    )
