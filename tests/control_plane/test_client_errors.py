"""Client mistakes get a precise 4xx or coded GraphQL error, never INTERNAL or a 500
(Hardening #11); concurrent publishes of one name all succeed."""

import asyncio
import base64

import httpx
import pytest

from fixtures.stack import Stack

FLOW = {
    "apiVersion": "flowforge/v1",
    "name": "racer",
    "nodes": [{"id": "only", "type": "core.transform", "config": {"value": {"ok": True}}}],
}


async def post(stack: Stack, content: bytes) -> httpx.Response:
    return await stack.http.post(
        stack.url,
        content=content,
        headers={"Authorization": f"Bearer {stack.token}", "Content-Type": "application/json"},
    )


@pytest.mark.parametrize("body", [b"null", b"1", b"true", b'"x"', b"[]", b"[1]"])
async def test_json_body_that_is_not_an_object_is_a_400(sqlite_stack: Stack, body: bytes) -> None:
    response = await post(sqlite_stack, body)

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": "body"}
    assert error["message"].startswith(f"request body {body.decode()!r} is not a JSON object")


async def test_json_body_nested_990_levels_is_a_400(sqlite_stack: Stack) -> None:
    response = await post(
        sqlite_stack, b'{"query": "{ workspaces { id } }", "v": ' + b"[" * 990 + b"]" * 990 + b"}"
    )

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert "nested more than 100 levels deep" in error["message"]
    assert "FLOWFORGE_CP_LIMITS__MAX_REQUEST_DEPTH" in error["message"]


async def test_json_body_that_does_not_parse_is_a_400(sqlite_stack: Stack) -> None:
    response = await post(sqlite_stack, b'{"query": ')

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith("request body is not valid JSON")


async def test_cursor_with_a_date_without_time_zone_is_invalid_input(sqlite_stack: Stack) -> None:
    cursor = base64.urlsafe_b64encode(b"2024-01-02T03:04:05|some-run").decode()

    body = await sqlite_stack.graphql(
        "query($p: ID!, $a: String) { runs(projectId: $p, after: $a) { nodes { id } } }",
        p=await sqlite_stack.project_id(),
        a=cursor,
    )

    [error] = body["errors"]
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": "after"}
    assert "is not a cursor returned by runs" in error["message"]


@pytest.mark.parametrize("duration", ["99999999999h", 1e308])
async def test_timeout_beyond_the_maximum_is_refused_naming_it(
    sqlite_stack: Stack, duration: object
) -> None:
    nodes = [{**FLOW["nodes"][0], "timeout": duration}]  # type: ignore[dict-item]

    refused = await sqlite_stack.publish({**FLOW, "nodes": nodes})

    assert refused["__typename"] == "ValidationFailed"
    [issue] = refused["errors"]
    assert (issue["nodeId"], issue["field"]) == ("only", "timeout")
    assert "at most 31536000s (365 days) is allowed" in issue["message"]


async def test_thirty_concurrent_publishes_of_one_name_all_succeed(stack: Stack) -> None:
    variants = [{**FLOW, "description": f"variant {i}"} for i in range(15)]

    results = await asyncio.gather(*(stack.publish(d) for d in [FLOW] * 15 + variants))

    assert {r["__typename"] for r in results} == {"WorkflowVersion"}, results
    same, distinct = results[:15], results[15:]
    assert len({r["id"] for r in same}) == 1
    assert sorted(r["version"] for r in [same[0], *distinct]) == list(range(1, 17))
    assert len({r["workflowId"] for r in results}) == 1
