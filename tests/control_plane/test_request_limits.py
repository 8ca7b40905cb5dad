"""Limits on every control-plane entry point, each refused at once naming the limit
(Hardening #3), and responses bounded whatever the query asks (Hardening #12)."""

from typing import Any

import httpx

from control_plane.graphql.introspection import MAX_LIST_FIELDS

from fixtures.stack import Stack

FLOW = {
    "apiVersion": "flowforge/v1",
    "name": "limited",
    "input": {"type": "object"},
    "nodes": [{"id": "only", "type": "core.transform", "config": {"value": {"ok": True}}}],
}

PUBLISH = """mutation($p: ID!, $d: JSON!) { publishWorkflow(projectId: $p, definition: $d) {
    __typename ... on ValidationFailed { errors { nodeId field message } } } }"""


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert len(body["errors"]) == 1, body["errors"]
    error: dict[str, Any] = body["errors"][0]
    return error


async def post(stack: Stack, content: bytes) -> httpx.Response:
    return await stack.http.post(
        stack.url,
        content=content,
        headers={"Authorization": f"Bearer {stack.token}", "Content-Type": "application/json"},
    )


async def test_request_body_over_the_limit_is_refused_with_413(sqlite_stack: Stack) -> None:
    size = sqlite_stack.cp_settings.limits.max_request_bytes + 1
    body = b'{"query": "{ workspaces { id } }", "pad": "' + b"x" * size + b'"}'

    response = await post(sqlite_stack, body)

    assert response.status_code == 413
    error = only_error(response.json())
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": "body"}
    assert "FLOWFORGE_CP_LIMITS__MAX_REQUEST_BYTES" in error["message"]


async def test_run_input_over_the_size_limit_is_refused(sqlite_stack: Stack) -> None:
    published = await sqlite_stack.publish(FLOW)
    big = {"blob": "x" * (900 * 1024)}

    body = await sqlite_stack.start_run(published["workflowId"], big)

    error = only_error(body)
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": "input"}
    assert "at most 262144 are allowed" in error["message"]
    assert "max_run_input_bytes" in error["message"]


async def test_run_input_nested_too_deeply_is_refused(sqlite_stack: Stack) -> None:
    published = await sqlite_stack.publish(FLOW)

    body = await sqlite_stack.start_run(published["workflowId"], nested(80))

    error = only_error(body)
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": "input"}
    assert "nested 80 levels deep; at most 64" in error["message"]


async def test_idempotency_key_longer_than_documented_is_refused(sqlite_stack: Stack) -> None:
    published = await sqlite_stack.publish(FLOW)

    body = await sqlite_stack.start_run(published["workflowId"], {}, idempotency_key="k" * 201)

    error = only_error(body)
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": "idempotencyKey"}
    assert "201 characters; at most 200" in error["message"]


async def test_definition_over_the_size_limit_is_refused(sqlite_stack: Stack) -> None:
    big = {**FLOW, "description": "x" * (500 * 1024)}

    body = await sqlite_stack.graphql(PUBLISH, p=await sqlite_stack.project_id(), d=big)

    error = only_error(body)
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": "definition"}
    assert "max_definition_bytes" in error["message"]


async def test_definition_nested_too_deeply_is_refused(sqlite_stack: Stack) -> None:
    deep = {**FLOW, "output": nested(80)}

    body = await sqlite_stack.graphql(PUBLISH, p=await sqlite_stack.project_id(), d=deep)

    error = only_error(body)
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": "definition"}
    assert "max_definition_depth" in error["message"]


async def test_definition_of_a_thousand_nodes_is_published_and_more_is_refused(
    sqlite_stack: Stack,
) -> None:
    def of(count: int) -> dict[str, Any]:
        nodes = [
            {"id": f"n{i}", "type": "core.log", "config": {"message": "m"}} for i in range(count)
        ]
        return {**FLOW, "nodes": nodes}

    accepted = await sqlite_stack.publish(of(1000))
    refused = await sqlite_stack.publish(of(1001))

    assert accepted["__typename"] == "WorkflowVersion"
    assert refused["errors"] == [
        {
            "nodeId": None,
            "field": "nodes",
            "message": "1001 nodes; a definition holds at most 1000: split the workflow",
        }
    ]


async def test_node_id_longer_than_its_column_is_refused_at_publish(sqlite_stack: Stack) -> None:
    node = {"id": "n" * 10_000, "type": "core.log", "config": {"message": "m"}}

    refused = await sqlite_stack.publish({**FLOW, "nodes": [node]})

    assert refused["__typename"] == "ValidationFailed"
    [issue] = refused["errors"]
    assert issue["field"] == "id"
    assert "at most 100 characters" in issue["message"]


async def test_introspection_cannot_be_multiplied_by_aliases(sqlite_stack: Stack) -> None:
    # 2 x (1 + 6) = 14 list fields, under the alias limit of 20.
    inner = " ".join(f"f{i}: fields {{ name }}" for i in range(6))
    query = "{ __schema { " + " ".join(f"t{i}: types {{ {inner} }}" for i in range(2)) + " } }"

    body = await sqlite_stack.graphql(query)

    error = only_error(body)
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": "query"}
    assert f"more than {MAX_LIST_FIELDS} list fields" in error["message"]


async def test_the_standard_introspection_query_still_works(sqlite_stack: Stack) -> None:
    from graphql import get_introspection_query

    body = await sqlite_stack.graphql(get_introspection_query(descriptions=True))

    assert "errors" not in body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_response_over_the_byte_limit_is_an_error_not_a_body(sqlite_stack: Stack) -> None:
    await sqlite_stack.publish({**FLOW, "description": "d" * 5000})
    # The same app object holds these settings: lowering the cap applies to the next request.
    sqlite_stack.cp_settings.limits.max_response_bytes = 20_000
    aliases = " ".join(
        f"w{i}: workflows(projectId: $p) {{ versions {{ definition }} }}" for i in range(8)
    )

    body = await sqlite_stack.graphql(
        f"query($p: ID!) {{ {aliases} }}", p=await sqlite_stack.project_id()
    )

    assert body["data"] is None
    error = only_error(body)
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": "query"}
    assert "at most 20000 are sent" in error["message"]
