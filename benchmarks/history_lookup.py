"""Benchmark: looking up one record's attempt history (``Ledger.attempts``) among a million attempts, on SQLite and on
PostgreSQL.

    .venv/bin/python -m benchmarks.history_lookup                   # 1,000,000 attempts, 200 lookups of each kind
    .venv/bin/python -m benchmarks.history_lookup --rows 100000 --lookups 50 --databases sqlite

A fresh ledger (``Ledger.migrate()``: the product's tables and indexes) is filled with attempt rows shaped like the
engine's (``Ledger.record``), bulk-inserted with SQLAlchemy core in batches: customers (username ``<retailer>_<email>``
as ref, masked as ``Ledger.record`` keeps it; the email's digest as lookup; some in two retailers), their orders and
guest orders (order number as ref, the shopper's email digest as lookup), the orders' payments (financial
transactions, found by the order number), products' variants (SKU as ref; a skipped variant has its SKU as lookup) and
categories; each record 1-5 attempts (failed, waiting, then created, updated, ...) over 30 days of runs. Failed
attempts carry the ref they were writing, as the engine writes them.

Then ``Ledger.attempts(x)`` is timed for random targets of each kind: a commercetools id (of any record), an email in
mixed case (its customer and the orders by that email), an order number (the order and its transactions), a SKU (the
variant's product) and an unknown identifier (an unknown id or email, alternately); every answer is checked to hold
the expected record. PostgreSQL runs on a temporary database ``ctfluent_bench_<random>``, dropped at the end.

Each database is measured as filled, then after ``ANALYZE`` (the product never runs it on SQLite; on PostgreSQL
autovacuum would, when it is on). A kind whose slowest lookup is over the aim (100 ms), or every kind with
``--plans``, gets the plans of the statements ``attempts()`` issued for its slowest target (EXPLAIN QUERY PLAN on
SQLite, EXPLAIN ANALYZE on PostgreSQL); over the aim, that target is also timed 20 times again, and the load average
printed, to tell a slow query from a busy machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from ctfluent_dagster.ledger.schema import sync_attempts
from ctfluent_dagster.ledger.store import Ledger
from ctfluent_dagster.privacy import email_digest, mask_email, redact

AIM_MS = 100.0
POSTGRES_ADMIN_URL = os.environ.get(
    "CTFLUENT_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
KINDS = ("commercetools id", "email (mixed case)", "order number", "SKU", "unknown identifier")
CATALOGUE = "PC:MASTER"
DAYS = 30
START = datetime(2026, 11, 1, tzinfo=UTC)
FIRST_NAMES = ("anna", "ben", "chloe", "david", "emma", "felix", "grace", "hugo", "ines", "jonas", "Karl", "Lea")
DOMAINS = ("example.com", "Mail.example.org", "shop.example.net", "example.de", "posteo.example")
ERRORS = (
    ("FLUENT_400", "Fluent: Bad Request: attributes[2].value must not be blank"),
    ("FLUENT_409", "Fluent: Conflict: the record was changed by another request"),
    ("FLUENT_500", "Fluent: Internal Server Error"),
    ("TIMEOUT", "Fluent did not answer within 30 s"),
)


# -- the data ----------------------------------------------------------------------------------------------------


@dataclass
class Targets:
    """What the lookups pick from, collected while generating (a sample of each kind, to bound memory)."""

    ids: list[tuple[str, str]] = field(default_factory=list)  # (commercetools id, entity type)
    emails: list[tuple[str, str]] = field(default_factory=list)  # (email as in commercetools, customer id)
    # (order number, order id, payment ids whose transactions name the order)
    orders: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    skus: list[tuple[str, str]] = field(default_factory=list)  # (SKU, product id)


@dataclass
class Fill:
    rows: int = 0
    records: Counter[str] = field(default_factory=Counter)
    attempts: Counter[str] = field(default_factory=Counter)
    generating_seconds: float = 0.0


class Generator:
    """Attempt rows as the engine writes them, record by record, in batches; the same for the same seed."""

    def __init__(self, total: int, seed: int, sample: int) -> None:
        self.total = total
        self.rng = random.Random(seed)
        self.sample_rate = min(1.0, sample / max(total, 1) * 4)
        self.targets = Targets()
        self.fill = Fill()
        self.rows: list[dict[str, Any]] = []
        self.runs = [(f"{uuid.UUID(int=self.rng.getrandbits(128), version=4)}", day) for day in range(DAYS)
                     for _ in range(40)]  # fmt: skip
        self.partitions = [(START + timedelta(days=day)).strftime("%Y-%m-%d") for day in range(DAYS)]
        self.counter = 0

    def batches(self, size: int) -> Iterator[list[dict[str, Any]]]:
        started = time.perf_counter()
        while self.fill.rows < self.total:
            self._block()
            if len(self.rows) >= size:
                batch, self.rows = self.rows[:size], self.rows[size:]
                self.fill.generating_seconds += time.perf_counter() - started
                yield batch
                started = time.perf_counter()
        self.fill.generating_seconds += time.perf_counter() - started
        if self.rows:
            batch, self.rows = self.rows, []
            yield batch

    # Records come in blocks, as they hang together: a customer with orders and their payments, a guest order, a
    # product's variants, a category.
    def _block(self) -> None:
        draw = self.rng.random()
        if draw < 0.75:
            email = self._email()
            customer_id = self._uuid()
            retailers = ("1", "2") if self.rng.random() < 0.1 else ("1",)
            for retailer in retailers:
                # Ledger.record keeps a username (it holds the email) masked: redact("1_jo@x.com") = "1***@x***.com".
                self._record("customer", customer_id, retailer, redact(f"{retailer}_{email.lower()}"),
                             email_digest(email), mask_email(email))  # fmt: skip
            if self._sampled():
                self.targets.emails.append((email, customer_id))
            for _ in range(self.rng.choice((0, 0, 1, 1, 1, 2, 2, 3, 5))):
                self._order(email)
        elif draw < 0.80:
            self._order(self._email())  # a guest order
        elif draw < 0.995:
            product_id = self._uuid()
            for variant in range(self.rng.randint(1, 5)):
                sku = f"SKU-{self.counter:07d}-{variant}"
                skipped = self.rng.random() < 0.03
                # The engine keys a variant by catalogue and SKU; a skipped variant is found by its SKU (lookup).
                found = self._record("variant_product", product_id, f"{CATALOGUE}:{sku}", sku,
                                     sku if skipped else None, sku, final="skipped" if skipped else None)  # fmt: skip
                if (found or skipped) and self._sampled():
                    self.targets.skus.append((sku, product_id))
        else:
            key = f"cat-{self.counter:06d}"
            self._record("category", self._uuid(), CATALOGUE, key, None, key)
        self.counter += 1

    def _order(self, email: str) -> None:
        order_id, number = self._uuid(), f"ORD-{self.counter:08d}-{self.rng.randint(0, 99):02d}"
        # An order only skipped or waiting has no ref: found by its number only through its transactions.
        found = self._record("order", order_id, "", number, email_digest(email), number)
        payments: list[str] = []
        for _ in range(self.rng.choice((0, 1, 1, 1, 1, 1))):  # payments, each 1-2 transactions (records)
            payment_id = self._uuid()
            payments.append(payment_id)
            for _ in range(self.rng.choice((1, 1, 1, 2))):
                transaction_id = self._uuid()
                label = f"{number}: Charge {self.rng.randint(5, 500)}.00 EUR"
                self._record("financial_transaction", payment_id, transaction_id, transaction_id, number, label)
        if found and self._sampled():
            self.targets.orders.append((number, order_id, tuple(payments)))

    def _record(
        self,
        entity_type: str,
        source_id: str,
        target_key: str,
        ref: str,
        lookup: str | None,
        label: str,
        final: str | None = None,
    ) -> bool:
        """Appends the record's attempts; whether one of them reached Fluent or failed (so the ref is recorded)."""
        rng = self.rng
        count = rng.choices((1, 2, 3, 4, 5), (62, 20, 10, 5, 3))[0]
        final = final or rng.choices(("synced", "skipped", "failed", "waiting"), (90, 4, 4, 2))[0]
        at = START + timedelta(seconds=rng.uniform(0, (DAYS - 2) * 86400))
        version, fluent_id, in_fluent = rng.randint(1, 3), str(rng.randint(10_000, 99_999_999)), False
        ref_recorded = False
        for attempt in range(count):
            outcome = final if attempt == count - 1 else rng.choices(("failed", "waiting", "synced"), (5, 2, 3))[0]
            error_code = error_message = None
            if outcome == "synced":
                operation = "updated" if in_fluent else "created"
                in_fluent = True
            elif outcome == "failed":
                operation = "failed"
                error_code, error_message = rng.choice(ERRORS)
            elif outcome == "waiting":
                operation, error_code = "waiting", "WAITING"
                error_message = "waits for category cat-000123 (not in Fluent yet)"
            else:
                operation, error_code, error_message = "skipped", "SKIPPED", "no price in the store's currency"
            run_id, day = self.runs[min(int((at - START).total_seconds() // 86400), DAYS - 1) * 40 + rng.randrange(40)]
            self.rows.append({
                "at": at, "entity_type": entity_type, "source_id": source_id, "source_version": version,
                "target_key": target_key, "fluent_ref": ref if outcome in ("synced", "failed") else None,
                "fluent_id": fluent_id if outcome == "synced" else None, "run_id": run_id,
                "partition_key": self.partitions[day], "operation": operation,
                "outcome": outcome, "error_code": error_code, "error_message": error_message, "label": label,
                "payload_digest": f"{rng.getrandbits(256):064x}", "lookup": lookup,
            })  # fmt: skip
            ref_recorded = ref_recorded or outcome in ("synced", "failed")
            self.fill.rows += 1
            self.fill.attempts[operation] += 1
            at += timedelta(seconds=rng.uniform(60, 2 * 86400 / count))
            version += rng.choice((0, 0, 1))
        self.fill.records[entity_type] += 1
        if self._sampled():
            self.targets.ids.append((source_id, entity_type))
        return ref_recorded

    def _email(self) -> str:
        name = self.rng.choice(FIRST_NAMES)
        return f"{name}.{self.counter}{self.rng.randint(0, 999)}@{self.rng.choice(DOMAINS)}"

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _sampled(self) -> bool:
        return self.rng.random() < self.sample_rate


def fill(ledger: Ledger, args: argparse.Namespace) -> tuple[Fill, Targets, float]:
    generator = Generator(args.rows, args.seed, args.lookups * 20)
    started = time.perf_counter()
    for batch in generator.batches(args.batch_size):
        with ledger.engine.begin() as conn:
            conn.execute(sync_attempts.insert(), batch)
    return generator.fill, generator.targets, time.perf_counter() - started


# -- the lookups -------------------------------------------------------------------------------------------------


Check = Callable[[list[Any]], bool]


def mixed_case(email: str, rng: random.Random) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c for c in email)


def lookups(targets: Targets, count: int, seed: int) -> dict[str, list[tuple[str, Check]]]:
    """Per kind, ``count`` identifiers (different random targets where there are enough) with a check of the answer."""
    rng = random.Random(seed)

    def has(*records: tuple[str, str]) -> Check:
        return lambda found: set(records) <= {(a.entity_type, a.source_id) for a in found}

    def pick(pool: list[Any]) -> list[Any]:
        return rng.sample(pool, count) if len(pool) >= count else [rng.choice(pool) for _ in range(count)]

    unknown = [
        (str(uuid.uuid4()) if i % 2 == 0 else f"nobody.{uuid.uuid4().hex[:8]}@example.com", lambda found: not found)
        for i in range(count)
    ]
    return {
        "commercetools id": [(source_id, has((kind, source_id))) for source_id, kind in pick(targets.ids)],
        "email (mixed case)": [(mixed_case(e, rng), has(("customer", c))) for e, c in pick(targets.emails)],
        "order number": [
            (number, has(("order", order_id), *(("financial_transaction", p) for p in payments)))
            for number, order_id, payments in pick(targets.orders)
        ],
        "SKU": [(sku, has(("variant_product", product_id))) for sku, product_id in pick(targets.skus)],
        "unknown identifier": unknown,
    }


@dataclass
class Timing:
    kind: str
    ms: list[float]
    rows: list[int]
    wrong: int
    slowest: str
    again: list[float] = field(default_factory=list)  # the slowest identifier timed again, when over the aim

    def line(self) -> str:
        ms = sorted(self.ms)
        p95 = ms[min(len(ms) - 1, round(0.95 * len(ms)) - 1)]
        verdict = "ok" if ms[-1] < AIM_MS else "OVER the aim"
        wrong = f", {self.wrong} WRONG answers" if self.wrong else ""
        return (f"    {self.kind:<20} median {statistics.median(ms):7.2f} ms   p95 {p95:7.2f} ms   "
                f"max {ms[-1]:7.2f} ms   ({len(ms)} lookups, {statistics.mean(self.rows):5.1f} attempts found "
                f"on average{wrong}) {verdict}")  # fmt: skip


def measure(ledger: Ledger, work: dict[str, list[tuple[str, Check]]], warmup: int) -> list[Timing]:
    for identifiers in work.values():  # connection, caches; not counted
        for identifier, _ in identifiers[:warmup]:
            ledger.attempts(identifier)
    timings = []
    for kind, identifiers in work.items():
        ms: list[float] = []
        rows: list[int] = []
        wrong = 0
        for identifier, check in identifiers:
            started = time.perf_counter()
            found = ledger.attempts(identifier)
            ms.append((time.perf_counter() - started) * 1000)
            rows.append(len(found))
            wrong += not check(found)
        slowest = identifiers[max(range(len(ms)), key=ms.__getitem__)][0]
        timing = Timing(kind, ms, rows, wrong, slowest)
        if max(ms) >= AIM_MS:  # the data, or the machine? The same lookup again tells.
            for _ in range(20):
                started = time.perf_counter()
                ledger.attempts(slowest)
                timing.again.append((time.perf_counter() - started) * 1000)
        timings.append(timing)
    return timings


def plans(ledger: Ledger, identifier: str) -> list[str]:
    """The plans of the statements ``attempts(identifier)`` issues, as it issues them (captured from the driver)."""
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        statements.append((statement, parameters))

    event.listen(ledger.engine, "before_cursor_execute", capture)
    try:
        ledger.attempts(identifier)
    finally:
        event.remove(ledger.engine, "before_cursor_execute", capture)
    postgres = ledger.engine.dialect.name == "postgresql"
    lines = []
    with ledger.engine.connect() as conn:
        for number, (statement, parameters) in enumerate(statements, 1):
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
            result = conn.exec_driver_sql(prefix + statement, parameters).all()
            short = " ".join(statement.split())
            lines.append(f"      statement {number}: {short[:300]}{' ...' if len(short) > 300 else ''}")
            if postgres:
                lines += [f"        {row[0]}" for row in result]
            else:  # (id, parent, notused, detail): indent by depth
                depth: dict[int, int] = {0: 0}
                for node, parent, _, detail in result:
                    depth[node] = depth.get(parent, 0) + 1
                    lines.append(f"        {'  ' * (depth[node] - 1)}{detail}")
    return lines


# -- the databases -----------------------------------------------------------------------------------------------


def size_lines(ledger: Ledger, path: Path | None) -> list[str]:
    table = sync_attempts.name
    if path is not None:  # a connection of its own: the ledger's begins every transaction with BEGIN IMMEDIATE
        with closing(sqlite3.connect(path)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            pages = conn.execute("SELECT name, SUM(pgsize) FROM dbstat WHERE name LIKE ? GROUP BY name "
                                 "ORDER BY 2 DESC", (f"%{table[len('ctfluent_'):]}%",)).fetchall()  # fmt: skip
        total = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
        parts = ", ".join(f"{name} {size / 2**20:.0f} MB" for name, size in pages)
        return [f"  database size: {total / 2**20:.0f} MB (files); {parts}"]
    with ledger.engine.connect() as conn:
        total = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        heap, indexes = conn.execute(text("SELECT pg_table_size(:t), pg_indexes_size(:t)"), {"t": table}).one()
        each = conn.execute(
            text("SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index "
                 "WHERE indrelid = CAST(:t AS regclass) ORDER BY 2 DESC"),
            {"t": table},
        ).all()  # fmt: skip
    parts = ", ".join(f"{name} {size / 2**20:.0f} MB" for name, size in each)
    return [f"  database size: {total / 2**20:.0f} MB; {table}: table {heap / 2**20:.0f} MB, indexes "
            f"{indexes / 2**20:.0f} MB ({parts})"]  # fmt: skip


def run(name: str, url: str, path: Path | None, args: argparse.Namespace) -> bool:
    ledger = Ledger(url)
    try:
        ledger.migrate()
        data, targets, seconds = fill(ledger, args)
        records = sum(data.records.values())
        print(f"{name}: {data.rows:,} attempts of {records:,} records filled in {seconds:.1f} s "
              f"({data.rows / seconds:,.0f} rows/s; {data.generating_seconds:.1f} s of it making the rows in Python, "
              f"batches of {args.batch_size:,})", flush=True)  # fmt: skip
        print("  records: " + ", ".join(f"{k} {v:,} ({v / records:.0%})" for k, v in data.records.most_common()))
        print("  attempts: " + ", ".join(f"{k} {v:,}" for k, v in data.attempts.most_common()))
        print("\n".join(size_lines(ledger, path)), flush=True)
        work = lookups(targets, args.lookups, args.seed + 1)
        ok = True
        for analyzed in (False, True):
            phase = "as filled (no ANALYZE)"
            if analyzed:
                started = time.perf_counter()
                with ledger.engine.begin() as conn:
                    conn.exec_driver_sql(f"ANALYZE {sync_attempts.name}")
                phase = f"after ANALYZE ({time.perf_counter() - started:.1f} s)"
            load = os.getloadavg()
            print(f"  Ledger.attempts(x), {phase}; aim: every lookup under {AIM_MS:g} ms; load average "
                  f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min)", flush=True)  # fmt: skip
            for timing in measure(ledger, work, args.warmup):
                print(timing.line(), flush=True)
                ok = ok and max(timing.ms) < AIM_MS and not timing.wrong
                if timing.again:
                    print(f"    the slowest {timing.kind} ({timing.slowest!r}) again, 20 times: median "
                          f"{statistics.median(timing.again):.2f} ms, max {max(timing.again):.2f} ms; load average "
                          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s)")  # fmt: skip
                if args.plans or max(timing.ms) >= AIM_MS:
                    print(f"    plans for the slowest {timing.kind} ({timing.slowest!r}):")
                    print("\n".join(plans(ledger, timing.slowest)), flush=True)
        return ok
    finally:
        ledger.engine.dispose()


def postgres_version(admin_url: str) -> str:
    engine = create_engine(admin_url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar_one())
    finally:
        engine.dispose()


def run_postgres(args: argparse.Namespace) -> bool:
    name = f"ctfluent_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        autovacuum = conn.execute(text("SHOW autovacuum")).scalar_one()
    try:
        url = make_url(args.postgres_url).set(database=name).render_as_string(hide_password=False)
        return run(f"PostgreSQL (database {name}, autovacuum {autovacuum})", url, None, args)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_sqlite(args: argparse.Namespace) -> bool:
    with tempfile.TemporaryDirectory(prefix="ctfluent-history-") as directory:
        path = Path(directory) / "ledger.sqlite"
        return run(f"SQLite ({path})", f"sqlite:///{path}", path, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="attempt rows to fill")
    parser.add_argument("--lookups", type=int, default=200, help="lookups of each kind")
    parser.add_argument("--warmup", type=int, default=5, help="lookups of each kind before the timed ones")
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--databases", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"])
    parser.add_argument("--postgres-url", default=POSTGRES_ADMIN_URL, help="admin URL of the PostgreSQL server")
    parser.add_argument("--plans", action="store_true", help="print the query plans of every kind")
    args = parser.parse_args()

    versions = [f"Python {sys.version.split()[0]}", f"SQLite {sqlite3.sqlite_version}"]
    if "postgresql" in args.databases:
        versions.append(f"PostgreSQL {postgres_version(args.postgres_url)}")
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, .venv/bin/python -m benchmarks.history_lookup "
          f"{' '.join(sys.argv[1:])}".rstrip())  # fmt: skip
    print(f"# {platform.node()}: {platform.machine()}, {os.cpu_count()} CPU(s), {memory:.0f} GB, "
          f"{platform.system()} {platform.release()}; {', '.join(versions)}")  # fmt: skip
    print(f"history lookup benchmark: {args.rows:,} attempt rows, {args.lookups} lookups of each kind (after "
          f"{args.warmup} not counted), aim: under {AIM_MS:g} ms each", flush=True)  # fmt: skip
    ok = True
    for database in args.databases:
        ok &= run_sqlite(args) if database == "sqlite" else run_postgres(args)
    print(f"verdict: {'every lookup under the aim' if ok else 'NOT every lookup under the aim (see above)'}")


if __name__ == "__main__":
    main()
