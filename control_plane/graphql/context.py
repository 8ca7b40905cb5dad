"""The typed context every resolver receives, with per-request data loaders."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from connectors_sdk import NodeRegistry
from control_plane.db.models import ControlRequest, WorkflowVersion
from control_plane.dispatch import Dispatcher
from control_plane.runs.control import requests_of
from control_plane.runs.executions import (
    ExecutionPage,
    NodeSummary,
    executions_of,
    node_summaries_of,
)
from control_plane.settings import ControlPlaneSettings
from control_plane.tasks.service import RecordedDecision, assignees_of, decisions_of
from control_plane.workflows.service import versions_of


@dataclass
class Services:
    """What the app builds once at start and hands to every request."""

    settings: ControlPlaneSettings
    sessions: async_sessionmaker[AsyncSession]
    registry: NodeRegistry
    dispatcher: Dispatcher


class ExecutionPageKey(NamedTuple):
    run_id: str
    node_id: str
    first: int
    after_id: int | None


@dataclass
class Context:
    services: Services
    # The id of the API token the request came with (the only identity auth knows yet).
    api_token_id: str | None = None
    node_summaries: DataLoader[str, list[NodeSummary]] = field(init=False)
    executions: DataLoader[ExecutionPageKey, ExecutionPage] = field(init=False)
    versions: DataLoader[str, list[WorkflowVersion]] = field(init=False)
    control_requests: DataLoader[str, list[ControlRequest]] = field(init=False)
    task_assignees: DataLoader[str, list[str]] = field(init=False)
    task_decisions: DataLoader[str, list[RecordedDecision]] = field(init=False)

    def __post_init__(self) -> None:
        self.node_summaries = DataLoader(load_fn=self._load_node_summaries)
        self.executions = DataLoader(load_fn=self._load_executions)
        self.versions = DataLoader(load_fn=self._load_versions)
        self.control_requests = DataLoader(load_fn=self._load_control_requests)
        self.task_assignees = DataLoader(load_fn=self._load_task_assignees)
        self.task_decisions = DataLoader(load_fn=self._load_task_decisions)

    @property
    def requested_by(self) -> str:
        """Who a request is recorded as made by."""
        return self.api_token_id or "api-token"

    async def _load_versions(self, workflow_ids: Sequence[str]) -> list[list[WorkflowVersion]]:
        async with self.services.sessions() as session:
            found = await versions_of(session, workflow_ids)
        return [found[workflow_id] for workflow_id in workflow_ids]

    async def _load_node_summaries(self, run_ids: Sequence[str]) -> list[list[NodeSummary]]:
        async with self.services.sessions() as session:
            found = await node_summaries_of(session, run_ids)
        return [found[run_id] for run_id in run_ids]

    async def _load_control_requests(self, run_ids: Sequence[str]) -> list[list[ControlRequest]]:
        async with self.services.sessions() as session:
            found = await requests_of(session, run_ids)
        return [found[run_id] for run_id in run_ids]

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
