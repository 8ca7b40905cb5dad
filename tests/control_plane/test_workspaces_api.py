"""Workspaces and projects through the API: created, renamed, tagged, archived; names
checked; an archived one stays readable and takes no new publish or run."""

from typing import Any

from tests.fixtures.api import Api, one_node_flow

FLOW = one_node_flow("archived")
WORKSPACE = """mutation($n: String!) { createWorkspace(name: $n) {
  __typename ... on Workspace { id name }
  ... on ValidationFailed { errors { field message } } } }"""
PROJECT = """mutation($w: ID!, $n: String!, $t: [String!]) {
  createProject(workspaceId: $w, name: $n, tags: $t) {
    __typename ... on Project { id name tags workspaceId }
    ... on ValidationFailed { errors { field message } }
    ... on NotFound { message } } }"""
PUBLISH = """mutation($p: ID!, $d: JSON!) { publishWorkflow(projectId: $p, definition: $d) {
  __typename } }"""


async def _workspace(api: Api, name: str) -> str:
    return str((await api.data(WORKSPACE, n=name))["createWorkspace"]["id"])


async def _project(api: Api, workspace: str, name: str, *tags: str) -> dict[str, Any]:
    return dict((await api.data(PROJECT, w=workspace, n=name, t=list(tags)))["createProject"])


async def test_a_project_is_created_with_its_tags_sorted_once(api: Api) -> None:
    workspace = await _workspace(api, "acme")

    project = await _project(api, workspace, "billing", "production", "eu", "production")

    assert (project["name"], project["tags"]) == ("billing", ["eu", "production"])
    listed = await api.data(
        "query($w: ID!) { projects(workspaceId: $w) { name tags } }", w=workspace
    )
    assert listed["projects"] == [{"name": "billing", "tags": ["eu", "production"]}]


async def test_bad_or_taken_names_and_tags_are_refused_naming_the_field(api: Api) -> None:
    workspace = await _workspace(api, "acme")
    await _project(api, workspace, "billing")
    cases = [
        (await api.data(WORKSPACE, n="acme"))["createWorkspace"],
        (await api.data(WORKSPACE, n="has space"))["createWorkspace"],
        await _project(api, workspace, "billing"),
        await _project(api, workspace, "-dash"),
        await _project(api, workspace, "ok", "Upper"),
    ]

    fields = [(c["__typename"], c["errors"][0]["field"]) for c in cases]
    assert fields == [("ValidationFailed", "name")] * 4 + [("ValidationFailed", "tags")]
    assert cases[0]["errors"][0]["message"] == "name: a workspace named 'acme' exists already"
    assert "'Upper' is not a tag" in cases[4]["errors"][0]["message"]


async def test_renaming_and_retagging_keep_what_is_not_given(api: Api) -> None:
    workspace = await _workspace(api, "acme")
    project = await _project(api, workspace, "billing", "eu")

    renamed = await api.data(
        'mutation($id: ID!) { renameWorkspace(id: $id, name: "acme-corp") {'
        " ... on Workspace { name } } }",
        id=workspace,
    )
    retagged = await api.data(
        'mutation($id: ID!) { updateProject(id: $id, tags: ["prod"]) {'
        " ... on Project { name tags } } }",
        id=project["id"],
    )

    assert renamed["renameWorkspace"] == {"name": "acme-corp"}
    assert retagged["updateProject"] == {"name": "billing", "tags": ["prod"]}


async def test_an_archived_project_or_workspace_takes_no_new_publish(api: Api) -> None:
    workspace = await _workspace(api, "acme")
    kept, archived = await _project(api, workspace, "kept"), await _project(api, workspace, "old")
    await api.data(
        "mutation($id: ID!) { archiveProject(id: $id) { __typename } }", id=archived["id"]
    )

    refused = await api.graphql(PUBLISH, p=archived["id"], d=FLOW)
    accepted = await api.data(PUBLISH, p=kept["id"], d=FLOW)
    await api.data("mutation($id: ID!) { archiveWorkspace(id: $id) { __typename } }", id=workspace)
    after = await api.graphql(PUBLISH, p=kept["id"], d=FLOW)
    no_project = await _project(api, workspace, "new")

    assert refused["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "projectId"}
    assert "project 'old' is archived" in refused["errors"][0]["message"]
    assert accepted["publishWorkflow"]["__typename"] == "WorkflowVersion"
    assert "workspace 'acme' is archived" in after["errors"][0]["message"]
    assert no_project["__typename"] == "ValidationFailed"
    listed = await api.data("{ workspaces { name } }")
    everything = await api.data("{ workspaces(includeArchived: true) { name archivedAt } }")
    assert "acme" not in [w["name"] for w in listed["workspaces"]]
    [acme] = [w for w in everything["workspaces"] if w["name"] == "acme"]
    assert acme["archivedAt"] is not None


async def test_lists_come_in_pages_after_the_last_item_read(api: Api) -> None:
    workspace = await _workspace(api, "paged")
    for name in ("e", "b", "d", "a", "c"):
        await _project(api, workspace, name)
        await api.data(
            """mutation($w: ID!, $m: String!) {
              addMember(workspaceId: $w, member: $m, role: VIEWER) { __typename } }""",
            w=workspace,
            m=f"user:{name}@example.com",
        )
    projects = (
        "query($w: ID!, $a: ID) { projects(workspaceId: $w, first: 2, after: $a) { id name } }"
    )
    members = (
        "query($w: ID!, $a: String) { members(workspaceId: $w, first: 2, after: $a) { member } }"
    )

    pages: list[list[str]] = []
    after = None
    while not pages or len(pages[-1]) == 2:
        page = (await api.data(projects, w=workspace, a=after))["projects"]
        pages.append([p["name"] for p in page])
        after = page[-1]["id"] if page else None
    member_page = (await api.data(members, w=workspace, a="user:b@example.com"))["members"]

    assert pages == [["a", "b"], ["c", "d"], ["e"]]
    assert [m["member"] for m in member_page] == ["user:c@example.com", "user:d@example.com"]
    unknown = await api.graphql(projects, w=workspace, a="no-such-id")
    assert unknown["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "after"}
    for first in (0, 201):
        too_many = await api.graphql("query($f: Int!) { workspaces(first: $f) { id } }", f=first)
        assert too_many["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "first"}


async def test_a_workflows_versions_come_in_pages(api: Api) -> None:
    for value in range(3):
        workflow = await api.publish(one_node_flow("archived", value))
    versions = """query($w: ID!, $a: ID) { workflow(id: $w) {
      versions(first: 2, after: $a) { id version } } }"""

    first = (await api.data(versions, w=workflow))["workflow"]["versions"]
    rest = (await api.data(versions, w=workflow, a=first[-1]["id"]))["workflow"]["versions"]

    assert [v["version"] for v in first] == [1, 2]
    assert [v["version"] for v in rest] == [3]
