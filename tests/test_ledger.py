"""The sync ledger on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event

from ctfluent_dagster.ledger.schema import VERSION_TABLE, metadata, sync_state
from ctfluent_dagster.ledger.store import HISTORY_RECORDS_LISTED, Claim, ClaimResult, Ledger, current_holder
from ctfluent_dagster.records import Dependency, FluentIdentity, LedgerKey, Outcome
from tests.support import dead_lease_holder

ENTITY = "customer"


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    ledger = Ledger(ledger_url)
    ledger.migrate()
    yield ledger
    ledger.engine.dispose()


def key(source_id: str, target: str = "1") -> LedgerKey:
    return LedgerKey(ENTITY, source_id, target)


def synced(k: LedgerKey, version: int, payload_hash: str = "h", ref: str = "ref") -> Outcome:
    return Outcome(k, "synced", version, fluent_ref=ref, fluent_id="42", payload_hash=payload_hash)


def test_migrations_build_exactly_the_declared_schema(ledger: Ledger) -> None:
    ledger.migrate()  # a second run is a no-op
    with ledger.engine.connect() as conn:
        differences = compare_metadata(
            MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}), metadata
        )
    assert differences == []


def test_new_records_are_claimed_and_outcomes_recorded(ledger: Ledger) -> None:
    result = ledger.claim([Claim(key("a"), 1), Claim(key("b"), 1)], owner="run-1", lease_seconds=60)
    assert [c.key.source_id for c, _ in result.claimed] == ["a", "b"]
    assert all(prior.status == "pending" and prior.fluent_ref is None for _, prior in result.claimed)
    failure = Outcome(key("b"), "failed", 1, error_code="C0141E", error_message="too long")
    assert ledger.record([synced(key("a"), 1), failure], owner="run-1", run_id="run-1") == 2

    (a,) = ledger.entries(ENTITY, source_ids=["a"])
    assert (a.status, a.source_version, a.fluent_ref, a.fluent_id, a.payload_hash, a.run_id) == (
        "synced", 1, "ref", "42", "h", "run-1"
    )  # fmt: skip
    (b,) = ledger.entries(ENTITY, status="failed")
    assert (b.key.source_id, b.error_code, b.attempts) == ("b", "C0141E", 1)
    assert ledger.status_counts(ENTITY) == {"synced": 1, "failed": 1}


def test_failures_count_attempts_and_success_clears_them(ledger: Ledger) -> None:
    for attempt in range(3):
        ledger.claim([Claim(key("a"), 1)], owner=f"run-{attempt}", lease_seconds=60)
        ledger.record([Outcome(key("a"), "failed", 1, error_code="S0001E")], owner=f"run-{attempt}", run_id="r")
    assert ledger.entries(ENTITY)[0].attempts == 3
    ledger.claim([Claim(key("a"), 1)], owner="run-x", lease_seconds=60)
    ledger.record([synced(key("a"), 1)], owner="run-x", run_id="run-x")
    (entry,) = ledger.entries(ENTITY)
    assert (entry.status, entry.attempts, entry.error_code) == ("synced", 0, None)


def test_an_older_version_is_superseded_never_claimed(ledger: Ledger) -> None:
    ledger.claim([Claim(key("a"), 5)], owner="run-1", lease_seconds=60)
    ledger.record([synced(key("a"), 5)], owner="run-1", run_id="run-1")
    stale = ledger.claim([Claim(key("a"), 4)], owner="run-2", lease_seconds=60)
    assert stale.claimed == [] and [c.version for c, _ in stale.superseded] == [4]
    same = ledger.claim([Claim(key("a"), 5)], owner="run-2", lease_seconds=60)
    assert [prior.source_version for _, prior in same.claimed] == [5]


def test_a_record_leased_by_another_run_is_busy_until_released(ledger: Ledger) -> None:
    ledger.claim([Claim(key("a"), 1)], owner="run-1", lease_seconds=60)
    (busy,) = ledger.claim([Claim(key("a"), 1)], owner="run-2", lease_seconds=60).busy
    assert (busy.claim, busy.owner) == (Claim(key("a"), 1), "run-1")
    assert timedelta(seconds=50) < busy.until - datetime.now(UTC) <= timedelta(seconds=60)
    ledger.record([synced(key("a"), 1)], owner="run-1", run_id="run-1")
    assert len(ledger.claim([Claim(key("a"), 1)], owner="run-2", lease_seconds=60).claimed) == 1


def test_an_expired_lease_is_taken_over_and_the_old_owner_cannot_write(ledger: Ledger) -> None:
    ledger.claim([Claim(key("a"), 1)], owner="dead-run", lease_seconds=-1)  # already expired
    assert len(ledger.claim([Claim(key("a"), 1)], owner="run-2", lease_seconds=60).claimed) == 1
    assert ledger.record([synced(key("a"), 1, ref="late")], owner="dead-run", run_id="dead-run") == 0
    ledger.record([synced(key("a"), 1, ref="winner")], owner="run-2", run_id="run-2")
    assert ledger.entries(ENTITY)[0].fluent_ref == "winner"


def test_identity_is_kept_when_an_outcome_has_none(ledger: Ledger) -> None:
    ledger.claim([Claim(key("a"), 1)], owner="r1", lease_seconds=60)
    ledger.record([synced(key("a"), 1, ref="1_old@example.com")], owner="r1", run_id="r1")
    ledger.claim([Claim(key("a"), 2)], owner="r2", lease_seconds=60)
    ledger.record([Outcome(key("a"), "failed", 2, error_code="S0001E")], owner="r2", run_id="r2")
    (entry,) = ledger.entries(ENTITY)
    assert (entry.status, entry.fluent_ref, entry.payload_hash) == ("failed", "1_old@example.com", "h")


def test_stale_problems_of_other_targets_can_be_retired(ledger: Ledger) -> None:
    ledger.claim([Claim(key("a", "1"), 1), Claim(key("a", "2"), 1)], owner="r1", lease_seconds=60)
    ledger.record(
        [synced(key("a", "1"), 1), Outcome(key("a", "2"), "failed", 1, error_code="X")], owner="r1", run_id="r1"
    )
    known = ledger.known(ENTITY, ["a"])
    ledger.claim([Claim(key("a", "1"), 2)], owner="r2", lease_seconds=60)
    siblings = known.siblings([key("a", "1")])
    assert [s.key for s in siblings] == [key("a", "2")]
    ledger.record([synced(key("a", "1"), 2)], owner="r2", run_id="r2", retire=[s.key for s in siblings])
    assert [e.key for e in ledger.entries(ENTITY)] == [key("a", "1")]


def test_concurrent_claims_never_hand_one_record_to_two_runs(ledger_url: str, ledger: Ledger) -> None:
    claims = [Claim(key(f"c{i:04d}"), 1) for i in range(300)]
    results: dict[str, ClaimResult] = {}
    errors: list[BaseException] = []

    def run(owner: str) -> None:
        own = Ledger(ledger_url)  # its own engine and connections, like another run's process
        try:
            results[owner] = own.claim(claims, owner=owner, lease_seconds=60)
        except BaseException as exc:  # asserted below, in the test's own thread
            errors.append(exc)
        finally:
            own.engine.dispose()

    threads = [threading.Thread(target=run, args=(f"run-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert set(results) == {"run-0", "run-1"}
    won = {owner: {c.key for c, _ in result.claimed} for owner, result in results.items()}
    for owner, result in results.items():  # each run either holds a record or sees it busy with the other run
        assert {b.claim.key for b in result.busy} | won[owner] == {c.key for c in claims}
        assert {b.owner for b in result.busy} <= set(results) - {owner}
    assert won["run-0"].isdisjoint(won["run-1"])
    assert won["run-0"] | won["run-1"] == {c.key for c in claims}


# -- leases of dead runs, the heartbeat, the no-change comparison, references -----------------------------


def test_a_lease_whose_process_is_gone_from_this_host_is_taken_over_at_once(ledger: Ledger) -> None:
    ledger.claim([Claim(key("a"), 1)], owner="killed-run", lease_seconds=600)
    ledger.claim([Claim(key("b"), 1)], owner="live-run", lease_seconds=600)  # by this process
    with ledger.engine.begin() as conn:  # "a" was leased by a process of this host that no longer exists
        conn.execute(sync_state.update().where(sync_state.c.source_id == "a").values(lease_holder=dead_lease_holder()))
    result = ledger.claim([Claim(key("a"), 1), Claim(key("b"), 1)], owner="run-2", lease_seconds=60)
    assert [c.key for c, _ in result.claimed] == [key("a")] and result.taken_over == {"killed-run": 1}
    assert [b.claim.key for b in result.busy] == [key("b")]  # this process still lives: its lease is respected


def test_a_lease_of_a_run_the_orchestrator_says_ended_is_taken_over_at_once(ledger: Ledger) -> None:
    ledger.claim([Claim(key("a"), 1), Claim(key("b"), 1)], owner="ended-run", lease_seconds=600)
    ledger.claim([Claim(key("c"), 1)], owner="unknown-run", lease_seconds=600)
    asked: list[str] = []

    def is_alive(run_id: str) -> bool | None:
        asked.append(run_id)
        return {"ended-run": False}.get(run_id)  # None: cannot tell, the lease is respected

    claims = [Claim(key(k), 1) for k in "abc"]
    result = ledger.claim(claims, owner="run-2", lease_seconds=60, is_alive=is_alive)
    assert [c.key for c, _ in result.claimed] == [key("a"), key("b")] and result.taken_over == {"ended-run": 2}
    assert [b.claim.key for b in result.busy] == [key("c")]
    assert sorted(asked) == ["ended-run", "unknown-run"]  # once per owner


def test_the_heartbeat_renews_exactly_the_owners_leases(ledger: Ledger) -> None:
    ledger.claim([Claim(key("a"), 1)], owner="run-1", lease_seconds=-1)  # lapsed, unless renewed
    ledger.claim([Claim(key("b"), 1)], owner="run-2", lease_seconds=-1)
    assert ledger.renew("run-1", 600) == 1
    result = ledger.claim([Claim(key("a"), 1), Claim(key("b"), 1)], owner="run-3", lease_seconds=60)
    assert [b.claim.key for b in result.busy] == [key("a")]
    assert timedelta(seconds=590) < result.busy[0].until - datetime.now(UTC) <= timedelta(seconds=600)


def test_each_process_of_a_push_renews_only_its_own_leases(ledger: Ledger) -> None:
    ledger.claim([Claim(key("a"), 1), Claim(key("b"), 1)], owner="run-1", lease_seconds=-1)
    with ledger.engine.begin() as conn:  # b: held by another process of the same run (a push shard)
        conn.execute(sync_state.update().where(sync_state.c.source_id == "b").values(lease_holder="host:12345"))
    assert ledger.renew("run-1", 600, holder=current_holder()) == 1
    result = ledger.claim([Claim(key("a"), 1), Claim(key("b"), 1)], owner="run-2", lease_seconds=60)
    assert [b.claim.key for b in result.busy] == [key("a")]  # b's lease lapsed: its holder did not renew it


def test_the_heartbeat_skips_a_lease_being_recorded_instead_of_waiting_for_it(ledger: Ledger) -> None:
    if ledger.engine.dialect.name == "sqlite":
        pytest.skip("SQLite locks the whole database, not rows: a heartbeat waits its turn and cannot deadlock")
    ledger.claim([Claim(key("a"), 1), Claim(key("b"), 1)], owner="run-1", lease_seconds=60)
    with ledger.engine.connect() as other:
        transaction = other.begin()  # a record under way in another process: a's row is locked
        other.execute(sync_state.select().where(sync_state.c.source_id == "a").with_for_update())
        renewed: list[int] = []
        heartbeat = threading.Thread(target=lambda: renewed.append(ledger.renew("run-1", 600)))
        heartbeat.start()
        heartbeat.join(timeout=30)
        waiting = heartbeat.is_alive()  # it would wait until the record's transaction ends
        transaction.rollback()
        heartbeat.join()
    assert not waiting and renewed == [1]  # b alone, without waiting for a
    assert ledger.renew("run-1", 600) == 2


def test_unchanged_finds_only_synced_records_with_the_same_version_and_hash(ledger: Ledger) -> None:
    ledger.claim([Claim(key(k), 1) for k in "abc"], owner="r1", lease_seconds=60)
    failed = Outcome(key("c"), "failed", 1, payload_hash="h", error_code="X")
    ledger.record([synced(key("a"), 1, "h"), synced(key("b"), 1, "h"), failed], owner="r1", run_id="r1")
    candidates = [
        (key("a"), 1, "h"),
        (key("b"), 2, "h"),
        (key("c"), 1, "h"),
        (key("d"), 1, "h"),
        (key("a", "2"), 1, "h"),
    ]
    known = ledger.known(ENTITY, ["a", "b", "c", "d"])
    assert known.unchanged(candidates) == {key("a")}
    assert known.unchanged([(key("a"), 1, "other")]) == set()


def test_references_resolve_to_records_in_fluent_and_waiting_records_keep_what_they_wait_for(ledger: Ledger) -> None:
    parent, gone, missing = (
        Dependency("category", source_id="p1"),
        Dependency("category", ref="C-2"),
        Dependency("category", source_id="p3", label="the third"),
    )
    ledger.claim([Claim(LedgerKey("category", "p1", "cat"), 1), Claim(LedgerKey("category", "p2", "cat"), 1)],
                 owner="r1", lease_seconds=60)  # fmt: skip
    ledger.record(
        [Outcome(LedgerKey("category", "p1", "cat"), "synced", 1, fluent_ref="C-1", fluent_id="11"),
         Outcome(LedgerKey("category", "p2", "cat"), "deleted", 1, fluent_ref="C-2", fluent_id="12")],
        owner="r1", run_id="r1",
    )  # fmt: skip
    assert ledger.resolve([parent, gone, missing]) == {parent: FluentIdentity("C-1", "11")}
    assert ledger.resolve([Dependency("category", ref="C-1")]) == {
        Dependency("category", ref="C-1"): FluentIdentity("C-1", "11")
    }

    ledger.claim([Claim(key("x"), 1)], owner="r2", lease_seconds=60)
    waiting = Outcome(
        key("x"), "waiting", 1, error_code="WAITING", error_message="waiting", waiting_for=(parent, missing)
    )
    ledger.record([waiting], owner="r2", run_id="r2")
    (entry,) = ledger.entries(ENTITY, status="waiting")
    assert entry.waiting_for == (parent, missing) and entry.waiting_for[1].label == "the third"
    assert ledger.source_ids(ENTITY, status=["waiting"]) == {"x"}
    assert ledger.source_ids(ENTITY, exclude_status=["waiting"]) == set()


def test_a_history_lookup_reads_by_index_and_never_walks_the_whole_history(ledger: Ledger, ledger_url: str) -> None:
    """Each statement of ``attempts()`` searches an index: not a scan of the history in time order, which a planner
    chooses for ORDER BY ... LIMIT when it cannot tell how few rows the records have (SQLite without statistics
    always; PostgreSQL before its first ANALYZE). Asserted on SQLite's plans, which do not depend on the data."""
    if not ledger_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's plans depend on its statistics and the data's size, not on the statements alone: "
                    "benchmarks/history_lookup.py measures them among a million attempts")  # fmt: skip
    shared = "email:0123456789"  # one shopper's records: a customer in two retailers and an order
    named = [LedgerKey("customer", "c1", "1"), LedgerKey("customer", "c1", "2"), LedgerKey("order", "o1", "")]
    keys = named + [LedgerKey("order", f"o{n}", "") for n in range(2, 40)]
    for entity_type in ("customer", "order"):
        ledger.claim([Claim(k, 1) for k in keys if k.entity_type == entity_type], owner="r", lease_seconds=60)
    ledger.record([Outcome(k, "failed", 1, error_code="C0160E", lookup=shared if k in named else None,
                           attempted_ref=f"ref-{k.source_id}") for k in keys], owner="r", run_id="r")  # fmt: skip
    statements: list[tuple[str, Any]] = []

    @event.listens_for(ledger.engine, "before_cursor_execute")
    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        statements.append((statement, parameters))

    found = ledger.attempts(shared)
    event.remove(ledger.engine, "before_cursor_execute", capture)
    assert {(a.entity_type, a.source_id, a.target_key) for a in found} == {(k.entity_type, k.source_id,
                                                                              k.target_key) for k in named}  # fmt: skip
    assert {a.fluent_ref for a in found} == {"ref-c1", "ref-o1"}  # the refs the failed pushes were writing
    with ledger.engine.connect() as conn:
        plans = [[str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
                 for statement, parameters in statements if statement.startswith("SELECT")]  # fmt: skip
    ledger.engine.dispose()
    assert len(plans) == 2
    assert not [step for plan in plans for step in plan if step.startswith("SCAN ctfluent_sync_attempts")], plans


@pytest.mark.parametrize("records", [HISTORY_RECORDS_LISTED, HISTORY_RECORDS_LISTED + 1])
def test_an_identifier_naming_many_records_finds_them_all(ledger: Ledger, records: int) -> None:
    """A placeholder email on many orders: up to HISTORY_RECORDS_LISTED records are read by lists of ids, more
    through a subquery; both answer the same."""
    keys = [LedgerKey("order", f"o{n:04d}", "") for n in range(records)]
    other = LedgerKey("order", "other", "")
    ledger.claim([Claim(k, 1) for k in [*keys, other]], owner="r", lease_seconds=60)
    outcomes = [Outcome(k, "failed", 1, lookup="email:placeholder") for k in keys]
    ledger.record([*outcomes, Outcome(other, "failed", 1, lookup="email:other")], owner="r", run_id="r")
    found = ledger.attempts("email:placeholder", limit=records + 10)
    assert sorted(a.source_id for a in found) == [k.source_id for k in keys]
    assert len(ledger.attempts("email:placeholder", limit=7)) == 7  # the newest, as many as asked
