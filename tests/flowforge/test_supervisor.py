"""Hardening #10: `flowforge dev` supervises its children by health, not only by exit.

A data plane that hangs alive (SIGSTOP of the real process: it holds its sockets and its
PID, and its event loop writes no heartbeat) is restarted, as is a child that exits; a
child that keeps failing makes the supervisor give up, naming it and its log.
"""

import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from control_plane.signing import load_or_create_signing_key, public_key_path
from flowforge.devstack import start_data_plane
from flowforge.nats_accounts import BusAuthority
from flowforge.servers import ServerProcess, ServerStartError, free_port, start_process
from flowforge.supervisor import (
    Child,
    HealthPolicy,
    HealthWatch,
    RestartBudget,
    RestartPolicy,
    Supervisor,
    SupervisorGaveUpError,
    heartbeat_probe,
    http_probe,
    tcp_probe,
)

# Generous: the machine may be slow; a test passes as soon as the outcome is there.
DEADLINE = 90.0


def poll_until(
    supervisor: Supervisor | None, done: Callable[[], bool], within: float = DEADLINE
) -> None:
    """Poll `supervisor` (when given) until `done()`, failing after `within` seconds."""
    deadline = time.monotonic() + within
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"not done within {within} s")
        if supervisor is not None:
            supervisor.poll()
        time.sleep(0.1)


def stand_in(name: str, log_path: Path, code: str) -> Callable[[], ServerProcess]:
    """Starts `python -c code` as `name`, ready as soon as it runs."""
    return lambda: start_process(
        name, [sys.executable, "-c", code], address=name, log_path=log_path, is_ready=lambda: True
    )


@pytest.fixture
def supervisor() -> Iterator[tuple[Supervisor, list[str]]]:
    lines: list[str] = []
    supervisor = Supervisor(lines.append)
    try:
        yield supervisor, lines
    finally:
        supervisor.stop()  # SIGTERM and SIGCONT: nothing is left behind stopped


# The policy, without processes.


def test_a_failing_probe_is_due_only_after_the_grace_and_enough_failures() -> None:
    watch = HealthWatch(HealthPolicy(grace=10, failures=3))
    assert watch.observe(None, now=0) == "healthy"
    assert watch.observe("no heartbeat", now=1) == "failing"
    assert watch.observe("no heartbeat", now=20) == "still failing"  # only 2 failures
    assert watch.observe("no heartbeat", now=21) == "due"


def test_one_slow_moment_is_not_a_hang() -> None:
    watch = HealthWatch(HealthPolicy(grace=10, failures=3))
    for now in range(5):
        watch.observe("no heartbeat", now=now)
    assert watch.observe(None, now=5) == "recovered"
    assert watch.observe("no heartbeat", now=12) == "failing"
    assert watch.since == 12


def test_restarts_are_counted_within_a_sliding_window() -> None:
    budget = RestartBudget(RestartPolicy(max_restarts=2, window=60))
    assert budget.spend(0) and budget.spend(10)
    assert not budget.spend(20)
    assert budget.spend(61)  # the first one left the window
    assert not budget.spend(62)


def test_probes_say_what_is_wrong(tmp_path: Path) -> None:
    beat = tmp_path / "hb"
    assert heartbeat_probe(beat)() == f"no heartbeat file {beat}"
    beat.write_text("")
    assert heartbeat_probe(beat, max_age=3)() is None
    os.utime(beat, (time.time() - 60, time.time() - 60))
    assert "no heartbeat for 6" in (heartbeat_probe(beat, max_age=3)() or "")

    port = free_port()
    assert f"127.0.0.1:{port} accepts no connection" in (tcp_probe(port)() or "")
    assert "got no answer" in (http_probe(f"http://127.0.0.1:{port}/healthz")() or "")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert tcp_probe(listener.getsockname()[1])() is None


# Real child processes.


def test_a_hung_data_plane_is_detected_and_restarted(
    tmp_path: Path,
    temporal_server: ServerProcess,
    nats_server: ServerProcess,
    bus_authority: BusAuthority,
    supervisor: tuple[Supervisor, list[str]],
) -> None:
    watcher, lines = supervisor
    pool = f"supervised-{uuid.uuid4().hex[:8]}"
    key_path = tmp_path / "signing-key.pem"
    load_or_create_signing_key(key_path)
    heartbeat = tmp_path / "data-plane.heartbeat"
    log_path = tmp_path / "logs" / "data-plane.log"
    env = {
        "FLOWFORGE_DP_POOL": pool,
        "FLOWFORGE_DP_TEMPORAL_ADDRESS": temporal_server.address,
        "FLOWFORGE_DP_NATS_URL": nats_server.address,
        "FLOWFORGE_DP_NATS_CREDENTIALS": str(bus_authority.pool_credentials(pool)),
        "FLOWFORGE_DP_TRUSTED_KEYS": str(public_key_path(key_path)),
        "FLOWFORGE_DP_HEARTBEAT_PATH": str(heartbeat),
    }

    def start() -> ServerProcess:
        return start_data_plane(env, log_path)

    first = start()
    child = Child(
        "data plane",
        start,
        first,
        heartbeat_probe(heartbeat),
        HealthPolicy(grace=3, failures=2),
        RestartPolicy(stop_timeout=5),
    )
    watcher.add(child)
    old_pid = first.process.pid
    # The child must run this checkout's data plane, which writes the heartbeat.
    poll_until(watcher, lambda: heartbeat.read_text().split()[1] == str(old_pid))
    assert not lines

    os.kill(old_pid, signal.SIGSTOP)
    poll_until(watcher, lambda: child.process.process.pid != old_pid)

    assert first.process.returncode is not None
    assert child.process.running
    unhealthy = next(line for line in lines if "unhealthy since" in line)
    assert "data plane" in unhealthy and "no heartbeat for" in unhealthy
    assert str(log_path) in unhealthy
    restarting = next(line for line in lines if "restarting data plane" in line)
    assert f"(pid {old_pid}, restart 1 of 3): unhealthy since" in restarting
    new_pid = child.process.process.pid
    assert any(f"data plane restarted (pid {new_pid}" in line for line in lines)
    poll_until(watcher, lambda: heartbeat.read_text().split()[1] == str(new_pid))
    assert child.watch.since is None


def test_a_hung_child_that_ignores_sigterm_is_killed_and_restarted(
    tmp_path: Path, supervisor: tuple[Supervisor, list[str]]
) -> None:
    watcher, lines = supervisor
    heartbeat = tmp_path / "hb"
    # One beat, then a blocked "loop" that does not stop on SIGTERM.
    code = (
        "import signal, time, pathlib; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"pathlib.Path({str(heartbeat)!r}).write_text('beat'); time.sleep(600)"
    )
    start = stand_in("hung", tmp_path / "hung.log", code)
    first = start()
    poll_until(None, heartbeat.exists)  # SIGTERM is ignored from now on
    watcher.add(
        Child(
            "hung",
            start,
            first,
            heartbeat_probe(heartbeat, max_age=0.5),
            HealthPolicy(grace=0.5, failures=2),
            RestartPolicy(stop_timeout=1),
        )
    )
    poll_until(watcher, lambda: watcher.children[0].process is not first)

    assert first.process.returncode == -signal.SIGKILL
    assert watcher.children[0].process.running
    assert any("restarting hung" in line and "no heartbeat" in line for line in lines)


def test_a_child_that_exits_is_restarted(
    tmp_path: Path, supervisor: tuple[Supervisor, list[str]]
) -> None:
    watcher, lines = supervisor
    start = stand_in("sleeper", tmp_path / "sleeper.log", "import time; time.sleep(600)")
    first = start()
    watcher.add(Child("sleeper", start, first))
    first.process.kill()

    poll_until(watcher, lambda: watcher.children[0].process is not first)

    assert watcher.children[0].process.running
    assert watcher.children[0].process.process.pid != first.process.pid
    assert any(
        f"restarting sleeper (pid {first.process.pid}, restart 1 of 3): exited with code -9" in line
        for line in lines
    )


def test_a_child_that_keeps_exiting_makes_the_supervisor_give_up(
    tmp_path: Path, supervisor: tuple[Supervisor, list[str]]
) -> None:
    watcher, lines = supervisor
    log_path = tmp_path / "flaky.log"
    start = stand_in("flaky", log_path, "import sys, time; time.sleep(0.2); sys.exit(3)")
    watcher.add(Child("flaky", start, start(), restart=RestartPolicy(max_restarts=2)))

    with pytest.raises(SupervisorGaveUpError) as raised:
        poll_until(watcher, lambda: False)

    assert str(raised.value) == (
        "flaky failed 3 times within 300 s (last: exited with code 3); "
        f"giving up. See its log: {log_path}"
    )
    assert sum("restarting flaky" in line for line in lines) == 2


def test_a_child_that_cannot_start_again_makes_the_supervisor_give_up(
    tmp_path: Path, supervisor: tuple[Supervisor, list[str]]
) -> None:
    watcher, lines = supervisor
    first = stand_in("broken", tmp_path / "broken.log", "import time; time.sleep(600)")()

    def start() -> ServerProcess:
        raise ServerStartError("broken", "exited with code 2 before it was ready")

    watcher.add(Child("broken", start, first, restart=RestartPolicy(max_restarts=1)))
    first.process.kill()

    with pytest.raises(SupervisorGaveUpError, match="broken failed 2 times"):
        poll_until(watcher, lambda: False)
    assert any("broken did not start again: broken exited with code 2" in line for line in lines)
