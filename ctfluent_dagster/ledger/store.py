"""The sync ledger: what was pushed to Fluent for each commercetools record, and what went wrong.

It makes re-runs cheap (an unchanged payload hash sends nothing), keeps runs that race on the same records
apart, and remembers failures until they are re-driven.

Racing runs (a backfill, a sensor run and a re-drive may touch one record at once) are kept apart by *leases*:
before pushing, a run claims its records in one short transaction; a record leased by another live run is
"busy" and waits, and a record whose ledger version is newer than the run's copy is "superseded" and never
pushed (so an old partition never overwrites a newer change). Leases are short and renewed by the holding run's
heartbeat, so a dead run's leases lapse quickly; a lease whose holder is known to be dead (its process is gone on
this host, or the orchestrator says the run ended) is taken over at once.

A record that references another entity's Fluent record (a product its categories) is resolved through the
ledger: :meth:`Ledger.resolve` finds the referenced records that are in Fluent; a record whose references are not
there yet is recorded as "waiting", with what it waits for.

``CTFLUENT_LEDGER_URL`` selects the database: SQLite by default, PostgreSQL in production.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    case,
    create_engine,
    event,
    false,
    func,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from ctfluent_dagster.ledger.schema import VERSION_TABLE, sync_attempts, sync_state
from ctfluent_dagster.privacy import email_digest, id_digest, redact
from ctfluent_dagster.records import Dependency, FluentIdentity, LedgerEntry, LedgerKey, Outcome, Status

log = logging.getLogger(__name__)
ResultT = TypeVar("ResultT")

# Whether a lease owner (a run id) is still running: True/False, or None when it cannot be told.
Liveness = Callable[[str], bool | None]
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_PG_DEADLOCK = "40P01"
_DEADLOCK_RETRIES = 5
_MIGRATION_LOCK_ID = 0x6374666C75656E74  # "ctfluent": serialises concurrent migrations on PostgreSQL
# Alembic's `context`/`op` are module-level proxies: two migrations in one process must not overlap.
_MIGRATION_THREAD_LOCK = threading.Lock()
# Statuses of a record that is not coming to Fluent, and how to say so.
_UNAVAILABLE = {
    "skipped": "skipped ({reason})",
    "deleted": "deleted in commercetools",
    "inactive": "gone from commercetools (unpublished or deleted; inactive in Fluent)",
}
_MIGRATED: set[str] = set()  # URLs brought up to date by this process


@dataclass(frozen=True)
class Claim:
    key: LedgerKey
    version: int


@dataclass(frozen=True)
class Busy:
    """A record another live run holds, and until when its lease runs (unless renewed)."""

    claim: Claim
    owner: str
    until: datetime


@dataclass(frozen=True)
class ClaimResult:
    claimed: list[tuple[Claim, LedgerEntry]]  # leased to us; the entry is the state before this run
    superseded: list[tuple[Claim, LedgerEntry]]  # the ledger holds a newer version, or the record was deleted
    busy: list[Busy]  # leased by another live run
    taken_over: dict[str, int] = field(default_factory=dict)  # dead runs whose leases we took, with counts


@dataclass(frozen=True)
class References:
    resolved: dict[Dependency, FluentIdentity]  # in Fluent
    unavailable: dict[Dependency, str]  # not coming to Fluent, and why


class KnownRecords:
    """The ledger's rows of some commercetools records, as read at one moment (:meth:`Ledger.known`): the columns
    the no-change checks compare; the whole rows of dropped targets are read when asked for (rare)."""

    def __init__(
        self,
        rows: Mapping[str, Sequence[Any]],
        entries: Callable[[Sequence[tuple[str, str]]], list[LedgerEntry]] = lambda keys: [],
    ) -> None:
        """``entries``: the whole rows of these (commercetools id, target key)."""
        self._rows = rows
        self._entries = entries

    def settled(self, versions: Iterable[tuple[str, int]], config_hash: str) -> dict[str, Counter[str]]:
        """Of these (commercetools id, version), the sources with nothing to do: every Fluent record of theirs is
        synced or skipped at this version with this mapping fingerprint (others are only deactivated targets), so
        mapping them again would give the same. Returns their record counts by status."""
        settled: dict[str, Counter[str]] = {}
        for source_id, version in versions:
            live = [r for r in self._rows.get(source_id, ()) if r.status not in ("inactive", "deleted")]
            if live and all(r.status in ("synced", "skipped") and r.source_version == version
                            and r.config_hash == config_hash for r in live):  # fmt: skip
                settled[source_id] = Counter(r.status for r in live)
        return settled

    def unchanged(self, candidates: Iterable[tuple[LedgerKey, int, str]]) -> set[LedgerKey]:
        """Of these (key, commercetools version, payload hash), the ones the ledger holds as synced with the same
        version and hash: nothing to do for them, and no need to claim or record them."""
        synced = {(r.source_id, r.target_key): (r.source_version, r.payload_hash)
                  for rows in self._rows.values() for r in rows if r.status == "synced"}  # fmt: skip
        return {key for key, version, payload_hash in candidates
                if synced.get((key.source_id, key.target_key)) == (version, payload_hash)}  # fmt: skip

    def siblings(self, keys: Collection[LedgerKey]) -> list[LedgerEntry]:
        """The other Fluent records of the sources of ``keys``: targets that are not among them."""
        wanted = {(key.source_id, key.target_key) for key in keys}
        sources = sorted({key.source_id for key in keys})
        others = [(r.source_id, r.target_key) for source_id in sources for r in self._rows.get(source_id, ())
                  if (r.source_id, r.target_key) not in wanted]  # fmt: skip
        return self._entries(others) if others else []


# Up to this many records named by one identifier, their history is read by lists of their ids (see attempts()).
HISTORY_RECORDS_LISTED = 500


@dataclass(frozen=True)
class FailureHistory:
    first_failed: datetime
    failed_attempts: int
    fluent_ref: str | None  # masked


@dataclass(frozen=True)
class Attempt:
    """One row of the attempt history."""

    at: datetime
    entity_type: str
    source_id: str
    source_version: int | None
    target_key: str
    fluent_ref: str | None
    fluent_id: str | None
    run_id: str | None
    partition_key: str | None
    operation: str
    outcome: str
    error_code: str | None
    error_message: str | None
    label: str | None


# The code of a forgotten record's row (ctfluent-forget): status "deleted", so that every sync leaves it alone (no
# commercetools record has its id, a digest), and the reason says why.
FORGOTTEN_CODE = "FORGOTTEN"


@dataclass(frozen=True)
class Forgetting:
    """What forgetting records did in the ledger, or would do (a dry run)."""

    forgotten: list[LedgerEntry]  # the rows as they were; each is now a row of digests (see Ledger.forget)
    held: list[LedgerEntry]  # rows a live run holds: left as they are, to forget once it has ended
    attempts: int  # attempt history rows deleted


def current_holder() -> str:
    """This process, as a lease holder."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _holder_is_dead(holder: str | None) -> bool:
    """True only when the holder is a process of this host that no longer exists."""
    host, _, pid = (holder or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def as_utc(moment: datetime | None) -> datetime | None:
    """A time read from the database, in UTC (SQLite hands back naive UTC, PostgreSQL its session's zone)."""
    if moment is None:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        key=LedgerKey(row.entity_type, row.source_id, row.target_key),
        status=row.status,
        label=row.label,
        source_version=row.source_version,
        fluent_ref=row.fluent_ref,
        fluent_id=row.fluent_id,
        payload_hash=row.payload_hash,
        error_code=row.error_code,
        error_message=row.error_message,
        attempts=row.attempts,
        run_id=row.run_id,
        partition_key=row.partition_key,
        updated_at=as_utc(row.updated_at) or datetime.now(UTC),
        waiting_for=tuple(Dependency.from_json(d) for d in json.loads(row.waiting_for or "[]")),
    )


class Ledger:
    def __init__(self, url: str) -> None:
        """``url``: a SQLAlchemy URL (the caller's choice: ``CTFLUENT_LEDGER_URL``, else
        ``settings.default_ledger_url()``)."""
        self.url = url
        # A pooled SQLite connection may serve another thread later (one at a time; the pool sees to that).
        connect_args = {"check_same_thread": False} if make_url(self.url).get_backend_name() == "sqlite" else {}
        self.engine: Engine = create_engine(self.url, pool_pre_ping=True, connect_args=connect_args)
        if self.engine.dialect.name == "sqlite":
            _configure_sqlite(self.engine)

    def __repr__(self) -> str:
        return f"Ledger({make_url(self.url).render_as_string(hide_password=True)})"

    # -- schema ------------------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the latest migration (safe to call from several processes at once)."""
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with _MIGRATION_THREAD_LOCK:
            if self.url in _MIGRATED:
                return
            with self.engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            _MIGRATED.add(self.url)

    def unmigrated(self) -> str | None:
        """Why the database is not at the latest migration, or None when it is: what a service that runs no DDL
        (the webhook receiver) checks before it starts."""
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        head = ScriptDirectory.from_config(config).get_current_head()
        with self.engine.connect() as connection:
            current = MigrationContext.configure(
                connection, opts={"version_table": VERSION_TABLE}
            ).get_current_revision()
        if current == head:
            return None
        return f"the ledger database is at migration {current or 'none'}, not {head}: run ctfluent-migrate"

    # -- claims and outcomes -----------------------------------------------------------------------

    def claim(
        self, claims: Sequence[Claim], owner: str, lease_seconds: float, is_alive: Liveness | None = None
    ) -> ClaimResult:
        """Lease these records to ``owner`` unless another live run holds them or the ledger knows a newer version.

        A lease is taken over at once when its holder's process is gone from this host, or ``is_alive`` says its
        run has ended; otherwise it is respected until it expires.
        """
        if not claims:
            return ClaimResult([], [], [])
        entity_types = {c.key.entity_type for c in claims}
        if len(entity_types) != 1:
            raise ValueError("claim one entity type at a time")
        (entity_type,) = entity_types
        return _retrying_deadlocks("claim", partial(self._claim_once, entity_type, claims, owner, lease_seconds,
                                                    is_alive))  # fmt: skip

    def _claim_once(
        self, entity_type: str, claims: Sequence[Claim], owner: str, lease_seconds: float, is_alive: Liveness | None
    ) -> ClaimResult:
        """One upsert leases every record that is free (or ours, or its lease lapsed) and not superseded, inserting
        the new ones, and returns their rows; only the records it left alone (busy or superseded: rare) are read
        again, in the same transaction, to tell which and to take over leases of runs that ended."""
        now = datetime.now(UTC)
        lease = {"lease_owner": owner, "lease_expires_at": now + timedelta(seconds=lease_seconds),
                 "lease_holder": current_holder()}  # fmt: skip
        ordered = sorted(claims, key=lambda c: (c.key.source_id, c.key.target_key))  # one lock order for every run
        with self.engine.begin() as conn:
            upsert = _insert(conn)(sync_state)
            statement = upsert.on_conflict_do_update(
                index_elements=list(sync_state.primary_key.columns),
                set_={name: upsert.excluded[name] for name in lease},
                where=and_(
                    or_(sync_state.c.lease_owner.is_(None), sync_state.c.lease_owner == owner,
                        sync_state.c.lease_expires_at <= now),
                    sync_state.c.status != "deleted",
                    func.coalesce(sync_state.c.source_version, 0) <= upsert.excluded.source_version,
                ),
            ).returning(*sync_state.c)  # fmt: skip
            # A new row carries the version being pushed: an older copy of the record claimed later is superseded.
            values = [{"entity_type": entity_type, "source_id": c.key.source_id, "target_key": c.key.target_key,
                       "status": "pending", "attempts": 0, "source_version": c.version, "updated_at": now, **lease}
                      for c in ordered]  # fmt: skip
            rows = {(r.source_id, r.target_key): r for r in conn.execute(statement, values)}
            left = [c for c in ordered if (c.key.source_id, c.key.target_key) not in rows]
            superseded, busy, taken_over = self._held_elsewhere(conn, entity_type, left, owner, lease, now, is_alive,
                                                                 rows)  # fmt: skip
        claimed = [(c, _entry(rows[c.key.source_id, c.key.target_key])) for c in claims
                   if (c.key.source_id, c.key.target_key) in rows]  # fmt: skip
        return ClaimResult(claimed, superseded, busy, taken_over)

    @staticmethod
    def _held_elsewhere(
        conn: Connection,
        entity_type: str,
        claims: Sequence[Claim],
        owner: str,
        lease: Mapping[str, Any],
        now: datetime,
        is_alive: Liveness | None,
        rows: dict[tuple[str, str], Any],
    ) -> tuple[list[tuple[Claim, LedgerEntry]], list[Busy], dict[str, int]]:
        """The claims the upsert left alone: superseded, busy (another live run holds them) or held by a run that
        has ended, whose leases are taken over here (their rows are added to ``rows``)."""
        if not claims:
            return [], [], {}
        keys = [(c.key.source_id, c.key.target_key) for c in claims]
        query = (
            select(sync_state)
            .where(sync_state.c.entity_type == entity_type,
                   tuple_(sync_state.c.source_id, sync_state.c.target_key).in_(keys))
            .order_by(sync_state.c.source_id, sync_state.c.target_key)
            .with_for_update()
        )  # fmt: skip
        current = {(r.source_id, r.target_key): r for r in conn.execute(query)}
        dead: dict[str, bool] = {}
        superseded: list[tuple[Claim, LedgerEntry]] = []
        busy: list[Busy] = []
        take: list[Claim] = []
        taken_over: dict[str, int] = defaultdict(int)
        for claim in claims:
            row = current[claim.key.source_id, claim.key.target_key]
            if row.status == "deleted" or (row.source_version or 0) > claim.version:
                superseded.append((claim, _entry(row)))
                continue
            expiry = as_utc(row.lease_expires_at)
            if row.lease_owner not in (None, owner) and expiry is not None and expiry > now:
                if row.lease_owner not in dead:
                    dead[row.lease_owner] = _holder_is_dead(row.lease_holder) or (
                        is_alive is not None and is_alive(row.lease_owner) is False
                    )
                if not dead[row.lease_owner]:
                    busy.append(Busy(claim, row.lease_owner, expiry))
                    continue
                taken_over[row.lease_owner] += 1
            take.append(claim)  # its holder ended, or it was let go since the upsert
        if take:
            taken = conn.execute(
                sync_state.update()
                .where(sync_state.c.entity_type == entity_type,
                       tuple_(sync_state.c.source_id, sync_state.c.target_key).in_(
                           [(c.key.source_id, c.key.target_key) for c in take]))
                .values(**lease)
                .returning(*sync_state.c)
            )  # fmt: skip
            rows.update({(r.source_id, r.target_key): r for r in taken})
        return superseded, busy, dict(taken_over)

    def renew(self, owner: str, lease_seconds: float, holder: str | None = None) -> int:
        """Extend the leases ``owner`` holds (the run's heartbeat), those of process ``holder`` only when given (each
        process of a push renews its own); returns how many. Rows another transaction has locked are skipped, not
        waited for: they are being recorded, which ends their lease (a heartbeat that waited could deadlock with
        that record, locking the same rows in another order). Two statements by index: the leased rows (a run holds
        a few chunks), then those rows by primary key."""
        held = (
            select(sync_state.c.entity_type, sync_state.c.source_id, sync_state.c.target_key)
            .where(sync_state.c.lease_owner == owner, *([sync_state.c.lease_holder == holder] if holder else []))
            .order_by(sync_state.c.entity_type, sync_state.c.source_id, sync_state.c.target_key)
            .with_for_update(skip_locked=True)
        )
        with self.engine.begin() as conn:
            keys = [tuple(row) for row in conn.execute(held)]
            if not keys:
                return 0
            result = conn.execute(
                sync_state.update()
                .where(tuple_(sync_state.c.entity_type, sync_state.c.source_id, sync_state.c.target_key).in_(keys))
                .values(lease_expires_at=datetime.now(UTC) + timedelta(seconds=lease_seconds))
            )
        return int(result.rowcount)

    def record(self, outcomes: Sequence[Outcome], owner: str, run_id: str, retire: Iterable[LedgerKey] = ()) -> int:
        """Write outcomes of leased records and release them; delete ``retire`` (rows of targets
        the source no longer maps to, that need nothing in Fluent).

        Returns how many outcomes were written: fewer than given means a lease had expired and another run took
        the record over (its outcome wins). Two statements: the attempt history, and one upsert of the outcomes
        (an outcome is written only where ``owner`` still holds the lease).
        """
        return _retrying_deadlocks("record", partial(self._record_once, outcomes, owner, run_id, list(retire)))

    def _record_once(self, outcomes: Sequence[Outcome], owner: str, run_id: str, retire: Iterable[LedgerKey]) -> int:
        now = datetime.now(UTC)
        written = 0
        retired = sorted((key.source_id, key.target_key, key.entity_type) for key in retire)
        with self.engine.begin() as conn:
            if outcomes:
                conn.execute(
                    sync_attempts.insert(),
                    [
                        {"at": now, "entity_type": o.key.entity_type, "source_id": o.key.source_id,
                         "source_version": o.version, "target_key": o.key.target_key,
                         # masked: a username holds an email
                         "fluent_ref": redact(ref) if (ref := o.fluent_ref or o.attempted_ref) else None,
                         "fluent_id": o.fluent_id, "run_id": run_id, "partition_key": o.partition_key,
                         "operation": o.operation or o.status, "outcome": o.status, "error_code": o.error_code,
                         "error_message": o.error_message, "label": o.label, "payload_digest": o.payload_hash,
                         "lookup": o.lookup}
                        for o in outcomes
                    ],
                )  # fmt: skip
                upsert = _insert(conn)(sync_state)
                new = upsert.excluded
                statement = upsert.on_conflict_do_update(
                    index_elements=list(sync_state.primary_key.columns),
                    set_={
                        **{name: new[name] for name in _OUTCOME_COLUMNS},
                        "fluent_ref": func.coalesce(new.fluent_ref, sync_state.c.fluent_ref),
                        "fluent_id": func.coalesce(new.fluent_id, sync_state.c.fluent_id),
                        "payload_hash": case((new.status == "synced", new.payload_hash),
                                             else_=sync_state.c.payload_hash),
                        "attempts": case((new.status == "failed", sync_state.c.attempts + 1), else_=0),
                        "lease_owner": None, "lease_expires_at": None, "lease_holder": None,
                    },
                    where=sync_state.c.lease_owner == owner,
                ).returning(sync_state.c.source_id)  # fmt: skip
                rows = conn.execute(
                    statement,
                    [
                        {
                            "entity_type": o.key.entity_type,
                            "source_id": o.key.source_id,
                            "target_key": o.key.target_key,
                            "status": o.status,
                            "label": o.label,
                            "source_version": o.version,
                            "fluent_ref": o.fluent_ref,
                            "fluent_id": o.fluent_id,
                            "payload_hash": o.payload_hash if o.status == "synced" else None,
                            "error_code": o.error_code,
                            "error_message": o.error_message,
                            "attempts": 1 if o.status == "failed" else 0,
                            "run_id": run_id,
                            "partition_key": o.partition_key,
                            "waiting_for": json.dumps([d.to_json() for d in o.waiting_for]) if o.waiting_for else None,
                            "config_hash": o.config_hash,
                            "updated_at": now,
                        }
                        for o in sorted(outcomes, key=lambda o: (o.key.source_id, o.key.target_key))
                    ],
                )
                written = len(rows.all())
            if retired:
                conn.execute(
                    sync_state.delete().where(
                        tuple_(sync_state.c.source_id, sync_state.c.target_key, sync_state.c.entity_type).in_(retired),
                        sync_state.c.status.in_(["pending", "skipped", "waiting", "failed", "inactive"]),
                        (sync_state.c.lease_owner.is_(None)) | (sync_state.c.lease_expires_at < now),
                    )
                )
        return written

    def release(self, keys: Iterable[LedgerKey], owner: str) -> None:
        """Give up leases without an outcome (a run stopping early)."""
        with self.engine.begin() as conn:
            for key in keys:
                conn.execute(
                    sync_state.update()
                    .where(
                        sync_state.c.entity_type == key.entity_type,
                        sync_state.c.source_id == key.source_id,
                        sync_state.c.target_key == key.target_key,
                        sync_state.c.lease_owner == owner,
                    )
                    .values(lease_owner=None, lease_expires_at=None, lease_holder=None)
                )

    # -- the cheap no-change path and references ---------------------------------------------------

    def known(self, entity_type: str, source_ids: Collection[str]) -> KnownRecords:
        """The ledger's rows of these commercetools records, in one query: what a chunk's no-change checks and its
        dropped-target check compare with."""
        if not source_ids:
            return KnownRecords({})
        query = select(*_KNOWN_COLUMNS).where(
            sync_state.c.entity_type == entity_type, sync_state.c.source_id.in_(sorted(set(source_ids)))
        )
        rows: dict[str, list[Any]] = defaultdict(list)
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                rows[row.source_id].append(row)
        return KnownRecords(rows, partial(self._entries_by_key, entity_type))

    def _entries_by_key(self, entity_type: str, keys: Sequence[tuple[str, str]]) -> list[LedgerEntry]:
        query = (
            select(sync_state)
            .where(sync_state.c.entity_type == entity_type,
                   tuple_(sync_state.c.source_id, sync_state.c.target_key).in_(sorted(keys)))
            .order_by(sync_state.c.source_id, sync_state.c.target_key)
        )  # fmt: skip
        with self.engine.connect() as conn:
            return [_entry(row) for row in conn.execute(query)]

    def resolve(self, dependencies: Iterable[Dependency]) -> dict[Dependency, FluentIdentity]:
        """The referenced records that are in Fluent, by the ledger (created, and not deleted since)."""
        return self.references(dependencies).resolved

    def references(self, dependencies: Iterable[Dependency]) -> References:
        """Where these referenced records stand, in one query per entity type: in Fluent (created, and not deleted
        since), or not coming to Fluent, with why: skipped (the mapping's reason), or gone from commercetools
        (deleted, or inactive in Fluent). Found by commercetools id, by Fluent ref, or by the target key of a
        reference by ref (a variant product by ``<catalogue>:<sku>``)."""
        wanted = set(dependencies)
        if not wanted:  # most chunks reference nothing: no connection taken
            return References({}, {})
        by_type: dict[str, list[Dependency]] = defaultdict(list)
        for dependency in wanted:
            by_type[dependency.entity_type].append(dependency)
        columns = (sync_state.c.entity_type, sync_state.c.source_id, sync_state.c.target_key, sync_state.c.status,
                   sync_state.c.fluent_ref, sync_state.c.fluent_id, sync_state.c.error_message)  # fmt: skip
        rows: list[Any] = []
        with self.engine.connect() as conn:
            # By key (commercetools id, Fluent ref, target key) only; the status is filtered here, so that the
            # database looks the keys up instead of scanning an index of every record with a ref or a status.
            for entity_type, group in by_type.items():
                ids = sorted({d.source_id for d in group if d.source_id is not None})
                refs = sorted({d.ref for d in group if d.source_id is None and d.ref is not None})
                targets = sorted({d.target_key for d in group if d.source_id is None and d.target_key is not None})
                matches = [column.in_(values) for column, values in ((sync_state.c.source_id, ids),
                           (sync_state.c.fluent_ref, refs), (sync_state.c.target_key, targets)) if values]  # fmt: skip
                if matches:
                    rows += conn.execute(select(*columns).where(sync_state.c.entity_type == entity_type,
                                                                or_(*matches))).all()  # fmt: skip
        return References(_resolved(wanted, rows), _unavailable(wanted, rows))

    def sources_by_fluent_ref(self, entity_type: str, refs: Sequence[str]) -> dict[str, str]:
        """The commercetools id of each of these Fluent refs the ledger knows (records this project created)."""
        found: dict[str, str] = {}
        wanted = sorted(set(refs))
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                query = select(sync_state.c.fluent_ref, sync_state.c.source_id).where(
                    sync_state.c.entity_type == entity_type, sync_state.c.fluent_ref.in_(chunk)
                )
                found.update({str(ref): str(source) for ref, source in conn.execute(query)})
        return found

    def entries(
        self,
        entity_type: str,
        *,
        status: Status | Sequence[Status] | None = None,
        source_ids: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[LedgerEntry]:
        query = select(sync_state).where(sync_state.c.entity_type == entity_type)
        if status is not None:
            query = query.where(sync_state.c.status.in_([status] if isinstance(status, str) else list(status)))
        if source_ids is not None:
            query = query.where(sync_state.c.source_id.in_(list(source_ids)))
        query = query.order_by(sync_state.c.updated_at.desc(), sync_state.c.source_id).limit(limit)
        with self.engine.connect() as conn:
            return [_entry(row) for row in conn.execute(query)]

    def source_ids(
        self, entity_type: str, *, status: Sequence[Status] | None = None, exclude_status: Sequence[Status] = ()
    ) -> set[str]:
        """The commercetools ids the ledger knows (for reconciliation and re-drive)."""
        query = select(sync_state.c.source_id).where(sync_state.c.entity_type == entity_type).distinct()
        if status is not None:
            query = query.where(sync_state.c.status.in_(list(status)))
        if exclude_status:
            query = query.where(sync_state.c.status.not_in(list(exclude_status)))
        with self.engine.connect() as conn:
            return {str(source_id) for (source_id,) in conn.execute(query)}

    def failed_in_run(self, entity_type: str, run_id: str) -> list[LedgerEntry]:
        """The records a run left failed (their latest outcome is that run's failure)."""
        query = select(sync_state).where(sync_state.c.entity_type == entity_type, sync_state.c.status == "failed",
                                         sync_state.c.run_id == run_id)  # fmt: skip
        with self.engine.connect() as conn:
            return [_entry(row) for row in conn.execute(query)]

    def due_failures(
        self, entity_type: str, max_attempts: int, backoff_seconds: float, limit: int = 2000
    ) -> list[LedgerEntry]:
        """Failed records to retry automatically now: fewer than ``max_attempts`` failures so far, and the last
        one at least ``backoff_seconds * 2**(attempts - 1)`` ago."""
        if max_attempts <= 0:
            return []
        now = datetime.now(UTC)
        # One condition per failure count (a handful): the backoff doubles with each, so it cannot be one column
        # comparison; the filter stays in SQL, which the retry sensor runs at every tick.
        due_now = or_(*(
            and_(sync_state.c.attempts == attempts,
                 sync_state.c.updated_at <= now - timedelta(seconds=backoff_seconds * 2 ** max(attempts - 1, 0)))
            for attempts in range(max_attempts)
        ))  # fmt: skip
        query = (
            select(sync_state)
            .where(sync_state.c.entity_type == entity_type, sync_state.c.status == "failed", due_now)
            .order_by(sync_state.c.updated_at, sync_state.c.source_id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_entry(row) for row in conn.execute(query)]

    # -- history -----------------------------------------------------------------------------------

    def attempts(self, identifier: str, limit: int = 500) -> list[Attempt]:
        """Every attempt of the records ``identifier`` names, newest first: a commercetools id, a Fluent ref (a
        username, an order number, a SKU), an email (found by its digest) or another lookup value (an order
        number names its order's financial transactions too)."""
        keys = {identifier.strip()}
        if "@" in identifier:
            keys.add(email_digest(identifier))
        matches = or_(
            sync_attempts.c.source_id.in_(keys), sync_attempts.c.fluent_ref.in_(keys), sync_attempts.c.lookup.in_(keys)
        )
        # Two statements: the matched records, then their attempts by the record index, the records as lists of
        # single-column values, which make both databases search that index whatever their statistics. (As one
        # statement, the records as a subquery, PostgreSQL before its first ANALYZE walked the whole time index
        # backwards for the ORDER BY and LIMIT: seconds among a million attempts.) An identifier naming very many
        # records (a placeholder email on many orders) keeps the subquery: lists that long would be slow to bind
        # and, with one term per record, too deep for SQLite.
        records = select(sync_attempts.c.entity_type, sync_attempts.c.source_id).where(matches)
        with self.engine.connect() as conn:
            found = [tuple(row) for row in conn.execute(records.distinct().limit(HISTORY_RECORDS_LISTED + 1))]
            if not found:
                return []
            pair = tuple_(sync_attempts.c.entity_type, sync_attempts.c.source_id)
            scope = (
                pair.in_(records)
                if len(found) > HISTORY_RECORDS_LISTED
                else and_(sync_attempts.c.source_id.in_(sorted({source_id for _, source_id in found})),
                          sync_attempts.c.entity_type.in_(sorted({entity_type for entity_type, _ in found})),
                          pair.in_(found))
            )  # fmt: skip
            query = (
                select(sync_attempts)
                .where(scope)
                .order_by(sync_attempts.c.at.desc(), sync_attempts.c.id.desc())
                .limit(limit)
            )
            return [
                Attempt(as_utc(row.at) or row.at, row.entity_type, row.source_id, row.source_version, row.target_key,
                        row.fluent_ref, row.fluent_id, row.run_id, row.partition_key, row.operation, row.outcome,
                        row.error_code, row.error_message, row.label)
                for row in conn.execute(query)
            ]  # fmt: skip

    def records_named(self, identifier: str, limit: int = 100) -> set[tuple[str, str]]:
        """The records (entity type, commercetools id) whose current state has this commercetools id, Fluent ref or
        label (an order's number, a variant's SKU, a category's key: labels are masked pointers, never an email):
        what the history alone does not name (a record that never reached Fluent, or whose attempts were pruned)."""
        if not identifier:
            return set()
        conditions = [sync_state.c.source_id == identifier, sync_state.c.fluent_ref == identifier]
        if "*" not in identifier and "@" not in identifier:  # not a masked label, which many records share
            conditions.append(sync_state.c.label == identifier)
        query = select(sync_state.c.entity_type, sync_state.c.source_id).where(or_(*conditions)).distinct().limit(limit)
        with self.engine.connect() as conn:
            return {(str(entity_type), str(source_id)) for entity_type, source_id in conn.execute(query)}

    def failure_history(self, entity_type: str, keys: Sequence[LedgerKey]) -> dict[LedgerKey, FailureHistory]:
        """Per failed record: when it first failed, how many of its attempts failed, and the Fluent ref they wrote
        (masked)."""
        if not keys:
            return {}
        ids = sorted({key.source_id for key in keys})
        query = (
            select(sync_attempts.c.source_id, sync_attempts.c.target_key, func.min(sync_attempts.c.at), func.count(),
                   func.max(sync_attempts.c.fluent_ref))
            .where(sync_attempts.c.entity_type == entity_type, sync_attempts.c.source_id.in_(ids),
                   sync_attempts.c.outcome == "failed")
            .group_by(sync_attempts.c.source_id, sync_attempts.c.target_key)
        )  # fmt: skip
        wanted = set(keys)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        found = {}
        for source_id, target_key, first, count, ref in rows:
            key = LedgerKey(entity_type, source_id, target_key)
            if key in wanted:
                found[key] = FailureHistory(as_utc(first) or first, int(count), ref)
        return found

    def prune_attempts(self, before: datetime) -> int:
        """Forget the attempts older than ``before`` (the retention); how many."""
        with self.engine.begin() as conn:
            return int(conn.execute(sync_attempts.delete().where(sync_attempts.c.at < before)).rowcount or 0)

    def reason_counts(self, entity_type: str) -> dict[tuple[str, str], int]:
        """How many records of the type are in each (status, code): the overview's breakdown by reason."""
        query = (
            select(sync_state.c.status, sync_state.c.error_code, func.count())
            .where(sync_state.c.entity_type == entity_type)
            .group_by(sync_state.c.status, sync_state.c.error_code)
        )
        with self.engine.connect() as conn:
            return {(str(status), str(code or "")): int(count) for status, code, count in conn.execute(query)}

    def oldest_failure(self, entity_type: str) -> LedgerEntry | None:
        """The failed record that has been failed longest (by its last attempt)."""
        query = (
            select(sync_state)
            .where(sync_state.c.entity_type == entity_type, sync_state.c.status == "failed")
            .order_by(sync_state.c.updated_at)
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _entry(row)

    def status_counts(self, entity_type: str) -> dict[str, int]:
        query = (
            select(sync_state.c.status, func.count())
            .where(sync_state.c.entity_type == entity_type)
            .group_by(sync_state.c.status)
        )
        with self.engine.connect() as conn:
            return {str(status): int(count) for status, count in conn.execute(query)}

    # -- forgetting a person (ctfluent-forget) -----------------------------------------------------

    def entries_by_ref_ending(self, entity_type: str, endings: Collection[str]) -> list[LedgerEntry]:
        """The records whose Fluent ref ends with one of these, whatever its case (a customer's username is
        ``<retailer>_<email>``, the email's case kept when so configured). A scan of the type's rows: for erasing a
        person, not for a sync."""
        if not endings:
            return []
        lowered = func.lower(sync_state.c.fluent_ref)
        query = select(sync_state).where(
            sync_state.c.entity_type == entity_type,
            or_(*(lowered.endswith(ending.lower(), autoescape=True) for ending in sorted(endings))),
        )
        with self.engine.connect() as conn:
            return [_entry(row) for row in conn.execute(query)]

    def sources_by_lookup(self, lookups: Collection[str]) -> set[tuple[str, str]]:
        """The records (entity type, commercetools id) whose attempts carry one of these lookup values."""
        if not lookups:
            return set()
        query = select(sync_attempts.c.entity_type, sync_attempts.c.source_id).where(
            sync_attempts.c.lookup.in_(sorted(lookups))
        )
        with self.engine.connect() as conn:
            return {(str(entity_type), str(source_id)) for entity_type, source_id in conn.execute(query.distinct())}

    def forgotten(self, entity_type: str, source_ids: Collection[str], refs: Collection[str]) -> list[LedgerEntry]:
        """The rows of records forgotten already: by their commercetools ids (whose digests they hold) or by the
        refs :meth:`forget` was given for them."""
        named = or_(sync_state.c.source_id.in_(sorted(id_digest(i) for i in source_ids)),
                    sync_state.c.fluent_ref.in_(sorted(refs)))  # fmt: skip
        query = select(sync_state).where(
            sync_state.c.entity_type == entity_type, sync_state.c.error_code == FORGOTTEN_CODE, named
        )
        with self.engine.connect() as conn:
            return [_entry(row) for row in conn.execute(query)]

    def forget(
        self, refs: Mapping[LedgerKey, str | None], lookups: Collection[str] = (), *, dry_run: bool = False
    ) -> Forgetting:
        """Forget these records: each row keeps only that it was forgotten, and when: the digest of its commercetools
        id as its id, ``refs[key]`` as its Fluent ref (a digest of what its ref named), its target and Fluent id,
        status ``deleted`` (no sync touches it again) with code ``FORGOTTEN``. Their attempts are deleted, and every
        attempt carrying one of ``lookups`` (email digests). A row a live run holds is left as it is (``held``).

        A row forgotten earlier under the same key (a record synced again since) is replaced."""
        now = datetime.now(UTC)
        by_type: dict[str, set[str]] = defaultdict(set)
        for key in refs:
            by_type[key.entity_type].add(key.source_id)
        with self.engine.connect() if dry_run else self.engine.begin() as conn:
            rows = [
                row
                for entity_type, ids in sorted(by_type.items())
                for row in conn.execute(
                    select(sync_state)
                    .where(sync_state.c.entity_type == entity_type, sync_state.c.source_id.in_(sorted(ids)))
                    .order_by(sync_state.c.source_id, sync_state.c.target_key)
                    .with_for_update()
                )
                if LedgerKey(row.entity_type, row.source_id, row.target_key) in refs
            ]
            held = [row for row in rows if row.lease_owner and (as_utc(row.lease_expires_at) or now) > now]
            free = [row for row in rows if row not in held]
            sources = sorted({(row.entity_type, row.source_id) for row in free})
            history = or_(
                tuple_(sync_attempts.c.entity_type, sync_attempts.c.source_id).in_(sources) if sources else false(),
                sync_attempts.c.lookup.in_(sorted(lookups)),
            )
            if dry_run:
                attempts = int(conn.execute(select(func.count()).where(history)).scalar_one())
            else:
                for row in free:
                    key = LedgerKey(row.entity_type, row.source_id, row.target_key)
                    self._tombstone(conn, key, refs[key], now)
                attempts = int(conn.execute(sync_attempts.delete().where(history)).rowcount or 0)
        return Forgetting([_entry(row) for row in free], [_entry(row) for row in held], attempts)

    @staticmethod
    def _tombstone(conn: Connection, key: LedgerKey, ref: str | None, now: datetime) -> None:
        """Turn a record's row into a forgotten record's (replacing one forgotten earlier under its key)."""
        tombstone_id = id_digest(key.source_id)
        target = (sync_state.c.entity_type == key.entity_type, sync_state.c.target_key == key.target_key)
        conn.execute(sync_state.delete().where(*target, sync_state.c.source_id == tombstone_id))
        conn.execute(
            sync_state.update()
            .where(*target, sync_state.c.source_id == key.source_id)
            .values(
                source_id=tombstone_id, status="deleted", label=None, source_version=None, fluent_ref=ref,
                payload_hash=None, config_hash=None, error_code=FORGOTTEN_CODE,
                error_message="forgotten (ctfluent-forget): personal data erased", attempts=0, run_id=None,
                partition_key=None, lease_owner=None, lease_expires_at=None, lease_holder=None, waiting_for=None,
                updated_at=now,
            )
        )  # fmt: skip


# What the no-change checks compare (KnownRecords).
_KNOWN_COLUMNS = (sync_state.c.source_id, sync_state.c.target_key, sync_state.c.status, sync_state.c.source_version,
                  sync_state.c.config_hash, sync_state.c.payload_hash)  # fmt: skip
# What an outcome overwrites as it is (the identity, hash and attempts are merged with what the row holds).
_OUTCOME_COLUMNS = ("status", "label", "source_version", "error_code", "error_message", "run_id", "partition_key",
                    "waiting_for", "config_hash", "updated_at")  # fmt: skip


def _retrying_deadlocks(what: str, transaction: Callable[[], ResultT]) -> ResultT:
    """Run ``transaction`` again when PostgreSQL picked it as a deadlock victim (it was rolled back as a whole): racing
    claims and records lock rows in one key order, but may still meet a concurrent insert's locks."""
    for attempt in range(_DEADLOCK_RETRIES):
        try:
            return transaction()
        except OperationalError as exc:
            if getattr(exc.orig, "pgcode", None) != _PG_DEADLOCK or attempt == _DEADLOCK_RETRIES - 1:
                raise
            log.info("ledger %s chosen as a deadlock victim; retrying", what)
    raise AssertionError("unreachable")


def _insert(conn: Connection) -> Callable[[Any], Any]:
    """The dialect's INSERT, which has ON CONFLICT (PostgreSQL and SQLite alike)."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _resolved(wanted: Collection[Dependency], rows: Iterable[Any]) -> dict[Dependency, FluentIdentity]:
    in_fluent = [row for row in rows if row.fluent_ref is not None and row.status != "deleted"]
    found: dict[Dependency, FluentIdentity] = {}
    for row in sorted(in_fluent, key=lambda r: (r.entity_type, r.source_id, r.target_key)):
        record = FluentIdentity(row.fluent_ref, row.fluent_id)
        for candidate in (
            Dependency(row.entity_type, source_id=row.source_id),
            Dependency(row.entity_type, source_id=row.source_id, target_key=row.target_key),
            Dependency(row.entity_type, ref=row.fluent_ref),
            Dependency(row.entity_type, ref=row.fluent_ref, target_key=row.target_key),
        ):
            if candidate in wanted:
                found.setdefault(candidate, record)
    return found


def _unavailable(wanted: Collection[Dependency], rows: Iterable[Any]) -> dict[Dependency, str]:
    # Not coming to Fluent; but a record skipped now and created before is still there: referencing it is fine.
    stopped = [row for row in rows if row.status in _UNAVAILABLE
               and not (row.status == "skipped" and row.fluent_ref is not None)]  # fmt: skip
    by_source = {(row.entity_type, row.source_id): row for row in stopped}
    by_target = {(row.entity_type, row.target_key): row for row in stopped}
    found: dict[Dependency, str] = {}
    for dependency in wanted:
        if dependency.source_id is not None:
            row = by_source.get((dependency.entity_type, dependency.source_id))
        elif dependency.target_key is not None:
            row = by_target.get((dependency.entity_type, dependency.target_key))
        else:
            continue
        if row is not None:
            found[dependency] = _UNAVAILABLE[row.status].format(reason=row.error_message or "no reason")
    return found


def _configure_sqlite(engine: Engine) -> None:
    """WAL + busy timeout, and BEGIN IMMEDIATE so concurrent writers queue instead of failing on lock upgrade."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's events below own transaction control
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
