"""Waiting records (what they wait for), lease holders (dead-run takeover), lookups by Fluent ref, longer targets,
the mapping's fingerprint (no-change runs that skip unchanged records unread).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ctfluent_sync_state") as batch:
        batch.alter_column("target_key", existing_type=sa.String(64), type_=sa.String(255), existing_nullable=False)
        batch.add_column(sa.Column("lease_holder", sa.String(128)))
        batch.add_column(sa.Column("waiting_for", sa.Text))
        batch.add_column(sa.Column("config_hash", sa.String(64)))
    op.create_index("ix_ctfluent_sync_state_ref", "ctfluent_sync_state", ["entity_type", "fluent_ref"])
    op.create_index("ix_ctfluent_sync_state_lease", "ctfluent_sync_state", ["lease_owner"])


def downgrade() -> None:
    op.drop_index("ix_ctfluent_sync_state_lease", table_name="ctfluent_sync_state")
    op.drop_index("ix_ctfluent_sync_state_ref", table_name="ctfluent_sync_state")
    with op.batch_alter_table("ctfluent_sync_state") as batch:
        batch.drop_column("config_hash")
        batch.drop_column("waiting_for")
        batch.drop_column("lease_holder")
        batch.alter_column("target_key", existing_type=sa.String(255), type_=sa.String(64), existing_nullable=False)
