"""Alembic environment: runs on the connection the ledger hands over (see ``Ledger.migrate``)."""

from __future__ import annotations

from alembic import context

from ctfluent_dagster.ledger.schema import VERSION_TABLE, metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
