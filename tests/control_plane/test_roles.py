"""Who may do what: API tokens (shown once, hashed, expiring, revocable), the four roles
of a workspace each doing exactly what its row allows, the instance admin above them, and
the assignee of a human task."""

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from control_plane.db.models import ApiToken
from flowforge.nats_accounts import BusAuthority
from flowforge.servers import ServerProcess
from tests.fixtures.api import Api, one_node_flow, serving_api

FLOW = one_node_flow("roles")
APPROVAL = {
    "apiVersion": "flowforge/v1",
    "name": "roles-approval",
    "nodes": [{"id": "ask", "type": "core.approval", "config": {"assignees": ["role:editor"]}}],
}
PUBLISH = """mutation($p: ID!, $d: JSON!) { publishWorkflow(projectId: $p, definition: $d) {
  __typename ... on WorkflowVersion { workflowId } } }"""
START = """mutation($w: ID!) { startRun(workflowId: $w) { id } }"""
CANCEL = """mutation($r: ID!) { cancelRun(id: $r) { __typename } }"""
RUNS = """query($p: ID!) { runs(projectId: $p) { nodes { id status } } }"""
CREATE_PROJECT = """mutation($w: ID!, $n: String!) { createProject(workspaceId: $w, name: $n) {
  __typename ... on Project { id } } }"""
ADD_MEMBER = """mutation($w: ID!, $m: String!) { addMember(workspaceId: $w, member: $m,
  role: VIEWER) { __typename } }"""
TOKENS = """query($w: ID!) { apiTokens(workspaceId: $w) { id name role } }"""
CREATE_WORKSPACE = """mutation($n: String!) { createWorkspace(name: $n) {
  __typename ... on Workspace { id } } }"""
ROLES = ("VIEWER", "OPERATOR", "EDITOR", "OWNER")


def _code(body: dict[str, Any]) -> str | None:
    errors = body.get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


async def test_a_request_without_valid_credentials_gets_401_and_nothing_else(api: Api) -> None:
    cases = {
        None: "missing credentials",
        "Bearer ": "missing credentials",
        "Basic YWRtaW46YWRtaW4=": "missing credentials",
        "Bearer ff_not-a-token": "the API token is not valid",
    }
    for header, reason in cases.items():
        headers = {} if header is None else {"Authorization": header}
        response = await api.client.post(
            "/graphql", json={"query": "{ nodeTypes { type } }"}, headers=headers
        )

        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        body = response.json()
        assert body["data"] is None
        [error] = body["errors"]
        assert error["extensions"] == {"code": "UNAUTHENTICATED"}
        assert error["message"].startswith(reason)


async def test_a_token_is_shown_once_and_kept_only_as_its_hash(api: Api) -> None:
    operator = await api.credential("ci", "OPERATOR")

    listed = await api.data(TOKENS, w=(await api.default_project())["workspaceId"])
    async with api.sessions() as session:
        row = await session.scalar(select(ApiToken).where(ApiToken.name == "ci"))

    assert operator.token.startswith("ff_")
    assert {"id": row.id, "name": "ci", "role": "OPERATOR"} in listed["apiTokens"]
    assert row.token_sha256 == hashlib.sha256(operator.token.encode()).hexdigest()
    assert operator.token not in repr([getattr(row, c.key) for c in ApiToken.__table__.c])


async def test_a_token_records_when_it_was_last_used(api: Api) -> None:
    viewer = await api.credential("reader", "VIEWER")
    before = datetime.now(UTC)

    await api.data("{ me { id } }", viewer.token)

    async with api.sessions() as session:
        row = await session.get_one(ApiToken, viewer.principal_id.removeprefix("token:"))
    assert row.last_used_at is not None and row.last_used_at >= before - timedelta(seconds=1)


async def test_a_revoked_or_expired_token_authenticates_nothing(api: Api) -> None:
    revoked, expired = await api.credential("gone", "OWNER"), await api.credential("old", "OWNER")
    result = await api.data(
        "mutation($id: ID!) { revokeApiToken(id: $id) { ... on ApiToken { revokedAt } } }",
        id=revoked.principal_id.removeprefix("token:"),
    )
    async with api.sessions.begin() as session:
        await session.execute(
            update(ApiToken)
            .where(ApiToken.id == expired.principal_id.removeprefix("token:"))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )

    assert result["revokeApiToken"]["revokedAt"] is not None
    for credential, reason in ((revoked, "was revoked at"), (expired, "expired at")):
        response = await api.client.post(
            "/graphql",
            json={"query": "{ me { id } }"},
            headers={"Authorization": f"Bearer {credential.token}"},
        )
        assert response.status_code == 401
        assert reason in response.json()["errors"][0]["message"]


async def test_a_token_cannot_be_created_already_expired(api: Api) -> None:
    workspace = (await api.default_project())["workspaceId"]
    result = await api.data(
        """mutation($w: ID!, $e: DateTime!) { createApiToken(workspaceId: $w, name: "x",
          role: VIEWER, expiresAt: $e) {
            __typename ... on ValidationFailed { errors { field } } } }""",
        w=workspace,
        e=(datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
    )

    assert result["createApiToken"] == {
        "__typename": "ValidationFailed",
        "errors": [{"field": "expiresAt"}],
    }


async def _attempts(
    api: Api, token: str, project: dict[str, str], workflow: str, run: str
) -> dict[str, bool]:
    """Whether each action went through for the holder of `token`."""
    results = {
        "read runs": await api.graphql(RUNS, token, p=project["id"]),
        "start a run": await api.graphql(START, token, w=workflow),
        "cancel a run": await api.graphql(CANCEL, token, r=run),
        "publish": await api.graphql(PUBLISH, token, p=project["id"], d=FLOW),
        "create a project": await api.graphql(
            CREATE_PROJECT, token, w=project["workspaceId"], n=f"p{token[-6:]}".replace("-", "x")
        ),
        "add a member": await api.graphql(
            ADD_MEMBER,
            token,
            w=project["workspaceId"],
            m=f"user:{token[-6:]}@example.com".replace("_", "x"),
        ),
        "list tokens": await api.graphql(TOKENS, token, w=project["workspaceId"]),
        "create a workspace": await api.graphql(
            CREATE_WORKSPACE, token, n=f"w{token[-8:]}".replace("-", "x").replace("_", "x")
        ),
    }
    for action, body in results.items():
        assert _code(body) in (None, "FORBIDDEN"), (action, body)
    return {action: _code(body) is None for action, body in results.items()}


async def test_each_role_does_exactly_what_its_row_allows(api: Api) -> None:
    await api.ready()
    project = await api.default_project()
    workflow = await api.publish(FLOW)
    run = await api.queued_run(workflow)
    allowed = {
        "VIEWER": {"read runs"},
        "OPERATOR": {"read runs", "start a run", "cancel a run"},
        "EDITOR": {"read runs", "start a run", "cancel a run", "publish"},
        "OWNER": {
            "read runs",
            "start a run",
            "cancel a run",
            "publish",
            "create a project",
            "add a member",
            "list tokens",
        },
    }

    for role in ROLES:
        token = (await api.credential(f"as-{role.lower()}", role)).token
        done = await _attempts(api, token, project, workflow, run)

        assert {action for action, ok in done.items() if ok} == allowed[role], role
    admin = await _attempts(api, api.token, project, workflow, run)
    assert all(admin.values()), admin


async def test_a_refusal_names_the_permission_and_the_role_held(api: Api) -> None:
    viewer = await api.credential("viewer", "VIEWER")
    project = await api.default_project()

    body = await api.graphql(PUBLISH, viewer.token, p=project["id"], d=FLOW)

    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert error["message"] == (
        "publish needs the editor role or above in this project; yours there: viewer "
        "(docs/security.md lists what each role may do)"
    )


async def test_a_member_of_one_workspace_reaches_nothing_of_another(api: Api) -> None:
    project = await api.default_project()
    workflow = await api.publish(FLOW)
    run = await api.queued_run(workflow)
    other = (await api.data(CREATE_WORKSPACE, n="zulu"))["createWorkspace"]["id"]
    outsider = (await api.credential("outsider", "OWNER", other)).token

    seen = await api.data("{ workspaces { id } projects { id } }", outsider)
    assert seen == {"workspaces": [{"id": other}], "projects": []}
    reads = {
        "run": await api.graphql("query($r: ID!) { run(id: $r) { id input } }", outsider, r=run),
        "runs": await api.graphql(RUNS, outsider, p=project["id"]),
        "workflow": await api.graphql(
            "query($w: ID!) { workflow(id: $w) { name } }", outsider, w=workflow
        ),
        "workflows": await api.graphql(
            "query($p: ID!) { workflows(projectId: $p) { name } }", outsider, p=project["id"]
        ),
        "members": await api.graphql(
            "query($w: ID!) { members(workspaceId: $w) { member } }",
            outsider,
            w=project["workspaceId"],
        ),
    }
    for name, body in reads.items():
        assert body["data"] in (None, {name: None}), name
        assert _code(body) == "FORBIDDEN", name
    assert all(not v for v in (await _attempts(api, outsider, project, workflow, run)).values())


async def test_a_task_is_decided_only_by_a_principal_it_is_assigned_to(api: Api) -> None:
    from tests.control_plane.test_tasks_api import COMPLETE, waiting

    run_id = await api.queued_run(await api.publish(APPROVAL))
    await api.apply([waiting(run_id, assignees=("role:editor",))])
    operator = await api.credential("op", "OPERATOR")
    viewer = await api.credential("look", "VIEWER")
    editor = await api.credential("ed", "EDITOR")
    task = f"{run_id}:ask"

    refused = await api.graphql(COMPLETE, operator.token, t=task, d={"approved": True})
    not_operator = await api.graphql(COMPLETE, viewer.token, t=task, d={"approved": True})
    decided = await api.data(COMPLETE, editor.token, t=task, d={"approved": True})

    assert _code(refused) == "FORBIDDEN"
    assert "is assigned to role:editor; op" in refused["errors"][0]["message"]
    assert _code(not_operator) == "FORBIDDEN"
    assert "decide tasks needs the operator role" in not_operator["errors"][0]["message"]
    assert decided["completeTask"]["decisions"][0]["decidedBy"] == editor.principal_id


async def test_graphiql_is_served_only_where_the_schema_is_exposed(
    api: Api, nats_server: ServerProcess, bus_authority: BusAuthority, tmp_path: Path
) -> None:
    exposed = await api.client.get("/graphql", headers={"Accept": "text/html"})
    async with serving_api(
        api.settings.database_url, nats_server, bus_authority, tmp_path, expose_schema=False
    ) as closed:
        hidden = await closed.client.get("/graphql", headers={"Accept": "text/html"})
        introspection = await closed.graphql("{ __schema { queryType { name } } }")

    assert exposed.status_code == 200 and "text/html" in exposed.headers["content-type"]
    assert hidden.status_code == 401
    assert introspection["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
