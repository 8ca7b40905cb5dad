"""The data plane's heartbeat comes from its event loop: it stops when the loop is blocked
(Hardening #10)."""

import asyncio
import os
import time
from pathlib import Path

import pytest

from data_plane.errors import SettingsError
from data_plane.heartbeat import Heartbeat
from data_plane.settings import DataPlaneSettings

from fixtures.stack import assert_eventually


def mtime(path: Path) -> float:
    return path.stat().st_mtime


async def test_the_heartbeat_is_rewritten_while_the_loop_runs(tmp_path: Path) -> None:
    path = tmp_path / "beat" / "data-plane.heartbeat"
    heartbeat = Heartbeat.start(path, interval=0.05)
    try:
        first = mtime(path)
        assert path.read_text().split()[1] == str(os.getpid())

        async def advanced() -> bool:
            return mtime(path) > first

        await assert_eventually(advanced, within=10)
    finally:
        await heartbeat.stop()


async def test_a_blocked_loop_writes_no_heartbeat(tmp_path: Path) -> None:
    path = tmp_path / "data-plane.heartbeat"
    heartbeat = Heartbeat.start(path, interval=0.05)
    try:
        await asyncio.sleep(0.2)
        before = mtime(path)
        # Blocking the loop on purpose, as a C extension holding the GIL would.
        time.sleep(0.5)  # noqa: ASYNC251
        assert mtime(path) == before
    finally:
        await heartbeat.stop()
    stopped = mtime(path)
    await asyncio.sleep(0.2)
    assert mtime(path) == stopped


async def test_without_a_path_there_is_no_heartbeat(tmp_path: Path) -> None:
    heartbeat = Heartbeat.start(None)
    await heartbeat.stop()
    assert DataPlaneSettings().heartbeat_path is None
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240 (a test's temporary folder)


async def test_an_unwritable_heartbeat_path_is_a_settings_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SettingsError, match="FLOWFORGE_DP_HEARTBEAT_PATH"):
        Heartbeat.start(blocker / "data-plane.heartbeat")


def test_the_heartbeat_path_is_a_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLOWFORGE_DP_HEARTBEAT_PATH", str(tmp_path / "hb"))
    assert DataPlaneSettings().heartbeat_path == tmp_path / "hb"
