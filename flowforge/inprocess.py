"""FlowForge in one process, for tests and benchmarks: the real control-plane app served
by uvicorn and a real agent + Temporal worker, against running Temporal and NATS servers.

Each `running_stack` gets its own pool (so its own NATS subjects, consumers and Temporal
task queue) and API token; the control plane and the data plane can be stopped and started
again. Either can instead run as a child process (`python -m control_plane`, `python -m
data_plane`), as in production, which a test may also kill (SIGKILL, by PID) to see what
survives a crash.
"""

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import uvicorn
from nats.aio.client import Client as NatsClient
from pydantic import SecretStr
from pydantic_core import to_jsonable_python
from pydantic_settings import BaseSettings
from temporalio.client import Client

from connectors_sdk import NodeRegistry
from control_plane.app import create_app
from control_plane.settings import ControlPlaneSettings
from control_plane.signing import public_key_path
from data_plane.protocol import CONTROL_PLANE_INBOX, TERMINAL_RUN_STATUSES, pool_inbox
from data_plane.settings import DataPlaneSettings
from data_plane.worker import connect_temporal, serve
from flowforge.devstack import start_control_plane, start_data_plane
from flowforge.nats_accounts import BusAuthority
from flowforge.payload_keys import load_or_create_payload_keys
from flowforge.servers import ServerProcess, free_port
from flowforge.vault_identities import VaultAuthority


async def wait_until(check: Any, within: float = 30.0, interval: float = 0.1) -> Any:
    """Await `check()` until it returns a truthy value or `within` seconds pass; return it."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within} s; last value: {value!r}")
        await asyncio.sleep(interval)


@dataclass
class Stack:
    cp_settings: ControlPlaneSettings
    dp_settings: DataPlaneSettings
    registry: NodeRegistry
    token: str
    temporal: Client
    nats: NatsClient
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=30))
    data_dir: Path = Path(".")
    """Where child processes write their logs."""
    control_plane_command: Sequence[str] | None = None
    """Run the control plane as this child process (configured by `FLOWFORGE_CP_*`)."""
    data_plane_command: Sequence[str] | None = None
    """Run the data plane as this child process (configured by `FLOWFORGE_DP_*`); it loads
    the node types of the installed entry points, not `registry`."""
    control_plane_process: ServerProcess | None = None
    data_plane_process: ServerProcess | None = None
    _server: uvicorn.Server | None = None
    _server_task: asyncio.Task[None] | None = None
    _dp_stop: asyncio.Event = field(default_factory=asyncio.Event)
    _dp_task: asyncio.Task[None] | None = None

    @property
    def pool(self) -> str:
        return self.dp_settings.pool

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.cp_settings.port}/graphql"

    async def start_control_plane(self, wait_ready: bool = True) -> None:
        """Serve the control plane; with `wait_ready`, return once `/readyz` says ready
        (connected to the bus, its streams created). A child process is always waited
        for."""
        if self.control_plane_command is not None:
            assert self.control_plane_process is None, "the control plane is running"
            self.control_plane_process = await asyncio.to_thread(
                _start_control_plane_process,
                self.cp_settings,
                self.control_plane_command,
                self.data_dir,
            )
            return
        config = uvicorn.Config(
            create_app(self.cp_settings, self.registry),
            host="127.0.0.1",
            port=self.cp_settings.port,
            log_level="warning",
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._server_task = asyncio.create_task(self._server.serve())
        server = self._server

        async def started() -> bool:
            if self._server_task is not None and self._server_task.done():
                self._server_task.result()
            return server.started

        await wait_until(started)
        if wait_ready:
            await wait_until(self._ready)

    async def _ready(self) -> bool:
        response = await self.http.get(self.url.removesuffix("/graphql") + "/readyz")
        return response.status_code == 200

    async def stop_control_plane(self) -> None:
        """Stop the control plane the way an operator would (SIGTERM to a child)."""
        if self.control_plane_process is not None:
            await asyncio.to_thread(self.control_plane_process.stop)
            self.control_plane_process = None
        if self._server is not None and self._server_task is not None:
            self._server.should_exit = True
            await self._server_task
            self._server = self._server_task = None

    def kill_control_plane(self) -> None:
        """SIGKILL the control plane's child process: a crash, with no shutdown at all."""
        assert self.control_plane_process is not None, "no control plane child process"
        self.control_plane_process.kill()
        self.control_plane_process = None

    async def start_data_plane(self) -> None:
        """Start the agent and worker; a child process is returned once it is ready."""
        if self.data_plane_command is not None:
            assert self.data_plane_process is None, "the data plane is running"
            self.data_plane_process = await asyncio.to_thread(
                start_data_plane,
                data_plane_environment(self.dp_settings),
                self.data_dir / "data-plane.log",
                self.data_plane_command,
            )
            return
        self._dp_stop = asyncio.Event()
        self._dp_task = asyncio.create_task(serve(self.dp_settings, self.registry, self._dp_stop))

    async def stop_data_plane(self) -> None:
        """Stop the data plane the way an operator would (SIGTERM to a child)."""
        if self.data_plane_process is not None:
            await asyncio.to_thread(self.data_plane_process.stop)
            self.data_plane_process = None
        if self._dp_task is not None:
            self._dp_stop.set()
            await self._dp_task
            self._dp_task = None

    def kill_data_plane(self) -> None:
        """SIGKILL the data plane's child process: a crash, with no shutdown at all."""
        assert self.data_plane_process is not None, "no data plane child process"
        self.data_plane_process.kill()
        self.data_plane_process = None

    async def connect_as_pool(self) -> NatsClient:
        """A NATS connection with this stack's pool credentials (close it when done)."""
        assert self.dp_settings.nats_credentials is not None
        return await nats.connect(
            self.dp_settings.nats_url,
            drain_timeout=2,
            user_credentials=str(self.dp_settings.nats_credentials),
            inbox_prefix=pool_inbox(self.pool),
        )

    async def graphql(self, query: str, token: str | None = None, **variables: Any) -> Any:
        """POST an operation; returns the whole response body (data and errors)."""
        response = await self.http.post(
            self.url,
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token or self.token}"},
        )
        return response.json()

    async def data(self, query: str, **variables: Any) -> Any:
        """Run an operation that must succeed and return its data."""
        body = await self.graphql(query, **variables)
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def project_id(self) -> str:
        data = await self.data("{ projects { id name } }")
        return str(next(p["id"] for p in data["projects"] if p["name"] == "default"))

    async def publish(self, definition: dict[str, Any]) -> dict[str, Any]:
        data = await self.data(
            """mutation($p: ID!, $d: JSON!) { publishWorkflow(projectId: $p, definition: $d) {
                 __typename
                 ... on WorkflowVersion { id workflowId name version sha256 createdAt }
                 ... on ValidationFailed { errors { nodeId field message } }
               } }""",
            p=await self.project_id(),
            d=definition,
        )
        result: dict[str, Any] = data["publishWorkflow"]
        return result

    async def start_run(self, workflow_id: str, input: Any = None, **extra: Any) -> Any:
        return await self.graphql(
            """mutation($w: ID!, $v: Int, $i: JSON, $k: String) {
                 startRun(workflowId: $w, version: $v, input: $i, idempotencyKey: $k) {
                   id status version } }""",
            w=workflow_id,
            v=extra.get("version"),
            i=input,
            k=extra.get("idempotency_key"),
        )

    async def run(self, run_id: str) -> dict[str, Any]:
        data = await self.data(
            """query($id: ID!) { run(id: $id) { id status version input output error
                 startedAt finishedAt
                 nodes { nodeId status attempts input output error startedAt finishedAt } } }""",
            id=run_id,
        )
        run: dict[str, Any] = data["run"]
        return run

    async def wait_for_run(
        self, run_id: str, within: float = 60.0, interval: float = 0.1
    ) -> dict[str, Any]:
        async def finished() -> dict[str, Any] | None:
            run = await self.run(run_id)
            return run if run["status"] in TERMINAL_RUN_STATUSES else None

        result: dict[str, Any] = await wait_until(finished, within, interval)
        return result

    async def run_to_end(self, definition: dict[str, Any], input: Any = None) -> dict[str, Any]:
        published = await self.publish(definition)
        assert published["__typename"] == "WorkflowVersion", published
        started = await self.start_run(published["workflowId"], input)
        assert not started.get("errors"), started
        return await self.wait_for_run(started["data"]["startRun"]["id"])


@contextlib.asynccontextmanager
async def running_stack(
    database_url: str,
    temporal_server: ServerProcess,
    nats_server: ServerProcess,
    data_dir: Path,
    authority: BusAuthority,
    registry: NodeRegistry | None = None,
    control_plane_command: Sequence[str] | None = None,
    other_pools: Sequence[str] = (),
    data_plane_command: Sequence[str] | None = None,
    data_plane_options: Mapping[str, Any] | None = None,
    control_plane_options: Mapping[str, Any] | None = None,
    vault: VaultAuthority | None = None,
    encrypt_payloads: bool = False,
) -> AsyncIterator[Stack]:
    """Start a control plane and a data plane; stop both on exit.

    Each connects to NATS with its own credentials from `authority` (the NATS server must
    trust it). `Stack.nats` holds the control plane's. With `control_plane_command` the
    control plane runs as that child process (configured through `FLOWFORGE_CP_*`), as it
    would in production, and likewise the data plane with `data_plane_command`
    (`FLOWFORGE_DP_*`; its log is `data_dir/data-plane.log`); otherwise each runs in this
    process. The control plane also serves `other_pools` (no data plane is started for
    them). `data_plane_options` are further data-plane settings (e.g. the artefact store's),
    `control_plane_options` further control-plane settings (e.g. the control expiry).
    With `vault`, the control plane writes secrets to it and the data plane reads them, each
    with its own AppRole. With
    `encrypt_payloads`, Temporal payloads are encrypted with the keys of
    `data_dir/payload-keys.json` (created if missing), which `Stack.temporal` holds too.
    """
    pool = f"t{uuid.uuid4().hex[:10]}"
    token = f"test-token-{uuid.uuid4().hex}"
    key_path = data_dir / "signing-key.pem"
    control_plane_options = control_plane_options or {}
    transit_key = control_plane_options.get("signing_transit_key")
    payload_keys_path = data_dir / "payload-keys.json" if encrypt_payloads else None
    payload_keys = load_or_create_payload_keys(payload_keys_path) if payload_keys_path else None
    cp_settings = ControlPlaneSettings(
        port=free_port(),
        database_url=database_url,
        nats_url=nats_server.address,
        nats_credentials=authority.control_plane_credentials(),
        signing_key_path=key_path,
        admin_token=SecretStr(token),
        default_pool=pool,
        pools=list(other_pools),
        expose_schema=True,
        vault=vault.control_plane(transit_key) if vault is not None else None,
        **{"redispatch_interval": 0.5, **control_plane_options},
    )
    dp_settings = DataPlaneSettings(
        pool=pool,
        temporal_address=temporal_server.address,
        nats_url=nats_server.address,
        nats_credentials=authority.pool_credentials(pool),
        outbox_path=data_dir / "event-outbox.db",
        payload_keys_path=payload_keys_path,
        vault=vault.pool(pool) if vault is not None else None,
        **{"trusted_keys": [public_key_path(key_path)], **(data_plane_options or {})},
    )
    temporal = await connect_temporal(temporal_server.address, "default", payload_keys)
    nc = await nats.connect(
        nats_server.address,
        drain_timeout=2,
        user_credentials=str(cp_settings.nats_credentials),
        inbox_prefix=CONTROL_PLANE_INBOX,
    )
    stack = Stack(
        cp_settings,
        dp_settings,
        registry or NodeRegistry.from_entry_points(),
        token,
        temporal,
        nc,
        data_dir=data_dir,
        control_plane_command=control_plane_command,
        data_plane_command=data_plane_command,
    )
    try:
        await stack.start_control_plane()
        await stack.start_data_plane()
        yield stack
    finally:
        await stack.stop_data_plane()
        await stack.stop_control_plane()
        await stack.http.aclose()
        await nc.close()


def data_plane_environment(settings: DataPlaneSettings) -> dict[str, str]:
    """The `FLOWFORGE_DP_*` variables that configure a data-plane process as `settings`."""
    return _environment(settings, "FLOWFORGE_DP_")


def _start_control_plane_process(
    settings: ControlPlaneSettings, command: Sequence[str], data_dir: Path
) -> ServerProcess:
    env = _environment(settings, "FLOWFORGE_CP_")
    return start_control_plane(env, data_dir / "control-plane.log", command)


def _environment(settings: BaseSettings, prefix: str) -> dict[str, str]:
    """The variables that configure a process as `settings`, secrets in the clear: lists
    comma-separated, groups as JSON."""
    env = {}
    for name, value in _revealed(settings.model_dump(exclude_none=True)).items():
        if isinstance(value, list):
            text = ",".join(str(item) for item in value)
        else:
            text = value if isinstance(value, str) else json.dumps(value)
        env[f"{prefix}{name.upper()}"] = text
    return env


def _revealed(value: Any) -> Any:
    """`value` as JSON data, with the values of secrets instead of their masks."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {key: _revealed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_revealed(item) for item in value]
    return to_jsonable_python(value)
