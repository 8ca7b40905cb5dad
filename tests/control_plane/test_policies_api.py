"""Policies in force through the API: from files of the settings and set through
setPolicy, asked before publish, start and decision, a refusal naming the rule and
leaving nothing stored."""

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from control_plane.db.models import Run, TaskDecision, WorkflowVersion
from control_plane.errors import PolicyError
from flowforge.nats_accounts import BusAuthority
from flowforge.servers import ServerProcess
from tests.control_plane.test_tasks_api import COMPLETE, waiting
from tests.fixtures.api import Api, one_node_flow, serving_api

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"
FLOW = one_node_flow("guarded")
APPROVAL = {
    "apiVersion": "flowforge/v1",
    "name": "guarded-approval",
    "nodes": [{"id": "ask", "type": "core.approval", "config": {"assignees": ["role:operator"]}}],
}
HUMANS_ONLY = """package flowforge.policies.humans_decide
import rego.v1
deny contains "only people decide tasks of projects tagged humans-only" if {
	input.action == "decide"
	"humans-only" in input.project.tags
	input.principal.kind == "token"
}
"""
SET = """mutation($n: String!, $s: String!) { setPolicy(name: $n, source: $s) {
  __typename ... on Policy { name origin updatedBy }
  ... on ValidationFailed { errors { field message } } } }"""
PUBLISH = """mutation($p: ID!, $d: JSON!) { publishWorkflow(projectId: $p, definition: $d) {
  __typename ... on WorkflowVersion { workflowId } } }"""
TAG = """mutation($p: ID!, $t: [String!]!) { updateProject(id: $p, tags: $t) { __typename } }"""


def _error(body: dict[str, Any]) -> dict[str, Any]:
    [error] = body["errors"]
    return dict(error)


async def _count(api: Api, model: type[Any]) -> int:
    async with api.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_policy_set_through_the_api_refuses_a_publish_naming_itself(api: Api) -> None:
    project = (await api.default_project())["id"]
    source = (EXAMPLES / "production_owners.rego").read_text()
    await api.data(TAG, p=project, t=["production"])
    editor, owner = await api.credential("ed", "EDITOR"), await api.credential("own", "OWNER")

    stored = (await api.data(SET, n="production-owners", s=source))["setPolicy"]
    refused = await api.graphql(PUBLISH, editor.token, p=project, d=FLOW)
    versions_after_refusal = await _count(api, WorkflowVersion)
    published = await api.data(PUBLISH, owner.token, p=project, d=FLOW)

    assert stored == {
        "__typename": "Policy",
        "name": "production-owners",
        "origin": "DATABASE",
        "updatedBy": api_admin_id(await api.data("{ me { id } }")),
    }
    assert _error(refused)["extensions"] == {"code": "POLICY_DENIED"}
    assert _error(refused)["message"] == (
        "refused by policy production_owners: only owners may publish to projects tagged production"
    )
    assert versions_after_refusal == 0
    assert published["publishWorkflow"]["__typename"] == "WorkflowVersion"
    listed = await api.data("{ policies { name origin } }")
    assert listed["policies"] == [{"name": "production-owners", "origin": "DATABASE"}]


def api_admin_id(me: dict[str, Any]) -> str:
    return str(me["me"]["id"])


async def test_a_deleted_policy_refuses_nothing_more(api: Api) -> None:
    project = (await api.default_project())["id"]
    await api.data(TAG, p=project, t=["production"])
    editor = await api.credential("ed", "EDITOR")
    await api.data(SET, n="po", s=(EXAMPLES / "production_owners.rego").read_text())

    deleted = await api.data('mutation { deletePolicy(name: "po") { __typename } }')
    again = await api.data('mutation { deletePolicy(name: "po") { __typename } }')

    assert deleted["deletePolicy"] == {"__typename": "PolicyDeleted"}
    assert again["deletePolicy"] == {"__typename": "NotFound"}
    assert (await api.data(PUBLISH, editor.token, p=project, d=FLOW))["publishWorkflow"][
        "__typename"
    ] == "WorkflowVersion"


async def test_a_policy_that_does_not_compile_is_refused_with_its_line(api: Api) -> None:
    broken = "package flowforge.policies.broken\nimport rego.v1\n\ndeny contains x if {\n  1 +\n}\n"

    result = (await api.data(SET, n="broken", s=broken))["setPolicy"]

    assert result["__typename"] == "ValidationFailed"
    [error] = result["errors"]
    assert error["field"] == "source"
    assert "broken" in error["message"] and "line" in error["message"]
    assert (await api.data("{ policies { name } }"))["policies"] == []


async def test_only_an_instance_admin_manages_policies(api: Api) -> None:
    owner = await api.credential("own", "OWNER")

    for document in (
        SET,
        "{ policies { name } }",
        'mutation { deletePolicy(name: "x") { __typename } }',
    ):
        body = await api.graphql(document, owner.token, n="x", s=HUMANS_ONLY)
        assert _error(body)["extensions"] == {"code": "FORBIDDEN"}, document


async def test_a_policy_refuses_a_decision_and_nothing_is_recorded(api: Api) -> None:
    project = (await api.default_project())["id"]
    await api.data(TAG, p=project, t=["humans-only"])
    await api.data(SET, n="humans", s=HUMANS_ONLY)
    run_id = await api.queued_run(await api.publish(APPROVAL))
    await api.apply([waiting(run_id, assignees=("role:operator",))])
    operator = await api.credential("op", "OPERATOR")

    body = await api.graphql(COMPLETE, operator.token, t=f"{run_id}:ask", d={"approved": True})

    assert _error(body)["extensions"] == {"code": "POLICY_DENIED"}
    assert "refused by policy humans_decide" in _error(body)["message"]
    assert await _count(api, TaskDecision) == 0


@pytest.fixture
async def onprem_api(
    database_url: str, nats_server: ServerProcess, bus_authority: BusAuthority, tmp_path: Path
) -> Any:
    async with serving_api(
        database_url,
        nats_server,
        bus_authority,
        tmp_path,
        policy_paths=[EXAMPLES / "onprem_only.rego"],
    ) as running:
        yield running


async def test_a_policy_file_refuses_a_start_and_no_run_is_stored(onprem_api: Api) -> None:
    api = onprem_api
    project = (await api.default_project())["id"]
    workflow = await api.publish(FLOW)
    await api.data(TAG, p=project, t=["onprem-only"])

    body = await api.graphql(
        "mutation($w: ID!) { startRun(workflowId: $w) { id } }", workflow_id=None, w=workflow
    )

    assert _error(body)["extensions"] == {"code": "POLICY_DENIED"}
    assert _error(body)["message"] == (
        f"refused by policy onprem_only: runs of projects tagged onprem-only start only on "
        f"pool onprem, not {api.pool}"
    )
    assert await _count(api, Run) == 0
    listed = (await api.data("{ policies { name origin updatedAt } }"))["policies"]
    assert listed == [
        {"name": str(EXAMPLES / "onprem_only.rego"), "origin": "FILE", "updatedAt": None}
    ]


async def test_a_policy_file_that_does_not_compile_stops_the_start(
    database_url: str, nats_server: ServerProcess, bus_authority: BusAuthority, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.rego"
    bad.write_text("package flowforge.policies.bad\nimport rego.v1\ndeny contains if {\n")

    with pytest.raises(PolicyError, match=r"bad\.rego"):
        async with serving_api(
            database_url, nats_server, bus_authority, tmp_path, policy_paths=[bad]
        ):
            pass
