"""The input document a policy reads as `input` (docs/policies.md documents each field).

Plain dicts, so the engine passes them to Rego as they are. Every key is always present,
with `null` for "not applicable": a policy testing `input.pool == "onprem"` must not
mistake a missing key for a match, and a missing key would make a negative test
(`not input.pool == "onprem"`) succeed where the caller simply forgot the field.
"""

from typing import Literal, TypedDict

PolicyAction = Literal["publish", "start", "decide"]
PrincipalKind = Literal["user", "token"]
ProjectRole = Literal["owner", "editor", "operator", "viewer"]


class PolicyPrincipal(TypedDict):
    id: str
    kind: PrincipalKind
    name: str
    email: str | None
    groups: list[str]
    instance_admin: bool
    # The principal's effective role on the project, or None when it has none there.
    role: ProjectRole | None


class PolicyWorkspace(TypedDict):
    id: str
    name: str


class PolicyProject(TypedDict):
    id: str
    name: str
    tags: list[str]


class PolicyWorkflow(TypedDict):
    id: str
    name: str
    # None while the workflow is being published and has no version yet.
    version: int | None
    # Sorted and without duplicates, so policies and tests compare them as they are.
    node_types: list[str]
    pools: list[str]
    secrets: list[str]


class PolicyTask(TypedDict):
    id: str
    run_id: str
    node_id: str
    title: str


class PolicyInput(TypedDict):
    action: PolicyAction
    principal: PolicyPrincipal
    workspace: PolicyWorkspace
    project: PolicyProject
    workflow: PolicyWorkflow
    # The run's pool when action is "start", None otherwise.
    pool: str | None
    # The task being decided when action is "decide", None otherwise.
    task: PolicyTask | None
