"""The Temporal worker of a pool and the process that runs it beside an agent."""

import asyncio
import logging
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from connectors_sdk import NodeRegistry
from data_plane.activities.expressions import ExpressionActivities
from data_plane.activities.nodes import NodeActivities
from data_plane.agent import Agent
from data_plane.breakers import BreakerRegistry
from data_plane.codec import PayloadKeys, data_converter, load_payload_keys
from data_plane.evaluator import ExpressionEvaluator, ExpressionLimits
from data_plane.heartbeat import Heartbeat
from data_plane.outbox import EventOutbox
from data_plane.protocol import (
    ArtefactStore,
    Bus,
    Vault,
    open_artefact_store,
    pool_inbox,
    task_queue,
)
from data_plane.secrets import KnownSecrets, redacting_logs
from data_plane.settings import DataPlaneSettings, load_trusted_keys
from data_plane.workflows.dag import DagRunWorkflow
from data_plane.workflows.loop import LoopWorkflow
from data_plane.workflows.map import MapBatchWorkflow

logger = logging.getLogger(__name__)


def build_worker(
    client: Client,
    outbox: EventOutbox,
    registry: NodeRegistry,
    settings: DataPlaneSettings,
    evaluator: ExpressionEvaluator,
    artefacts: ArtefactStore,
    vault: Vault | None = None,
    known_secrets: KnownSecrets | None = None,
) -> Worker:
    pool = settings.pool
    activities = NodeActivities(
        registry,
        outbox,
        settings.max_output_bytes,
        breaker_registry(settings),
        artefacts,
        vault,
        known_secrets,
    )
    expressions = ExpressionActivities(evaluator, outbox, artefacts)
    return Worker(
        client,
        task_queue=task_queue(pool),
        workflows=[DagRunWorkflow, MapBatchWorkflow, LoopWorkflow],
        activities=[
            activities.run_node,
            activities.run_chain,
            activities.publish_events,
            expressions.evaluate_expressions,
        ],
    )


def breaker_registry(settings: DataPlaneSettings) -> BreakerRegistry:
    """The worker's circuit breakers, one registry per process (`data_plane/breakers.py`)."""
    return BreakerRegistry(
        failures=settings.breaker_failures,
        cool_down=timedelta(seconds=settings.breaker_cool_down_seconds),
        node_types=settings.breaker_node_types,
        enabled=settings.breaker_enabled,
    )


def expression_limits(settings: DataPlaneSettings) -> ExpressionLimits:
    return ExpressionLimits(
        timeout_seconds=settings.expression_timeout_seconds,
        memory_bytes=settings.expression_memory_mb * 1024 * 1024,
        max_output_bytes=settings.expression_max_output_bytes,
        processes=settings.expression_processes,
    )


# How long to wait for a Temporal server that answers but is still starting up.
STARTING_SERVER_GRACE_SECONDS = 30.0


async def connect_temporal(
    address: str, namespace: str, payload_keys: PayloadKeys | None = None
) -> Client:
    """Connect to Temporal, encrypting payloads with `payload_keys` when given. A server
    that answers "not healthy yet" (its frontend is still starting, as just after a
    restart) is asked again for a while; any other failure is raised at once."""
    deadline = asyncio.get_running_loop().time() + STARTING_SERVER_GRACE_SECONDS
    while True:
        try:
            return await Client.connect(
                address, namespace=namespace, data_converter=data_converter(payload_keys)
            )
        except RuntimeError as exc:
            if "not healthy yet" not in str(exc) or asyncio.get_running_loop().time() > deadline:
                raise
            logger.info("Temporal at %s is still starting; connecting again", address)
            await asyncio.sleep(0.5)


async def serve(settings: DataPlaneSettings, registry: NodeRegistry, stop: asyncio.Event) -> None:
    """Run one agent and one worker for `settings.pool` until `stop` is set."""
    heartbeat = Heartbeat.start(settings.heartbeat_path)
    trusted_keys = load_trusted_keys(settings.trusted_keys)
    payload_keys = (
        load_payload_keys(settings.payload_keys_path) if settings.payload_keys_path else None
    )
    client = await connect_temporal(
        settings.temporal_address, settings.temporal_namespace, payload_keys
    )
    bus = Bus(
        settings.nats_url,
        name=f"data-plane-{settings.pool}",
        inbox_prefix=pool_inbox(settings.pool),
        credentials=settings.nats_credentials,
    )
    # Not waiting for the bus: runs go on without it, their events wait in the outbox.
    bus.start()
    outbox = EventOutbox(settings.outbox_path, bus, settings.pool)
    publisher = asyncio.create_task(outbox.run(stop), name="event-outbox")
    evaluator = ExpressionEvaluator(expression_limits(settings))
    vault = Vault(settings.vault, f"pool {settings.pool}") if settings.vault else None
    known_secrets = KnownSecrets()
    try:
        agent = Agent(
            bus, outbox, client, registry, trusted_keys, settings.pool, settings.max_output_bytes
        )
        artefacts = open_artefact_store(settings, bus)
        worker = build_worker(
            client, outbox, registry, settings, evaluator, artefacts, vault, known_secrets
        )
        with redacting_logs(known_secrets):
            async with worker:
                logger.info("data plane ready: pool %s", settings.pool)
                await agent.run(stop)
    finally:
        # After the worker: its shutdown cancels running evaluations (killing their
        # processes); then the idle processes go.
        await evaluator.close()
        await heartbeat.stop()
        stop.set()
        await publisher
        await outbox.close()
        await bus.close()
        if vault is not None:
            await vault.close()
