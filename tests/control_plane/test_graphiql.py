"""Hardening #13: GraphiQL at /graphql is served by the control plane itself, works with the
network cut off, and runs under a Content-Security-Policy that allows only its own origin.

The browser test drives Debian's chromium through the Python playwright package (never a
downloaded browser); it skips only where chromium is not installed and CI is not set.
"""

import os
import re
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Request,
    Response,
    Route,
    async_playwright,
)
from starlette.applications import Starlette
from starlette.routing import Route as StarletteRoute

from control_plane.graphiql import ASSETS_DIR, ASSETS_PATH, CONTENT_SECURITY_POLICY, GraphiQL

from fixtures.stack import Stack, assert_eventually

# PLATFORM-2 §10; without the background-networking flags chromium dials Google at start.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    # A second cut-off below Playwright's routing: no host name but loopback resolves.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


@pytest.fixture
def built_assets() -> Path:
    if not (ASSETS_DIR / "index.html").is_file():
        pytest.fail("GraphiQL's assets are not built: run scripts/build-ui (scripts/test does)")
    return ASSETS_DIR


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: .ci/run installs the Debian package")
        pytest.skip("Debian's chromium is not installed: apt-get install chromium")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_FLAGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


def _page_assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def _directives(policy: str) -> dict[str, list[str]]:
    parsed = (part.split() for part in policy.split(";") if part.strip())
    return {name: values for name, *values in parsed}


async def test_page_is_ours_with_a_self_only_policy(
    sqlite_stack: Stack, built_assets: Path
) -> None:
    response = await sqlite_stack.http.get(sqlite_stack.url, headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    policy = _directives(response.headers["content-security-policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["worker-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "<script>" not in response.text  # no inline script: the policy would refuse it
    assets = _page_assets(response.text)
    assert assets
    assert all(url.startswith(ASSETS_PATH + "/") for url in assets), assets


async def test_assets_are_served_with_their_types(sqlite_stack: Stack, built_assets: Path) -> None:
    page = await sqlite_stack.http.get(sqlite_stack.url, headers={"Accept": "text/html"})
    names = [url.removeprefix(ASSETS_PATH + "/") for url in _page_assets(page.text)]
    names += _built_names(built_assets, "*.worker-*.js") + _built_names(built_assets, "*.ttf")
    expected = {".js": "text/javascript", ".css": "text/css", ".ttf": "font/ttf"}
    assert {Path(name).suffix for name in names} == set(expected)

    base = sqlite_stack.url.removesuffix("/graphql")
    for name in names:
        response = await sqlite_stack.http.get(f"{base}{ASSETS_PATH}/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"].split(";")[0] == expected[Path(name).suffix]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "immutable" in response.headers["cache-control"]
        assert response.content == (built_assets / name).read_bytes()


def _built_names(built: Path, pattern: str) -> list[str]:
    return [path.name for path in built.glob(pattern)]


def _client(assets_dir: Path) -> httpx.AsyncClient:
    ide = GraphiQL(assets_dir)
    app = Starlette(
        routes=[
            StarletteRoute("/graphql", ide.page),
            StarletteRoute(ASSETS_PATH + "/{path:path}", ide.asset),
        ]
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cp")


async def test_without_a_build_the_page_says_how_to_build(tmp_path: Path) -> None:
    async with _client(tmp_path / "missing") as client:
        response = await client.get("/graphql")

    assert response.status_code == 503
    assert "scripts/build-ui" in response.text
    assert "npm ci" in response.text
    assert response.headers["content-security-policy"] == "default-src 'none'"
    assert "<script" not in response.text


@pytest.mark.parametrize(
    # (A literal "../" never gets here: clients and Starlette normalise it away.)
    "name",
    ["..%2Fgraphiql.py", "..%5Cgraphiql.py", ".sources-sha256", "index.html", "nope.js"],
)
async def test_only_files_of_the_build_are_served(tmp_path: Path, name: str) -> None:
    build = tmp_path / "build"
    build.mkdir()
    (build / "index.html").write_text("<!doctype html>")
    (build / ".sources-sha256").write_text("0")
    (tmp_path / "graphiql.py").write_text("secret = 1")
    (build / "app-1234.js").write_text("export {};")

    async with _client(build) as client:
        served = await client.get(f"{ASSETS_PATH}/app-1234.js")
        refused = await client.get(f"{ASSETS_PATH}/{name}")

    assert served.status_code == 200
    assert served.headers["content-type"] == "text/javascript; charset=utf-8"
    assert refused.status_code == 404
    assert refused.headers["x-content-type-options"] == "nosniff"


def _operation(url: str, text: str) -> Callable[[Response], bool]:
    """Matches the answer to a POST of an operation containing `text`."""

    def matches(response: Response) -> bool:
        request = response.request
        return (
            response.url == url and request.method == "POST" and text in (request.post_data or "")
        )

    return matches


async def test_graphiql_runs_a_query_with_the_network_cut_off(
    sqlite_stack: Stack, built_assets: Path, browser: Browser
) -> None:
    context = await browser.new_context()
    aborted: list[str] = []
    refused_by_policy: list[str] = []
    page_errors: list[str] = []

    async def only_loopback(route: Route, request: Request) -> None:
        if urlsplit(request.url).hostname == "127.0.0.1":
            await route.continue_()
        else:
            aborted.append(request.url)
            await route.abort("internetdisconnected")

    await context.route("**/*", only_loopback)
    page = await context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            refused_by_policy.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    try:
        await page.goto(sqlite_stack.url)
        await page.locator(".graphiql-query-editor .monaco-editor").wait_for(timeout=30_000)
        await (
            page.locator(".graphiql-query-editor .view-lines")
            .filter(has_text="workspaces")
            .wait_for()
        )

        # Put the token into the default headers: replace `<token>` on their second line.
        await page.locator('button[data-name="headers"]').click()
        headers = page.locator(".graphiql-editor-tool .monaco-editor").last
        await headers.wait_for()
        await headers.click()
        for key in ("Control+Home", "ArrowDown", "End", "ArrowLeft"):
            await page.keyboard.press(key)
        for _ in "<token>":
            await page.keyboard.press("Shift+ArrowLeft")
        await page.keyboard.type(sqlite_stack.token)

        async with page.expect_response(_operation(sqlite_stack.url, "IntrospectionQuery")) as (
            introspection
        ):
            await page.get_by_label(re.compile("^Re-fetch GraphQL schema")).click()
        assert (await introspection.value).status == 200

        async with page.expect_response(_operation(sqlite_stack.url, "workspaces")) as answer:
            await page.locator(".graphiql-execute-button").click()
        response = await answer.value
        assert response.request.headers["authorization"] == f"Bearer {sqlite_stack.token}"
        assert response.status == 200
        body = await response.json()
        assert body["data"]["workspaces"][0]["name"] == "default", body
        await page.locator(".graphiql-response .view-lines").filter(has_text='"default"').wait_for()

        async def workers_started() -> bool:
            return bool(page.workers)

        await assert_eventually(workers_started, within=10)
    finally:
        await context.close()

    assert aborted == []
    assert refused_by_policy == []
    assert page_errors == []
