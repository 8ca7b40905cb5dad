"""`python -m data_plane.evaluator_process <memory bytes>`: one evaluator process.

It reads requests from stdin and writes replies to stdout, each a frame: a 4-byte
big-endian length, then that many bytes. A request is JSON
`{"program", "context", "cpu_seconds", "max_output_bytes"}` (the context as JSON text);
a reply is `V` and the value's JSON, or `E` and JSON `{"kind", "message"}`. Once ready
(imports done, limits set) it writes the frame `R`, so that its start-up never counts
against a program's deadline.

Its address space is capped (RLIMIT_AS) at start, and its CPU time (RLIMIT_CPU) before each
request, so that it dies by itself even if its parent is gone; the parent also kills it at
a wall-clock deadline (see `data_plane.evaluator`). It exits when stdin closes.
"""

import json
import os
import resource
import struct
import sys
from typing import Any, BinaryIO

from connectors_sdk import ExpressionError, run_program

_HEADER = struct.Struct(">I")


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _write(kind: bytes, payload: bytes) -> None:
    frame = _HEADER.pack(len(payload) + 1) + kind + payload
    view = memoryview(frame)
    while view:
        written = os.write(1, view)
        view = view[written:]


def _error(kind: str, message: str) -> None:
    _write(b"E", json.dumps({"kind": kind, "message": message}).encode())


def _answer(request: dict[str, Any]) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(used + float(request["cpu_seconds"])) + 1
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    try:
        value = run_program(request["program"], request["context"])
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    except ExpressionError as exc:
        _error("failed", exc.message)
        return
    except MemoryError:
        _error("memory", "out of memory")
        return
    except (TypeError, ValueError, RecursionError) as exc:
        _error("failed", f"`{request['program']}` failed: {exc}")
        return
    if len(text) > int(request["max_output_bytes"]):
        _error("output", str(len(text)))
        return
    _write(b"V", text)


def main() -> None:
    memory = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    _write(b"R", b"")
    stdin = sys.stdin.buffer
    while True:
        header = _read_exactly(stdin, _HEADER.size)
        if header is None:
            return
        (size,) = _HEADER.unpack(header)
        body = _read_exactly(stdin, size)
        if body is None:
            return
        _answer(json.loads(body))


if __name__ == "__main__":
    main()
