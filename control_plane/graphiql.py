"""GraphiQL at `GET /graphql`, served entirely by the control plane (Hardening #13).

The page and everything it loads (React, GraphiQL, Monaco and its workers, styles, fonts)
are built from the pinned npm project in `ui/graphiql/` into `control_plane/static/graphiql/`
(`scripts/build-ui`; gitignored, never committed) and served from here: the page with a
Content-Security-Policy that allows only this origin, the files under `/graphql/assets/`.
No request leaves for a CDN, so the page works on an air-gapped install and no third-party
script runs beside the bearer token pasted into its Headers pane.

Without a build (installed from source without `scripts/build-ui`), the page explains how to
build it; the API itself does not need it.
"""

from pathlib import Path, PurePosixPath

import anyio
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

__all__ = ["ASSETS_DIR", "ASSETS_PATH", "CONTENT_SECURITY_POLICY", "GraphiQL"]

ASSETS_DIR = Path(__file__).parent / "static" / "graphiql"
# Must match `base` in ui/graphiql/vite.config.js: the built page links its files there.
ASSETS_PATH = "/graphql/assets"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # Monaco's editor, JSON and GraphQL workers are bundled as same-origin files.
        "worker-src 'self'",
        "connect-src 'self'",
        # Monaco writes <style> elements and style attributes at run time and has no nonce
        # support; scripts stay locked to 'self', which is what guards the token.
        "style-src 'self' 'unsafe-inline'",
        # GraphiQL's and Monaco's published stylesheets embed fonts and icons as data: URLs.
        "font-src 'self' data:",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

_COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_PAGE_HEADERS = {
    **_COMMON_HEADERS,
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    # The page names the hashed files of the current build: always revalidate it.
    "Cache-Control": "no-cache",
}
# Built file names carry a content hash, so a name never changes its content.
_ASSET_HEADERS = {
    **_COMMON_HEADERS,
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "public, max-age=31536000, immutable",
}
# What a Vite build of ui/graphiql emits; anything else is not served.
_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".ttf": "font/ttf",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
}

_NOT_BUILT = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>FlowForge GraphiQL: assets not built</title></head>
<body>
<h1>GraphiQL's assets are not built</h1>
<p>This control plane was installed without the browser assets of its GraphiQL page
(<code>control_plane/static/graphiql/</code>). Build them from a FlowForge checkout with
Node.js 20.19 or newer and npm:</p>
<pre>scripts/build-ui</pre>
<p>(or <code>npm ci &amp;&amp; npm run build</code> in <code>ui/graphiql/</code>), then reload
this page. See "Building the UI assets" in docs/operations.md.</p>
<p>The GraphQL API does not need them: <code>POST /graphql</code> with an
<code>Authorization: Bearer &lt;token&gt;</code> header works as it is.</p>
</body>
</html>
"""


class GraphiQL:
    """The GraphiQL page and its assets, read from `assets_dir` on each request."""

    def __init__(self, assets_dir: Path = ASSETS_DIR) -> None:
        self.assets_dir = assets_dir

    async def page(self, request: Request) -> Response:
        index = anyio.Path(self.assets_dir / "index.html")
        if not await index.is_file():
            return HTMLResponse(
                _NOT_BUILT,
                status_code=503,
                headers={**_PAGE_HEADERS, "Content-Security-Policy": "default-src 'none'"},
            )
        return HTMLResponse(await index.read_text(encoding="utf-8"), headers=_PAGE_HEADERS)

    async def asset(self, request: Request) -> Response:
        name = str(request.path_params["path"])
        media_type = _MEDIA_TYPES.get(PurePosixPath(name).suffix)
        # The build is flat: a name with a slash or a leading dot is never one of its files.
        if media_type is None or "/" in name or "\\" in name or name.startswith("."):
            return _not_found()
        path = self.assets_dir / name
        if not await anyio.Path(path).is_file():
            return _not_found()
        return FileResponse(path, media_type=media_type, headers=_ASSET_HEADERS)


def _not_found() -> Response:
    return PlainTextResponse("not found", status_code=404, headers=_COMMON_HEADERS)
