"""The ledger's tables. Changes here need a migration in ``migrations/versions`` (a test compares the two)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()
# Versions are 64-bit: a back-sync's is Fluent's `updatedOn` in epoch milliseconds. The attempt id too (a busy
# project's history passes 2^31 rows); on SQLite it stays INTEGER, the 64-bit rowid, which autoincrements.
Version = BigInteger
AttemptId = BigInteger().with_variant(Integer(), "sqlite")
# Not `alembic_version`: the ledger may live in the same PostgreSQL database as Dagster's own tables.
VERSION_TABLE = "ctfluent_ledger_version"

# One row per (entity type, commercetools id, Fluent target): what was last decided for it and why.
sync_state = Table(
    "ctfluent_sync_state",
    metadata,
    Column("entity_type", String(32), primary_key=True),
    Column("source_id", String(64), primary_key=True),
    # Which Fluent record of the source this row is: the retailer (customers), the catalogue (categories,
    # standard products), catalogue and SKU (variants); "" when none could be chosen.
    Column("target_key", String(255), primary_key=True),
    Column("status", String(16), nullable=False),
    # A masked pointer to the source record (e.g. "j***@e***.com") for failure lists; never personal data.
    Column("label", String(320)),
    Column("source_version", Version),
    Column("fluent_ref", String(512)),
    Column("fluent_id", String(64)),
    Column("payload_hash", String(64)),
    # Fingerprint of what the mapping depended on (settings, code): with an equal commercetools version, an equal
    # fingerprint means the record would map to the same thing, so a no-change run need not even read it.
    Column("config_hash", String(64)),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("run_id", String(64)),
    Column("partition_key", String(64)),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", DateTime(timezone=True)),
    # "host:pid" of the process holding the lease: a claimer on the same host sees at once that it died.
    Column("lease_holder", String(128)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # JSON list of the Fluent records a "waiting" record references and that are not in Fluent yet.
    Column("waiting_for", Text),
    Index("ix_ctfluent_sync_state_status", "entity_type", "status"),
    Index("ix_ctfluent_sync_state_ref", "entity_type", "fluent_ref"),
    Index("ix_ctfluent_sync_state_lease", "lease_owner"),
    # A reference by target key (an order's variant product, `<catalogue>:<sku>`) that is not in Fluent: why not.
    Index("ix_ctfluent_sync_state_target", "entity_type", "target_key"),
)

# One row per Fluent event received by the webhook service (ctfluent_dagster/webhooks): the dedupe key (Fluent
# retries a delivery that timed out) and what a sensor needs to act on it. Only identifiers and the status: never
# the event's attributes, nor anything personal.
fluent_events = Table(
    "ctfluent_fluent_events",
    metadata,
    Column("event_id", String(128), primary_key=True),
    Column("name", String(255)),
    Column("entity_type", String(64), nullable=False),
    Column("entity_subtype", String(64)),
    Column("entity_id", String(64)),
    Column("entity_ref", String(512)),
    Column("entity_status", String(64), nullable=False),
    Column("retailer_id", String(64)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    # Set once a consumer (the Dagster sensor) has acted on the event; NULL: pending.
    Column("handled_at", DateTime(timezone=True)),
    Index("ix_ctfluent_fluent_events_pending", "handled_at", "received_at"),
    Index("ix_ctfluent_fluent_events_entity", "entity_type", "entity_ref"),
)

# Every push attempt, append-only (the history behind a record's journey; sync_state keeps only the latest): which
# record, version and Fluent target, in which run and partition, what was done and how it ended, with Fluent's or
# commercetools' code and message. `lookup` holds what a user searches by besides the ids and the ref: digests of
# emails (never an email in clear), order numbers. Refs holding an email (usernames) are kept masked. Pruned after
# the retention (settings.history_retention_days).
sync_attempts = Table(
    "ctfluent_sync_attempts",
    metadata,
    Column("id", AttemptId, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("entity_type", String(32), nullable=False),
    Column("source_id", String(64), nullable=False),
    Column("source_version", Version),
    Column("target_key", String(255), nullable=False),
    Column("fluent_ref", String(512)),
    Column("fluent_id", String(64)),
    Column("run_id", String(64)),
    Column("partition_key", String(64)),
    # What the engine did: created, updated, linked, skipped, waiting, failed, deactivated, gone, ...
    Column("operation", String(32), nullable=False),
    Column("outcome", String(16), nullable=False),  # the ledger status it ended in
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("label", String(320)),  # masked pointer, as in sync_state
    Column("payload_digest", String(64)),  # hash of the (masked) payload sent
    Column("lookup", String(255)),
    Index("ix_ctfluent_sync_attempts_source", "source_id", "entity_type"),
    Index("ix_ctfluent_sync_attempts_ref", "fluent_ref"),
    Index("ix_ctfluent_sync_attempts_lookup", "lookup"),
    Index("ix_ctfluent_sync_attempts_run", "run_id"),
    Index("ix_ctfluent_sync_attempts_at", "at"),
)
