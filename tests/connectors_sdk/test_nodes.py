"""The core nodes through `connectors_sdk.testing.run_node`; core.http against a real
HTTP server on 127.0.0.1."""

import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import ValidationError

from connectors_sdk import ConnectorExecutionError, NodeResult, find_breaker_target
from connectors_sdk.nodes.control import If, Transform
from connectors_sdk.nodes.http import HttpRequest
from connectors_sdk.nodes.log import Log
from connectors_sdk.testing import run_node


class _Handler(BaseHTTPRequestHandler):
    """Routes: /echo (JSON echo of the request), /text, /status/<code>, /redirect,
    /bad-json."""

    def _reply(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else None
        if url.path == "/echo":
            echo = {
                "method": self.command,
                "query": parse_qs(url.query),
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
            }
            self._reply(200, json.dumps(echo).encode(), "application/json; charset=utf-8")
        elif url.path == "/text":
            self._reply(200, "héllo".encode(), "text/plain; charset=utf-8", **{"X-Test": "1"})
        elif url.path.startswith("/status/"):
            code = int(url.path.rsplit("/", 1)[1])
            self._reply(code, b'{"error": "nope"}', "application/problem+json")
        elif url.path == "/redirect":
            self._reply(302, b"", "text/plain", Location="/echo")
        elif url.path == "/bad-json":
            self._reply(200, b"{not json", "application/json")
        else:
            self._reply(404, b"no route", "text/plain")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("https://API.example.com/v1/items?page=2", "api.example.com:443"),
        ("http://example.com/", "example.com:80"),
        ("http://127.0.0.1:8080/status", "127.0.0.1:8080"),
        ("http://[::1]:9000/", "[::1]:9000"),
        ("https://user:secret@example.com/", "example.com:443"),
        ("http:///no-host", None),
    ],
)
def test_http_breakers_are_kept_per_host_and_port_of_the_url(url, target):
    assert find_breaker_target(HttpRequest, {"url": url}, {}) == target


async def test_http_get_decodes_a_json_body(server_url):
    result = await run_node(
        HttpRequest,
        {"url": f"{server_url}/echo", "headers": {"X-Config": "c", "X-Both": "config"}},
        {"query": {"q": "a b", "n": [1, 2], "f": {"x": 1}}, "headers": {"X-Both": "input"}},
    )
    assert isinstance(result, HttpRequest.Output)
    assert result.status == 200
    assert result.headers["content-type"] == "application/json; charset=utf-8"
    assert result.body["method"] == "GET"
    assert result.body["query"] == {"q": ["a b"], "n": ["1", "2"], "f": ['{"x":1}']}
    assert result.body["headers"]["x-config"] == "c"
    assert result.body["headers"]["x-both"] == "input"
    assert result.body["body"] is None


async def test_http_secret_headers_are_filled_from_the_nodes_secrets(server_url):
    config = {
        "url": f"{server_url}/echo",
        "secret_headers": {"Authorization": "Bearer {api_token}", "X-Pair": "{a}:{b}"},
    }
    secrets = {"api_token": "tok-123", "a": "left", "b": "right"}
    result = await run_node(HttpRequest, config, {}, secrets=secrets)
    assert isinstance(result, HttpRequest.Output)
    assert result.body["headers"]["authorization"] == "Bearer tok-123"
    assert result.body["headers"]["x-pair"] == "left:right"


async def test_http_secret_header_naming_a_secret_the_node_lacks_fails_naming_it(server_url):
    config = {"url": f"{server_url}/echo", "secret_headers": {"Authorization": "Bearer {tok}"}}
    with pytest.raises(ConnectorExecutionError) as caught:
        await run_node(HttpRequest, config, {}, secrets={"other": "x"})
    assert caught.value.code == "http_missing_secret"
    assert not caught.value.retryable
    assert "secret_headers.Authorization" in str(caught.value)
    assert "'tok'" in str(caught.value) and "other" in str(caught.value)


async def test_http_query_is_added_to_the_urls_own_query(server_url):
    url = f"{server_url}/echo?a=1&b=2"
    kept = await run_node(HttpRequest, {"url": url}, {})
    assert kept.body["query"] == {"a": ["1"], "b": ["2"]}
    merged = await run_node(HttpRequest, {"url": url}, {"query": {"b": 3, "c": True}})
    assert merged.body["query"] == {"a": ["1"], "b": ["3"], "c": ["true"]}


async def test_http_post_sends_json_and_text_bodies(server_url):
    config = {"method": "POST", "url": f"{server_url}/echo"}
    sent = await run_node(HttpRequest, config, {"body": {"temp": 30, "city": "Oslo"}})
    assert json.loads(sent.body["body"]) == {"temp": 30, "city": "Oslo"}
    assert sent.body["headers"]["content-type"] == "application/json"
    text = await run_node(HttpRequest, config, {"body": "plain"})
    assert text.body["body"] == "plain"


async def test_http_text_bodies_are_text(server_url):
    result = await run_node(HttpRequest, {"url": f"{server_url}/text"}, {})
    assert (result.body, result.headers["x-test"]) == ("héllo", "1")


async def test_http_follows_redirects_and_head_has_no_body(server_url):
    redirected = await run_node(HttpRequest, {"url": f"{server_url}/redirect"}, {})
    assert redirected.body["method"] == "GET"
    head = await run_node(HttpRequest, {"method": "HEAD", "url": f"{server_url}/echo"}, {})
    assert (head.status, head.body) == (200, None)


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (429, True)])
async def test_http_server_errors_and_throttling_are_retryable(server_url, status, retryable):
    url = f"{server_url}/status/{status}"
    with pytest.raises(ConnectorExecutionError) as caught:
        await run_node(HttpRequest, {"method": "DELETE", "url": url}, {})
    assert caught.value.retryable is retryable
    assert caught.value.code == "http_status"
    assert f"DELETE {url} -> {status}" in str(caught.value)


async def test_http_client_errors_are_not_retryable(server_url):
    url = f"{server_url}/status/404"
    with pytest.raises(ConnectorExecutionError, match=f"GET {url} -> 404 Not Found") as caught:
        await run_node(HttpRequest, {"url": url}, {})
    assert caught.value.retryable is False


async def test_http_without_fail_on_status_outputs_the_answer(server_url):
    for status in (404, 503):
        config = {"url": f"{server_url}/status/{status}", "fail_on_status": False}
        result = await run_node(HttpRequest, config, {})
        assert (result.status, result.body) == (status, {"error": "nope"})


async def test_http_network_errors_are_retryable_and_keep_the_cause(closed_port):
    url = f"http://127.0.0.1:{closed_port}/x"
    with pytest.raises(ConnectorExecutionError, match=f"GET {url} failed: ConnectError") as caught:
        await run_node(HttpRequest, {"url": url, "timeout_seconds": 2}, {})
    assert caught.value.retryable is True
    assert caught.value.__cause__ is not None


async def test_http_bad_urls_are_not_retryable():
    with pytest.raises(ConnectorExecutionError, match="bad URL") as caught:
        await run_node(HttpRequest, {"url": "ftp://example.com/file"}, {})
    assert caught.value.retryable is False


async def test_http_invalid_json_is_an_error(server_url):
    with pytest.raises(ConnectorExecutionError, match="not valid JSON") as caught:
        await run_node(HttpRequest, {"url": f"{server_url}/bad-json"}, {})
    assert caught.value.retryable is False


async def test_http_config_is_validated_like_the_worker_does():
    with pytest.raises(ValidationError, match="url"):
        await run_node(HttpRequest, {"method": "GET"}, {})


@pytest.mark.parametrize(
    ("condition", "port"),
    [
        (True, "true"),
        (1, "true"),
        (0, "true"),
        ("", "true"),
        ([], "true"),
        (False, "false"),
        (None, "false"),
    ],
)
async def test_if_routes_by_jq_truthiness(condition, port):
    result = await run_node(If, {"condition": condition}, {"temp": 30})
    assert result == NodeResult(output={"temp": 30}, port=port)


async def test_if_requires_a_condition():
    with pytest.raises(ValidationError, match="condition"):
        await run_node(If, {}, {})


@pytest.mark.parametrize(
    ("value", "output"),
    [
        ({"city": "Oslo"}, {"city": "Oslo"}),
        (42, {"value": 42}),
        ([1], {"value": [1]}),
        (None, {"value": None}),
    ],
)
async def test_transform_outputs_its_value_as_an_object(value, output):
    result = await run_node(Transform, {"value": value}, {"ignored": True})
    assert result == NodeResult(output=output, port=None)


async def test_log_logs_with_run_and_node_ids_and_passes_the_input_through(caplog):
    caplog.set_level(logging.DEBUG, logger="flowforge.node.core.log")
    result = await run_node(Log, {"message": "hot in Oslo", "level": "warning"}, {"temp": 30})
    assert result.model_dump() == {"temp": 30}
    [record] = caplog.records
    assert (record.levelno, record.getMessage()) == (logging.WARNING, "hot in Oslo")
    assert (record.run_id, record.node_id) == ("test-run", "test-node")


async def test_log_writes_non_text_messages_as_json(caplog):
    caplog.set_level(logging.INFO, logger="flowforge.node.core.log")
    await run_node(Log, {"message": {"temp": 30}}, {})
    assert caplog.records[-1].getMessage() == '{"temp":30}'


def test_node_modes():
    assert (If.pure, Transform.pure, Log.lightweight) == (True, True, True)
    assert not (HttpRequest.pure or HttpRequest.lightweight)
