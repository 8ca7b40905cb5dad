"""Reading a `/graphql` POST body within the limits, before strawberry parses it.

The body is read up to `limits.max_request_bytes` (413 past that, without reading the
rest) and, when it is JSON, parsed once to refuse with 400 what strawberry would answer
with a 500: a body that is not an object (or a batch of them), nested too deeply, or
holding NaN or an infinity. The bytes read are handed on to strawberry unchanged.
"""

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Message, Receive

from control_plane.errors import InvalidInputError
from control_plane.limits import LimitSettings, json_depth, setting


class RequestBodyError(InvalidInputError):
    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message, field="body")
        self.status_code = status_code

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"data": None, "errors": [{"message": str(self), "extensions": self.extensions()}]},
            status_code=self.status_code,
        )


async def read_checked_body(request: Request, limits: LimitSettings) -> Receive:
    """Read and check the body; returns a `receive` that replays it.

    Raises:
        RequestBodyError: with the HTTP status (413 or 400) and the limit broken.
    """
    body = await _read_at_most(request, limits.max_request_bytes)
    if "json" in request.headers.get("content-type", ""):
        _check_json(body, limits.max_request_depth)
    replayed = False

    async def receive() -> Message:
        nonlocal replayed
        if replayed:
            return await request.receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _read_at_most(request: Request, max_bytes: int) -> bytes:
    too_large = RequestBodyError(
        f"request body larger than {max_bytes} bytes ({setting('max_request_bytes')})", 413
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > max_bytes:
            raise too_large
    return bytes(chunks)


def _refuse_constant(name: str) -> Any:
    raise RequestBodyError(f"request body holds {name}, which JSON does not allow", 400)


def _check_json(body: bytes, max_depth: int) -> None:
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        data = None
        depth = max_depth + 1
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestBodyError(f"request body is not valid JSON: {exc}", 400) from exc
    else:
        depth = json_depth(data)
    if depth > max_depth:
        raise RequestBodyError(
            f"request body nested more than {max_depth} levels deep "
            f"({setting('max_request_depth')})",
            400,
        )
    items = data if isinstance(data, list) else [data]
    if items == [] or not all(isinstance(item, dict) for item in items):
        shown = body[:40].decode(errors="replace")
        raise RequestBodyError(
            f"request body {shown!r} is not a JSON object; send "
            '{"query": "...", "variables": {...}}',
            400,
        )
