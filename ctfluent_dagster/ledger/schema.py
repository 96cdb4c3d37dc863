"""The ledger's tables. Changes here need a migration in ``migrations/versions`` (a test compares the two)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()
# Not `alembic_version`: the ledger may live in the same PostgreSQL database as Dagster's own tables.
VERSION_TABLE = "ctfluent_ledger_version"

# One row per (entity type, commercetools id, Fluent target): what was last decided for it and why.
sync_state = Table(
    "ctfluent_sync_state",
    metadata,
    Column("entity_type", String(32), primary_key=True),
    Column("source_id", String(64), primary_key=True),
    # The Fluent retailer (customers) or catalogue the record was pushed to; "" when none could be chosen.
    Column("target_key", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
    # A masked pointer to the source record (e.g. "j***@e***.com") for failure lists; never personal data.
    Column("label", String(320)),
    Column("source_version", Integer),
    Column("fluent_ref", String(512)),
    Column("fluent_id", String(64)),
    Column("payload_hash", String(64)),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("run_id", String(64)),
    Column("partition_key", String(64)),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_ctfluent_sync_state_status", "entity_type", "status"),
)
