"""The local activity that evaluates expressions outside the workflow.

Every program of the value runs in the worker's `ExpressionEvaluator` (one process per
program, under its limits); the results are put back in place as `evaluate` would. A
failure is returned, not raised, so that it is recorded in history like a value and the
workflow fails the node with it, without retrying.

Temporal waits for local activities when a worker shuts down: when the worker starts
shutting down, a running evaluation is cancelled (killing its process) and the activity
fails with `WorkerShuttingDown`, which the workflow answers by trying again after a
pause, on whichever worker then runs it.
"""

import asyncio
import contextlib
import json

from temporalio import activity
from temporalio.exceptions import ApplicationError

from connectors_sdk import ExpressionError, evaluate_with, find_expressions
from data_plane.errors import ArtefactError, ExpressionLimitError
from data_plane.evaluator import ExpressionEvaluator
from data_plane.messages import EvaluateExpressionsInput, EvaluateExpressionsResult
from data_plane.outbox import EventOutbox
from data_plane.protocol import ArtefactStore
from data_plane.references import load_references

SHUTTING_DOWN = "WorkerShuttingDown"


class ExpressionActivities:
    def __init__(
        self,
        evaluator: ExpressionEvaluator,
        outbox: EventOutbox,
        artefacts: ArtefactStore | None = None,
    ) -> None:
        self._evaluator = evaluator
        self._outbox = outbox
        # Node outputs stored by reference are loaded here, where I/O is allowed.
        self._artefacts = artefacts

    @activity.defn(name="evaluate_expressions")
    async def evaluate_expressions(
        self, request: EvaluateExpressionsInput
    ) -> EvaluateExpressionsResult:
        # The run's first events, when this is its first activity (see RunNodeInput).
        self._outbox.put(request.events)
        evaluation = asyncio.ensure_future(self._evaluate(request))
        shutdown = asyncio.ensure_future(activity.wait_for_worker_shutdown())
        try:
            await asyncio.wait({evaluation, shutdown}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            shutdown.cancel()
            if not evaluation.done():
                evaluation.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await evaluation
        if evaluation.cancelled():
            raise ApplicationError(
                "the worker is shutting down", type=SHUTTING_DOWN, non_retryable=True
            )
        return evaluation.result()

    async def _evaluate(self, request: EvaluateExpressionsInput) -> EvaluateExpressionsResult:
        try:
            context = await load_references(request.context, self._artefacts)
            context_json = json.dumps(context, ensure_ascii=False)
            results = {}
            for _, program in find_expressions(request.value):
                if program not in results:
                    results[program] = await self._evaluator.run(program, context_json)
            value = evaluate_with(request.value, results.__getitem__)
        except (ExpressionError, ExpressionLimitError, ArtefactError) as exc:
            return EvaluateExpressionsResult(error=str(exc))
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
        if size > self._evaluator.limits.max_output_bytes:
            # Interpolation can join values that were each under the limit.
            return EvaluateExpressionsResult(
                error=f"the expressions produced {size} bytes, over the limit of "
                f"{self._evaluator.limits.max_output_bytes} bytes "
                "(FLOWFORGE_DP_EXPRESSION_MAX_OUTPUT_BYTES)"
            )
        return EvaluateExpressionsResult(value=value)
