"""The typed context every resolver receives: the request's principal, its one
transaction seam, and per-request data loaders."""

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from connectors_sdk import NodeRegistry
from control_plane.access.principal import Principal, Scope
from control_plane.db.models import ControlRequest, WorkflowVersion
from control_plane.db.transaction import Transaction
from control_plane.dispatch import Dispatcher
from control_plane.pagination import ListPage
from control_plane.policies.guard import PolicyGuard
from control_plane.runs.control import requests_of
from control_plane.runs.executions import (
    ExecutionPage,
    NodeSummary,
    executions_of,
    node_summaries_of,
)
from control_plane.runs.launcher import Launcher
from control_plane.settings import ControlPlaneSettings
from control_plane.tasks.service import RecordedDecision, assignees_of, decisions_of
from control_plane.workflows.service import versions_of
from control_plane.workspaces.service import project_workspaces, workspaces_present
from data_plane.protocol import Vault


@dataclass
class Services:
    """What the app builds once at start and hands to every request."""

    settings: ControlPlaneSettings
    sessions: async_sessionmaker[AsyncSession]
    registry: NodeRegistry
    dispatcher: Dispatcher
    launcher: Launcher
    policies: PolicyGuard
    # None without Vault settings: secrets cannot be set then, and none exist to grant.
    vault: Vault | None = None


class ListKey(NamedTuple):
    """A page of the list of one object (a workflow's versions, a run's requests)."""

    id: str
    page: ListPage


class ExecutionPageKey(NamedTuple):
    run_id: str
    node_id: str
    first: int
    after_id: int | None


@dataclass
class Context:
    services: Services
    principal: Principal
    node_summaries: DataLoader[str, list[NodeSummary]] = field(init=False)
    executions: DataLoader[ExecutionPageKey, ExecutionPage] = field(init=False)
    versions: DataLoader[ListKey, Sequence[WorkflowVersion]] = field(init=False)
    control_requests: DataLoader[ListKey, Sequence[ControlRequest]] = field(init=False)
    task_assignees: DataLoader[str, list[str]] = field(init=False)
    task_decisions: DataLoader[str, list[RecordedDecision]] = field(init=False)
    _project_scopes: DataLoader[str, Scope | None] = field(init=False)
    _workspaces: DataLoader[str, bool] = field(init=False)
    _known_scopes: dict[str, Scope] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.node_summaries = DataLoader(load_fn=self._load_node_summaries)
        self.executions = DataLoader(load_fn=self._load_executions)
        self.versions = DataLoader(load_fn=self._load_versions)
        self.control_requests = DataLoader(load_fn=self._load_control_requests)
        self.task_assignees = DataLoader(load_fn=self._load_task_assignees)
        self.task_decisions = DataLoader(load_fn=self._load_task_decisions)
        self._project_scopes = DataLoader(load_fn=self._load_project_scopes)
        self._workspaces = DataLoader(load_fn=self._load_workspaces)

    @property
    def requested_by(self) -> str:
        """Who a request is recorded as made by."""
        return self.principal.id

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """The one transaction of a mutation: committed when the block ends, rolled back
        if it raises; the actions it was given after commit run then."""
        async with self.services.sessions.begin() as session:
            transaction = Transaction(session)
            yield transaction
        await transaction.run_after_commit()

    async def project_scope(self, project_id: str) -> Scope | None:
        """Where the project is; None if there is no such project."""
        return await self._project_scopes.load(project_id)

    def known_scope(self, project_id: str) -> Scope | None:
        """The project's scope if this request resolved it already."""
        return self._known_scopes.get(project_id)

    async def workspace_scope(self, workspace_id: str) -> Scope | None:
        return Scope(workspace_id) if await self._workspaces.load(workspace_id) else None

    async def _load_project_scopes(self, project_ids: Sequence[str]) -> list[Scope | None]:
        async with self.services.sessions() as session:
            found = await project_workspaces(session, project_ids)
        scopes = {p: Scope(w, p) for p, w in found.items()}
        self._known_scopes.update(scopes)
        return [scopes.get(p) for p in project_ids]

    async def _load_workspaces(self, workspace_ids: Sequence[str]) -> list[bool]:
        async with self.services.sessions() as session:
            found = await workspaces_present(session, workspace_ids)
        return [w in found for w in workspace_ids]

    async def _load_versions(self, keys: Sequence[ListKey]) -> list[Sequence[WorkflowVersion]]:
        # One session for the request's pages, each its own indexed query.
        async with self.services.sessions() as session:
            return [await versions_of(session, key.id, key.page) for key in keys]

    async def _load_node_summaries(self, run_ids: Sequence[str]) -> list[list[NodeSummary]]:
        async with self.services.sessions() as session:
            found = await node_summaries_of(session, run_ids)
        return [found[run_id] for run_id in run_ids]

    async def _load_control_requests(
        self, keys: Sequence[ListKey]
    ) -> list[Sequence[ControlRequest]]:
        async with self.services.sessions() as session:
            return [await requests_of(session, key.id, key.page) for key in keys]

    async def _load_task_assignees(self, task_ids: Sequence[str]) -> list[list[str]]:
        async with self.services.sessions() as session:
            found = await assignees_of(session, task_ids)
        return [found[task_id] for task_id in task_ids]

    async def _load_task_decisions(self, task_ids: Sequence[str]) -> list[list[RecordedDecision]]:
        async with self.services.sessions() as session:
            found = await decisions_of(session, task_ids)
        return [found[task_id] for task_id in task_ids]

    async def _load_executions(self, keys: Sequence[ExecutionPageKey]) -> list[ExecutionPage]:
        # One session for the request's pages; each page is its own indexed query, as
        # each has its own cursor and size.
        async with self.services.sessions() as session:
            return [await executions_of(session, *key) for key in keys]


Info = StrawberryInfo[Context, None]
