"""The embedded dev stack behind `flowforge dev`: every component on one machine.

Layout of the data directory (everything persists, so a restart loses nothing)::

    temporal/      Temporal dev server (SQLite) and its log
    nats/          NATS JetStream storage, its account resolver, its config and its log
    nats-auth/     the keys NATS trusts and each identity's credentials (mode 0600)
    openbao/       OpenBao raft storage, its unseal key (init.json, mode 0600) and its log
    vault-identities/  the AppRole secret ids of the control plane and the pool (mode 0600)
    registry.db    control-plane registry (SQLite)
    signing-key.pem, signing-key.pub.pem   descriptor signing key pair
    payload-keys.json   the AES keys that encrypt Temporal payloads (mode 0600)
    admin-token    API token of the admin (mode 0600)
    data-plane/    event-outbox.db: run events waiting for the bus
    data-plane.heartbeat   rewritten every second by the data plane's event loop
    logs/          control-plane and data-plane logs

Once started, every child is supervised (`flowforge.supervisor`): by exit, and by a probe
that each kind of child answers itself (a TCP connect, `/healthz`, OpenBao's health, the
data plane's heartbeat). One that exits or stays unhealthy is restarted with the same
configuration, a few times before the stack gives up.
"""

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from control_plane.signing import load_or_create_signing_key, public_key_path
from control_plane.tokens.service import generate_token
from data_plane.protocol import DEFAULT_POOL, VaultSettings
from flowforge.nats_accounts import BusAuthority
from flowforge.payload_keys import load_or_create_payload_keys
from flowforge.private_files import write_private
from flowforge.servers import (
    ServerProcess,
    ServerStartError,
    http_status,
    port_is_free,
    start_nats,
    start_openbao,
    start_process,
    start_temporal,
)
from flowforge.supervisor import (
    Child,
    HealthPolicy,
    Probe,
    RestartPolicy,
    Supervisor,
    heartbeat_probe,
    http_probe,
    tcp_probe,
)
from flowforge.vault_identities import VaultAuthority

# How long each kind of child may fail its probe before it is restarted. The data plane's
# heartbeat is 1 s; 15 s without one is a hang, not a slow moment. The control plane gets
# less: a /healthz that fails several 2 s probes in a row is no answer at all.
DATA_PLANE_HEALTH = HealthPolicy(grace=15.0, failures=3)
CONTROL_PLANE_HEALTH = HealthPolicy(grace=10.0, failures=3)
SERVER_HEALTH = HealthPolicy(grace=15.0, failures=3)


@dataclass(frozen=True)
class DevPorts:
    api: int = 8080
    temporal: int = 7233
    temporal_ui: int = 8233
    nats: int = 4222
    vault: int = 8200


@dataclass
class DevStack:
    data_dir: Path
    ports: DevPorts
    report: Callable[[str], None]
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    data_plane_health: HealthPolicy = DATA_PLANE_HEALTH
    control_plane_health: HealthPolicy = CONTROL_PLANE_HEALTH
    server_health: HealthPolicy = SERVER_HEALTH
    admin_token: str = ""
    supervisor: Supervisor = field(init=False)
    _vault_root_token: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(self.report)

    @property
    def graphql_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.api}/graphql"

    @property
    def payload_keys_path(self) -> Path:
        return self.data_dir / "payload-keys.json"

    @property
    def heartbeat_path(self) -> Path:
        return self.data_dir / "data-plane.heartbeat"

    @property
    def processes(self) -> list[ServerProcess]:
        """The children running now, oldest first (a restart replaces one in place)."""
        return [child.process for child in self.supervisor.children]

    def start(self) -> None:
        """Start every component in dependency order; on failure stop what started."""
        self._check_ports()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "logs").mkdir(exist_ok=True)
        self.admin_token = _admin_token(self.data_dir / "admin-token")
        key_path = self.data_dir / "signing-key.pem"
        load_or_create_signing_key(key_path)
        load_or_create_payload_keys(self.payload_keys_path)
        authority = BusAuthority.load_or_create(self.data_dir / "nats-auth")
        try:
            temporal = self._step(
                "Temporal",
                lambda: start_temporal(
                    self.data_dir / "temporal", self.ports.temporal, ui_port=self.ports.temporal_ui
                ),
                tcp_probe(self.ports.temporal),
            )
            nats = self._step(
                "NATS JetStream",
                lambda: start_nats(self.data_dir / "nats", self.ports.nats, authority),
                tcp_probe(self.ports.nats),
            )
            openbao = self._step(
                "OpenBao",
                self._start_openbao,
                # 200 only while unsealed and active; a restart unseals it again.
                http_probe(f"http://127.0.0.1:{self.ports.vault}/v1/sys/health"),
            )
            vault = VaultAuthority(
                openbao.address, self._vault_root_token, self.data_dir / "vault-identities"
            )
            self._step(
                "control plane",
                lambda: self._start_control_plane(
                    nats.address,
                    authority.control_plane_credentials(),
                    key_path,
                    vault.control_plane(),
                ),
                http_probe(f"http://127.0.0.1:{self.ports.api}/healthz"),
                self.control_plane_health,
            )
            self._step(
                "data plane (agent + worker, pool 'default')",
                lambda: self._start_data_plane(
                    temporal.address,
                    nats.address,
                    authority.pool_credentials(DEFAULT_POOL),
                    key_path,
                    vault.pool(DEFAULT_POOL),
                ),
                heartbeat_probe(self.heartbeat_path),
                self.data_plane_health,
            )
        except BaseException:
            self.stop()
            raise

    def _check_ports(self) -> None:
        options = {
            "--port": self.ports.api,
            "--temporal-port": self.ports.temporal,
            "--temporal-ui-port": self.ports.temporal_ui,
            "--nats-port": self.ports.nats,
            "--vault-port": self.ports.vault,
        }
        for option, port in options.items():
            if not port_is_free(port):
                raise ServerStartError(
                    "flowforge dev",
                    f"cannot start: port {port} is in use; stop what holds it or pass "
                    f"{option} with a free port",
                )

    def _step(
        self,
        title: str,
        start: Callable[[], ServerProcess],
        probe: Probe,
        health: HealthPolicy | None = None,
    ) -> ServerProcess:
        self.report(f"  starting {title} ...")
        began = time.monotonic()
        process = start()
        health = health or self.server_health
        self.supervisor.add(Child(process.name, start, process, probe, health, self.restart))
        self.report(f"  ✓ {title} ready at {process.address} ({time.monotonic() - began:.1f} s)")
        return process

    def _start_control_plane(
        self, nats_url: str, credentials: Path, key_path: Path, vault: VaultSettings
    ) -> ServerProcess:
        env = {
            "FLOWFORGE_CP_PORT": str(self.ports.api),
            "FLOWFORGE_CP_DATABASE_URL": f"sqlite+aiosqlite:///{self.data_dir / 'registry.db'}",
            "FLOWFORGE_CP_NATS_URL": nats_url,
            "FLOWFORGE_CP_NATS_CREDENTIALS": str(credentials),
            "FLOWFORGE_CP_SIGNING_KEY_PATH": str(key_path),
            "FLOWFORGE_CP_ADMIN_TOKEN": self.admin_token,
            # A development stack: GraphiQL and introspection for its own user.
            "FLOWFORGE_CP_EXPOSE_SCHEMA": "true",
            "FLOWFORGE_CP_VAULT": vault.model_dump_json(),
        }
        return start_control_plane(env, self.data_dir / "logs" / "control-plane.log")

    def _start_openbao(self) -> ServerProcess:
        server, self._vault_root_token = start_openbao(self.data_dir / "openbao", self.ports.vault)
        return server

    def _start_data_plane(
        self,
        temporal: str,
        nats_url: str,
        credentials: Path,
        key_path: Path,
        vault: VaultSettings,
    ) -> ServerProcess:
        env = {
            "FLOWFORGE_DP_TEMPORAL_ADDRESS": temporal,
            "FLOWFORGE_DP_NATS_URL": nats_url,
            "FLOWFORGE_DP_NATS_CREDENTIALS": str(credentials),
            "FLOWFORGE_DP_OUTBOX_PATH": str(self.data_dir / "data-plane" / "event-outbox.db"),
            "FLOWFORGE_DP_TRUSTED_KEYS": str(public_key_path(key_path)),
            "FLOWFORGE_DP_HEARTBEAT_PATH": str(self.heartbeat_path),
            "FLOWFORGE_DP_VAULT": vault.model_dump_json(),
            "FLOWFORGE_DP_PAYLOAD_KEYS_PATH": str(self.payload_keys_path),
        }
        return start_data_plane(env, self.data_dir / "logs" / "data-plane.log")

    def supervise(self, interval: float = 1.0) -> None:
        """Watch every child until one keeps failing (`SupervisorGaveUpError`) or a signal
        interrupts."""
        self.supervisor.run(interval)

    def stop(self) -> None:
        """Stop every child, newest first."""
        self.supervisor.stop()


def _admin_token(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    token = generate_token()
    write_private(path, token + "\n")
    return token


def start_control_plane(
    env: Mapping[str, str],
    log_path: Path,
    command: Sequence[str] = (sys.executable, "-m", "control_plane"),
) -> ServerProcess:
    """The control plane as a child process configured by the `FLOWFORGE_CP_*` variables in
    `env` (`FLOWFORGE_CP_PORT` required); returns once `/readyz` answers 200."""
    base = f"http://127.0.0.1:{env['FLOWFORGE_CP_PORT']}"
    return start_process(
        "control plane",
        list(command),
        address=f"{base}/graphql",
        log_path=log_path,
        is_ready=lambda: http_status(f"{base}/readyz") == 200,
        env=env,
    )


def start_data_plane(
    env: Mapping[str, str],
    log_path: Path,
    command: Sequence[str] = (sys.executable, "-m", "data_plane"),
) -> ServerProcess:
    """A data plane as a child process configured by the `FLOWFORGE_DP_*` variables in
    `env`; returns once it logged that it is ready."""
    offset = log_path.stat().st_size if log_path.exists() else 0
    pool = env.get("FLOWFORGE_DP_POOL", DEFAULT_POOL)
    return start_process(
        "data plane",
        list(command),
        address=f"pool {pool}",
        log_path=log_path,
        is_ready=lambda: b"data plane ready" in _read_from(log_path, offset),
        env=env,
    )


def _read_from(path: Path, offset: int) -> bytes:
    try:
        with path.open("rb") as file:
            file.seek(offset)
            return file.read()
    except OSError:
        return b""
