"""`flowforge login`, `whoami`, `workspaces`, `projects`, `members`, `tokens` and
`policies` against a running stack."""

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from control_plane.graphql.schema import schema
from flowforge.cli.main import app

from fixtures.stack import Stack

POLICIES = Path(__file__).parents[2] / "examples" / "policies"
# The policies API lands separately; its tests run as soon as the schema has it.
HAS_POLICIES = schema.get_field_for_type("policies", "Query") is not None


@pytest.fixture
def stack(sqlite_stack: Stack) -> Stack:
    """The CLI only talks GraphQL: one database backend is enough."""
    return sqlite_stack


@pytest.fixture(autouse=True)
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A credentials file of the test's own, and no FLOWFORGE_* settings from outside."""
    for name in ("FLOWFORGE_URL", "FLOWFORGE_TOKEN", "FLOWFORGE_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    # No dev stack's .flowforge/admin-token to fall back on.
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return tmp_path / "config" / "flowforge" / "credentials.json"


async def flowforge(*args: str) -> tuple[int, str]:
    """Run a CLI command in a thread (the stack serves from this event loop)."""
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


async def admin(stack: Stack, *args: str) -> tuple[int, str]:
    """A command with the stack's instance-admin token."""
    return await flowforge(*args, "--url", stack.url, "--token", stack.token)


async def test_login_keeps_the_token_for_whoami_and_logout_forgets_it(
    stack: Stack, config_home: Path
) -> None:
    code, out = await flowforge("login", "--url", stack.url, "--token", "ff_wrong")
    assert code == 1
    assert "the API token is not valid" in out and "[UNAUTHENTICATED]" in out
    assert not config_home.exists()  # noqa: ASYNC240 (a test's temporary folder)

    code, out = await flowforge("login", "--url", stack.url, "--token", stack.token)
    assert code == 0, out
    assert f"logged in to {stack.url}" in out
    assert "instance admin" in out
    saved = config_home.read_text()  # noqa: ASYNC240 (a test's temporary folder)
    assert json.loads(saved) == {"url": stack.url, "token": stack.token}
    assert config_home.stat().st_mode & 0o777 == 0o600  # noqa: ASYNC240 (as above)

    code, out = await flowforge("whoami")
    assert code == 0, out
    assert f"at {stack.url}" in out and "instance admin" in out
    code, out = await flowforge("whoami", "--json")
    assert code == 0, out
    me = json.loads(out)
    assert (me["kind"], me["instanceAdmin"], me["roles"]) == ("token", True, [])

    # Flags and variables come before the file; its token goes only to its own url.
    code, out = await flowforge("whoami", "--token", "ff_wrong")
    assert code == 1 and "[UNAUTHENTICATED]" in out
    code, out = await flowforge("whoami", "--url", "http://127.0.0.1:9/graphql")
    assert code == 1 and "no API token" in out and "run `flowforge login`" in out

    code, out = await flowforge("logout")
    assert code == 0, out
    assert not config_home.exists()  # noqa: ASYNC240 (a test's temporary folder)
    code, out = await flowforge("whoami")
    assert code == 1 and "no API token" in out
    code, out = await flowforge("logout")
    assert code == 0 and "not logged in" in out


def test_an_unreadable_credentials_file_is_named(config_home: Path) -> None:
    config_home.parent.mkdir(parents=True)
    config_home.write_text('["not", "credentials"]')

    result = CliRunner().invoke(app, ["whoami"])

    assert result.exit_code == 1
    assert f"error: {config_home} holds no url and token; run `flowforge login` again" in (
        result.output
    )


async def test_workspaces_and_projects_are_created_tagged_renamed_and_archived(
    stack: Stack,
) -> None:
    code, out = await admin(stack, "workspaces", "create", "acme")
    assert code == 0, out
    assert out.startswith("created workspace acme")
    code, out = await admin(stack, "workspaces", "list", "--json")
    assert code == 0, out
    [acme] = [w for w in json.loads(out) if w["name"] == "acme"]

    # By the workspace's name; tags are kept sorted and unique.
    code, out = await admin(
        stack, "projects", "create", "billing", "-w", "acme", "--tag", "pci", "-t", "team:pay"
    )
    assert code == 0, out
    assert "created project acme/billing" in out and "tags pci, team:pay" in out
    code, out = await admin(stack, "projects", "list", "--workspace", acme["id"], "--json")
    assert code == 0, out
    [billing] = json.loads(out)
    assert (billing["name"], billing["tags"], billing["workspaceId"]) == (
        "billing",
        ["pci", "team:pay"],
        acme["id"],
    )

    code, out = await admin(
        stack, "projects", "update", billing["id"], "--name", "billing-eu", "--tag", "eu"
    )
    assert code == 0, out
    assert "updated project acme/billing-eu" in out and "tags eu" in out
    code, out = await admin(stack, "projects", "update", billing["id"], "--clear-tags", "--json")
    assert code == 0, out
    assert json.loads(out)["tags"] == []

    code, out = await admin(stack, "workspaces", "rename", "acme", "acme-corp")
    assert code == 0, out
    assert out.startswith("renamed workspace acme-corp") and acme["id"] in out

    code, out = await admin(stack, "projects", "archive", billing["id"])
    assert code == 0, out
    assert "archived project acme-corp/billing-eu" in out
    code, out = await admin(stack, "projects", "list", "-w", "acme-corp")
    assert code == 0 and out == ""
    code, out = await admin(stack, "projects", "list", "-w", "acme-corp", "--archived")
    assert code == 0, out
    assert "acme-corp/billing-eu" in out and "archived 20" in out

    code, out = await admin(stack, "workspaces", "archive", "acme-corp", "--json")
    assert code == 0, out
    assert json.loads(out)["archivedAt"] is not None
    code, out = await admin(stack, "workspaces", "list")
    assert code == 0, out
    assert "acme-corp" not in out and "default" in out
    code, out = await admin(stack, "workspaces", "list", "--archived")
    assert "acme-corp" in out


async def test_members_are_added_given_another_role_and_removed(stack: Stack) -> None:
    await admin(stack, "workspaces", "create", "team")
    await admin(stack, "projects", "create", "web", "--workspace", "team")

    code, out = await admin(stack, "members", "add", "user:Ada@Example.com", "editor", "-w", "team")
    assert code == 0, out
    assert out.strip() == "user:ada@example.com is EDITOR in workspace team"
    code, out = await admin(
        stack, "members", "add", "group:sre", "VIEWER", "-w", "team", "-p", "web"
    )
    assert code == 0, out
    assert out.strip() == "group:sre is VIEWER in project web of workspace team"

    code, out = await admin(
        stack, "members", "set-role", "group:sre", "operator", "-w", "team", "-p", "web"
    )
    assert code == 0, out
    assert out.strip() == "group:sre is OPERATOR in project web of workspace team"
    code, out = await admin(stack, "members", "list", "-w", "team", "-p", "web", "--json")
    assert code == 0, out
    assert [(m["member"], m["role"]) for m in json.loads(out)] == [("group:sre", "OPERATOR")]
    code, out = await admin(stack, "members", "list", "--workspace", "team")
    assert code == 0, out
    assert re.fullmatch(r"user:ada@example\.com\s+EDITOR\n", out)

    code, out = await admin(stack, "members", "add", "user:ada@example.com", "owner", "-w", "team")
    assert code == 1
    assert "error: member: user:ada@example.com is a member of the workspace already" in out

    code, out = await admin(stack, "members", "remove", "user:ada@example.com", "-w", "team")
    assert code == 0, out
    assert out.strip() == "removed user:ada@example.com from workspace team"
    code, out = await admin(stack, "members", "list", "-w", "team", "--json")
    assert code == 0 and json.loads(out) == []

    code, out = await admin(
        stack, "members", "set-role", "user:bo@example.com", "viewer", "-w", "team"
    )
    assert code == 1
    assert "error: user:bo@example.com is not a member of the workspace" in out


async def test_a_token_holds_its_role_until_it_is_revoked(stack: Stack) -> None:
    await admin(stack, "workspaces", "create", "ops")

    code, out = await admin(
        stack, "tokens", "create", "ci", "--workspace", "ops", "--role", "operator",
        "--expires-in", "1d",
    )  # fmt: skip
    assert code == 0, out
    assert "created API token ci" in out and "OPERATOR in workspace ops, until 20" in out
    assert "cannot be shown again" in out
    [value] = re.findall(r"^(ff_\S+)$", out, re.MULTILINE)

    code, out = await flowforge("login", "--url", stack.url, "--token", value)
    assert code == 0, out
    assert "ci (token token:" in out and "OPERATOR in workspace ops" in out
    code, out = await flowforge("whoami")
    assert code == 0, out
    assert "OPERATOR in workspace ops" in out and "instance admin" not in out
    code, out = await flowforge("workspaces", "create", "mine")
    assert code == 1 and "[FORBIDDEN]" in out

    code, out = await admin(stack, "tokens", "list", "-w", "ops", "--json")
    assert code == 0, out
    assert value not in out
    [listed] = json.loads(out)
    assert (listed["name"], listed["role"], listed["revokedAt"]) == ("ci", "OPERATOR", None)
    assert listed["lastUsedAt"] is not None
    expires = datetime.fromisoformat(listed["expiresAt"])
    assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(days=1)
    code, out = await admin(stack, "tokens", "list", "-w", "ops")
    assert code == 0 and value not in out and re.search(r"ci\s+OPERATOR\s+created", out)

    code, out = await admin(stack, "tokens", "revoke", listed["id"])
    assert code == 0, out
    assert out.startswith(f"revoked API token ci (id {listed['id']}) at 20")
    code, out = await flowforge("whoami")
    assert code == 1
    assert "error: the API token 'ci' was revoked at" in out and "[UNAUTHENTICATED]" in out


async def test_token_create_with_json_prints_the_value_and_the_token(stack: Stack) -> None:
    code, out = await admin(
        stack, "tokens", "create", "bot", "-w", "default", "--role", "VIEWER",
        "--expires-at", "2999-01-31T18:00", "--json",
    )  # fmt: skip
    assert code == 0, out
    created = json.loads(out)
    assert created["token"].startswith("ff_")
    assert created["apiToken"]["role"] == "VIEWER"
    assert created["apiToken"]["expiresAt"].startswith("2999-01-31T18:00:00")


async def test_refusals_exit_non_zero_with_the_reason(stack: Stack) -> None:
    code, out = await admin(stack, "projects", "update", "no-such-id", "--name", "x")
    assert code == 1 and "error: project 'no-such-id' does not exist" in out
    code, out = await admin(stack, "tokens", "revoke", "no-such-id")
    assert code == 1 and "error: API token 'no-such-id' does not exist" in out
    code, out = await admin(stack, "workspaces", "create", "not a name")
    assert code == 1 and "error: name: 'not a name' is not a workspace name" in out
    code, out = await admin(stack, "workspaces", "create", "default")
    assert code == 1 and "error: name: a workspace named 'default' exists already" in out
    code, out = await admin(stack, "projects", "create", "p", "-w", "default", "--tag", "A B")
    assert code == 1 and "error: tags: 'A B' is not a tag" in out
    code, out = await admin(stack, "members", "list", "-w", "nowhere")
    assert code == 1 and "error: no workspace named 'nowhere' or with that id" in out
    code, out = await admin(stack, "members", "list", "-w", "default", "-p", "nothing")
    assert code == 1 and "error: workspace 'default' has no project named 'nothing'" in out
    code, out = await admin(stack, "members", "add", "ada@example.com", "owner", "-w", "default")
    assert code == 1 and "error: member: 'ada@example.com' is neither user:<email>" in out
    code, out = await admin(
        stack, "tokens", "create", "t", "-w", "default", "--role", "viewer",
        "--expires-at", "2001-01-01T00:00Z",
    )  # fmt: skip
    assert code == 1 and "error: expiresAt: 2001-01-01T00:00:00+00:00 has passed" in out


async def test_options_the_cli_cannot_send_are_refused_before_any_request(stack: Stack) -> None:
    code, out = await admin(stack, "members", "add", "user:a@b.c", "boss", "-w", "default")
    assert code == 2 and "'boss' is not one of 'viewer', 'operator', 'editor', 'owner'" in out
    code, out = await admin(stack, "tokens", "create", "t", "-w", "default", "--role", "root")
    assert code == 2 and "'root' is not one of" in out
    code, out = await admin(
        stack, "tokens", "create", "t", "-w", "default", "--role", "viewer", "--expires-in", "3mo"
    )
    assert code == 1 and "--expires-in '3mo': write a number and a unit" in out
    code, out = await admin(
        stack, "tokens", "create", "t", "-w", "default", "--role", "viewer",
        "--expires-in", "1d", "--expires-at", "2999-01-01",
    )  # fmt: skip
    assert code == 1 and "give --expires-in or --expires-at, not both" in out
    code, out = await admin(stack, "projects", "update", "some-id")
    assert code == 1 and "nothing to change" in out


@pytest.mark.skipif(not HAS_POLICIES, reason="the policies API is not in the schema yet")
async def test_policies_are_set_listed_and_deleted(stack: Stack, tmp_path: Path) -> None:
    code, out = await admin(
        stack, "policies", "set", "production_owners", str(POLICIES / "production_owners.rego")
    )
    assert code == 0, out
    assert out.startswith("policy production_owners set (DATABASE")

    code, out = await admin(stack, "policies", "list", "--json")
    assert code == 0, out
    [policy] = [p for p in json.loads(out) if p["name"] == "production_owners"]
    assert policy["origin"] == "DATABASE"
    assert policy["source"] == (POLICIES / "production_owners.rego").read_text()
    code, out = await admin(stack, "policies", "list")
    assert code == 0 and re.search(r"production_owners\s+DATABASE\s+updated 20", out)

    broken = tmp_path / "broken.rego"
    broken.write_text("package flowforge.policies.broken\n\ndeny contains if {\n")
    code, out = await admin(stack, "policies", "set", "broken", str(broken))
    assert code == 1 and "error: source: " in out
    code, out = await admin(stack, "policies", "list", "--json")
    assert "broken" not in {p["name"] for p in json.loads(out)}

    code, out = await admin(stack, "policies", "delete", "production_owners")
    assert code == 0, out
    assert out.strip() == "deleted policy production_owners"
    code, out = await admin(stack, "policies", "delete", "production_owners")
    assert code == 1
    assert "error: no policy named 'production_owners' was set through the API" in out


async def test_policies_set_refuses_a_file_it_cannot_read(stack: Stack, tmp_path: Path) -> None:
    code, out = await admin(stack, "policies", "set", "p", str(tmp_path / "missing.rego"))

    assert code == 1
    assert f"error: cannot read {tmp_path / 'missing.rego'}: No such file or directory" in out


async def test_a_list_longer_than_a_page_is_read_to_its_end(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pages of two, so that five members take three requests to the real server.
    monkeypatch.setattr("flowforge.cli.client.PAGE", 2)
    await admin(stack, "workspaces", "create", "paged")
    for name in ("e", "b", "d", "a", "c"):
        code, out = await admin(
            stack, "members", "add", f"user:{name}@x.example", "viewer", "-w", "paged"
        )
        assert code == 0, out

    code, out = await admin(stack, "members", "list", "-w", "paged", "--json")

    assert code == 0, out
    assert [m["member"] for m in json.loads(out)] == [f"user:{n}@x.example" for n in "abcde"]
