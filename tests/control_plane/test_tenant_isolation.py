"""Tenant isolation, field by field: every root field of the schema aimed at workspace B
is refused to each role of workspace A and leaves B as it was; each role of B may use
exactly the fields its row below allows; and every field reachable from B's objects
answers B's viewer and shows A's owner nothing.

One world per backend (a module-scoped fixture): two workspaces with a token per role, a
published workflow, a run with node executions, an open approval task with a decision,
control requests, a member, a spare token and a secret (in the session's OpenBao) each.
Each test loops over its cases and reports every mismatch at once.
"""

import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLUnionType,
    get_named_type,
    is_required_argument,
)

from control_plane.graphql.schema import schema
from control_plane.runs.service import start_run
from data_plane.protocol import RunEvent, TaskInfo, WaitInfo
from flowforge.nats_accounts import BusAuthority
from flowforge.servers import ServerProcess
from flowforge.vault_identities import VaultAuthority

from fixtures.api import Api, serving_api

ROLES = ("VIEWER", "OPERATOR", "EDITOR", "OWNER")
ADMIN = "ADMIN"
ANY = "ANY"
AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
FORM = {"type": "object", "required": ["approved"], "properties": {"approved": {"type": "boolean"}}}
PROBE = {
    "apiVersion": "flowforge/v1",
    "name": "probe",
    "nodes": [{"id": "p", "type": "core.transform", "config": {"value": "${ 2 }"}}],
}


def flow(tag: str) -> dict[str, Any]:
    return {
        "apiVersion": "flowforge/v1",
        "name": f"{tag}-flow",
        "nodes": [
            {"id": "t", "type": "core.transform", "config": {"value": "${ 1 }"}},
            {"id": "ask", "type": "core.approval", "config": {"assignees": ["role:operator"]}},
        ],
        "edges": [{"from": "t", "to": "ask"}],
    }


@dataclass
class Tenant:
    """One workspace's objects, and the bearer token of each of its roles."""

    tag: str
    workspace: str
    project: str
    workflow: str
    run: str
    task: str
    member: str
    spare_token: str
    tokens: dict[str, str]

    @property
    def markers(self) -> list[str]:
        """Strings only this tenant's data contains: none may reach another tenant."""
        named = (
            "ws",
            "flow",
            "input-secret",
            "node-input",
            "task",
            "member@",
            "signal",
            "spare",
            "vault-secret",
            "secret-value",
        )
        ids = [self.workspace, self.project, self.workflow, self.run]
        return [*ids, *(f"{self.tag}-{n}" for n in named)]


@dataclass
class World:
    api: Api
    a: Tenant
    b: Tenant
    counter: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))

    def unique(self, prefix: str) -> str:
        return f"{prefix}-{next(self.counter)}"

    async def do(self, query: str, **variables: Any) -> Any:
        return await done(self.api, query, **variables)


async def done(api: Api, query: str, **variables: Any) -> Any:
    """As the instance admin, an operation that must succeed; its one root field."""
    [value] = (await api.data(query, **variables)).values()
    failed = isinstance(value, dict) and value.get("__typename") in ("NotFound", "ValidationFailed")
    assert not failed, value
    return value


# Operations the world is built with, as the instance admin.
CREATE_WORKSPACE = "mutation($n: String!) { createWorkspace(name: $n) { ... on Workspace { id } } }"
CREATE_PROJECT = """mutation($w: ID!, $n: String!) { createProject(workspaceId: $w, name: $n) {
  __typename ... on Project { id } } }"""
ADD_MEMBER = """mutation($w: ID!, $m: String!) { addMember(workspaceId: $w, member: $m,
  role: VIEWER) { __typename ... on Member { member } } }"""
CREATE_TOKEN = """mutation($w: ID!, $n: String!) { createApiToken(workspaceId: $w, name: $n,
  role: VIEWER) { __typename ... on CreatedApiToken { apiToken { id } } } }"""
PUBLISH = """mutation($p: ID!, $d: JSON!) { publishWorkflow(projectId: $p, definition: $d) {
  __typename ... on WorkflowVersion { workflowId } } }"""
PAUSE = "mutation($r: ID!) { pauseRun(id: $r) { __typename } }"
SIGNAL = """mutation($r: ID!, $x: JSON) { signalRun(id: $r, signal: "nudge", payload: $x) {
  __typename } }"""
COMPLETE = """mutation($t: ID!) { completeTask(taskId: $t, decision: {approved: true}) {
  __typename } }"""
SNAPSHOT = """query($w: ID!, $p: ID!) {
  workspaces(includeArchived: true) { id name archivedAt }
  projects(workspaceId: $w, includeArchived: true) { id name tags archivedAt }
  members(workspaceId: $w) { member role }
  projectMembers: members(workspaceId: $w, projectId: $p) { member role }
  apiTokens(workspaceId: $w) { id name role revokedAt }
  workflows(projectId: $p) { id name versions { version } }
  runs(projectId: $p, first: 200) { nodes { id status controlRequests { id action } } }
  tasks(projectId: $p, first: 200) { nodes { id status decisions { decidedBy } } }
  secrets(projectId: $p) { name version updatedAt } }"""
SET_SECRET = """mutation($p: ID!, $n: String!, $v: String!) { setSecret(projectId: $p, name: $n,
  value: $v) { __typename } }"""


def waiting(run_id: str, title: str) -> RunEvent:
    """The approval node `ask` of the run waits on its task, assigned to role:operator."""
    task = TaskInfo(task_id=f"{run_id}:ask", title=title, assignees=["role:operator"], form=FORM)
    wait = WaitInfo(kind="approval", until=AT + timedelta(hours=1), task=task)
    return RunEvent.create(run_id, "node.waiting", AT + timedelta(seconds=3), "ask", wait=wait)


async def queued_run(api: Api, workflow_id: str, input: dict[str, Any]) -> str:
    """A QUEUED run, committed as startRun does and marked handed over (as `api.queued_run`
    does), with `input`."""
    async with api.sessions.begin() as session:
        run, _ = await start_run(
            session, workflow_id, None, input, None, api.pool, api.settings.limits
        )
        run.dispatched_at = datetime.now(UTC)
    return run.id


async def waiting_task(world: World, tenant: Tenant) -> str:
    """A new run of the tenant's workflow whose approval task is open; the task's id."""
    run_id = await queued_run(world.api, tenant.workflow, {})
    await world.api.apply([waiting(run_id, f"{tenant.tag}-task")])
    return f"{run_id}:ask"


async def build_tenant(api: Api, tag: str, workspace: str, project: str) -> Tenant:
    tokens = {
        role: (await api.credential(f"{tag}-{role.lower()}", role, workspace)).token
        for role in ROLES
    }
    published = await done(api, PUBLISH, p=project, d=flow(tag))
    workflow = str(published["workflowId"])
    run = await queued_run(api, workflow, {"secret": f"{tag}-input-secret"})
    node = {"note": f"{tag}-node-input"}
    await api.apply(
        [
            RunEvent.create(run, "node.started", AT + timedelta(seconds=1), "t", input=node),
            RunEvent.create(run, "node.succeeded", AT + timedelta(seconds=2), "t", output=node),
            waiting(run, f"{tag}-task"),
        ]
    )
    await done(api, PAUSE, r=run)
    await done(api, SIGNAL, r=run, x={"note": f"{tag}-signal"})
    await done(api, COMPLETE, t=f"{run}:ask")
    member = f"user:{tag}-member@example.com"
    await done(api, ADD_MEMBER, w=workspace, m=member)
    spare = await done(api, CREATE_TOKEN, w=workspace, n=f"{tag}-spare")
    await done(api, SET_SECRET, p=project, n=f"{tag}-vault-secret", v=f"{tag}-secret-value")
    return Tenant(
        tag=tag,
        workspace=workspace,
        project=project,
        workflow=workflow,
        run=run,
        task=f"{run}:ask",
        member=member,
        spare_token=spare["apiToken"]["id"],
        tokens=tokens,
    )


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ],
)
async def world(
    request: pytest.FixtureRequest,
    nats_server: ServerProcess,
    bus_authority: BusAuthority,
    vault_authority: VaultAuthority,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[World]:
    """Workspace A (`default`) and B (`bravo-ws`), built once per backend."""
    data_dir: Path = tmp_path_factory.mktemp("isolation")
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{data_dir / 'registry.db'}"
    else:
        url = request.getfixturevalue("make_database_url")("tenant_isolation")
    vault = vault_authority.control_plane()
    async with serving_api(url, nats_server, bus_authority, data_dir, vault=vault) as api:
        await api.ready()
        default = await api.default_project()
        a = await build_tenant(api, "alpha", default["workspaceId"], default["id"])
        workspace = (await done(api, CREATE_WORKSPACE, n="bravo-ws"))["id"]
        project = (await done(api, CREATE_PROJECT, w=workspace, n="bravo-project"))["id"]
        yield World(api, a, await build_tenant(api, "bravo", workspace, project))


# The cases: for each root field, the least role that may use it (literal data, checked
# against the declarations by `test_each_role_of_b_may_use_exactly_the_fields_of_its_row`:
# ANY is every principal, ADMIN the instance admin alone) and the operation aimed at B.

Aim = Callable[[World], Awaitable[dict[str, Any]]]


def on(**names: str) -> Aim:
    """Variables naming B's standing objects (each an attribute of `Tenant`)."""

    async def aim(world: World) -> dict[str, Any]:
        return {variable: getattr(world.b, name) for variable, name in names.items()}

    return aim


def fresh(make: Callable[[World], Awaitable[dict[str, Any]]]) -> Aim:
    """Variables naming objects made for this one attempt (the field consumes them)."""
    return make


async def _nothing(world: World) -> dict[str, Any]:
    return {}


async def _new_project(world: World) -> dict[str, Any]:
    made = await world.do(CREATE_PROJECT, w=world.b.workspace, n=world.unique("probe"))
    return {"id": made["id"]}


async def _new_member(world: World) -> dict[str, Any]:
    member = f"user:{world.unique('probe')}@example.com"
    await world.do(ADD_MEMBER, w=world.b.workspace, m=member)
    return {"w": world.b.workspace, "m": member}


async def _new_token(world: World) -> dict[str, Any]:
    made = await world.do(CREATE_TOKEN, w=world.b.workspace, n=world.unique("probe"))
    return {"id": made["apiToken"]["id"]}


async def _new_secret(world: World) -> dict[str, Any]:
    name = world.unique("probe")
    await world.do(SET_SECRET, p=world.b.project, n=name, v="probe-value")
    return {"p": world.b.project, "n": name}


async def _new_workspace(world: World) -> dict[str, Any]:
    return {"id": (await world.do(CREATE_WORKSPACE, n=world.unique("probe")))["id"]}


SET_POLICY = """mutation($n: String!, $s: String!) { setPolicy(name: $n, source: $s) {
  __typename } }"""


async def _harmless_policy(world: World) -> dict[str, Any]:
    """A policy that denies nothing, so that setting it changes no other case."""
    name = world.unique("probe").replace("-", "_")
    return {"n": name, "s": f"package flowforge.policies.{name}\nimport rego.v1\n"}


async def _new_policy(world: World) -> dict[str, Any]:
    policy = await _harmless_policy(world)
    await world.do(SET_POLICY, **policy)
    return {"n": policy["n"]}


@dataclass(frozen=True)
class Case:
    least: str
    document: str
    aim: Aim
    admin_aim: Aim | None = None
    """Where the admin's attempt aims instead (so that B itself is not archived)."""
    listed: bool = False
    """The field lists what the caller sees: B's roles see B in it."""


CASES: dict[str, Case] = {
    "Query.me": Case(ANY, "{ me { id roles { workspaceId role } } }", _nothing, listed=True),
    "Query.workspaces": Case(
        ANY, "{ workspaces(includeArchived: true) { id name } }", _nothing, listed=True
    ),
    "Query.projects": Case(
        ANY,
        """query($w: ID) { projects(workspaceId: $w, includeArchived: true) {
          id name workspaceId } }""",
        on(w="workspace"),
        listed=True,
    ),
    "Query.members": Case(
        "VIEWER", "query($w: ID!) { members(workspaceId: $w) { member } }", on(w="workspace")
    ),
    "Query.apiTokens": Case(
        "OWNER", "query($w: ID!) { apiTokens(workspaceId: $w) { id name } }", on(w="workspace")
    ),
    "Query.workflows": Case(
        "VIEWER", "query($p: ID!) { workflows(projectId: $p) { id name } }", on(p="project")
    ),
    "Query.workflow": Case(
        "VIEWER", "query($id: ID) { workflow(id: $id) { id name } }", on(id="workflow")
    ),
    "Query.run": Case("VIEWER", "query($id: ID!) { run(id: $id) { id input } }", on(id="run")),
    "Query.runs": Case(
        "VIEWER", "query($p: ID!) { runs(projectId: $p) { nodes { id } } }", on(p="project")
    ),
    "Query.nodeTypes": Case(ANY, "{ nodeTypes { type } }", _nothing),
    "Query.task": Case("VIEWER", "query($id: ID!) { task(id: $id) { id title } }", on(id="task")),
    "Query.tasks": Case(
        "VIEWER", "query($p: ID!) { tasks(projectId: $p) { nodes { id } } }", on(p="project")
    ),
    "Query.secrets": Case(
        "VIEWER", "query($p: ID!) { secrets(projectId: $p) { name } }", on(p="project")
    ),
    "Query.policies": Case(ADMIN, "{ policies { name } }", _nothing),
    "Mutation.setPolicy": Case(ADMIN, SET_POLICY, fresh(_harmless_policy)),
    "Mutation.deletePolicy": Case(
        ADMIN,
        "mutation($n: String!) { deletePolicy(name: $n) { __typename } }",
        fresh(lambda world: _value(n="none-such")),
        admin_aim=_new_policy,
    ),
    "Mutation.createWorkspace": Case(
        ADMIN,
        "mutation($n: String!) { createWorkspace(name: $n) { __typename } }",
        fresh(lambda world: _value(n=world.unique("probe"))),
    ),
    "Mutation.renameWorkspace": Case(
        "OWNER",
        "mutation($id: ID!, $n: String!) { renameWorkspace(id: $id, name: $n) { __typename } }",
        fresh(lambda world: _value(id=world.b.workspace, n=world.unique("bravo-ws"))),
    ),
    "Mutation.archiveWorkspace": Case(
        ADMIN,
        "mutation($id: ID!) { archiveWorkspace(id: $id) { __typename } }",
        on(id="workspace"),
        admin_aim=_new_workspace,
    ),
    "Mutation.createProject": Case(
        "OWNER",
        CREATE_PROJECT,
        fresh(lambda world: _value(w=world.b.workspace, n=world.unique("probe"))),
    ),
    "Mutation.updateProject": Case(
        "OWNER",
        'mutation($id: ID!) { updateProject(id: $id, tags: ["probed"]) { __typename } }',
        on(id="project"),
    ),
    "Mutation.archiveProject": Case(
        "OWNER",
        "mutation($id: ID!) { archiveProject(id: $id) { __typename } }",
        fresh(_new_project),
    ),
    "Mutation.addMember": Case(
        "OWNER",
        ADD_MEMBER,
        fresh(lambda world: _value(w=world.b.workspace, m=f"user:{world.unique('p')}@x.org")),
    ),
    "Mutation.setRole": Case(
        "OWNER",
        """mutation($w: ID!, $m: String!) { setRole(workspaceId: $w, member: $m,
          role: OPERATOR) { __typename } }""",
        on(w="workspace", m="member"),
    ),
    "Mutation.removeMember": Case(
        "OWNER",
        """mutation($w: ID!, $m: String!) { removeMember(workspaceId: $w, member: $m) {
          __typename } }""",
        fresh(_new_member),
    ),
    "Mutation.createApiToken": Case("OWNER", CREATE_TOKEN, on(w="workspace", n="tag")),
    "Mutation.revokeApiToken": Case(
        "OWNER", "mutation($id: ID!) { revokeApiToken(id: $id) { __typename } }", fresh(_new_token)
    ),
    "Mutation.setSecret": Case(
        "EDITOR",
        SET_SECRET,
        fresh(lambda world: _value(p=world.b.project, n=world.unique("probe"), v="probe-value")),
    ),
    "Mutation.deleteSecret": Case(
        "EDITOR",
        "mutation($p: ID!, $n: String!) { deleteSecret(projectId: $p, name: $n) { __typename } }",
        fresh(_new_secret),
    ),
    "Mutation.publishWorkflow": Case(
        "EDITOR", PUBLISH, fresh(lambda world: _value(p=world.b.project, d=PROBE))
    ),
    "Mutation.startRun": Case(
        "OPERATOR", "mutation($w: ID!) { startRun(workflowId: $w) { id } }", on(w="workflow")
    ),
    "Mutation.cancelRun": Case(
        "OPERATOR", "mutation($r: ID!) { cancelRun(id: $r) { __typename } }", on(r="run")
    ),
    "Mutation.pauseRun": Case("OPERATOR", PAUSE, on(r="run")),
    "Mutation.resumeRun": Case(
        "OPERATOR", "mutation($r: ID!) { resumeRun(id: $r) { __typename } }", on(r="run")
    ),
    "Mutation.signalRun": Case(
        "OPERATOR", SIGNAL, fresh(lambda world: _value(r=world.b.run, x={"n": 1}))
    ),
    "Mutation.sendSignal": Case(
        "OPERATOR",
        """mutation($p: ID!) { sendSignal(projectId: $p, signal: "nobody-waits") {
          __typename } }""",
        on(p="project"),
    ),
    "Mutation.completeTask": Case(
        "OPERATOR", COMPLETE, fresh(lambda world: _value(t=waiting_task(world, world.b)))
    ),
}


async def _value(**variables: Any) -> dict[str, Any]:
    """`variables`, each awaited if it is a coroutine."""
    return {k: await v if isinstance(v, Awaitable) else v for k, v in variables.items()}


def _allowed(least: str, who: str) -> bool:
    if least == ANY or who == ADMIN:
        return True
    return least != ADMIN and ROLES.index(who) >= ROLES.index(least)


def _outcome(body: dict[str, Any], root: str) -> str:
    """What became of a request: allowed (answered, no error), refused (FORBIDDEN and
    nothing answered), or anything else, described."""
    errors = body.get("errors") or []
    if not errors:
        return "allowed"
    data = body.get("data")
    if {e.get("extensions", {}).get("code") for e in errors} == {"FORBIDDEN"} and (
        data is None or data.get(root) is None
    ):
        return "refused"
    return f"unexpected {json.dumps(body)[:300]}"


def _leaks(body: Any, tenant: Tenant) -> list[str]:
    text = json.dumps(body)
    return [marker for marker in tenant.markers if marker in text]


def _root(name: str) -> str:
    return name.partition(".")[2]


def test_the_cases_cover_every_root_field_of_the_schema() -> None:
    graphql_schema = schema._schema
    fields = {f"Query.{name}" for name in graphql_schema.query_type.fields}
    assert graphql_schema.mutation_type is not None
    fields |= {f"Mutation.{name}" for name in graphql_schema.mutation_type.fields}
    assert graphql_schema.subscription_type is None

    assert set(CASES) == fields


async def test_no_role_of_a_reaches_or_changes_anything_of_b(world: World) -> None:
    api = world.api
    # Made once, before B is read: A's refused attempts consume nothing.
    aimed = {name: await case.aim(world) for name, case in CASES.items()}
    before = await api.data(SNAPSHOT, w=world.b.workspace, p=world.b.project)
    mismatches = []

    for role in ROLES:
        token = world.a.tokens[role]
        for name, case in CASES.items():
            body = await api.graphql(case.document, token, **aimed[name])
            outcome = _outcome(body, _root(name))
            expected = "allowed" if case.least == ANY else "refused"
            if outcome != expected:
                mismatches.append(f"A {role} {name}: {outcome}, expected {expected}")
            if leaked := _leaks(body, world.b):
                mismatches.append(f"A {role} {name}: the answer shows B's {leaked}")

    after = await api.data(SNAPSHOT, w=world.b.workspace, p=world.b.project)
    for what, was in before.items():
        if after[what] != was:
            mismatches.append(f"B's {what} changed: {was} -> {after[what]}")
    assert mismatches == []


async def test_each_role_of_b_may_use_exactly_the_fields_of_its_row(world: World) -> None:
    api = world.api
    mismatches = []

    for name, case in CASES.items():
        for who in (*ROLES, ADMIN):
            token = api.token if who == ADMIN else world.b.tokens[who]
            aim = case.admin_aim if who == ADMIN and case.admin_aim else case.aim
            body = await api.graphql(case.document, token, **await aim(world))
            outcome = _outcome(body, _root(name))
            expected = "allowed" if _allowed(case.least, who) else "refused"
            if outcome != expected:
                mismatches.append(f"B {who} {name}: {outcome}, expected {expected}")
            elif case.listed and who != ADMIN and world.b.workspace not in json.dumps(body):
                mismatches.append(f"B {who} {name}: B is not listed in {body}")
            if who != ADMIN and (leaked := _leaks(body, world.a)):
                mismatches.append(f"B {who} {name}: the answer shows A's {leaked}")

    assert mismatches == []


async def test_a_s_workspace_with_b_s_project_reaches_nothing_of_b(world: World) -> None:
    """Membership fields check the project only when it is in the workspace named: one of
    B's named with A's workspace is no project at all, to A's owner as to anyone."""
    api, owner = world.api, world.a.tokens["OWNER"]
    project = "workspaceId: $w, projectId: $p"
    documents = {
        "members": f"query($w: ID!, $p: ID) {{ members({project}) {{ member }} }}",
        "addMember": f"""mutation($w: ID!, $p: ID) {{ addMember({project},
          member: "user:mixed@example.com", role: OWNER) {{ __typename }} }}""",
        "setRole": f"""mutation($w: ID!, $p: ID) {{ setRole({project},
          member: "{world.b.member}", role: OWNER) {{ __typename }} }}""",
        "removeMember": f"""mutation($w: ID!, $p: ID) {{ removeMember({project},
          member: "{world.b.member}") {{ __typename }} }}""",
    }
    before = await api.data(SNAPSHOT, w=world.b.workspace, p=world.b.project)
    mismatches = []

    for root, document in documents.items():
        body = await api.graphql(document, owner, w=world.a.workspace, p=world.b.project)
        codes = {e["extensions"]["code"] for e in body.get("errors") or []}
        answer = (body.get("data") or {}).get(root)
        if not (
            codes <= {"FORBIDDEN", "NOT_FOUND"} and answer in (None, {"__typename": "NotFound"})
        ):
            mismatches.append(f"{root}: {body}")

    assert await api.data(SNAPSHOT, w=world.b.workspace, p=world.b.project) == before
    assert mismatches == []


# Nested fields: every field reachable from B's objects, generated from the schema.

NESTED = {
    "run": ("id", "run"),
    "task": ("id", "task"),
    "workflow": ("id", "workflow"),
    "workflows": ("projectId", "project"),
    "runs": ("projectId", "project"),
    "tasks": ("projectId", "project"),
    "secrets": ("projectId", "project"),
    "projects": ("workspaceId", "workspace"),
    "members": ("workspaceId", "workspace"),
}
DEPTH = 6


def selection(named: GraphQLNamedType, depth: int, types: set[str]) -> str:
    """Every field of `named` (of each member, for a union) down to `depth` levels of
    objects, skipping fields with required arguments; adds each object type to `types`."""
    if isinstance(named, GraphQLUnionType):
        members = (f"... on {m.name} {{ {selection(m, depth, types)} }}" for m in named.types)
        return " ".join(["__typename", *members])
    assert isinstance(named, GraphQLObjectType), named
    types.add(named.name)
    parts = ["__typename"]
    for name, graphql_field in named.fields.items():
        if any(is_required_argument(a) for a in graphql_field.args.values()):
            continue
        inner = get_named_type(graphql_field.type)
        if not isinstance(inner, GraphQLObjectType | GraphQLUnionType):
            parts.append(name)
        elif depth > 1:
            parts.append(f"{name} {{ {selection(inner, depth - 1, types)} }}")
    return " ".join(parts)


def nested_query(root: str, types: set[str], depth: int = DEPTH) -> str:
    root_field = schema._schema.query_type.fields[root]
    argument = NESTED[root][0]
    selected = selection(get_named_type(root_field.type), depth, types)
    variable = root_field.args[argument].type
    return f"query($v: {variable}) {{ {root}({argument}: $v) {{ {selected} }} }}"


def _typenames(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = {value["__typename"]} if "__typename" in value else set()
        return found.union(*(_typenames(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_typenames(v) for v in value))
    return set()


async def test_every_nested_field_answers_b_s_viewer_and_shows_a_s_owner_nothing(
    world: World,
) -> None:
    api = world.api
    selected: set[str] = set()
    reachable: set[str] = set()
    answered: set[str] = set()
    mismatches = []

    for root, (_, name) in NESTED.items():
        query = nested_query(root, selected)
        nested_query(root, reachable, depth=50)
        target = getattr(world.b, name)
        seen = await api.graphql(query, world.b.tokens["VIEWER"], v=target)
        if seen.get("errors") or not seen["data"][root]:
            mismatches.append(f"B VIEWER {root}: {json.dumps(seen)[:400]}")
        answered |= _typenames(seen.get("data"))
        refused = await api.graphql(query, world.a.tokens["OWNER"], v=target)
        if _outcome(refused, root) != "refused" and refused != {"data": {root: []}}:
            mismatches.append(f"A OWNER {root}: {json.dumps(refused)[:400]}")
        if leaked := _leaks(refused, world.b):
            mismatches.append(f"A OWNER {root}: the answer shows B's {leaked}")

    assert selected == reachable, "DEPTH stops short of some types"
    # Each type was answered with data, not only asked for (B's world has one of each).
    assert answered >= selected, selected - answered
    assert mismatches == []


async def test_a_workflow_name_of_b_is_neither_confirmed_nor_denied_to_a(world: World) -> None:
    """workflow(projectId, name) is checked on its result: asked about a project it may
    not read, a principal must be refused whether or not the name exists there."""
    query = "query($p: ID!, $n: String!) { workflow(projectId: $p, name: $n) { id } }"
    owner = world.a.tokens["OWNER"]

    present = await world.api.graphql(query, owner, p=world.b.project, n="bravo-flow")
    absent = await world.api.graphql(query, owner, p=world.b.project, n="no-such-flow")

    assert _outcome(present, "workflow") == "refused"
    assert _outcome(absent, "workflow") == "refused", absent
