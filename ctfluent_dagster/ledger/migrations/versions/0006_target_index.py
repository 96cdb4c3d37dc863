"""An index on (entity type, target key): finding why a referenced variant product (an order line's SKU) is not in
Fluent, without scanning every variant.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ctfluent_sync_state_target", "ctfluent_sync_state", ["entity_type", "target_key"])


def downgrade() -> None:
    op.drop_index("ix_ctfluent_sync_state_target", table_name="ctfluent_sync_state")
