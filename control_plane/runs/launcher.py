"""`Launcher`: the one path a run starts by, whatever asks for it (startRun today,
triggers and re-runs later): permission, idempotency, policy, commit, then dispatch."""

from dataclasses import dataclass
from typing import Any

from control_plane.access.principal import Principal, Scope
from control_plane.access.roles import Permission
from control_plane.db.models import Project, Run, WorkflowVersion
from control_plane.db.transaction import Transaction
from control_plane.dispatch import Dispatcher
from control_plane.limits import LimitSettings
from control_plane.policies.guard import PolicyGuard
from control_plane.runs import service
from control_plane.secrets.grants import check_run_secrets
from control_plane.workflows.service import get_workflow
from control_plane.workspaces.service import check_active


@dataclass(frozen=True)
class Launcher:
    dispatcher: Dispatcher
    policies: PolicyGuard
    limits: LimitSettings
    default_pool: str

    async def start(
        self,
        transaction: Transaction,
        principal: Principal,
        workflow_id: str,
        version: int | None = None,
        input: Any = None,
        idempotency_key: str | None = None,
    ) -> Run:
        """Start a run of the workflow as `principal`, in the caller's transaction; it is
        published once that commits (or by the sweep, if NATS is away then).

        Raises:
            NotFoundError: unknown workflow or version.
            ForbiddenError: the principal may not start runs in the workflow's project.
            PolicyDeniedError: a policy refused the start (nothing is stored).
            InvalidInputError: the project is archived, the input or key is refused, or
                the run maps a project secret deleted since its version was published.
        """
        session = transaction.session
        workflow = await get_workflow(session, workflow_id)
        project = await session.get_one(Project, workflow.project_id)
        principal.require(Permission.OPERATE_RUNS, Scope(project.workspace_id, project.id))
        await check_active(session, project, "workflowId", "runs start")
        run, created = await service.start_run(
            session,
            workflow_id,
            version,
            input,
            idempotency_key,
            self.default_pool,
            self.limits,
        )
        if created:
            version_row = await session.get_one(WorkflowVersion, run.version_id)
            called = [
                (await session.get_one(WorkflowVersion, version_id)).definition
                for version_id in (run.subworkflows or {}).values()
            ]
            await check_run_secrets(session, project.id, [version_row.definition, *called])
            await self.policies.check(session, "start", principal, version_row, pool=run.pool)
            run_id = run.id
            transaction.after_commit(lambda: self.dispatcher.dispatch_soon(run_id))
        return run
