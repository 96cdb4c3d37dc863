"""Versions and the attempt id as 64-bit integers: a back-sync's version is Fluent's ``updatedOn`` in epoch
milliseconds (past 2^31 since 1970-01-25), which PostgreSQL refused in a 32-bit column; the attempt history's id
grows past 2^31 in a busy project's lifetime. (SQLite stores any integer in any integer column; its attempt id stays
``INTEGER PRIMARY KEY``, the rowid, which is 64-bit there.)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ctfluent_sync_state") as batch:
        batch.alter_column("source_version", existing_type=sa.Integer, type_=sa.BigInteger)
    with op.batch_alter_table("ctfluent_sync_attempts") as batch:
        batch.alter_column("source_version", existing_type=sa.Integer, type_=sa.BigInteger)
        if op.get_context().dialect.name != "sqlite":
            batch.alter_column("id", existing_type=sa.Integer, type_=sa.BigInteger, existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("ctfluent_sync_attempts") as batch:
        if op.get_context().dialect.name != "sqlite":
            batch.alter_column("id", existing_type=sa.BigInteger, type_=sa.Integer, existing_nullable=False)
        batch.alter_column("source_version", existing_type=sa.BigInteger, type_=sa.Integer)
    with op.batch_alter_table("ctfluent_sync_state") as batch:
        batch.alter_column("source_version", existing_type=sa.BigInteger, type_=sa.Integer)
