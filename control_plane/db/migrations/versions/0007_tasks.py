"""human tasks: the tasks of `core.approval` nodes, their assignees and their decisions

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-16
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")
# data_plane.protocol's MAX_TASK_ID_LENGTH and MAX_PRINCIPAL_LENGTH when this was written.
_TASK_ID = 400
_PRINCIPAL = 200


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(_TASK_ID), primary_key=True),
        sa.Column("run_id", sa.String(36), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("project_id", sa.String(36), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("node_id", sa.String(100), nullable=False),
        sa.Column("iteration", sa.String(200), nullable=False),
        sa.Column("title", sa.String(200), nullable=True),
        sa.Column("form", _JSON, nullable=False),
        sa.Column("required", sa.Integer(), nullable=False),
        sa.Column("escalations", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_tasks_project_opened", "tasks", ["project_id", "opened_at"])
    op.create_index("ix_tasks_run", "tasks", ["run_id"])
    op.create_table(
        "task_assignees",
        sa.Column("task_id", sa.String(_TASK_ID), sa.ForeignKey("tasks.id"), primary_key=True),
        sa.Column("assignee", sa.String(_PRINCIPAL), primary_key=True),
    )
    op.create_index("ix_task_assignees_assignee", "task_assignees", ["assignee", "task_id"])
    op.create_table(
        "task_decisions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.String(_TASK_ID), sa.ForeignKey("tasks.id"), nullable=False),
        sa.Column("decided_by", sa.String(_PRINCIPAL), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", _JSON, nullable=False),
        sa.Column(
            "control_request_id",
            sa.String(36),
            sa.ForeignKey("control_requests.id"),
            nullable=False,
        ),
        sa.UniqueConstraint("task_id", "decided_by", name="uq_task_decisions_principal"),
    )


def downgrade() -> None:
    op.drop_table("task_decisions")
    op.drop_index("ix_task_assignees_assignee", "task_assignees")
    op.drop_table("task_assignees")
    op.drop_index("ix_tasks_run", "tasks")
    op.drop_index("ix_tasks_project_opened", "tasks")
    op.drop_table("tasks")
