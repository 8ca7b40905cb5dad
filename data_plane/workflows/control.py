"""Control of a run from outside: pause, resume, cancel and signals, as the `control` update
delivers them (the agent turns each signed control message into one), and the gate that
lets nodes start or not.

A control message is applied once: its id is kept in the run's state with the stream
sequence it came with, so that a copy published again (another sequence) is refused as
replayed, while a redelivery of the same message gets the same answer. Pure;
imported by the workflow.
"""

from temporalio import workflow

from data_plane.messages import ControlOutcome, ControlRequest
from data_plane.workflows.events import EventBuffer, Watchers
from data_plane.workflows.state import RunState


def history_full(limit: int) -> bool:
    """Whether the workflow should continue as new at its next quiet moment."""
    info = workflow.info()
    return info.get_current_history_length() >= limit or info.is_continue_as_new_suggested()


class Gate:
    """Whether the run's nodes may start: not while it is paused or cancelled, nor once
    its history is full (it continues as new when nothing runs). Scopes driving the run
    watch it, to be woken when it changes."""

    def __init__(self, state: RunState, history_limit: int) -> None:
        self.state = state
        self._history_limit = history_limit
        # Told whenever the gate may have opened or been cancelled.
        self.watchers = Watchers()

    def held(self) -> bool:
        state = self.state
        return state.paused or state.cancelled or history_full(self._history_limit)

    @property
    def cancelled(self) -> bool:
        return self.state.cancelled


def apply_control(gate: Gate, events: EventBuffer, request: ControlRequest) -> ControlOutcome:
    """Apply a control request to the run, or say why not."""
    state = gate.state
    seen = state.controls.get(request.control_id)
    if seen is not None:
        if seen != request.sequence:
            return ControlOutcome(applied=False, reason="replayed")
        return ControlOutcome(applied=True)
    refusal = _refusal(state, request)
    if refusal is not None:
        return ControlOutcome(applied=False, reason=refusal)
    state.controls[request.control_id] = request.sequence
    # Numbered by the controls applied: a second pause is a new event, not a repeat.
    attempt = len(state.controls)
    if request.action == "pause":
        state.paused = True
        events.emit("run.paused", attempt=attempt)
    elif request.action == "resume":
        state.paused = False
        events.emit("run.resumed", attempt=attempt)
    elif request.action == "signal" and request.signal is not None:
        state.signals.append(request.signal.model_copy(update={"received_at": workflow.now()}))
    elif request.decision is not None:
        decision = request.decision.model_copy(update={"decided_at": workflow.now()})
        state.decisions.setdefault(decision.task_id, []).append(decision)
    else:
        state.cancelled, state.compensate = True, request.compensate
        events.emit("run.cancelling", attempt=attempt)
    gate.watchers.notify()
    return ControlOutcome(applied=True)


def _decision_refusal(state: RunState, request: ControlRequest) -> str | None:
    decision = request.decision
    if decision is None:
        return "a decide request must carry the decision"
    if decision.task_id not in state.open_tasks:
        return f"task {decision.task_id} is not open: it was decided, or came due, or never was"
    if any(d.decided_by == decision.decided_by for d in state.decisions.get(decision.task_id, ())):
        return f"{decision.decided_by} already decided task {decision.task_id}"
    return None


# Signals kept for waits not reached yet, at most.
MAX_PENDING_SIGNALS = 1000


def _refusal(state: RunState, request: ControlRequest) -> str | None:
    if state.cancelled:
        return "the run is being cancelled"
    if request.action == "decide":
        return _decision_refusal(state, request)
    if request.action == "signal":
        if request.signal is None:
            return "a signal request must carry the signal"
        if len(state.signals) >= MAX_PENDING_SIGNALS:
            return (
                f"the run holds {MAX_PENDING_SIGNALS} signals no wait has taken; it takes no more"
            )
    if request.action == "pause" and state.paused:
        return "the run is already paused"
    if request.action == "resume" and not state.paused:
        return "the run is not paused"
    return None
