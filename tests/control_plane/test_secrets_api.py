"""Project secrets through the API: a value goes to Vault and nowhere else (not the
answer, not the registry, not the log), the registry lists names and versions, editors
set and delete, and Vault's absence or outage is an answer the client can read."""

import logging
import uuid
from pathlib import Path
from typing import Any

import hvac
import pytest
from graphql import GraphQLObjectType
from hvac.exceptions import InvalidPath
from sqlalchemy import func, select

from control_plane.db.models import Secret
from control_plane.graphql.schema import schema
from control_plane.secrets.service import MAX_VALUE_BYTES
from data_plane.protocol import VaultSettings, secret_path
from flowforge.nats_accounts import BusAuthority
from flowforge.servers import ServerProcess, free_port

from fixtures.api import Api, serving_api

FIELDS = "id projectId name version setBy createdAt updatedAt"
SET = f"""mutation($p: ID!, $n: String!, $v: String!) {{ setSecret(projectId: $p, name: $n,
  value: $v) {{ __typename ... on Secret {{ {FIELDS} }} ... on NotFound {{ message }}
  ... on ValidationFailed {{ errors {{ nodeId field message }} }} }} }}"""
DELETE = """mutation($p: ID!, $n: String!) { deleteSecret(projectId: $p, name: $n) {
  __typename ... on SecretDeleted { projectId name } ... on NotFound { message } } }"""
LIST = f"query($p: ID!) {{ secrets(projectId: $p) {{ {FIELDS} }} }}"


def _value() -> str:
    """A value no other test uses, to look for everywhere it must not be."""
    return f"s3cr3t-{uuid.uuid4().hex}"


async def _project(api: Api) -> dict[str, str]:
    return await api.default_project()


async def _admin_id(api: Api) -> str:
    return str((await api.data("{ me { id } }"))["me"]["id"])


def _in_vault(
    root: hvac.Client, settings: VaultSettings, project: dict[str, str], name: str
) -> Any:
    path = secret_path(settings.prefix, project["workspaceId"], project["id"], name)
    return root.secrets.kv.v2.read_secret_version(
        path=path, mount_point=settings.mount, raise_on_deleted_version=True
    )["data"]


def _vault_settings(api: Api) -> VaultSettings:
    assert api.settings.vault is not None
    return api.settings.vault


async def test_a_secret_set_is_listed_by_name_and_version_and_its_value_is_only_in_vault(
    vault_api: Api, vault_root: hvac.Client
) -> None:
    project, value = await _project(vault_api), _value()

    body = await vault_api.graphql(SET, p=project["id"], n="acme_api_key", v=value)
    listed = (await vault_api.data(LIST, p=project["id"]))["secrets"]

    secret = body["data"]["setSecret"]
    assert secret["__typename"] == "Secret"
    assert (secret["name"], secret["version"], secret["projectId"]) == (
        "acme_api_key",
        1,
        project["id"],
    )
    assert secret["setBy"] == await _admin_id(vault_api)
    assert listed == [{k: v for k, v in secret.items() if k != "__typename"}]
    assert value not in str(body) and value not in str(listed)
    stored = _in_vault(vault_root, _vault_settings(vault_api), project, "acme_api_key")
    assert stored["data"] == {"value": value}
    assert stored["metadata"]["version"] == 1


def test_no_type_of_the_schema_has_a_field_that_could_carry_a_secret_s_value() -> None:
    types = schema._schema.type_map

    for name in ("Secret", "SecretDeleted"):
        kind = types[name]
        assert isinstance(kind, GraphQLObjectType)
        assert set(kind.fields) & {"value", "values", "secret", "data"} == set(), name


async def test_setting_a_secret_again_writes_its_next_version(
    vault_api: Api, vault_root: hvac.Client
) -> None:
    project = await _project(vault_api)
    editor = await vault_api.credential("ed", "EDITOR")
    first = (await vault_api.data(SET, p=project["id"], n="db.password", v=_value()))["setSecret"]

    second_value = _value()
    second = (
        await vault_api.data(SET, editor.token, p=project["id"], n="db.password", v=second_value)
    )["setSecret"]

    assert (second["id"], second["version"], second["setBy"]) == (
        first["id"],
        2,
        editor.principal_id,
    )
    assert second["createdAt"] == first["createdAt"]
    assert second["updatedAt"] > first["updatedAt"]
    stored = _in_vault(vault_root, _vault_settings(vault_api), project, "db.password")
    assert (stored["data"], stored["metadata"]["version"]) == ({"value": second_value}, 2)


async def test_a_deleted_secret_leaves_the_registry_and_every_version_leaves_vault(
    vault_api: Api, vault_root: hvac.Client
) -> None:
    project = await _project(vault_api)
    settings = _vault_settings(vault_api)
    for _ in range(2):
        await vault_api.data(SET, p=project["id"], n="gone", v=_value())
    await vault_api.data(SET, p=project["id"], n="kept", v=_value())

    deleted = (await vault_api.data(DELETE, p=project["id"], n="gone"))["deleteSecret"]
    again = (await vault_api.data(DELETE, p=project["id"], n="gone"))["deleteSecret"]

    assert deleted == {"__typename": "SecretDeleted", "projectId": project["id"], "name": "gone"}
    assert again["__typename"] == "NotFound"
    assert "has no secret named 'gone'" in again["message"]
    assert [s["name"] for s in (await vault_api.data(LIST, p=project["id"]))["secrets"]] == ["kept"]
    path = secret_path(settings.prefix, project["workspaceId"], project["id"], "gone")
    with pytest.raises(InvalidPath):
        vault_root.secrets.kv.v2.read_secret_metadata(path=path, mount_point=settings.mount)
    assert _in_vault(vault_root, settings, project, "kept")["metadata"]["version"] == 1


async def test_editors_set_and_delete_secrets_and_viewers_and_operators_only_list_them(
    vault_api: Api,
) -> None:
    project = (await _project(vault_api))["id"]
    tokens = {
        role: (await vault_api.credential(role, role)).token
        for role in ("VIEWER", "OPERATOR", "EDITOR")
    }
    await vault_api.data(SET, p=project, n="listed", v=_value())
    outcomes = {}

    for role, token in tokens.items():
        set_body = await vault_api.graphql(SET, token, p=project, n=f"by-{role}", v=_value())
        delete_body = await vault_api.graphql(DELETE, token, p=project, n="listed-" + role)
        listed = await vault_api.graphql(LIST, token, p=project)
        outcomes[role] = (
            _code(set_body) or set_body["data"]["setSecret"]["__typename"],
            _code(delete_body) or delete_body["data"]["deleteSecret"]["__typename"],
            [s["name"] for s in listed["data"]["secrets"]],
        )

    assert outcomes["VIEWER"] == ("FORBIDDEN", "FORBIDDEN", ["listed"])
    assert outcomes["OPERATOR"] == ("FORBIDDEN", "FORBIDDEN", ["listed"])
    assert outcomes["EDITOR"] == ("Secret", "NotFound", ["by-EDITOR", "listed"])
    refused = await vault_api.graphql(SET, tokens["VIEWER"], p=project, n="x", v=_value())
    assert refused["errors"][0]["message"].startswith(
        "manage secrets needs the editor role or above in this project; yours there: viewer"
    )


def _code(body: dict[str, Any]) -> str | None:
    errors = body.get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


async def test_a_member_of_another_workspace_sees_no_secret_and_sets_none(vault_api: Api) -> None:
    project = (await _project(vault_api))["id"]
    await vault_api.data(SET, p=project, n="acme-only", v=_value())
    made = await vault_api.data(
        'mutation { createWorkspace(name: "elsewhere") { ... on Workspace { id } } }'
    )
    outsider = await vault_api.credential("outsider", "OWNER", made["createWorkspace"]["id"])

    listed = await vault_api.graphql(LIST, outsider.token, p=project)
    set_body = await vault_api.graphql(SET, outsider.token, p=project, n="acme-only", v="theirs")
    delete_body = await vault_api.graphql(DELETE, outsider.token, p=project, n="acme-only")

    assert (_code(listed), _code(set_body), _code(delete_body)) == ("FORBIDDEN",) * 3
    assert "acme-only" not in str(listed)
    [kept] = (await vault_api.data(LIST, p=project))["secrets"]
    assert kept["version"] == 1


@pytest.mark.parametrize(
    ("name", "value", "field", "message"),
    [
        ("bad name", "v", "name", "name: 'bad name' is not a secret name: 1 to 128 letters"),
        ("", "v", "name", "name: '' is not a secret name"),
        ("x" * 129, "v", "name", f"name: {'x' * 40!r}... (129 characters) is not"),
        ("ok", "", "value", "value: empty; a secret needs a value"),
        ("ok", "é" * (MAX_VALUE_BYTES // 2 + 1), "value", f"value: {MAX_VALUE_BYTES + 2} bytes;"),
    ],
    ids=["space", "empty-name", "long-name", "empty-value", "oversized-value"],
)
async def test_a_bad_name_or_value_is_refused_naming_the_field_and_nothing_is_stored(
    vault_api: Api, name: str, value: str, field: str, message: str
) -> None:
    project = (await _project(vault_api))["id"]

    refused = (await vault_api.data(SET, p=project, n=name, v=value))["setSecret"]

    assert refused["__typename"] == "ValidationFailed"
    [issue] = refused["errors"]
    assert issue["field"] == field
    assert message in issue["message"]
    if field == "value":
        assert value not in issue["message"] or not value
    assert (await vault_api.data(LIST, p=project))["secrets"] == []


async def test_setting_in_an_unknown_or_archived_project_is_refused(vault_api: Api) -> None:
    workspace = (await _project(vault_api))["workspaceId"]
    made = await vault_api.data(
        """mutation($w: ID!) { createProject(workspaceId: $w, name: "old") {
          ... on Project { id } } }""",
        w=workspace,
    )
    old = made["createProject"]["id"]
    await vault_api.data("mutation($p: ID!) { archiveProject(id: $p) { __typename } }", p=old)

    unknown = (await vault_api.data(SET, p="no-such-project", n="k", v="v"))["setSecret"]
    archived = (await vault_api.data(SET, p=old, n="k", v="v"))["setSecret"]

    assert unknown == {
        "__typename": "NotFound",
        "message": "project 'no-such-project' does not exist",
    }
    assert archived["__typename"] == "ValidationFailed"
    assert archived["errors"][0]["field"] == "projectId"
    assert "is archived" in archived["errors"][0]["message"]


async def test_a_value_reaches_neither_the_registry_file_nor_the_log(
    sqlite_url: str,
    nats_server: ServerProcess,
    bus_authority: BusAuthority,
    vault_settings: VaultSettings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    value = _value()
    caplog.set_level(logging.DEBUG)

    async with serving_api(
        sqlite_url, nats_server, bus_authority, tmp_path, vault=vault_settings
    ) as api:
        project = (await _project(api))["id"]
        for name in ("one", "two", "one"):
            await api.data(SET, p=project, n=name, v=value)
        await api.data(DELETE, p=project, n="two")
        refused = await api.data(SET, p=project, n="bad name", v=value)
        async with api.sessions() as session:
            rows = await session.scalar(select(func.count()).select_from(Secret))

    assert rows == 1
    assert value not in str(refused)
    database = Path(sqlite_url.removeprefix("sqlite+aiosqlite:///"))
    files = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]
    assert database in files
    for file in files:
        assert value.encode() not in file.read_bytes(), file
    assert "secret one of project" in caplog.text  # the log was captured, and is silent:
    assert value not in caplog.text
    assert all(value not in str(record.args) for record in caplog.records)


async def test_without_vault_settings_setting_names_the_settings_and_listing_is_empty(
    api: Api,
) -> None:
    project = (await _project(api))["id"]

    set_body = await api.graphql(SET, p=project, n="k", v="v")
    delete_body = await api.graphql(DELETE, p=project, n="k")
    listed = await api.data(LIST, p=project)

    for body in (set_body, delete_body):
        [error] = body["errors"]
        assert error["extensions"] == {"code": "CONFIGURATION"}
        assert "FLOWFORGE_CP_VAULT__ADDRESS" in error["message"]
        assert "FLOWFORGE_CP_VAULT__SECRET_ID_PATH" in error["message"]
    assert listed == {"secrets": []}


async def test_when_vault_cannot_be_reached_the_client_is_told_to_try_again(
    sqlite_url: str,
    nats_server: ServerProcess,
    bus_authority: BusAuthority,
    vault_settings: VaultSettings,
    tmp_path: Path,
) -> None:
    # The AppRole is real; nothing listens where the settings say Vault is.
    away = vault_settings.model_copy(update={"address": f"http://127.0.0.1:{free_port()}"})

    async with serving_api(sqlite_url, nats_server, bus_authority, tmp_path, vault=away) as api:
        project = (await _project(api))["id"]
        body = await api.graphql(SET, p=project, n="k", v=_value())
        listed = await api.data(LIST, p=project)

    [error] = body["errors"]
    assert error["extensions"] == {"code": "VAULT_UNAVAILABLE"}
    assert error["message"] == (
        "Vault cannot be reached, try again: secret 'k' was not set and nothing was stored"
    )
    assert "127.0.0.1" not in error["message"] and "Traceback" not in str(body)
    assert listed == {"secrets": []}
