"""Driving one scope to its end: start what the scheduler names, wait for any step to
end, settle it, ask again, until nothing runs. Used for the run's own graph and for each
iteration of a body. Orchestration only; imported by the workflow."""

import asyncio
from contextlib import nullcontext

from temporalio import workflow

from data_plane.protocol import as_artefact_ref
from data_plane.workflows.control import Gate
from data_plane.workflows.events import EventBuffer
from data_plane.workflows.expressions import VISITS_PER_ACTIVATION, json_size
from data_plane.workflows.runtime import Runtime, Settlement
from data_plane.workflows.scheduler import advance, record_failure, unsettled
from data_plane.workflows.steps import STEPS


class Pacer:
    """Ends the workflow activation now and then (all scopes of a workflow together), so
    that no activation grows with the definition past the deadlock detector's 2 s.

    The pause is a local activity sending the pending events: it ends the activation as
    a timer would, without a timer's wait (the server fires timers to the second), and
    the events it sends are due anyway.
    """

    def __init__(self, events: EventBuffer) -> None:
        self._events = events
        self._visits = 0
        self._pause: asyncio.Task[None] | None = None

    async def visit(self, count: int) -> None:
        self._visits += count
        while self._visits >= VISITS_PER_ACTIVATION:
            if self._pause is None:
                self._pause = asyncio.create_task(self._next_activation())
            await self._pause

    async def _next_activation(self) -> None:
        await self._events.drain(always=True)
        self._visits = 0
        self._pause = None


# The patch id of waking a scope by its steps' and events' callbacks instead of a
# `workflow.wait_condition` per scope, which every pass of the workflow's event loop
# re-checks: with a batch of 100 map items, 100 conditions per pass. Runs started
# before it wake as they did (the order in which scopes wake, and so the order of their
# commands, may differ).
WAKE_PATCH = "drive-wakeup"


class Wakeup:
    """A flag a scope sleeps on until a callback sets it."""

    def __init__(self) -> None:
        self._future: asyncio.Future[None] | None = None
        self._set = False

    def set(self, *_: object) -> None:
        self._set = True
        if self._future is not None and not self._future.done():
            self._future.set_result(None)

    async def wait(self) -> None:
        if not self._set:
            self._future = asyncio.get_running_loop().create_future()
            await self._future
            self._future = None
        self._set = False


async def drive(rt: Runtime, pacer: Pacer, gate: Gate | None = None) -> bool:
    """Run a scope until no node runs. While the gate is held no node starts; once it
    is cancelled, the running ones are cancelled.

    Returns:
        Whether every node of the scope is settled (False: held or cancelled with nodes
        left).
    """
    if not workflow.patched(WAKE_PATCH):
        return await _drive(rt, pacer, gate, None)
    wakeup = Wakeup()
    with (
        rt.events.watchers.watching(wakeup.set),
        gate.watchers.watching(wakeup.set) if gate else nullcontext(),
    ):
        return await _drive(rt, pacer, gate, wakeup)


async def _drive(rt: Runtime, pacer: Pacer, gate: Gate | None, wakeup: Wakeup | None) -> bool:
    plan = rt.topology.plan
    running: dict[str, asyncio.Task[list[Settlement]]] = {}
    rt.running = running.keys()
    candidates = unsettled(rt.topology, rt.state)
    while True:
        if gate is not None and gate.cancelled:
            await _cancel(rt, running)
            return False
        held = gate is not None and gate.held()
        if held and not running:
            return not unsettled(rt.topology, rt.state)
        if not held:
            # Nodes that became ready while the gate was held are decided once it opens.
            decided = advance(rt.topology, rt.state, candidates, running.keys())
            candidates = []
            for node_id in decided.skipped:
                rt.emit("node.skipped", node_id)
            for node_id in decided.start:
                step = STEPS[plan.nodes[node_id].step]
                running[node_id] = asyncio.create_task(step(rt, node_id))
                if wakeup is not None:
                    running[node_id].add_done_callback(wakeup.set)
            await pacer.visit(len(decided.start) + len(decided.skipped))
            if not running:
                break
        rt.report_if_waiting()
        if wakeup is None:
            await workflow.wait_condition(
                lambda: any(task.done() for task in running.values()) or rt.events.waiting
            )
        elif not rt.events.waiting:
            await wakeup.wait()
        done = [n for n in plan.order if n in running and running[n].done()]
        if not done:
            # Woken by events alone: no step started since will carry them.
            rt.events.send_waiting()
        for node_id in done:
            for settlement in running.pop(node_id).result():
                _settle(rt, settlement)
                candidates += rt.topology.successors(settlement.node_id)
    left = unsettled(rt.topology, rt.state)
    if left:
        raise RuntimeError(f"the interpreter left nodes undecided: {', '.join(left[:10])}")
    return True


async def _cancel(rt: Runtime, running: dict[str, asyncio.Task[list[Settlement]]]) -> None:
    """Cancel the running steps (their activities, timers and child workflows with them)
    and report their nodes cancelled; steps that ended meanwhile settle as they ended."""
    for task in running.values():
        task.cancel()
    for node_id in [n for n in rt.topology.plan.order if n in running]:
        try:
            settlements = await running.pop(node_id)
        except asyncio.CancelledError:
            rt.emit("node.cancelled", node_id, error="the run was cancelled")
            continue
        for settlement in settlements:
            _settle(rt, settlement)


def _settle(rt: Runtime, settlement: Settlement) -> None:
    if settlement.error is not None:
        record_failure(rt.topology, rt.state, settlement.error)
        return
    output = settlement.output
    # Sized as what expressions reading it load: the referenced value's size.
    ref = as_artefact_ref(output)
    size = ref.size if ref is not None else json_size(output)
    rt.state.settle(settlement.node_id, settlement.outcome, output, size)
    if settlement.status == "SUCCEEDED" and rt.node(settlement.node_id).compensation:
        rt.state.completed.append(settlement.node_id)
