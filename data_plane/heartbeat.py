"""A liveness signal produced by the data plane's event loop itself.

A task on the loop rewrites a small file every `INTERVAL` seconds. While the loop runs,
the file's modification time stays fresh; when the loop is blocked (a C extension holding
the GIL, a deadlock, a synchronous call that never returns) the task cannot run and the
file ages, although the process is alive. Whoever supervises the process (`flowforge dev`,
a Kubernetes liveness probe) restarts it when the file is older than a grace period.

The file holds `<unix time> <pid>` for a human reading it; supervisors use its mtime.
"""

import asyncio
import contextlib
import logging
import os
import time
from pathlib import Path

from data_plane.errors import SettingsError

logger = logging.getLogger(__name__)

INTERVAL = 1.0


class Heartbeat:
    """Rewrites `path` every `interval` seconds from a task on the running loop, until
    `stop()`; with `path` None it does nothing."""

    def __init__(self, path: Path | None, interval: float = INTERVAL) -> None:
        self.path = path
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def start(cls, path: Path | None, interval: float = INTERVAL) -> "Heartbeat":
        heartbeat = cls(path, interval)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                beat(path)
            except OSError as exc:
                raise SettingsError(
                    f"cannot write the heartbeat {path}: {exc}; point "
                    "FLOWFORGE_DP_HEARTBEAT_PATH at a writable file"
                ) from exc
            heartbeat._task = asyncio.create_task(heartbeat._run(path), name="heartbeat")
            logger.info("writing a heartbeat to %s every %g s", path, interval)
        return heartbeat

    async def _run(self, path: Path) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                beat(path)
            except OSError as exc:
                # A full or read-only disk must not end the process; the heartbeat ages and
                # the supervisor decides.
                logger.warning("cannot write the heartbeat %s: %s", path, exc)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def beat(path: Path) -> None:
    """Replace `path` atomically, so that a reader never sees a half-written file.

    Called on the loop itself, not in a thread: the write is tiny, and so every beat proves
    that the loop ran a moment ago.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(f"{time.time():.3f} {os.getpid()}\n")
    tmp.replace(path)
