"""Users signing in with the OIDC issuer's bearer JWTs: created on first sight, given
their roles by membership (their email or their groups), per workspace and per project."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from control_plane.db.models import User
from control_plane.identity.oidc import OidcSettings
from flowforge.nats_accounts import BusAuthority
from flowforge.servers import ServerProcess
from tests.fixtures.api import Api, one_node_flow, serving_api
from tests.fixtures.oidc import AUDIENCE, ISSUER, JwksServer, Keys, b64, sign

FLOW = one_node_flow("signed-in")
PUBLISH = """mutation($p: ID!, $d: JSON!) { publishWorkflow(projectId: $p, definition: $d) {
  __typename } }"""
ADD = """mutation($w: ID!, $m: String!, $r: Role!, $p: ID) {
  addMember(workspaceId: $w, member: $m, role: $r, projectId: $p) { __typename } }"""
ME = "{ me { id kind name email groups instanceAdmin roles { workspaceId projectId role } } }"


@pytest.fixture
async def oidc_api(
    database_url: str,
    nats_server: ServerProcess,
    bus_authority: BusAuthority,
    tmp_path: Path,
    jwks_server: JwksServer,
) -> AsyncIterator[Api]:
    oidc = OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks_server.url)
    async with serving_api(
        database_url,
        nats_server,
        bus_authority,
        tmp_path,
        oidc=oidc,
        instance_admins=["group:ff-admins"],
    ) as running:
        yield running


def user_token(keys: Keys, subject: str, email: str, *groups: str, **claims: Any) -> str:
    return sign(
        keys.a, sub=subject, email=email, name=subject.title(), groups=list(groups), **claims
    )


def _code(body: dict[str, Any]) -> str | None:
    errors = body.get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


async def test_a_user_is_created_on_first_sight_and_known_after(oidc_api: Api, keys: Keys) -> None:
    token = user_token(keys, "ada", "Ada@Example.com", "finance")

    first = (await oidc_api.data(ME, token))["me"]
    again = (await oidc_api.data(ME, token))["me"]

    assert first == again
    assert first["kind"] == "user" and first["id"].startswith("user:")
    assert (first["name"], first["email"], first["groups"]) == (
        "Ada",
        "Ada@Example.com",
        ["finance"],
    )
    assert (first["instanceAdmin"], first["roles"]) == (False, [])
    async with oidc_api.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 1
        user = await session.scalar(select(User))
    assert user is not None and (user.issuer, user.subject) == (ISSUER, "ada")


async def test_a_user_without_a_role_sees_and_does_nothing(oidc_api: Api, keys: Keys) -> None:
    token = user_token(keys, "nobody", "nobody@example.com")
    project = await oidc_api.default_project()

    seen = await oidc_api.data("{ workspaces { id } projects { id } }", token)
    publish = await oidc_api.graphql(PUBLISH, token, p=project["id"], d=FLOW)

    assert seen == {"workspaces": [], "projects": []}
    assert _code(publish) == "FORBIDDEN"


async def test_roles_come_from_the_users_email_and_groups(oidc_api: Api, keys: Keys) -> None:
    project = await oidc_api.default_project()
    workspace = project["workspaceId"]
    await oidc_api.data(ADD, w=workspace, m="user:ada@example.com", r="EDITOR")
    await oidc_api.data(ADD, w=workspace, m="group:ops", r="OPERATOR")
    ada = user_token(keys, "ada", "ADA@example.com")
    ops = user_token(keys, "olga", "olga@example.com", "ops")

    by_email = await oidc_api.graphql(PUBLISH, ada, p=project["id"], d=FLOW)
    by_group = await oidc_api.graphql(PUBLISH, ops, p=project["id"], d=FLOW)
    roles = (await oidc_api.data(ME, ops))["me"]["roles"]

    assert _code(by_email) is None
    assert _code(by_group) == "FORBIDDEN"
    assert "yours there: operator" in by_group["errors"][0]["message"]
    assert roles == [{"workspaceId": workspace, "projectId": None, "role": "OPERATOR"}]


async def test_a_project_role_replaces_the_workspace_role_there(oidc_api: Api, keys: Keys) -> None:
    default = await oidc_api.default_project()
    workspace = default["workspaceId"]
    created = await oidc_api.data(
        """mutation($w: ID!) {
          createProject(workspaceId: $w, name: "payments", tags: ["production"]) {
            ... on Project { id tags } } }""",
        w=workspace,
    )
    payments = created["createProject"]["id"]
    await oidc_api.data(ADD, w=workspace, m="user:bo@example.com", r="VIEWER")
    await oidc_api.data(ADD, w=workspace, m="user:bo@example.com", r="EDITOR", p=payments)
    await oidc_api.data(ADD, w=workspace, m="user:cy@example.com", r="EDITOR")
    await oidc_api.data(ADD, w=workspace, m="user:cy@example.com", r="VIEWER", p=payments)
    bo, cy = user_token(keys, "bo", "bo@example.com"), user_token(keys, "cy", "cy@example.com")

    outcomes = {
        (who, where): _code(await oidc_api.graphql(PUBLISH, token, p=project, d=FLOW))
        for who, token in (("bo", bo), ("cy", cy))
        for where, project in (("default", default["id"]), ("payments", payments))
    }

    assert created["createProject"]["tags"] == ["production"]
    assert outcomes == {
        ("bo", "default"): "FORBIDDEN",
        ("bo", "payments"): None,
        ("cy", "default"): None,
        ("cy", "payments"): "FORBIDDEN",
    }


async def test_a_group_named_in_the_settings_holds_the_instance_admin_role(
    oidc_api: Api, keys: Keys
) -> None:
    admin = user_token(keys, "root", "root@example.com", "ff-admins")
    plain = user_token(keys, "joe", "joe@example.com", "users")
    create = "mutation($n: String!) { createWorkspace(name: $n) { __typename } }"

    assert (await oidc_api.data(create, admin, n="team-a"))["createWorkspace"] == {
        "__typename": "Workspace"
    }
    assert _code(await oidc_api.graphql(create, plain, n="team-b")) == "FORBIDDEN"


async def test_a_bad_jwt_gets_401_saying_why(oidc_api: Api, keys: Keys) -> None:
    header = b64(b'{"alg":"none","typ":"JWT"}')
    payload = b64(
        b'{"iss":"%s","aud":"%s","sub":"x","exp":9999999999}' % (ISSUER.encode(), AUDIENCE.encode())
    )
    cases = {
        user_token(keys, "late", "late@example.com", exp=1): "the token has expired",
        sign(keys.a, aud="someone-else"): f"the token's audience is not {AUDIENCE}",
        f"{header}.{payload}.": "the token's algorithm 'none' is not allowed",
        sign(keys.b, kid="B"): "the token is signed by an unknown key 'B'",
    }
    for token, reason in cases.items():
        response = await oidc_api.client.post(
            "/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {token}"}
        )

        assert response.status_code == 401, reason
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "UNAUTHENTICATED"
        assert error["message"].startswith(reason), error["message"]


async def test_a_jwt_is_refused_where_no_issuer_is_trusted(api: Api, keys: Keys) -> None:
    response = await api.client.post(
        "/graphql",
        json={"query": ME},
        headers={"Authorization": f"Bearer {sign(keys.a)}"},
    )

    assert response.status_code == 401
    assert "trusts no OIDC issuer" in response.json()["errors"][0]["message"]
