"""The cost of authentication, authorization and policy, against bare GraphQL execution.

Runs, in one process, with the control plane's app driven in process through
`httpx.ASGITransport` (on SQLite, beside a NATS server of its own, no data plane):

1. The `run` query of a run with 20 node rows applied, `--samples` times per variant in
   turns after a warm-up:
   - through the app (HTTP, authentication, the `Authorization` and `ErrorMasking`
     extensions) with an instance admin's API token, a workspace viewer's API token and
     a workspace viewer's OIDC JWT (keys given inline, so no JWKS fetch);
   - `schema.execute` with a fixed principal in the context, no HTTP and no
     authentication: on a schema of the same types without the two extensions (the bare
     execution every figure is divided by; the query limits kept), on one without any
     extension, and on the app's schema;
   - `Authenticator.authenticate` alone, for an API token and for a JWT, and the parts
     of its and the extensions' cost: `OidcVerifier.verify`, and `Context.project_scope`
     (the lookup `Query.run`'s rule makes).
2. `PolicyGuard.check` of a publish with the three policies of `examples/policies/` and
   with none, `PolicyEngine.evaluate` alone, and the latency of the `startRun` mutation
   (commit and dispatch to NATS included) on an app started with those policy files
   (`policy_paths`) and on one without.
3. W1 (docs/benchmarks.md: 40 fibo steps, Temporal start-to-close, and `startRun` to
   SUCCEEDED in the API) with `bench.overhead`, once without policies and once with the
   examples in force, each on a stack of its own.

Prints p50, p99 and the median CPU time of this process, with ratios (times vary with
the machine's load: compare the ratios), and the load average before and after.

Usage: python -m bench.auth [--samples 300] [--w1-repeat 9] [--w1-samples 10]
"""

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from pydantic import SecretStr
from starlette.routing import Route

from bench import overhead
from control_plane.access.principal import Principal
from control_plane.app import GraphQLEndpoint, create_app
from control_plane.db.models import WorkflowVersion
from control_plane.graphql.context import Context, Services
from control_plane.graphql.schema import LIMITS, FlowForgeSchema, Mutation, Query, schema
from control_plane.identity.authenticate import Authenticator
from control_plane.identity.oidc import OidcSettings, OidcVerifier
from control_plane.policies.document import PolicyInput
from control_plane.policies.engine import PolicyEngine, load_policy_files
from control_plane.policies.guard import PolicyGuard
from control_plane.runs.progress import apply_events
from control_plane.settings import ControlPlaneSettings
from control_plane.tokens.service import generate_token
from data_plane.protocol import RunEvent
from flowforge.inprocess import wait_until
from flowforge.nats_accounts import BusAuthority
from flowforge.servers import ServerProcess, free_port, start_nats

EXAMPLE_POLICIES = Path(__file__).resolve().parent.parent / "examples" / "policies"
NODES = 20
WARM_UP = 20
ISSUER, AUDIENCE, KID = "https://login.bench.test", "flowforge-api", "bench"
VIEWER_EMAIL = "viewer@example.com"

RUN = """query($id: ID!) { run(id: $id) { id status input output
  nodes { nodeId status output } } }"""
START_RUN = """mutation($w: ID!, $i: JSON) { startRun(workflowId: $w, input: $i) { id } }"""
SETUP = {
    "workspaces": "{ workspaces { id name } }",
    "project": """mutation($w: ID!) { createProject(workspaceId: $w, name: "payments",
        tags: ["production"]) { __typename ... on Project { id } } }""",
    "publish": """mutation($p: ID!, $d: JSON!) { publishWorkflow(projectId: $p, definition: $d) {
        __typename ... on WorkflowVersion { id workflowId } } }""",
    "token": """mutation($w: ID!) { createApiToken(workspaceId: $w, name: "viewer", role: VIEWER)
        { __typename ... on CreatedApiToken { token } } }""",
    "member": """mutation($w: ID!, $m: String!) { addMember(workspaceId: $w, member: $m,
        role: VIEWER) { __typename } }""",
}
FLOW: dict[str, Any] = {
    "apiVersion": "flowforge/v1",
    "name": "bench-auth",
    "nodes": [
        {"id": f"n{i}", "type": "core.transform", "config": {"value": {"step": i}}}
        for i in range(NODES)
    ],
    "edges": [{"from": f"n{i}", "to": f"n{i + 1}"} for i in range(NODES - 1)],
}
RUN_INPUT = {"order": 4711, "lines": [{"sku": f"sku-{i}", "quantity": i} for i in range(10)]}


class Timing(NamedTuple):
    """How long one operation took, in seconds: on the clock, and of this process's CPU
    (all its threads: SQLite's work runs in aiosqlite's), which a busy machine inflates
    less than the wall time."""

    wall: float
    cpu: float


Sample = Callable[[], Awaitable[Timing]]
"""One measurement: runs the operation once and returns how long it took."""


@dataclass
class Served:
    """The control plane's app in this process, its lifespan started."""

    client: httpx.AsyncClient
    endpoint: GraphQLEndpoint
    admin_token: str

    @property
    def services(self) -> Services:
        assert self.endpoint.app is not None
        return self.endpoint.app.services

    @property
    def authenticator(self) -> Authenticator:
        assert self.endpoint.authenticator is not None
        return self.endpoint.authenticator

    async def post(self, query: str, token: str, **variables: Any) -> httpx.Response:
        return await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )

    async def data(self, query: str, token: str | None = None, **variables: Any) -> Any:
        return answer(await self.post(query, token or self.admin_token, **variables))


@contextlib.asynccontextmanager
async def serving(
    data_dir: Path, nats: ServerProcess, authority: BusAuthority, **settings: Any
) -> AsyncIterator[Served]:
    """The app on a SQLite database of its own, `settings` among its settings, once its
    bus is ready (so a started run is published at once)."""
    admin_token = generate_token()
    cp_settings = ControlPlaneSettings(
        database_url=f"sqlite+aiosqlite:///{data_dir / 'registry.db'}",
        nats_url=nats.address,
        nats_credentials=authority.control_plane_credentials(),
        signing_key_path=data_dir / "signing-key.pem",
        admin_token=SecretStr(admin_token),
        default_pool=f"b{uuid.uuid4().hex[:10]}",
        **settings,
    )
    app = create_app(cp_settings)
    [endpoint] = [r.endpoint for r in app.routes if isinstance(r, Route) and r.path == "/graphql"]
    assert isinstance(endpoint, GraphQLEndpoint)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://cp", timeout=30) as client,
    ):

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await wait_until(ready, within=30, interval=0.05)
        yield Served(client, endpoint, admin_token)


@dataclass(frozen=True)
class World:
    """What one app holds for the benchmark: a project tagged `production`, the
    20-node workflow published there, and a viewer's credentials in its workspace."""

    workspace_id: str
    project_id: str
    workflow_id: str
    version_id: str
    viewer_token: str


async def prepare(app: Served, key: rsa.RSAPrivateKey) -> tuple[World, str]:
    """The world of `app`, and a viewer's JWT signed with `key`."""
    workspaces = (await app.data(SETUP["workspaces"]))["workspaces"]
    [workspace_id] = [w["id"] for w in workspaces if w["name"] == "default"]
    project_id = (await app.data(SETUP["project"], w=workspace_id))["createProject"]["id"]
    published = (await app.data(SETUP["publish"], p=project_id, d=FLOW))["publishWorkflow"]
    assert published["__typename"] == "WorkflowVersion", published
    viewer = (await app.data(SETUP["token"], w=workspace_id))["createApiToken"]["token"]
    await app.data(SETUP["member"], w=workspace_id, m=f"user:{VIEWER_EMAIL}")
    world = World(workspace_id, project_id, published["workflowId"], published["id"], viewer)
    return world, viewer_jwt(key)


def answer(response: httpx.Response) -> Any:
    """The data of a response that must have succeeded (checked after it is timed)."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body["errors"]
    return body["data"]


def issuer_keys() -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return key, {"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]}


def viewer_jwt(key: rsa.RSAPrivateKey) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "viewer",
        "email": VIEWER_EMAIL,
        "name": "Viewer",
        "groups": ["analysts"],
        "iat": now,
        "exp": now + 3600,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})


async def finished_run(app: Served, world: World) -> str:
    """A run started through the API, with the events of its 20 nodes and its end applied
    as the ingest would."""
    run_id = (await app.data(START_RUN, w=world.workflow_id, i=RUN_INPUT))["startRun"]["id"]
    t0, pool = datetime.now(UTC), app.services.settings.default_pool

    def event(kind: Any, second: int, node: str | None = None, **fields: Any) -> RunEvent:
        return RunEvent.create(run_id, kind, t0 + timedelta(seconds=second), node, **fields)

    events = [event("run.started", 0)]
    for i in range(NODES):
        output = {"step": i, "total": i * (i + 1) // 2, "note": f"node {i} done"}
        events.append(event("node.started", 2 * i + 1, f"n{i}", input={"step": i}))
        events.append(event("node.succeeded", 2 * i + 2, f"n{i}", output=output))
    events.append(event("run.succeeded", 2 * NODES + 1, output={"total": 190}))
    async with app.services.sessions.begin() as session:
        await apply_events(session, pool, events)
    return str(run_id)


def timed(call: Callable[[], Awaitable[object]]) -> Sample:
    async def sample() -> Timing:
        began = clocks()
        await call()
        return since(began)

    return sample


def clocks() -> Timing:
    return Timing(time.perf_counter(), time.process_time())


def since(began: Timing) -> Timing:
    now = clocks()
    return Timing(now.wall - began.wall, now.cpu - began.cpu)


async def measure(variants: Mapping[str, Sample], samples: int) -> dict[str, list[Timing]]:
    """`samples` of each variant, in turns (so a change of load hits them alike), after
    `WARM_UP` rounds that are not kept."""
    for _ in range(WARM_UP):
        for sample in variants.values():
            await sample()
    times: dict[str, list[Timing]] = {label: [] for label in variants}
    for _ in range(samples):
        for label, sample in variants.items():
            times[label].append(await sample())
    return times


def p50(times: list[Timing]) -> float:
    return statistics.median(t.wall for t in times)


def p99(times: list[Timing]) -> float:
    return statistics.quantiles([t.wall for t in times], n=100, method="inclusive")[98]


def cpu50(times: list[Timing]) -> float:
    return statistics.median(t.cpu for t in times)


def table(title: str, times: Mapping[str, list[Timing]], reference: str) -> None:
    base = times[reference]
    print(title)
    print(
        f"  {'':<48} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms':>7}"
        f" {'p50 ratio':>9} {'p99 ratio':>9} {'CPU ratio':>9}"
    )
    for label, figures in times.items():
        print(
            f"  {label:<48} {p50(figures) * 1000:8.2f} {p99(figures) * 1000:8.2f}"
            f" {cpu50(figures) * 1000:7.2f} {p50(figures) / p50(base):9.2f}"
            f" {p99(figures) / p99(base):9.2f} {cpu50(figures) / cpu50(base):9.2f}"
        )
    print("  (CPU ms: the median of this process's CPU time per operation)")


async def run_query(
    app: Served, world: World, viewer_jwt: str, run_id: str, samples: int
) -> dict[str, list[Timing]]:
    services, authenticator = app.services, app.authenticator
    admin = await authenticator.authenticate(f"Bearer {app.admin_token}")
    viewer = await authenticator.authenticate(f"Bearer {world.viewer_token}")
    bare = FlowForgeSchema(query=Query, mutation=Mutation, extensions=LIMITS)
    unlimited = FlowForgeSchema(query=Query, mutation=Mutation)
    assert services.settings.oidc is not None
    verifier = OidcVerifier(services.settings.oidc)

    def http(token: str) -> Sample:
        async def sample() -> Timing:
            began = clocks()
            response = await app.post(RUN, token, id=run_id)
            took = since(began)
            assert len(answer(response)["run"]["nodes"]) == NODES
            return took

        return sample

    async def execute(on: FlowForgeSchema, principal: Principal) -> None:
        result = await on.execute(
            RUN, variable_values={"id": run_id}, context_value=Context(services, principal)
        )
        assert result.errors is None and result.data is not None, result.errors
        assert len(result.data["run"]["nodes"]) == NODES

    async def scope() -> None:
        assert await Context(services, viewer).project_scope(world.project_id) is not None

    for token in (app.admin_token, world.viewer_token, viewer_jwt):
        assert len((await app.data(RUN, token, id=run_id))["run"]["nodes"]) == NODES
    return await measure(
        {
            "execute, no authorization extensions (bare)": timed(lambda: execute(bare, viewer)),
            "execute, no extensions at all (no limits either)": timed(
                lambda: execute(unlimited, viewer)
            ),
            "execute with the extensions, instance admin": timed(lambda: execute(schema, admin)),
            "execute with the extensions, workspace viewer": timed(lambda: execute(schema, viewer)),
            "HTTP, API token, instance admin": http(app.admin_token),
            "HTTP, API token, workspace viewer": http(world.viewer_token),
            "HTTP, OIDC JWT, workspace viewer": http(viewer_jwt),
            "Authenticator.authenticate, API token": timed(
                lambda: authenticator.authenticate(f"Bearer {world.viewer_token}")
            ),
            "Authenticator.authenticate, OIDC JWT": timed(
                lambda: authenticator.authenticate(f"Bearer {viewer_jwt}")
            ),
            "  of which OidcVerifier.verify (signature, claims)": timed(
                lambda: verifier.verify(viewer_jwt)
            ),
            "Context.project_scope (the lookup of Query.run)": timed(scope),
        },
        samples,
    )


async def policy_cost(
    plain: Served, plain_world: World, guarded: Served, guarded_world: World, samples: int
) -> dict[str, list[Timing]]:
    examples = PolicyGuard(load_policy_files([EXAMPLE_POLICIES]))
    assert len(examples.files) == 3, examples.files
    assert guarded.services.policies.files == examples.files
    none = PolicyGuard([])
    admin = await plain.authenticator.authenticate(f"Bearer {plain.admin_token}")
    sessions = plain.services.sessions

    def check(guard: PolicyGuard) -> Sample:
        # Timed once the version is read, as publishWorkflow has it when it asks.
        async def sample() -> Timing:
            async with sessions() as session:
                version = await session.get_one(WorkflowVersion, plain_world.version_id)
                began = clocks()
                await guard.check(session, "publish", admin, version)
                return since(began)

        return sample

    def start(app: Served, world: World) -> Sample:
        async def sample() -> Timing:
            began = clocks()
            response = await app.post(START_RUN, app.admin_token, w=world.workflow_id)
            took = since(began)
            assert answer(response)["startRun"]["id"]
            return took

        return sample

    engine = PolicyEngine.compile(examples.files)
    document = publish_document(admin, plain_world)

    async def evaluate() -> None:
        assert engine.evaluate(document).allowed

    for app, world in ((plain, plain_world), (guarded, guarded_world)):
        assert (await app.data(START_RUN, w=world.workflow_id))["startRun"]["id"]
    return await measure(
        {
            "PolicyGuard.check, publish, no policies": check(none),
            "PolicyGuard.check, publish, the three examples": check(examples),
            "  of which PolicyEngine.evaluate": timed(evaluate),
            "startRun mutation, no policy files": start(plain, plain_world),
            "startRun mutation, the three example policies": start(guarded, guarded_world),
        },
        samples,
    )


def publish_document(principal: Principal, world: World) -> PolicyInput:
    """What `PolicyGuard.check` asks the policies for a publish of the benchmark's
    workflow by an instance admin."""
    return {
        "action": "publish",
        "principal": {
            "id": principal.id,
            "kind": principal.kind,
            "name": principal.name,
            "email": principal.email,
            "groups": sorted(principal.groups),
            "instance_admin": principal.instance_admin,
            "role": "owner",
        },
        "workspace": {"id": world.workspace_id, "name": "default"},
        "project": {"id": world.project_id, "name": "payments", "tags": ["production"]},
        "workflow": {
            "id": world.workflow_id,
            "name": FLOW["name"],
            "version": 1,
            "node_types": ["core.transform"],
            "pools": [],
            "secrets": [],
        },
        "pool": None,
        "task": None,
    }


def breakdown(times: Mapping[str, list[Timing]]) -> None:
    """Where a viewer's request goes, from the medians: each layer as the difference of
    two figures measured in the same run (approximate: medians do not add exactly)."""
    print("Where a workspace viewer's `run` request goes (medians; each layer the difference")
    print("of two figures above), wall / CPU ms:")
    for median, unit in ((p50, "wall"), (cpu50, "CPU")):
        bare = median(times["execute, no authorization extensions (bare)"])
        extended = median(times["execute with the extensions, workspace viewer"])
        for label in ("API token", "OIDC JWT"):
            total = median(times[f"HTTP, {label}, workspace viewer"])
            authenticate = median(times[f"Authenticator.authenticate, {label}"])
            rest = total - extended - authenticate
            print(
                f"  {unit:<4} {label:<9}: {total * 1000:6.2f} = bare execution "
                f"{bare * 1000:.2f} + authorization extensions {(extended - bare) * 1000:.2f}"
                f" + authentication {authenticate * 1000:.2f}"
                f" + HTTP, ASGI, JSON, client {rest * 1000:.2f}"
            )


def w1_table(without: overhead.Overhead, with_policies: overhead.Overhead) -> None:
    print(
        f"W1, {without.steps} fibo steps, medians of {without.repeat} runs "
        f"(start latency: of {without.samples}), each on a stack of its own:"
    )
    print(f"  {'':<44} {'no policies':>18} {'example policies':>18}")
    rows: list[tuple[str, Callable[[overhead.Overhead], float], str]] = [
        ("(b) hand-written, local activities", lambda f: f.local_activities, ""),
        ("FlowForge, Temporal start-to-close", lambda f: f.flowforge, "b"),
        ("FlowForge, startRun to SUCCEEDED in the API", lambda f: f.flowforge_end_to_end, "b"),
        ("hand-written start_workflow, to first step", lambda f: f.start, ""),
        ("FlowForge startRun, to first node", lambda f: f.flowforge_start, "start"),
    ]
    for label, figure, reference in rows:
        cells = []
        for figures in (without, with_policies):
            cell = f"{figure(figures) * 1000:.1f} ms"
            if reference == "b":
                cell += f" ({figure(figures) / figures.local_activities:.2f})"
            elif reference == "start":
                cell += f" ({figure(figures) / figures.start:.2f})"
            cells.append(cell)
        print(f"  {label:<44} {cells[0]:>18} {cells[1]:>18}")
    print("  (in brackets: the ratio to (b), or to the hand-written start, of the same stack)")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


async def main(samples: int, w1_repeat: int, w1_samples: int) -> None:
    print(f"load average before: {load()}")
    key, keys = issuer_keys()
    oidc = OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks=keys)
    with tempfile.TemporaryDirectory(prefix="flowforge-bench-auth-") as tmp:
        data = Path(tmp)
        authority = BusAuthority.load_or_create(data / "nats-accounts")
        (data / "plain").mkdir()
        (data / "guarded").mkdir()
        with start_nats(data / "nats", free_port(), authority) as nats:
            async with (
                serving(data / "plain", nats, authority, oidc=oidc) as plain,
                serving(
                    data / "guarded", nats, authority, policy_paths=[EXAMPLE_POLICIES]
                ) as guarded,
            ):
                plain_world, token = await prepare(plain, key)
                guarded_world, _ = await prepare(guarded, key)
                run_id = await finished_run(plain, plain_world)
                query_times = await run_query(plain, plain_world, token, run_id, samples)
                policy_times = await policy_cost(
                    plain, plain_world, guarded, guarded_world, samples
                )
    print(f"load average after parts 1 and 2: {load()}")
    reference = "execute, no authorization extensions (bare)"
    table(
        f"1. The run query, {NODES} nodes, {samples} samples each after {WARM_UP} rounds of "
        "warm-up (ratios to the bare execution):",
        query_times,
        reference,
    )
    breakdown(query_times)
    table(
        f"2. Policies, {samples} samples each (ratios to the check with no policies):",
        policy_times,
        "PolicyGuard.check, publish, no policies",
    )
    plain_start = p50(policy_times["startRun mutation, no policy files"])
    guarded_start = p50(policy_times["startRun mutation, the three example policies"])
    print(
        f"  startRun with the example policies / without: {guarded_start / plain_start:.2f} "
        f"(+{(guarded_start - plain_start) * 1000:.2f} ms at p50)"
    )
    if w1_repeat > 0:
        without = await overhead.measure(40, w1_repeat, w1_samples)
        with_policies = await overhead.measure(40, w1_repeat, w1_samples, EXAMPLE_POLICIES)
        w1_table(without, with_policies)
    print(f"load average after: {load()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument(
        "--w1-repeat", type=int, default=9, help="runs per W1 figure; 0 leaves W1 out"
    )
    parser.add_argument("--w1-samples", type=int, default=10, help="W1's start-latency samples")
    args = parser.parse_args()
    asyncio.run(main(args.samples, args.w1_repeat, args.w1_samples))
