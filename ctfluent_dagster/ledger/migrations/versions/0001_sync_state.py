"""Create the sync state table.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ctfluent_sync_state",
        sa.Column("entity_type", sa.String(32), primary_key=True),
        sa.Column("source_id", sa.String(64), primary_key=True),
        sa.Column("target_key", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source_version", sa.Integer),
        sa.Column("fluent_ref", sa.String(512)),
        sa.Column("fluent_id", sa.String(64)),
        sa.Column("payload_hash", sa.String(64)),
        sa.Column("error_code", sa.String(64)),
        sa.Column("error_message", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("run_id", sa.String(64)),
        sa.Column("partition_key", sa.String(64)),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ctfluent_sync_state_status", "ctfluent_sync_state", ["entity_type", "status"])


def downgrade() -> None:
    op.drop_index("ix_ctfluent_sync_state_status", table_name="ctfluent_sync_state")
    op.drop_table("ctfluent_sync_state")
