"""node runs are executions: a node id and an iteration path

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

A node inside a map, a loop or a sub-workflow runs once per iteration; each execution is a
row keyed by (run, node, iteration), "" being the top-level one, which is what every
existing row becomes. Event ids now carry the iteration path too, so they get longer.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0001 left the unique key of node_runs unnamed. PostgreSQL named it itself; on SQLite it
# has no name, and batch mode gives the reflected constraint this one so it can be dropped.
_NAMING = {"uq": "uq_%(table_name)s_%(column_0_N_name)s"}
_OLD_KEY_ON_SQLITE = "uq_node_runs_run_id_node_id"


def upgrade() -> None:
    old_key = _unique_key_name("node_runs", ["run_id", "node_id"]) or _OLD_KEY_ON_SQLITE
    with op.batch_alter_table("node_runs", naming_convention=_NAMING) as batch:
        batch.add_column(
            sa.Column("iteration", sa.String(length=200), server_default="", nullable=False)
        )
        batch.drop_constraint(old_key, type_="unique")
        batch.create_unique_constraint("uq_node_runs_execution", ["run_id", "node_id", "iteration"])
        batch.create_index("ix_node_runs_node", ["run_id", "node_id", "id"], unique=False)
    with op.batch_alter_table("run_events") as batch:
        batch.alter_column(
            "event_id",
            existing_type=sa.String(length=300),
            type_=sa.String(length=500),
            existing_nullable=False,
        )


def downgrade() -> None:
    # The old schema holds one row per node and shorter event ids: iterations are lost, and
    # forgetting an event id only means a redelivered event is applied again (harmlessly:
    # statuses never move backwards).
    op.execute(sa.text("DELETE FROM node_runs WHERE iteration <> ''"))
    op.execute(sa.text("DELETE FROM run_events WHERE length(event_id) > 300"))
    with op.batch_alter_table("run_events") as batch:
        batch.alter_column(
            "event_id",
            existing_type=sa.String(length=500),
            type_=sa.String(length=300),
            existing_nullable=False,
        )
    with op.batch_alter_table("node_runs") as batch:
        batch.drop_index("ix_node_runs_node")
        batch.drop_constraint("uq_node_runs_execution", type_="unique")
        batch.create_unique_constraint("uq_node_runs_run_id_node_id", ["run_id", "node_id"])
        batch.drop_column("iteration")


def _unique_key_name(table: str, columns: list[str]) -> str | None:
    for key in sa.inspect(op.get_bind()).get_unique_constraints(table):
        if key["column_names"] == columns:
            return key["name"]
    return None
