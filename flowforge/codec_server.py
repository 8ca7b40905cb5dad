"""A Temporal codec server: the `/encode` and `/decode` endpoints that Temporal's web UI
(`--ui-codec-endpoint`, or its settings) and CLI (`temporal workflow show
--codec-endpoint`) call to show encrypted payloads in clear, with the payload keys.

Whoever reaches it reads every payload: serve it on 127.0.0.1 beside the operator's
browser, or behind the same authentication as the Temporal UI.
"""

from collections.abc import Awaitable, Callable, Sequence

from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payload, Payloads

from data_plane.codec import AesGcmCodec, PayloadKeys
from data_plane.errors import PayloadKeyError

Transform = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]


def create_codec_app(keys: PayloadKeys, allow_origins: Sequence[str] = ()) -> Starlette:
    """The codec server's ASGI app; `allow_origins` are the web UIs that may call it."""
    codec = AesGcmCodec(keys)

    def endpoint(transform: Transform) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            try:
                payloads = json_format.Parse(await request.body(), Payloads())
            except json_format.ParseError as exc:
                return JSONResponse({"error": f"not a Payloads JSON document: {exc}"}, 400)
            try:
                result = await transform(list(payloads.payloads))
            except PayloadKeyError as exc:
                return JSONResponse({"error": str(exc)}, 422)
            body = json_format.MessageToJson(Payloads(payloads=result))
            return Response(body, media_type="application/json")

        return handle

    return Starlette(
        routes=[
            Route("/encode", endpoint(codec.encode), methods=["POST"]),
            Route("/decode", endpoint(codec.decode), methods=["POST"]),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=list(allow_origins),
                allow_methods=["POST"],
                allow_headers=["content-type", "x-namespace", "authorization"],
                allow_credentials=True,
            )
        ],
    )
