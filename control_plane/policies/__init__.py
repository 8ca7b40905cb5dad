"""Rego policies checked before publishing a workflow, starting a run or deciding a task."""

from control_plane.policies.document import (
    PolicyAction,
    PolicyInput,
    PolicyPrincipal,
    PolicyProject,
    PolicyTask,
    PolicyWorkflow,
    PolicyWorkspace,
)
from control_plane.policies.engine import (
    Denial,
    PolicyDecision,
    PolicyEngine,
    PolicyModule,
    load_policy_files,
)

__all__ = [
    "Denial",
    "PolicyAction",
    "PolicyDecision",
    "PolicyEngine",
    "PolicyInput",
    "PolicyModule",
    "PolicyPrincipal",
    "PolicyProject",
    "PolicyTask",
    "PolicyWorkflow",
    "PolicyWorkspace",
    "load_policy_files",
]
