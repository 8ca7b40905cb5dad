"""The transition table of runs and nodes, applied to rows in memory: no server, no database.

Events of one run come from several processes, so any order must end in the same state,
and nothing that arrives late or twice may reopen what finished.
"""

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest

from control_plane.db.models import NodeRun, Run
from control_plane.runs.progress import (
    STALLED_WITHOUT_REASON,
    TRANSITIONS,
    apply_node_event,
    apply_run_event,
    fail_run,
)
from data_plane.protocol import (
    TERMINAL_NODE_STATUSES,
    TERMINAL_RUN_STATUSES,
    EventKind,
    NodeStatus,
    RunEvent,
    RunStatus,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def event(kind: EventKind, seconds: int, node_id: str | None = None, **fields: Any) -> RunEvent:
    return RunEvent.create("r1", kind, at(seconds), node_id, **fields)


def queued_run() -> Run:
    return Run(id="r1", status=RunStatus.QUEUED, input={})


def new_node() -> NodeRun:
    return NodeRun(
        run_id="r1", node_id="fetch", iteration="", status=NodeStatus.PENDING, attempts=0
    )


def run_after(*events: RunEvent, run: Run | None = None) -> Run:
    run = run or queued_run()
    for e in events:
        apply_run_event(run, e)
    return run


def node_after(*events: RunEvent) -> NodeRun:
    node = new_node()
    for e in events:
        apply_node_event(node, e)
    return node


def state(row: Run | NodeRun) -> dict[str, Any]:
    fields = ("status", "attempts", "input", "output", "error", "started_at", "finished_at")
    return {name: getattr(row, name, None) for name in fields}


def test_every_event_kind_has_a_row_and_only_node_events_move_nodes() -> None:
    assert set(TRANSITIONS) == set(get_args(EventKind))
    assert {kind for kind, row in TRANSITIONS.items() if row.node} == {
        kind for kind in get_args(EventKind) if kind.startswith("node.")
    }


def test_no_transition_leaves_a_terminal_status_but_compensation_leaves_succeeded() -> None:
    for kind, row in TRANSITIONS.items():
        assert not set(row.run) & TERMINAL_RUN_STATUSES
        left = set(row.node) & TERMINAL_NODE_STATUSES
        assert left == ({NodeStatus.SUCCEEDED} if kind == "node.compensating" else set())


NODE_LIFE = [
    event("node.started", 1, "fetch", attempt=1, input={"q": 1}),
    event("node.retrying", 2, "fetch", attempt=1, error="timeout"),
    event("node.started", 3, "fetch", attempt=2, input={"q": 1}),
    event("node.succeeded", 4, "fetch", attempt=2, output={"rows": 3}),
]


def test_node_events_in_any_order_end_in_the_same_state() -> None:
    expected = state(node_after(*NODE_LIFE))

    ends = [state(node_after(*order)) for order in itertools.permutations(NODE_LIFE)]

    assert expected == {
        "status": NodeStatus.SUCCEEDED,
        "attempts": 2,
        "input": {"q": 1},
        "output": {"rows": 3},
        "error": None,
        "started_at": at(1),
        "finished_at": at(4),
    }
    assert all(end == expected for end in ends)


def test_a_late_retry_or_start_does_not_reopen_a_finished_node() -> None:
    failed = node_after(event("node.failed", 5, "fetch", attempt=3, error="gone"))

    late = node_after(
        event("node.failed", 5, "fetch", attempt=3, error="gone"),
        event("node.retrying", 2, "fetch", attempt=1, error="timeout"),
        event("node.started", 1, "fetch", attempt=1, input={"q": 1}),
        event("node.succeeded", 6, "fetch", output={"late": True}),
    )

    assert late.status == failed.status == NodeStatus.FAILED
    assert (late.error, late.output, late.finished_at) == ("gone", None, at(5))
    assert (late.attempts, late.input, late.started_at) == (3, {"q": 1}, at(1))


def test_a_repeated_node_event_changes_nothing_more() -> None:
    once = node_after(*NODE_LIFE[:2])
    twice = node_after(*NODE_LIFE[:2], *NODE_LIFE[:2])

    assert state(twice) == state(once)
    assert once.status == NodeStatus.RETRYING


def test_a_skipped_node_stays_skipped() -> None:
    node = node_after(event("node.skipped", 1, "fetch"), event("node.started", 2, "fetch"))

    assert node.status == NodeStatus.SKIPPED


RUN_LIFE = [
    event("run.started", 1),
    event("node.started", 2, "fetch"),
    event("node.succeeded", 3, "fetch", output={"rows": 3}),
    event("run.succeeded", 4, output={"fetch": {"rows": 3}}),
]


def test_run_events_in_any_order_end_in_the_same_state() -> None:
    ends = [state(run_after(*order)) for order in itertools.permutations(RUN_LIFE)]

    assert all(end["status"] == RunStatus.SUCCEEDED for end in ends)
    assert all(end["output"] == {"fetch": {"rows": 3}} for end in ends)
    assert all(end["finished_at"] == at(4) for end in ends)
    assert all(end["started_at"] is not None and end["error"] is None for end in ends)


def test_any_report_starts_a_queued_run() -> None:
    for e in RUN_LIFE[:3]:
        assert run_after(e).status == RunStatus.RUNNING


@pytest.mark.parametrize("late", [*RUN_LIFE, event("run.stalled", 9, error="bug")])
def test_nothing_reopens_a_failed_run(late: RunEvent) -> None:
    failed = run_after(event("run.failed", 5, error="node fetch failed"))

    run_after(late, run=failed)

    assert failed.status == RunStatus.FAILED
    assert (failed.error, failed.finished_at, failed.output) == ("node fetch failed", at(5), None)


def test_a_run_that_fails_before_it_starts_has_no_start() -> None:
    run = run_after(event("run.failed", 1, error="definition refused"))

    assert (run.status, run.started_at, run.finished_at) == (RunStatus.FAILED, None, at(1))


def test_a_stalled_run_goes_on_running_with_the_error_shown() -> None:
    from_queued = run_after(event("run.stalled", 1, error="interpreter: KeyError 'x'"))
    from_running = run_after(event("run.started", 1), event("run.stalled", 2, error="bug"))

    assert (from_queued.status, from_queued.error) == (
        RunStatus.RUNNING,
        "interpreter: KeyError 'x'",
    )
    assert (from_running.status, from_running.error) == (RunStatus.RUNNING, "bug")
    assert from_queued.started_at == at(1)


def test_a_stall_without_a_reason_is_still_shown() -> None:
    run = run_after(event("run.stalled", 1))

    assert run.error == STALLED_WITHOUT_REASON


def test_any_later_event_of_the_run_clears_the_stall() -> None:
    stalled = [event("run.started", 1), event("run.stalled", 2, error="bug")]

    continued = run_after(*stalled, event("node.started", 3, "next"))
    stalled_again = run_after(*stalled, event("run.stalled", 4, attempt=2, error="other bug"))

    assert (continued.status, continued.error) == (RunStatus.RUNNING, None)
    assert (stalled_again.status, stalled_again.error) == (RunStatus.RUNNING, "other bug")


def test_a_stalled_run_can_still_finish_either_way() -> None:
    stalled = [event("run.started", 1), event("run.stalled", 2, error="bug")]

    succeeded = run_after(*stalled, event("run.succeeded", 3, output={"ok": True}))
    failed = run_after(*stalled, event("run.failed", 3, error="node x failed"))

    assert (succeeded.status, succeeded.error, succeeded.output) == (
        RunStatus.SUCCEEDED,
        None,
        {"ok": True},
    )
    assert (failed.status, failed.error) == (RunStatus.FAILED, "node x failed")


def test_a_stall_reported_after_the_end_is_ignored() -> None:
    run = run_after(*RUN_LIFE, event("run.stalled", 9, error="bug"))

    assert (run.status, run.error) == (RunStatus.SUCCEEDED, None)


def test_the_control_plane_does_not_fail_a_run_that_finished() -> None:
    done = run_after(*RUN_LIFE)
    queued = queued_run()

    fail_run(done, "cannot dispatch", at(9))
    fail_run(queued, "cannot dispatch", at(9))

    assert (done.status, done.error) == (RunStatus.SUCCEEDED, None)
    assert (queued.status, queued.error, queued.finished_at) == (
        RunStatus.FAILED,
        "cannot dispatch",
        at(9),
    )
