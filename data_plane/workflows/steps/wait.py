"""`core.wait`: a Temporal timer (a duration, a time), or a condition on the signals the
run received (an event), with a timer for its timeout. The node reports WAITING, with
what it waits for and until when, as soon as it starts waiting."""

from datetime import datetime, timedelta

from temporalio import workflow

from connectors_sdk.nodes.wait import Wait
from data_plane.protocol import WaitInfo
from data_plane.workflows.runtime import NodeFailedError, Runtime, Settlement


async def run_wait(rt: Runtime, node_id: str) -> list[Settlement]:
    node = rt.node(node_id)
    try:
        prepared, config = await rt.prepare_config(node, Wait.Config)
    except NodeFailedError as exc:
        return [rt.failed(node, str(exc), exc.error_type)]
    rt.emit("node.started", node.id, input=prepared.input)
    # The run's clock (as its events read it), which may be ahead of the workflow's own.
    now = rt.events.now()
    if config.signal is None:
        until = now + config.duration if config.duration is not None else config.until
        assert until is not None  # the config gives exactly one kind
        kind = "duration" if config.duration is not None else "until"
        with rt.waiting(node.id, WaitInfo(kind=kind, until=until)):
            left = until - workflow.now()
            if left > timedelta():
                await workflow.sleep(left)
        return [rt.succeeded(node, {"waited_until": until.isoformat()})]
    name = config.signal
    deadline = now + config.timeout if config.timeout is not None else None
    info = WaitInfo(
        kind="signal", until=deadline, signal=config.signal, correlation=config.correlation
    )
    with rt.waiting(node.id, info):
        signal = rt.state.take_signal(name, config.correlation)
        if signal is None:
            try:
                await workflow.wait_condition(
                    lambda: rt.state.has_signal(name, config.correlation),
                    timeout=_seconds(deadline, workflow.now()),
                )
            except TimeoutError:
                timed_out = {"timed_out_at": workflow.now().isoformat()}
                return [rt.succeeded(node, timed_out, "timeout")]
            signal = rt.state.take_signal(name, config.correlation)
    assert signal is not None
    received = signal.received_at.isoformat() if signal.received_at else None
    output = {"signal": signal.name, "payload": signal.payload, "received_at": received}
    return [rt.succeeded(node, output, "done" if deadline is not None else None)]


def _seconds(deadline: datetime | None, now: datetime) -> timedelta | None:
    return None if deadline is None else max(deadline - now, timedelta())
