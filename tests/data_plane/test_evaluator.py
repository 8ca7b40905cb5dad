"""Hardening #7: the evaluator process pool enforces its limits and replaces a process it
had to kill (no Temporal involved; see test_expression_limits.py for runs)."""

import json
from collections.abc import AsyncIterator

import pytest

from connectors_sdk import ExpressionError
from data_plane.errors import ExpressionLimitError
from data_plane.evaluator import ExpressionEvaluator, ExpressionLimits

CONTEXT = json.dumps({"input": {"n": 3}, "nodes": {}})


@pytest.fixture
async def evaluator() -> AsyncIterator[ExpressionEvaluator]:
    limits = ExpressionLimits(
        timeout_seconds=1, memory_bytes=256 * 2**20, max_output_bytes=1000, processes=1
    )
    pool = ExpressionEvaluator(limits)
    yield pool
    await pool.close()


async def test_a_program_runs_in_an_evaluator_process(evaluator: ExpressionEvaluator) -> None:
    assert await evaluator.run(".input.n * 2", CONTEXT) == 6


async def test_a_program_past_its_deadline_is_killed_and_its_process_replaced(
    evaluator: ExpressionEvaluator,
) -> None:
    with pytest.raises(ExpressionLimitError, match=r"`last\(range\(1e15\)\)` ran longer than 1 s"):
        await evaluator.run("last(range(1e15))", CONTEXT)

    assert await evaluator.run(".input.n + 1", CONTEXT) == 4


async def test_a_program_over_the_memory_limit_fails(evaluator: ExpressionEvaluator) -> None:
    with pytest.raises(ExpressionLimitError, match="used more than 256 MiB of memory"):
        await evaluator.run('"x" * 2000000000 | length', CONTEXT)

    assert await evaluator.run(".input.n", CONTEXT) == 3


async def test_a_value_over_the_output_limit_fails(evaluator: ExpressionEvaluator) -> None:
    with pytest.raises(ExpressionLimitError, match="produced 2002 bytes, over the limit of 1000"):
        await evaluator.run('"x" * 2000', CONTEXT)


async def test_a_failing_program_fails_with_its_message(evaluator: ExpressionEvaluator) -> None:
    with pytest.raises(ExpressionError, match="boom"):
        await evaluator.run('error("boom")', CONTEXT)


async def test_a_closed_evaluator_refuses_programs(evaluator: ExpressionEvaluator) -> None:
    await evaluator.run(".input", CONTEXT)
    await evaluator.close()

    with pytest.raises(RuntimeError, match="closed"):
        await evaluator.run(".input", CONTEXT)
