"""The GraphQL API of the control plane: versions, validation, idempotency, refusals."""

import asyncio

import httpx
import pytest

from fixtures.stack import Stack, assert_eventually

FLOW = {
    "apiVersion": "flowforge/v1",
    "name": "greeter",
    "input": {
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "required": ["name"],
    },
    "nodes": [
        {
            "id": "greet",
            "type": "core.transform",
            "config": {"value": {"text": "Hello ${ .input.name }"}},
        }
    ],
}


async def test_default_workspace_and_project_exist(stack: Stack) -> None:
    data = await stack.data("{ workspaces { id name } projects { id name workspaceId } }")

    assert [w["name"] for w in data["workspaces"]] == ["default"]
    assert data["projects"][0]["name"] == "default"
    assert data["projects"][0]["workspaceId"] == data["workspaces"][0]["id"]


async def test_versions_are_content_addressed_and_immutable(stack: Stack) -> None:
    first = await stack.publish(FLOW)
    same = await stack.publish(FLOW)
    changed = await stack.publish({**FLOW, "description": "now documented"})

    assert first["__typename"] == "WorkflowVersion"
    assert (first["version"], first["name"]) == (1, "greeter")
    assert same["id"] == first["id"]
    assert same["sha256"] == first["sha256"]
    assert changed["version"] == 2
    assert changed["workflowId"] == first["workflowId"]
    assert changed["sha256"] != first["sha256"]
    data = await stack.data(
        "query($id: ID!) { workflow(id: $id) { name versions { version sha256 } } }",
        id=first["workflowId"],
    )
    assert [v["version"] for v in data["workflow"]["versions"]] == [1, 2]


async def test_invalid_definition_is_refused_with_node_field_and_reason(stack: Stack) -> None:
    bad = {
        **FLOW,
        "nodes": [
            {"id": "a", "type": "core.nope"},
            {"id": "b", "type": "core.http", "config": {}},
            {"id": "c", "type": "core.if", "config": {"condition": "${ .input.x > }"}},
        ],
        "edges": [{"from": "a", "to": "ghost"}],
    }
    result = await stack.publish(bad)

    assert result["__typename"] == "ValidationFailed"
    issues = {(e["nodeId"], e["field"]) for e in result["errors"]}
    assert ("a", "type") in issues
    assert ("b", "config.url") in issues
    assert ("c", "config.condition") in issues
    assert any(e["field"].startswith("edges[0]") for e in result["errors"])
    assert all(e["message"] for e in result["errors"])
    data = await stack.data(
        "query($p: ID!) { workflows(projectId: $p) { name } }", p=await stack.project_id()
    )
    assert data["workflows"] == []


async def test_definition_that_is_not_an_object_is_refused(stack: Stack) -> None:
    body = await stack.graphql(
        "mutation($p: ID!) { publishWorkflow(projectId: $p, definition: [1, 2]) { __typename } }",
        p=await stack.project_id(),
    )

    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_same_idempotency_key_never_starts_a_second_run(stack: Stack) -> None:
    published = await stack.publish(FLOW)
    first = await stack.start_run(published["workflowId"], {"name": "Ada"}, idempotency_key="k1")
    again = await stack.start_run(published["workflowId"], {"name": "Ada"}, idempotency_key="k1")
    other = await stack.start_run(published["workflowId"], {"name": "Ada"}, idempotency_key="k2")

    run_id = first["data"]["startRun"]["id"]
    assert again["data"]["startRun"]["id"] == run_id
    assert other["data"]["startRun"]["id"] != run_id
    await stack.wait_for_run(run_id)
    await stack.wait_for_run(other["data"]["startRun"]["id"])
    data = await stack.data(
        "query($p: ID!) { runs(projectId: $p) { nodes { id } } }", p=await stack.project_id()
    )
    assert len(data["runs"]["nodes"]) == 2
    executions = [e async for e in stack.temporal.list_workflows(f"WorkflowId = '{run_id}'")]
    assert len(executions) == 1


async def test_input_that_breaks_the_schema_is_refused(stack: Stack) -> None:
    published = await stack.publish(FLOW)
    body = await stack.start_run(published["workflowId"], {"name": 42})

    error = body["errors"][0]
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert "input['name']" in error["message"]
    assert "not of type 'string'" in error["message"]


async def test_unknown_workflow_and_version_are_not_found(stack: Stack) -> None:
    published = await stack.publish(FLOW)
    missing = await stack.start_run("no-such-workflow", {"name": "x"})
    no_version = await stack.start_run(published["workflowId"], {"name": "x"}, version=9)
    no_run = await stack.graphql('{ run(id: "nope") { id } }')

    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert no_version["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert "version 9" in no_version["errors"][0]["message"]
    assert no_run["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic abc"])
async def test_requests_without_a_valid_token_are_refused(stack: Stack, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    async with httpx.AsyncClient() as client:
        response = await client.post(
            stack.url, json={"query": "{ workspaces { id } }"}, headers=headers
        )

    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_graphiql_is_served_without_a_token(stack: Stack) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(stack.url, headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_node_types_list_installed_nodes_with_schemas(stack: Stack) -> None:
    data = await stack.data(
        "{ nodeTypes { type version title inputSchema outputSchema configSchema ports } }"
    )
    types = {t["type"]: t for t in data["nodeTypes"]}

    assert {"core.http", "core.transform", "core.if", "core.log"} <= set(types)
    http = types["core.http"]
    assert "url" in http["configSchema"]["properties"]
    assert "status" in http["outputSchema"]["properties"]
    assert types["core.if"]["ports"] == ["true", "false"]


async def test_node_types_say_whose_ports_come_from_config_and_which_run_a_body(
    stack: Stack,
) -> None:
    data = await stack.data("{ nodeTypes { type ports portsFromConfig hasBody } }")
    types = {t["type"]: t for t in data["nodeTypes"]}

    assert types["core.switch"] == {
        "type": "core.switch",
        "ports": [],
        "portsFromConfig": True,
        "hasBody": False,
    }
    assert types["core.if"]["portsFromConfig"] is False
    assert {name for name, t in types.items() if t["hasBody"]} == {"core.map", "core.loop"}


async def test_runs_are_listed_newest_first_and_paginated(stack: Stack) -> None:
    published = await stack.publish(FLOW)
    ids = []
    for name in ("a", "b", "c"):
        started = await stack.start_run(published["workflowId"], {"name": name})
        ids.append(started["data"]["startRun"]["id"])
    query = """query($p: ID!, $after: String, $s: RunStatus) {
        runs(projectId: $p, first: 2, after: $after, status: $s) {
          nodes { id } pageInfo { hasNextPage endCursor } } }"""
    project = await stack.project_id()

    page1 = (await stack.data(query, p=project))["runs"]
    page2 = (await stack.data(query, p=project, after=page1["pageInfo"]["endCursor"]))["runs"]

    assert [r["id"] for r in page1["nodes"] + page2["nodes"]] == ids[::-1]
    assert page1["pageInfo"]["hasNextPage"] is True
    assert page2["pageInfo"]["hasNextPage"] is False

    async def all_succeeded() -> bool:
        done = await stack.data(query, p=project, s="SUCCEEDED")
        return len(done["runs"]["nodes"]) == 2 and done["runs"]["pageInfo"]["hasNextPage"]

    await assert_eventually(all_succeeded)


async def test_input_that_is_not_an_object_is_refused(stack: Stack) -> None:
    published = await stack.publish({**FLOW, "input": {}})
    body = await stack.start_run(published["workflowId"], [1, 2])

    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert "must be a JSON object" in body["errors"][0]["message"]


async def test_concurrent_publishes_get_distinct_versions(stack: Stack) -> None:
    variants = [{**FLOW, "description": f"variant {i}"} for i in range(4)]

    results = await asyncio.gather(*(stack.publish(v) for v in variants))

    assert sorted(r["version"] for r in results) == [1, 2, 3, 4]
    assert len({r["workflowId"] for r in results}) == 1


async def test_oversized_queries_are_refused(stack: Stack) -> None:
    aliases = " ".join(f"a{i}: workspaces {{ id }}" for i in range(25))
    long = "{ workspaces { " + "id " * 2500 + "} }"

    too_many_aliases = await stack.graphql(f"{{ {aliases} }}")
    too_many_tokens = await stack.graphql(long)

    assert "aliases found" in too_many_aliases["errors"][0]["message"]
    assert "more than 2000 tokens" in too_many_tokens["errors"][0]["message"]
