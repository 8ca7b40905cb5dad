"""`PolicyGuard`: asks the policies before a publish, a start or a decision commits.

The policies are those of the files named in the settings, compiled at start, and those
set through the API, recompiled when the registry says they changed (so every control
plane replica follows a change at its next check).
"""

import asyncio
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors_sdk import WorkflowDefinition
from control_plane.access.principal import Principal, Scope
from control_plane.db.models import (
    Policy,
    Project,
    Run,
    Task,
    Workflow,
    WorkflowVersion,
    Workspace,
)
from control_plane.errors import PolicyDeniedError
from control_plane.policies.document import PolicyAction, PolicyInput, PolicyTask, PolicyWorkflow
from control_plane.policies.engine import PolicyEngine, PolicyModule

Revision = tuple[int, datetime | None]


class PolicyGuard:
    def __init__(self, files: Sequence[PolicyModule]) -> None:
        self.files = tuple(files)
        self._engine = PolicyEngine.compile(self.files)
        self._revision: Revision = (0, None)
        self._lock = asyncio.Lock()

    async def engine(self, session: AsyncSession) -> PolicyEngine:
        """The engine of the files and of the policies stored now."""
        revision = await _revision(session)
        if revision != self._revision:
            async with self._lock:
                if revision != self._revision:
                    self._engine = PolicyEngine.compile([*self.files, *await stored(session)])
                    self._revision = revision
        return self._engine

    async def check(
        self,
        session: AsyncSession,
        action: PolicyAction,
        principal: Principal,
        version: WorkflowVersion,
        pool: str | None = None,
        task: Task | None = None,
    ) -> None:
        """Raise PolicyDeniedError, naming each policy and why, unless all allow."""
        engine = await self.engine(session)
        if not engine.policies:
            return
        workflow = await session.get_one(Workflow, version.workflow_id)
        project = await session.get_one(Project, workflow.project_id)
        workspace = await session.get_one(Workspace, project.workspace_id)
        role = principal.role_in(Scope(workspace.id, project.id))
        document: PolicyInput = {
            "action": action,
            "principal": {
                "id": principal.id,
                "kind": principal.kind,
                "name": principal.name,
                "email": principal.email,
                "groups": sorted(principal.groups),
                "instance_admin": principal.instance_admin,
                "role": role.value if role is not None else None,
            },
            "workspace": {"id": workspace.id, "name": workspace.name},
            "project": {"id": project.id, "name": project.name, "tags": list(project.tags)},
            "workflow": _workflow(workflow, version),
            "pool": pool,
            "task": _task(task),
        }
        decision = engine.evaluate(document)
        if not decision.allowed:
            raise PolicyDeniedError(decision.refusal())

    async def check_decision(self, session: AsyncSession, principal: Principal, task: Task) -> None:
        run = await session.get_one(Run, task.run_id)
        version = await session.get_one(WorkflowVersion, run.version_id)
        await self.check(session, "decide", principal, version, task=task)


async def stored(session: AsyncSession) -> list[PolicyModule]:
    rows = await session.scalars(select(Policy).order_by(Policy.name))
    return [PolicyModule(row.name, row.source) for row in rows]


async def _revision(session: AsyncSession) -> Revision:
    count, latest = (await session.execute(select(func.count(), func.max(Policy.updated_at)))).one()
    return int(count), latest


def _workflow(workflow: Workflow, version: WorkflowVersion) -> PolicyWorkflow:
    nodes = WorkflowDefinition.model_validate(version.definition).all_nodes()
    return {
        "id": workflow.id,
        "name": workflow.name,
        "version": version.version,
        "node_types": sorted({node.type for node in nodes}),
        "pools": sorted({node.pool for node in nodes if node.pool is not None}),
        "secrets": sorted({name for node in nodes for name in node.secret_map.values()}),
    }


def _task(task: Task | None) -> PolicyTask | None:
    if task is None:
        return None
    return {
        "id": task.id,
        "run_id": task.run_id,
        "node_id": task.node_id,
        "title": task.title or "",
    }
