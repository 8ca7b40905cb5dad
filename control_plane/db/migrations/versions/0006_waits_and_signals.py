"""waits and signals: what a waiting node waits for, and the payload of a control request
(a signal's event or a decision on a human task)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("node_runs") as table:
        table.add_column(sa.Column("wait", _JSON, nullable=True))
    with op.batch_alter_table("control_requests") as table:
        table.add_column(sa.Column("payload", _JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("control_requests") as table:
        table.drop_column("payload")
    with op.batch_alter_table("node_runs") as table:
        table.drop_column("wait")
