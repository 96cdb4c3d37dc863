"""Every push attempt, append-only: the history behind a record's journey.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLE = "ctfluent_sync_attempts"
INDEXES = {
    "ix_ctfluent_sync_attempts_source": ["source_id", "entity_type"],
    "ix_ctfluent_sync_attempts_ref": ["fluent_ref"],
    "ix_ctfluent_sync_attempts_lookup": ["lookup"],
    "ix_ctfluent_sync_attempts_run": ["run_id"],
    "ix_ctfluent_sync_attempts_at": ["at"],
}


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entity_type", sa.String(32), nullable=False),
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("source_version", sa.Integer),
        sa.Column("target_key", sa.String(255), nullable=False),
        sa.Column("fluent_ref", sa.String(512)),
        sa.Column("fluent_id", sa.String(64)),
        sa.Column("run_id", sa.String(64)),
        sa.Column("partition_key", sa.String(64)),
        sa.Column("operation", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(64)),
        sa.Column("error_message", sa.Text),
        sa.Column("label", sa.String(320)),
        sa.Column("payload_digest", sa.String(64)),
        sa.Column("lookup", sa.String(255)),
    )
    for name, columns in INDEXES.items():
        op.create_index(name, TABLE, columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name=TABLE)
    op.drop_table(TABLE)
