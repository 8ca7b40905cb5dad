"""`ExpressionEvaluator`: a small pool of evaluator processes with resource limits.

The `jq` binding holds the GIL for a whole evaluation, so nothing in the worker process can
interrupt a program such as `last(range(1e15))`. Programs outside the inline subset
therefore run in long-lived child processes (`data_plane.evaluator_process`), one request
at a time each:

- a wall-clock deadline (`timeout_seconds`): past it the child is killed and replaced;
- RLIMIT_CPU, set by the child before each request, in case the parent is gone;
- RLIMIT_AS (`memory_bytes`): an allocation over it ends the child (jq aborts);
- an output cap (`max_output_bytes`) on the value's JSON, checked in the child.

Each limit raises `ExpressionLimitError` naming the program, the limit and its setting.
A cancelled evaluation (a worker shutting down) kills its child too, so shutdown never
waits for a program. The worker builds one evaluator and closes it after the worker.
"""

import asyncio
import contextlib
import json
import logging
import os
import signal
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors_sdk import ExpressionError
from data_plane.errors import ExpressionLimitError

logger = logging.getLogger(__name__)

_HEADER = struct.Struct(">I")
# The package root, so that a child imports this very code (a checkout run from source
# or an installed package alike).
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


@dataclass(frozen=True)
class ExpressionLimits:
    timeout_seconds: float = 2.0
    memory_bytes: int = 512 * 1024 * 1024
    max_output_bytes: int = 1024 * 1024
    processes: int = 2


class _Child:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        # The end of what the process wrote to stderr: how it died, when it did.
        self.stderr = b""
        self._drain = asyncio.ensure_future(self._read_stderr())

    async def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        while chunk := await self.process.stderr.read(4096):
            self.stderr = (self.stderr + chunk)[-4096:]

    async def call(self, request: bytes) -> bytes:
        assert self.process.stdin is not None
        self.process.stdin.write(_HEADER.pack(len(request)) + request)
        await self.process.stdin.drain()
        return await self.reply()

    async def reply(self) -> bytes:
        assert self.process.stdout is not None
        (size,) = _HEADER.unpack(await self.process.stdout.readexactly(_HEADER.size))
        return await self.process.stdout.readexactly(size)

    async def kill(self) -> int:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        returncode = await self.process.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._drain, 5)
        return returncode


class ExpressionEvaluator:
    """Run jq programs in child processes under `ExpressionLimits`."""

    def __init__(self, limits: ExpressionLimits) -> None:
        self.limits = limits
        self._idle: asyncio.Queue[_Child | None] = asyncio.Queue()
        for _ in range(limits.processes):
            self._idle.put_nowait(None)
        self._children: set[_Child] = set()
        self._closed = False

    async def run(self, program: str, context_json: str) -> Any:
        """Evaluate one program against a context (JSON text) and return its value.

        Raises:
            ExpressionError: The program failed (compile or run-time error, several values).
            ExpressionLimitError: It ran too long, used too much memory or produced too
                much; the message names the limit and its setting.
        """
        if self._closed:
            raise RuntimeError("the expression evaluator is closed")
        child = await self._idle.get()
        try:
            if child is None or child.process.returncode is not None:
                child = await self._spawn()
            request = json.dumps(
                {
                    "program": program,
                    "context": context_json,
                    "cpu_seconds": self.limits.timeout_seconds,
                    "max_output_bytes": self.limits.max_output_bytes,
                },
                ensure_ascii=False,
            ).encode()
            try:
                reply = await asyncio.wait_for(child.call(request), self.limits.timeout_seconds)
            except TimeoutError:
                await self._discard(child)
                child = None
                raise self._too_long(program) from None
            except (asyncio.IncompleteReadError, BrokenPipeError, ConnectionResetError):
                returncode = await self._discard(child)
                stderr, child = child.stderr, None
                raise self._died(program, returncode, stderr) from None
            except BaseException:
                # Cancelled (the worker is shutting down): never leave a program running.
                await self._discard(child)
                child = None
                raise
        finally:
            self._idle.put_nowait(child)
        return self._decode(program, reply)

    async def close(self) -> None:
        """Kill every child; later `run` calls fail."""
        self._closed = True
        for child in list(self._children):
            await self._discard(child)

    async def _spawn(self) -> _Child:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            part for part in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if part
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "data_plane.evaluator_process",
            str(self.limits.memory_bytes),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        child = _Child(process)
        self._children.add(child)
        try:
            ready = await child.reply()
        except BaseException:
            await self._discard(child)
            raise
        if ready != b"R":
            await self._discard(child)
            raise RuntimeError(f"an evaluator process started with {ready[:100]!r}")
        return child

    async def _discard(self, child: _Child) -> int:
        self._children.discard(child)
        return await child.kill()

    def _decode(self, program: str, reply: bytes) -> Any:
        kind, payload = reply[:1], reply[1:]
        if kind == b"V":
            return json.loads(payload)
        error = json.loads(payload)
        if error["kind"] == "output":
            raise ExpressionLimitError(
                f"expression `{program}` produced {error['message']} bytes, over the limit "
                f"of {self.limits.max_output_bytes} bytes "
                "(FLOWFORGE_DP_EXPRESSION_MAX_OUTPUT_BYTES)",
                limit="output",
            )
        if error["kind"] == "memory":
            raise self._too_much_memory(program)
        raise ExpressionError(error["message"])

    def _too_long(self, program: str) -> ExpressionLimitError:
        return ExpressionLimitError(
            f"expression `{program}` ran longer than {self.limits.timeout_seconds:g} s "
            "(FLOWFORGE_DP_EXPRESSION_TIMEOUT_SECONDS)",
            limit="time",
        )

    def _too_much_memory(self, program: str) -> ExpressionLimitError:
        return ExpressionLimitError(
            f"expression `{program}` used more than {self.limits.memory_bytes // 2**20} MiB "
            "of memory (FLOWFORGE_DP_EXPRESSION_MEMORY_MB)",
            limit="memory",
        )

    def _died(self, program: str, returncode: int, stderr: bytes) -> ExpressionLimitError:
        if returncode == -signal.SIGXCPU:
            return self._too_long(program)
        # jq aborts, or exits, when an allocation fails; the kernel's OOM killer kills.
        out_of_memory = b"allocate memory" in stderr or b"MemoryError" in stderr
        if out_of_memory or returncode in (-signal.SIGABRT, -signal.SIGKILL):
            return self._too_much_memory(program)
        logger.warning(
            "an evaluator process exited with %s: %s",
            returncode,
            stderr.decode(errors="replace")[-500:],
        )
        return ExpressionLimitError(
            f"expression `{program}` ended its evaluator process (exit status {returncode})",
            limit="crash",
        )
