"""Keep a masked pointer to the source record (e.g. the masked email) for the failures list in the UI.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ctfluent_sync_state") as batch:
        batch.add_column(sa.Column("label", sa.String(320)))


def downgrade() -> None:
    with op.batch_alter_table("ctfluent_sync_state") as batch:
        batch.drop_column("label")
