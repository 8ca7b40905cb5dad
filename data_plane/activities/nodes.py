"""Activities that run connector nodes and report run events.

An activity validates the node's config and input against its ports, runs it, validates
its output, and reports node events through the outbox (`data_plane/outbox.py`), which
publishes them on `ff.events.<pool>` of this worker's pool. Errors are translated to
Temporal failures in one place, `_as_application_error`: bad input or config never
retries, connector errors retry when the connector says so.

Every node call goes through the worker's circuit breaker of its node type and target
(`data_plane/breakers.py`); while that is open, the attempt fails at once with the
retryable type "CircuitOpen", and its retry waits until the breaker half-opens.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr, ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from connectors_sdk import (
    ConnectorError,
    ConnectorExecutionError,
    NodeContext,
    NodeRegistry,
    NodeResult,
    execute_node,
    find_breaker_target,
)
from data_plane.breakers import BreakerRegistry
from data_plane.errors import (
    ArtefactError,
    ArtefactStoreUnavailableError,
    CircuitOpenError,
    OutputTooLargeError,
    SecretError,
    SecretsUnavailableError,
)
from data_plane.messages import (
    ChainStepFailure,
    PublishEventsInput,
    RunChainInput,
    RunChainResult,
    RunNodeInput,
    RunNodeResult,
)
from data_plane.outbox import EventOutbox
from data_plane.protocol import ArtefactStore, EventKind, RunEvent, Vault, execution_key
from data_plane.references import by_reference_if_large, load_references
from data_plane.secrets import KnownSecrets, fetch_secrets

logger = logging.getLogger(__name__)


class NodeActivities:
    def __init__(
        self,
        registry: NodeRegistry,
        outbox: EventOutbox,
        max_output_bytes: int,
        breakers: BreakerRegistry,
        artefacts: ArtefactStore | None = None,
        vault: Vault | None = None,
        known_secrets: KnownSecrets | None = None,
    ) -> None:
        self._registry = registry
        # Secrets are read from Vault per attempt (`data_plane/secrets.py`); while the
        # attempt holds them, they are redacted from its output, its error and the logs.
        self._vault = vault
        self._known = known_secrets or KnownSecrets()
        self._breakers = breakers
        # Outputs over `max_output_bytes` are kept here and travel by reference; without
        # a store they fail their node (see `data_plane/references.py`).
        self._artefacts = artefacts
        # Events go out on this worker's own pool subjects, the only ones its credentials
        # allow, also for a node of a run whose other nodes run in another pool; through
        # the outbox, so that the bus being away never fails a node.
        self._outbox = outbox
        self._max_output_bytes = max_output_bytes

    @activity.defn(name="run_node")
    async def run_node(self, request: RunNodeInput) -> RunNodeResult:
        attempt = activity.info().attempt + request.attempt_offset
        started = self._event(request, "node.started", attempt=attempt, input=request.input)
        if request.defer_events:
            self._outbox.put(request.events)
        else:
            self._outbox.put([*request.events, started])
        try:
            async with _heartbeating():
                result = await self._run(request, attempt)
        except Exception as exc:
            failure = _as_application_error(exc)
            report = [started] if request.defer_events else []
            if not failure.non_retryable and attempt < request.max_attempts:
                report.append(
                    self._event(request, "node.retrying", attempt=attempt, error=failure.message)
                )
            self._outbox.put(report)
            raise failure from exc
        succeeded = self._event(request, "node.succeeded", attempt=attempt, output=result.output)
        if not request.defer_events:
            self._outbox.put([succeeded])
        return RunNodeResult(
            output=result.output,
            port=result.port,
            attempt=attempt,
            started_at=started.at,
            finished_at=succeeded.at,
        )

    @activity.defn(name="run_chain")
    async def run_chain(self, request: RunChainInput) -> RunChainResult:
        """Run the steps in order, stopping at the first failure (reported, not raised,
        so that the workflow applies that node's own retry policy)."""
        self._outbox.put(request.events)
        results: list[RunNodeResult] = []
        node_input = request.steps[0].input
        # One attempt: a secret two steps map is read once.
        held: dict[str, SecretStr] = {}
        for step in request.steps:
            started_at = datetime.now(UTC)
            try:
                async with asyncio.timeout(step.timeout_seconds):
                    step_request = step.model_copy(update={"input": node_input})
                    result = await self._run(step_request, 1, held)
            except Exception as exc:
                failure = _as_application_error(exc, step.timeout_seconds)
                return RunChainResult(
                    results=results,
                    failure=ChainStepFailure(
                        message=failure.message,
                        retryable=not failure.non_retryable,
                        started_at=started_at,
                        type=failure.type or "NodeFailed",
                    ),
                )
            results.append(
                RunNodeResult(
                    output=result.output,
                    port=result.port,
                    started_at=started_at,
                    finished_at=datetime.now(UTC),
                )
            )
            node_input = result.output
        return RunChainResult(results=results)

    @activity.defn(name="publish_events")
    async def publish_events(self, request: PublishEventsInput) -> None:
        self._outbox.put(request.events)

    async def _run(
        self, request: RunNodeInput, attempt: int, held: dict[str, SecretStr] | None = None
    ) -> NodeResult:
        """Fetch the node's secrets (those not `held` by the attempt already), execute it
        holding them, and redact them from what it returns or raises."""
        secrets = await fetch_secrets(
            self._vault, request.grants, request.secrets, request.node_id, held
        )
        if not secrets:
            return await self._execute(request, attempt, secrets)
        with self._known.holding([value.get_secret_value() for value in secrets.values()]):
            try:
                result = await self._execute(request, attempt, secrets)
            except Exception as exc:
                failure = _as_application_error(exc)
                # Not chained to `exc`: Temporal would record its message as the cause.
                raise RedactedNodeError(
                    self._known.redact_text(failure.message),
                    failure.type,
                    failure.non_retryable,
                ) from None
            return result

    async def _execute(
        self, request: RunNodeInput, attempt: int, secrets: dict[str, SecretStr]
    ) -> NodeResult:
        """Execute the node through `execute_node` (which validates around it and checks
        the port; a pure node here is one the interpreter does not evaluate itself) and
        through the breaker of its type and target, then check the output's size."""
        node_cls = self._registry.get(request.node_type)
        key = execution_key(request.node_id, request.iteration)
        context = NodeContext(
            run_id=request.run_id,
            node_id=request.node_id,
            attempt=attempt,
            logger=logging.LoggerAdapter(
                logging.getLogger(f"flowforge.node.{request.node_type}"),
                {"run_id": request.run_id, "node_id": request.node_id},
            ),
            secrets=secrets,
            idempotency_key=f"{request.run_id}:{key}",
            iteration=request.iteration,
        )
        config = await load_references(request.config, self._artefacts)
        node_input = await load_references(request.input, self._artefacts)
        limits = self._breakers.limits(node_cls, request.breaker)
        target = find_breaker_target(node_cls, config, node_input) if limits else None
        with self._breakers.guarding(node_cls.type, target, limits):
            result = await execute_node(node_cls, config, node_input, context)
        # Redacted before it may be stored as an artefact, which would keep it whole.
        redacted = self._known.redact(result.output) if secrets else result.output
        output = await by_reference_if_large(
            redacted, request.node_id, self._max_output_bytes, self._artefacts
        )
        return NodeResult(output=output, port=result.port)

    @staticmethod
    def _event(request: RunNodeInput, kind: EventKind, **fields: Any) -> RunEvent:
        return RunEvent.create(
            request.run_id,
            kind,
            datetime.now(UTC),
            request.node_id,
            iteration=request.iteration,
            protocol=request.protocol,
            **fields,
        )


@contextlib.asynccontextmanager
async def _heartbeating() -> AsyncIterator[None]:
    """Heartbeat while inside, for an activity the workflow gave a heartbeat timeout: a
    cancelled run reaches a running node only through the answer to a heartbeat (the
    node's task is then cancelled), and a worker that died is noticed within it."""
    info = activity.info()
    timeout = info.heartbeat_timeout
    if info.is_local or not timeout:
        yield
        return

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(timeout.total_seconds() / 3)

    beating = asyncio.create_task(beat())
    try:
        yield
    finally:
        beating.cancel()


class RedactedNodeError(Exception):
    """A node's failure, translated and redacted while its secrets were known."""

    def __init__(self, message: str, type: str | None, non_retryable: bool) -> None:
        super().__init__(message)
        self.failure = ApplicationError(message, type=type, non_retryable=non_retryable)


def _as_application_error(exc: Exception, timeout: float | None = None) -> ApplicationError:
    if isinstance(exc, RedactedNodeError):
        return exc.failure
    if isinstance(exc, TimeoutError) and timeout is not None:
        return ApplicationError(f"timed out after {timeout:g} s", type="NodeTimedOut")
    if isinstance(exc, ArtefactError):
        # The store being away passes; a missing or corrupt artefact stays so.
        retry = isinstance(exc, ArtefactStoreUnavailableError)
        return ApplicationError(str(exc), type=exc.code, non_retryable=not retry)
    if isinstance(exc, CircuitOpenError):
        # Retrying before the breaker half-opens would fail the same way and use up an
        # attempt; the wait replaces the policy's for this one retry only.
        return ApplicationError(str(exc), type=exc.code, next_retry_delay=exc.retry_after)
    if isinstance(exc, SecretsUnavailableError):
        return ApplicationError(str(exc), type=exc.code)
    if isinstance(exc, SecretError):
        return ApplicationError(str(exc), type=exc.code, non_retryable=True)
    if isinstance(exc, OutputTooLargeError):
        return ApplicationError(str(exc), type=exc.code, non_retryable=True)
    if isinstance(exc, ValidationError):
        return ApplicationError(
            f"invalid node data: {_validation_summary(exc)}",
            type="InvalidNodeData",
            non_retryable=True,
        )
    if isinstance(exc, ConnectorExecutionError):
        return ApplicationError(str(exc), type=exc.code, non_retryable=not exc.retryable)
    if isinstance(exc, ConnectorError):
        return ApplicationError(str(exc), type=exc.code, non_retryable=True)
    logger.exception("node raised an unexpected error")
    return ApplicationError(f"{type(exc).__name__}: {exc}", type="NodeCrashed")


def _validation_summary(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()
    )
