"""The local activity that evaluates expressions outside the workflow.

Every program of the value runs in the worker's `ExpressionEvaluator` (one process per
program, under its limits); the results are put back in place as `evaluate` would. A
failure is returned, not raised, so that it is recorded in history like a value and the
workflow fails the node with it, without retrying.
"""

import json

from temporalio import activity

from connectors_sdk import ExpressionError, evaluate_with, find_expressions
from data_plane.errors import ExpressionLimitError
from data_plane.evaluator import ExpressionEvaluator
from data_plane.messages import EvaluateExpressionsInput, EvaluateExpressionsResult


class ExpressionActivities:
    def __init__(self, evaluator: ExpressionEvaluator) -> None:
        self._evaluator = evaluator

    @activity.defn(name="evaluate_expressions")
    async def evaluate_expressions(
        self, request: EvaluateExpressionsInput
    ) -> EvaluateExpressionsResult:
        try:
            context_json = json.dumps(request.context, ensure_ascii=False)
            results = {}
            for _, program in find_expressions(request.value):
                if program not in results:
                    results[program] = await self._evaluator.run(program, context_json)
            value = evaluate_with(request.value, results.__getitem__)
        except (ExpressionError, ExpressionLimitError) as exc:
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
