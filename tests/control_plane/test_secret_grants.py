"""What a definition maps onto its nodes must be a secret of its project: publishing names
the node and field of each that is not, starting refuses a run whose secret was deleted
since, and the signed descriptor grants exactly the names the run's definitions map."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NatsClient

from control_plane.signing import load_or_create_signing_key
from data_plane.protocol import (
    CONTROL_PLANE_INBOX,
    RunDescriptor,
    key_id_of,
    runs_subject,
    verify_descriptor,
)
from flowforge.inprocess import wait_until
from flowforge.nats_accounts import BusAuthority
from flowforge.servers import ServerProcess

from fixtures.api import Api
from fixtures.bus import messages_on

SET = """mutation($p: ID!, $n: String!, $v: String!) { setSecret(projectId: $p, name: $n,
  value: $v) { __typename } }"""
DELETE = """mutation($p: ID!, $n: String!) { deleteSecret(projectId: $p, name: $n) {
  __typename } }"""
PUBLISH = """mutation($p: ID!, $d: JSON!) { publishWorkflow(projectId: $p, definition: $d) {
  __typename ... on WorkflowVersion { workflowId version }
  ... on ValidationFailed { errors { nodeId field message } } } }"""
START = "mutation($w: ID!) { startRun(workflowId: $w) { id status } }"


def transform(node_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "core.transform", "config": {"value": 1}, **extra}


def definition(name: str, *nodes: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "flowforge/v1", "name": name, "nodes": list(nodes)}


# A list, a mapping onto other names, and a node inside a map's body.
MAPPING = definition(
    "billing",
    transform("listed", secrets=["smtp_password"]),
    transform("mapped", secrets={"api_key": "acme.prod-key", "token": "smtp_password"}),
    {
        "id": "each",
        "type": "core.map",
        "config": {"items": "${ [1, 2] }"},
        "body": {"nodes": [transform("inner", secrets=["ledger"])]},
    },
)


async def _publish(api: Api, project: str, published: dict[str, Any]) -> dict[str, Any]:
    return dict((await api.data(PUBLISH, p=project, d=published))["publishWorkflow"])


async def test_publishing_names_the_node_and_field_of_each_secret_the_project_lacks(
    vault_api: Api,
) -> None:
    project = (await vault_api.default_project())["id"]
    await vault_api.data(SET, p=project, n="smtp_password", v="pw")

    refused = await _publish(vault_api, project, MAPPING)

    assert refused["__typename"] == "ValidationFailed"
    assert [(e["nodeId"], e["field"]) for e in refused["errors"]] == [
        ("mapped", "secrets.api_key"),
        ("inner", "secrets[0]"),
    ]
    assert refused["errors"][0]["message"] == (
        "project secret 'acme.prod-key' does not exist in this project: set it first "
        "(flowforge secrets set acme.prod-key), or map the node onto a secret that exists"
    )
    assert "'ledger'" in refused["errors"][1]["message"]
    assert (await vault_api.data("query($p: ID!) { workflows(projectId: $p) { id } }", p=project))[
        "workflows"
    ] == []

    for name in ("acme.prod-key", "ledger"):
        await vault_api.data(SET, p=project, n=name, v="v")
    published = await _publish(vault_api, project, MAPPING)

    assert (published["__typename"], published["version"]) == ("WorkflowVersion", 1)


async def test_a_secret_of_another_project_does_not_count(vault_api: Api) -> None:
    default = await vault_api.default_project()
    made = await vault_api.data(
        """mutation($w: ID!) { createProject(workspaceId: $w, name: "other") {
          ... on Project { id } } }""",
        w=default["workspaceId"],
    )
    await vault_api.data(SET, p=made["createProject"]["id"], n="ledger", v="v")

    refused = await _publish(
        vault_api, default["id"], definition("lone", transform("t", secrets=["ledger"]))
    )

    assert refused["__typename"] == "ValidationFailed"
    assert [(e["nodeId"], e["field"]) for e in refused["errors"]] == [("t", "secrets[0]")]


async def test_a_run_whose_secret_was_deleted_since_its_version_was_published_is_refused(
    vault_api: Api,
) -> None:
    project = (await vault_api.default_project())["id"]
    await vault_api.data(SET, p=project, n="ledger", v="v")
    flow = definition("ledgered", transform("book", secrets={"db": "ledger"}))
    workflow = (await _publish(vault_api, project, flow))["workflowId"]
    await vault_api.data(DELETE, p=project, n="ledger")

    body = await vault_api.graphql(START, w=workflow)
    runs = await vault_api.data(
        "query($p: ID!) { runs(projectId: $p) { nodes { id } } }", p=project
    )

    [error] = body["errors"]
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": "workflowId"}
    assert error["message"] == (
        "workflowId: the run needs secrets the project no longer has (node 'book' of "
        "workflow 'ledgered', secrets.db: project secret 'ledger'); set them again "
        "(flowforge secrets set NAME), or start a version that does not map them"
    )
    assert runs["runs"]["nodes"] == []

    await vault_api.data(SET, p=project, n="ledger", v="again")
    started = (await vault_api.data(START, w=workflow))["startRun"]
    assert started["status"] == "QUEUED"


async def test_a_run_whose_sub_workflow_lost_its_secret_is_refused_naming_that_workflow(
    vault_api: Api,
) -> None:
    project = (await vault_api.default_project())["id"]
    await vault_api.data(SET, p=project, n="ledger", v="v")
    await _publish(vault_api, project, definition("booker", transform("book", secrets=["ledger"])))
    caller = definition(
        "caller", {"id": "call", "type": "core.subworkflow", "config": {"workflow": "booker"}}
    )
    workflow = (await _publish(vault_api, project, caller))["workflowId"]
    await vault_api.data(DELETE, p=project, n="ledger")

    body = await vault_api.graphql(START, w=workflow)

    [error] = body["errors"]
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert (
        "node 'book' of workflow 'booker', secrets[0]: project secret 'ledger'"
        in (error["message"])
    )


@pytest.fixture
async def bus(nats_server: ServerProcess, bus_authority: BusAuthority) -> AsyncIterator[NatsClient]:
    """A connection with the control plane's credentials, to read the descriptors."""
    nc = await nats.connect(
        nats_server.address,
        user_credentials=str(bus_authority.control_plane_credentials()),
        inbox_prefix=CONTROL_PLANE_INBOX,
    )
    try:
        yield nc
    finally:
        await nc.close()


async def _descriptor(api: Api, bus: NatsClient, run_id: str) -> RunDescriptor:
    """The run's descriptor as the pool would receive it, its signature checked."""
    public = load_or_create_signing_key(api.settings.signing_key_path).public_key()

    async def published() -> RunDescriptor | None:
        for message in await messages_on(bus, runs_subject(api.pool)):
            descriptor = verify_descriptor(message.data, {key_id_of(public): public})
            if descriptor.run_id == run_id:
                return descriptor
        return None

    found: RunDescriptor = await wait_until(published)
    return found


async def test_a_run_is_granted_exactly_the_secrets_its_definitions_map(
    vault_api: Api, bus: NatsClient
) -> None:
    await vault_api.ready()
    project = (await vault_api.default_project())["id"]
    for name in ("acme.prod-key", "smtp_password", "ledger", "child-only", "unmapped"):
        await vault_api.data(SET, p=project, n=name, v=f"value-of-{name}")
    child = definition("child", transform("c", secrets={"key": "child-only"}))
    await _publish(vault_api, project, child)
    parent = {
        **MAPPING,
        "name": f"parent-{uuid.uuid4().hex[:6]}",
        "nodes": [
            *MAPPING["nodes"],
            {"id": "call", "type": "core.subworkflow", "config": {"workflow": "child"}},
        ],
    }
    workflow = (await _publish(vault_api, project, parent))["workflowId"]
    plain = (await _publish(vault_api, project, definition("plain", transform("p"))))["workflowId"]

    granted = await _descriptor(
        vault_api, bus, (await vault_api.data(START, w=workflow))["startRun"]["id"]
    )
    none = await _descriptor(
        vault_api, bus, (await vault_api.data(START, w=plain))["startRun"]["id"]
    )

    assert granted.secret_grants == ["acme.prod-key", "child-only", "ledger", "smtp_password"]
    assert none.secret_grants == []
    assert "value-of-" not in granted.model_dump_json()
