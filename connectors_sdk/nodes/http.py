"""`core.http`: one HTTP request.

Failures map onto `ConnectorExecutionError` here and only here (`_map_exceptions`):
transport errors, 429 and 5xx answers are retryable; 4xx answers and bad URLs are not.
Their codes (what `retry.non_retryable_errors` names): `http_status` for an answer's
status, `http_unreachable` for the transport, `http_bad_url`, `http_bad_body`.

Secrets go in headers only, through `secret_headers` templates filled in at run time from
`ctx.secrets`: a URL or a body is recorded in the run's history and events.

Its circuit breakers are kept per "host:port" of the URL (`breaker_target`): a service
that keeps failing stops the nodes that call it, not every HTTP node.

Every request but GET and HEAD carries an `Idempotency-Key` header (unless the node sets
one): the node execution's key, the same on every retry, so a server that honours it
applies the request once however often it is sent.
"""

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from connectors_sdk._errors import ConnectorExecutionError
from connectors_sdk._node import Node, NodeContext

_DEFAULT_PORTS = {"http": 80, "https": 443}
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.-]+)\}")
_MESSAGE_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "connection", "host", "content-encoding"}
)


class HttpRequest(Node):
    """Send an HTTP request and output the status, headers and decoded body."""

    type = "core.http"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
        url: str = Field(description="An http:// or https:// URL.")
        headers: dict[str, str] = Field(default_factory=dict)
        secret_headers: dict[str, str] = Field(
            default_factory=dict,
            description="Headers whose values hold secrets, as templates where {name} is "
            "the node's secret of that name: {Authorization: 'Bearer {api_token}'}. The "
            "value is filled in by the worker for each attempt and never recorded.",
        )
        timeout_seconds: float = Field(30, gt=0)
        fail_on_status: bool = Field(
            True,
            description="Fail on 4xx (not retried), 429 and 5xx (retried) answers; false "
            "outputs every answer, for a core.if to branch on.",
        )

    class Input(BaseModel):
        body: Any = Field(None, description="A string is sent as text, other values as JSON.")
        query: dict[str, Any] = Field(default_factory=dict)
        headers: dict[str, str] = Field(
            default_factory=dict, description="Added to config.headers, replacing equal names."
        )

    class Output(BaseModel):
        status: int
        headers: dict[str, str] = Field(description="Lower-case names; repeats joined by ', '.")
        body: Any = Field(description="Decoded JSON for a JSON content type, else text.")

    @classmethod
    def breaker_target(cls, config: Config, input: Input) -> str | None:
        try:
            url = httpx.URL(config.url)
        except httpx.InvalidURL:
            return None  # the node fails with http_bad_url, which no breaker counts
        if not url.host:
            return None
        port = url.port or _DEFAULT_PORTS.get(url.scheme)
        host = f"[{url.host}]" if ":" in url.host else url.host
        return f"{host}:{port}" if port else host

    async def run(self, ctx: NodeContext, config: Config, input: Input) -> Output:
        request = f"{config.method} {config.url}"
        # Headers that describe one message are the client's to write: an output passed
        # on from an earlier response must not set this request's length or framing.
        headers = {
            name: value
            for name, value in {**config.headers, **input.headers}.items()
            if name.lower() not in _MESSAGE_HEADERS
        }
        headers.update(_secret_headers(config.secret_headers, ctx))
        keyed = any(name.lower() == "idempotency-key" for name in headers)
        if config.method not in ("GET", "HEAD") and ctx.idempotency_key and not keyed:
            headers["Idempotency-Key"] = ctx.idempotency_key
        content: str | None = None
        if isinstance(input.body, str):
            content = input.body
        elif input.body is not None:
            content = json.dumps(input.body, ensure_ascii=False, separators=(",", ":"))
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = "application/json"
        with _map_exceptions(request):
            url = httpx.URL(config.url)
            if input.query:
                # Added to the URL's own query; httpx's `params=` would replace it.
                url = url.copy_merge_params(_query_params(input.query))
            async with httpx.AsyncClient(
                timeout=config.timeout_seconds, follow_redirects=True
            ) as client:
                response = await client.request(
                    config.method, url, headers=headers, content=content
                )
        if config.fail_on_status:
            _raise_for_status(request, response)
        return self.Output(
            status=response.status_code,
            headers=dict(response.headers.items()),
            body=_decode_body(request, response),
        )


def _secret_headers(templates: dict[str, str], ctx: NodeContext) -> dict[str, str]:
    filled: dict[str, str] = {}
    for header, template in templates.items():
        names = _PLACEHOLDER.findall(template)
        missing = sorted(set(names) - set(ctx.secrets))
        if missing:
            given = ", ".join(sorted(ctx.secrets)) or "none"
            raise ConnectorExecutionError(
                f"secret_headers.{header} uses the secret {missing[0]!r}, which the node is "
                f"not given (it has: {given}): add it to the node's secrets",
                retryable=False,
                code="http_missing_secret",
            )
        filled[header] = _PLACEHOLDER.sub(
            lambda match: ctx.secrets[match.group(1)].get_secret_value(), template
        )
    return filled


@contextmanager
def _map_exceptions(request: str) -> Iterator[None]:
    try:
        yield
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise ConnectorExecutionError(
            f"{request}: bad URL ({exc}); use an http:// or https:// URL",
            retryable=False,
            code="http_bad_url",
        ) from exc
    except httpx.TransportError as exc:
        raise ConnectorExecutionError(
            f"{request} failed: {type(exc).__name__}: {exc}",
            retryable=True,
            code="http_unreachable",
        ) from exc


def _raise_for_status(request: str, response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    detail = f"{request} -> {status} {response.reason_phrase}".rstrip()
    if status >= 500 or status == 429:
        raise ConnectorExecutionError(detail, retryable=True, code="http_status")
    raise ConnectorExecutionError(
        f"{detail}; fix the request, or set fail_on_status: false to handle it",
        retryable=False,
        code="http_status",
    )


def _query_params(query: dict[str, Any]) -> dict[str, Any]:
    # httpx takes scalars and lists of scalars; nested values travel as JSON text.
    def scalar(value: Any) -> Any:
        if value is None or isinstance(value, str | int | float | bool):
            return value
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    return {
        name: [scalar(v) for v in value] if isinstance(value, list) else scalar(value)
        for name, value in query.items()
    }


def _decode_body(request: str, response: httpx.Response) -> Any:
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    is_json = media_type == "application/json" or media_type.endswith("+json")
    if not is_json:
        return response.text
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise ConnectorExecutionError(
            f"{request} -> {response.status_code}: the body is declared {media_type} "
            f"but is not valid JSON ({exc})",
            retryable=False,
            code="http_bad_body",
        ) from exc
