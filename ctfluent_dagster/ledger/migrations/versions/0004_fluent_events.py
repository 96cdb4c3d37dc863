"""Fluent events received by the webhook service (dedupe on the event id, pending until a sensor handles them).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ctfluent_fluent_events",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(255)),
        sa.Column("entity_type", sa.String(64), nullable=False),
        sa.Column("entity_subtype", sa.String(64)),
        sa.Column("entity_id", sa.String(64)),
        sa.Column("entity_ref", sa.String(512)),
        sa.Column("entity_status", sa.String(64), nullable=False),
        sa.Column("retailer_id", sa.String(64)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_ctfluent_fluent_events_pending", "ctfluent_fluent_events", ["handled_at", "received_at"])
    op.create_index("ix_ctfluent_fluent_events_entity", "ctfluent_fluent_events", ["entity_type", "entity_ref"])


def downgrade() -> None:
    op.drop_index("ix_ctfluent_fluent_events_entity", table_name="ctfluent_fluent_events")
    op.drop_index("ix_ctfluent_fluent_events_pending", table_name="ctfluent_fluent_events")
    op.drop_table("ctfluent_fluent_events")
