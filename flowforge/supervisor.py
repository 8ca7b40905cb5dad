"""Keep `flowforge dev`'s children running: each is watched by exit and by a health probe,
and started again with the same configuration when it exits or stays unhealthy.

Each `poll()` looks at every child once::

    exited                                        -> restart
    probe fails                                   -> reported once, with the time it began
    probe still failing after `grace` seconds
      and `failures` probes in a row              -> restart
    probe passes again                            -> reported, forgotten

A restart stops the process (SIGTERM, SIGKILL after `stop_timeout` seconds) and calls the
child's start function again, which returns once the new process is ready. A child that
needs a restart more than `max_restarts` times within `window` seconds makes `poll()` raise
`SupervisorGaveUpError`: something is wrong that restarting does not fix.

A probe returns None when the child is healthy, or what is wrong in a few words.
"""

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from flowforge.servers import ServerProcess, ServerStartError, accepts_tcp, http_status

__all__ = [
    "Child",
    "HealthPolicy",
    "HealthWatch",
    "Probe",
    "RestartBudget",
    "RestartPolicy",
    "Supervisor",
    "SupervisorGaveUpError",
    "heartbeat_probe",
    "http_probe",
    "tcp_probe",
]

Probe = Callable[[], str | None]

# A heartbeat rewritten every second is stale after a few missed beats; a supervisor that
# checks only every second must not flag a beat that is merely late.
HEARTBEAT_MAX_AGE = 3.0


class SupervisorGaveUpError(RuntimeError):
    """A child kept failing after its restarts; the stack should stop."""

    def __init__(self, child: "Child", problem: str) -> None:
        self.child = child
        self.problem = problem
        policy = child.restart
        super().__init__(
            f"{child.name} failed {policy.max_restarts + 1} times within {policy.window:g} s "
            f"(last: {problem}); giving up. See its log: {child.process.log_path}"
        )


@dataclass(frozen=True)
class HealthPolicy:
    grace: float = 15.0
    """Seconds a probe must keep failing before the child is restarted."""
    failures: int = 3
    """Failed probes in a row needed too, so one slow probe (or a laptop waking up) is not
    taken for a hang."""


@dataclass(frozen=True)
class RestartPolicy:
    max_restarts: int = 3
    """Restarts allowed within `window` seconds; one more failure gives up."""
    window: float = 300.0
    stop_timeout: float = 10.0
    """Seconds between SIGTERM and SIGKILL."""


Verdict = Literal["healthy", "recovered", "failing", "still failing", "due"]


@dataclass
class HealthWatch:
    """How long a child's probe has been failing, and whether that calls for a restart."""

    policy: HealthPolicy
    since: float | None = None
    """Monotonic time of the first failed probe in the current run of failures."""
    since_wall: datetime | None = None
    failures: int = 0

    def observe(self, problem: str | None, now: float) -> Verdict:
        if problem is None:
            recovered = self.since is not None
            self.reset()
            return "recovered" if recovered else "healthy"
        self.failures += 1
        if self.since is None:
            self.since, self.since_wall = now, datetime.now(UTC).astimezone()
            verdict: Verdict = "failing"
        else:
            verdict = "still failing"
        if now - self.since >= self.policy.grace and self.failures >= self.policy.failures:
            return "due"
        return verdict

    def reset(self) -> None:
        self.since, self.since_wall, self.failures = None, None, 0


@dataclass
class RestartBudget:
    """The restarts of one child within a sliding window."""

    policy: RestartPolicy
    times: deque[float] = field(default_factory=deque)

    def spend(self, now: float) -> bool:
        """Record a restart at `now`; False when the budget was already used up."""
        while self.times and now - self.times[0] > self.policy.window:
            self.times.popleft()
        if len(self.times) >= self.policy.max_restarts:
            return False
        self.times.append(now)
        return True


@dataclass
class Child:
    name: str
    start: Callable[[], ServerProcess]
    """Starts the child with its configuration and returns once it is ready."""
    process: ServerProcess
    probe: Probe | None = None
    health: HealthPolicy = field(default_factory=HealthPolicy)
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    watch: HealthWatch = field(init=False)
    budget: RestartBudget = field(init=False)

    def __post_init__(self) -> None:
        self.watch = HealthWatch(self.health)
        self.budget = RestartBudget(self.restart)


@dataclass
class Supervisor:
    report: Callable[[str], None]
    children: list[Child] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic

    def add(self, child: Child) -> None:
        self.children.append(child)

    def poll(self) -> None:
        """Check every child once; restart those that exited or stayed unhealthy.

        Raises:
            SupervisorGaveUpError: a child needed more restarts than its policy allows.
        """
        for child in self.children:
            if not child.process.running:
                code = child.process.process.returncode
                self._restart(child, f"exited with code {code}")
            elif child.probe is not None:
                self._check(child, child.probe())

    def run(self, interval: float = 1.0) -> None:
        """`poll()` every `interval` seconds until it raises."""
        while True:
            self.poll()
            time.sleep(interval)

    def stop(self) -> None:
        """Stop every child, newest first."""
        for child in reversed(self.children):
            child.process.stop(child.restart.stop_timeout)
        self.children.clear()

    def _check(self, child: Child, problem: str | None) -> None:
        verdict = child.watch.observe(problem, self.clock())
        since = child.watch.since_wall
        if verdict == "failing" and since is not None:
            self.report(
                f"  ! {child.name} unhealthy since {since:%H:%M:%S}: {problem}; restarting it "
                f"if that lasts {child.health.grace:g} s (log: {child.process.log_path})"
            )
        elif verdict == "recovered":
            self.report(f"  ✓ {child.name} healthy again")
        elif verdict == "due" and since is not None:
            self._restart(child, f"unhealthy since {since:%H:%M:%S}: {problem}")

    def _restart(self, child: Child, problem: str) -> None:
        old = child.process
        if not child.budget.spend(self.clock()):
            raise SupervisorGaveUpError(child, problem)
        attempt, allowed = len(child.budget.times), child.restart.max_restarts
        self.report(
            f"  ↻ restarting {child.name} (pid {old.process.pid}, restart {attempt} of "
            f"{allowed}): {problem}; log: {old.log_path}"
        )
        if old.running:  # an exit was reported just now; stop() would warn about it again
            old.stop(child.restart.stop_timeout)
        child.watch.reset()
        began = self.clock()
        try:
            child.process = child.start()
        except ServerStartError as exc:
            # `old` stays as the child's process: it has exited, so the next poll tries again
            # (or gives up).
            self.report(
                f"  ! {child.name} did not start again: {_first_line(exc)} (log: {old.log_path})"
            )
            return
        self.report(
            f"  ✓ {child.name} restarted (pid {child.process.process.pid}, "
            f"{self.clock() - began:.1f} s)"
        )


def heartbeat_probe(path: Path, max_age: float = HEARTBEAT_MAX_AGE) -> Probe:
    """Healthy while `path` was modified within the last `max_age` seconds."""

    def probe() -> str | None:
        try:
            age = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            return f"no heartbeat file {path}"
        return None if age <= max_age else f"no heartbeat for {age:.1f} s ({path})"

    return probe


def http_probe(url: str, timeout: float = 2.0) -> Probe:
    """Healthy while GET `url` answers 200 within `timeout` seconds."""

    def probe() -> str | None:
        status = http_status(url, timeout=timeout)
        if status == 200:
            return None
        if status is None:
            return f"GET {url} got no answer within {timeout:g} s"
        return f"GET {url} answered {status}"

    return probe


def tcp_probe(port: int, timeout: float = 2.0) -> Probe:
    """Healthy while 127.0.0.1:`port` accepts connections within `timeout` seconds."""

    def probe() -> str | None:
        if accepts_tcp(port, timeout):
            return None
        return f"127.0.0.1:{port} accepts no connection within {timeout:g} s"

    return probe


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else repr(exc)
