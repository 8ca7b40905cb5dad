"""governance: users, workspace and project members, roles and expiry of API tokens,
project tags, archived workspaces and projects, policies

Tokens that existed before this revision could do everything; they become instance-admin
tokens so that nothing breaks on upgrade (docs/operations.md says to replace them).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("issuer", sa.String(400), nullable=False),
        sa.Column("subject", sa.String(400), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("last_seen_at", _WHEN, nullable=False),
        sa.UniqueConstraint("issuer", "subject"),
    )
    op.create_index("ix_users_email", "users", ["email"])
    op.create_table(
        "workspace_members",
        sa.Column("workspace_id", sa.String(36), sa.ForeignKey("workspaces.id"), primary_key=True),
        sa.Column("member", sa.String(400), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
    )
    op.create_table(
        "project_members",
        sa.Column("project_id", sa.String(36), sa.ForeignKey("projects.id"), primary_key=True),
        sa.Column("member", sa.String(400), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
    )
    op.create_table(
        "policies",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
    )
    with op.batch_alter_table("workspaces") as table:
        table.add_column(sa.Column("archived_at", _WHEN, nullable=True))
    with op.batch_alter_table("projects") as table:
        table.add_column(sa.Column("tags", _JSON, nullable=False, server_default="[]"))
        table.add_column(sa.Column("archived_at", _WHEN, nullable=True))
    with op.batch_alter_table("api_tokens") as table:
        table.add_column(
            sa.Column("instance_admin", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        table.add_column(
            sa.Column(
                "workspace_id",
                sa.String(36),
                sa.ForeignKey("workspaces.id", name="fk_api_tokens_workspace_id"),
                nullable=True,
            )
        )
        table.add_column(sa.Column("role", sa.String(16), nullable=True))
        table.add_column(sa.Column("created_by", sa.String(200), nullable=True))
        table.add_column(sa.Column("expires_at", _WHEN, nullable=True))
        table.add_column(sa.Column("last_used_at", _WHEN, nullable=True))
        table.add_column(sa.Column("revoked_at", _WHEN, nullable=True))
    op.create_index("ix_api_tokens_workspace_id", "api_tokens", ["workspace_id"])
    op.execute(sa.text("UPDATE api_tokens SET instance_admin = :yes").bindparams(yes=True))


def downgrade() -> None:
    op.drop_index("ix_api_tokens_workspace_id", "api_tokens")
    with op.batch_alter_table("api_tokens") as table:
        for column in (
            "revoked_at",
            "last_used_at",
            "expires_at",
            "created_by",
            "role",
            "workspace_id",
            "instance_admin",
        ):
            table.drop_column(column)
    with op.batch_alter_table("projects") as table:
        table.drop_column("archived_at")
        table.drop_column("tags")
    with op.batch_alter_table("workspaces") as table:
        table.drop_column("archived_at")
    op.drop_table("policies")
    op.drop_table("project_members")
    op.drop_table("workspace_members")
    op.drop_index("ix_users_email", "users")
    op.drop_table("users")
