"""`create_app`: the control plane's Starlette application.

Start-up applies migrations, makes sure the default workspace and project exist, registers
the admin token, loads (or creates) the signing key, connects to NATS, builds the Vault
client (when the settings name a Vault), and starts the event ingest and the dispatch sweep.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from connectors_sdk import NodeRegistry
from control_plane.db.engine import create_engine, migrate, session_factory
from control_plane.dispatch import Dispatcher
from control_plane.errors import UnauthenticatedError
from control_plane.graphiql import ASSETS_PATH, GraphiQL
from control_plane.graphql.context import Context, Services
from control_plane.graphql.response_size import encode_within
from control_plane.graphql.schema import schema
from control_plane.identity.authenticate import Authenticator
from control_plane.identity.oidc import OidcVerifier
from control_plane.ingest import EventIngestor
from control_plane.policies.engine import load_policy_files
from control_plane.policies.guard import PolicyGuard
from control_plane.request_body import RequestBodyError, read_checked_body
from control_plane.runs.launcher import Launcher
from control_plane.settings import ControlPlaneSettings
from control_plane.signing import TransitSigner, load_or_create_signing_key
from control_plane.tokens.service import ensure_admin_token
from control_plane.workspaces.service import ensure_default_project
from data_plane.protocol import (
    CONTROL_PLANE_INBOX,
    Bus,
    KeySigner,
    Signer,
    Vault,
    artefact_stream_config,
    provision_pools,
)

logger = logging.getLogger(__name__)

# Where the endpoint leaves the request's principal for the GraphQL context.
PRINCIPAL = "flowforge.principal"


class FlowForgeGraphQL(GraphQL[Context, None]):
    def __init__(self, services: Services) -> None:
        # strawberry's own IDE page loads from a CDN; `control_plane.graphiql` serves ours.
        super().__init__(schema, subscription_protocols=(), graphql_ide=None)
        self.services = services

    async def get_context(self, request: Request | WebSocket, response: object) -> Context:
        # Set by `GraphQLEndpoint`, which refuses a request it cannot authenticate.
        return Context(self.services, request.scope["state"][PRINCIPAL])

    def encode_json(self, data: object) -> bytes:
        return encode_within(data, self.services.settings.limits.max_response_bytes)


class GraphQLEndpoint:
    """`/graphql`: every operation needs credentials; GraphiQL for browsers when the
    schema is exposed (`expose_schema`)."""

    app: FlowForgeGraphQL | None = None
    authenticator: Authenticator | None = None
    bus: Bus | None = None

    def __init__(self) -> None:
        self.ide = GraphiQL()
        # Set once the streams and consumers of the control plane's pools exist.
        self.provisioned = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if self.app is None or self.authenticator is None:
            response: Response = JSONResponse({"errors": [{"message": "starting"}]}, 503)
            await response(scope, receive, send)
            return
        wants_ide = request.method == "GET" and "query" not in request.query_params
        if wants_ide and self.app.services.settings.expose_schema:
            await (await self.ide.page(request))(scope, receive, send)
            return
        try:
            principal = await self.authenticator.authenticate(request.headers.get("authorization"))
        except UnauthenticatedError as exc:
            await _refusal(exc)(scope, receive, send)
            return
        scope.setdefault("state", {})[PRINCIPAL] = principal
        if request.method == "POST":
            try:
                receive = await read_checked_body(request, self.app.services.settings.limits)
            except RequestBodyError as exc:
                await exc.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(settings: ControlPlaneSettings, registry: NodeRegistry | None = None) -> Starlette:
    registry = registry or NodeRegistry.from_entry_points()
    endpoint = GraphQLEndpoint()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # First: a policy file that does not compile stops the start before anything opens.
        policies = PolicyGuard(load_policy_files(settings.policy_paths))
        await migrate(settings.database_url)
        engine = create_engine(settings.database_url)
        sessions = session_factory(engine)
        async with sessions.begin() as session:
            await ensure_default_project(session)
            if settings.admin_token is not None:
                await ensure_admin_token(session, "admin", settings.admin_token.get_secret_value())
        # It logs in at its first request: Vault being away delays no start (unless it
        # holds the signing key).
        vault = Vault(settings.vault, "the control plane") if settings.vault is not None else None
        signer: Signer
        if settings.signing_transit_key is not None and vault is not None:
            signer = await TransitSigner.load(vault, settings.signing_transit_key)
        else:
            signer = KeySigner(load_or_create_signing_key(settings.signing_key_path))
        bus = Bus(
            settings.nats_url,
            name="control-plane",
            inbox_prefix=CONTROL_PLANE_INBOX,
            credentials=settings.nats_credentials,
        )
        # Not waiting for NATS: the API serves (and commits runs, which the sweep dispatches
        # later) while the bus is away; /readyz says so.
        bus.start()
        dispatcher = Dispatcher(
            bus, signer, sessions, timedelta(seconds=settings.descriptor_ttl_seconds)
        )
        ingestor = EventIngestor(bus, sessions, settings.all_pools)
        launcher = Launcher(dispatcher, policies, settings.limits, settings.default_pool)
        endpoint.app = FlowForgeGraphQL(
            Services(settings, sessions, registry, dispatcher, launcher, policies, vault)
        )
        endpoint.authenticator = Authenticator(
            sessions,
            OidcVerifier(settings.oidc) if settings.oidc is not None else None,
            settings.instance_admins,
        )
        endpoint.bus = bus
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(_provision(bus, settings, endpoint.provisioned), name="provision"),
            asyncio.create_task(ingestor.run(stop), name="event-ingest"),
            asyncio.create_task(
                dispatcher.sweep_forever(settings.redispatch_interval), name="dispatch-sweep"
            ),
        ]
        logger.info("control plane ready")
        try:
            yield
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await bus.close()
            if vault is not None:
                await vault.close()
            await engine.dispose()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        # Without the bus no run can start and no event arrives: not ready.
        bus = endpoint.bus is not None and endpoint.bus.connected and endpoint.provisioned.is_set()
        ready = endpoint.app is not None and bus
        return JSONResponse({"ready": ready, "bus": bus}, status_code=200 if ready else 503)

    return Starlette(
        routes=[
            Route("/graphql", endpoint, methods=["GET", "POST"]),
            Route(ASSETS_PATH + "/{path:path}", endpoint.ide.asset),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )


async def _provision(bus: Bus, settings: ControlPlaneSettings, done: asyncio.Event) -> None:
    """Create the streams and consumers of the pools, and the artefact bucket, as soon as
    the bus is there."""
    pools = settings.all_pools
    artefacts = artefact_stream_config(
        settings.artefact_bucket,
        max_age=settings.artefact_max_age_days * 24 * 3600,
        max_bytes=settings.artefact_bucket_max_bytes,
    )
    while True:
        if bus.connected:
            try:
                await provision_pools(bus.js, pools, artefacts)
            except Exception:
                logger.exception("could not create the streams of pools %s; retrying", pools)
            else:
                done.set()
                return
        await asyncio.sleep(0.5)


def _refusal(exc: UnauthenticatedError) -> Response:
    """401 and the reason, nothing else."""
    return JSONResponse(
        {"data": None, "errors": [{"message": str(exc), "extensions": exc.extensions()}]},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )
