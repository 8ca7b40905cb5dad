"""The typed context every resolver receives, with per-request data loaders."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from connectors_sdk import NodeRegistry
from control_plane.db.models import NodeRun, WorkflowVersion
from control_plane.dispatch import Dispatcher
from control_plane.runs.service import node_runs_of
from control_plane.settings import ControlPlaneSettings
from control_plane.workflows.service import versions_of


@dataclass
class Services:
    """What the app builds once at start and hands to every request."""

    settings: ControlPlaneSettings
    sessions: async_sessionmaker[AsyncSession]
    registry: NodeRegistry
    dispatcher: Dispatcher


@dataclass
class Context:
    services: Services
    node_runs: DataLoader[str, list[NodeRun]] = field(init=False)
    versions: DataLoader[str, list[WorkflowVersion]] = field(init=False)

    def __post_init__(self) -> None:
        self.node_runs = DataLoader(load_fn=self._load_node_runs)
        self.versions = DataLoader(load_fn=self._load_versions)

    async def _load_versions(self, workflow_ids: Sequence[str]) -> list[list[WorkflowVersion]]:
        async with self.services.sessions() as session:
            found = await versions_of(session, workflow_ids)
        return [found[workflow_id] for workflow_id in workflow_ids]

    async def _load_node_runs(self, run_ids: Sequence[str]) -> list[list[NodeRun]]:
        async with self.services.sessions() as session:
            found = await node_runs_of(session, run_ids)
        return [found[run_id] for run_id in run_ids]


Info = StrawberryInfo[Context, None]
