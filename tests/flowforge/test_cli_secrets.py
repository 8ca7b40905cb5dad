"""`flowforge secrets` against a control plane served over HTTP with the session's
OpenBao: the value comes from standard input, never from an argument, and no command
prints it."""

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import hvac
import pytest
from typer.testing import CliRunner

from data_plane.protocol import VaultSettings, secret_path
from flowforge.cli import secrets as secrets_cli
from flowforge.cli.main import app
from flowforge.nats_accounts import BusAuthority
from flowforge.servers import ServerProcess

from fixtures.api import Api, serving_api


@pytest.fixture
async def http_api(
    sqlite_url: str,
    nats_server: ServerProcess,
    bus_authority: BusAuthority,
    vault_settings: VaultSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Api]:
    """The CLI only talks GraphQL: one database backend is enough."""
    for name in ("FLOWFORGE_URL", "FLOWFORGE_TOKEN", "FLOWFORGE_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    async with serving_api(
        sqlite_url, nats_server, bus_authority, tmp_path, over_http=True, vault=vault_settings
    ) as api:
        yield api


async def flowforge(api: Api, *args: str, stdin: str | None = None) -> tuple[int, str]:
    """A CLI command with the admin token, in a thread (the API serves from this loop)."""
    full = [*args, "--url", api.url, "--token", api.token]
    result = await asyncio.to_thread(
        CliRunner().invoke, app, full, input=stdin, env={"COLUMNS": "200"}
    )
    return result.exit_code, result.output


async def test_a_secret_is_set_from_stdin_listed_without_its_value_and_deleted(
    http_api: Api, vault_root: hvac.Client
) -> None:
    project = await http_api.default_project()
    settings = http_api.settings.vault
    assert settings is not None
    path = secret_path(settings.prefix, project["workspaceId"], project["id"], "acme_api_key")

    code, out = await flowforge(http_api, "secrets", "set", "acme_api_key", stdin="k-123\n")
    assert (code, out) == (0, "secret acme_api_key set: version 1\n")
    stored = vault_root.secrets.kv.v2.read_secret_version(
        path=path, mount_point=settings.mount, raise_on_deleted_version=True
    )
    assert stored["data"]["data"] == {"value": "k-123"}  # one trailing newline dropped

    code, out = await flowforge(
        http_api, "secrets", "set", "acme_api_key", "--project", project["id"], stdin="k-456\n\n"
    )
    assert code == 0 and "version 2" in out
    code, out = await flowforge(http_api, "secrets", "list", "--json")
    assert code == 0, out
    [listed] = json.loads(out)
    assert (listed["name"], listed["version"], listed["projectId"]) == (
        "acme_api_key",
        2,
        project["id"],
    )
    assert "k-456" not in out and "value" not in listed
    code, out = await flowforge(http_api, "secrets", "list")
    assert code == 0 and out.startswith("acme_api_key") and "version 2" in out

    code, out = await flowforge(http_api, "secrets", "delete", "acme_api_key")
    assert (code, out) == (0, "deleted secret acme_api_key\n")
    code, out = await flowforge(http_api, "secrets", "list", "--json")
    assert (code, json.loads(out)) == (0, [])


async def test_refusals_name_the_field_and_exit_with_1(http_api: Api) -> None:
    code, out = await flowforge(http_api, "secrets", "set", "bad name", stdin="v")
    assert code == 1
    assert "error: name: 'bad name' is not a secret name" in out

    code, out = await flowforge(http_api, "secrets", "set", "empty", stdin="")
    assert code == 1 and "error: no value: type it at the prompt or pipe it" in out

    code, out = await flowforge(http_api, "secrets", "delete", "never-set")
    assert code == 1 and "has no secret named 'never-set'" in out


def test_set_takes_no_value_on_the_command_line() -> None:
    result = CliRunner().invoke(app, ["secrets", "set", "acme_api_key", "k-123"])
    help_text = CliRunner().invoke(app, ["secrets", "set", "--help"], env={"COLUMNS": "200"})

    assert result.exit_code == 2
    assert "unexpected extra argument" in result.output.lower()
    assert "Example: flowforge secrets set acme_api_key < key.txt" in help_text.output
    assert "--value" not in help_text.output


class _Terminal:
    def isatty(self) -> bool:
        return True

    def read(self) -> str:
        raise AssertionError("a terminal is not read: the value is asked for, hidden")


def test_at_a_terminal_the_value_is_asked_for_without_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def hidden(prompt: str) -> str:
        asked.append(prompt)
        return "typed"

    monkeypatch.setattr(secrets_cli.sys, "stdin", _Terminal())
    monkeypatch.setattr(secrets_cli.getpass, "getpass", hidden)

    assert secrets_cli.read_value("acme_api_key") == "typed"
    assert asked == ["value of secret acme_api_key (input hidden): "]
