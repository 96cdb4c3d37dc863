"""The sync ledger on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ctfluent_dagster.ledger.schema import VERSION_TABLE, metadata
from ctfluent_dagster.ledger.store import Claim, Ledger, LedgerKey, Outcome

ENTITY = "customer"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    url: str = request.getfixturevalue("postgres_database")
    return url


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
    assert ledger.claim([Claim(key("a"), 1)], owner="run-2", lease_seconds=60).busy == [Claim(key("a"), 1)]
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
    later = ledger.claim([Claim(key("a", "1"), 2)], owner="r2", lease_seconds=60)
    assert [s.key for s in later.siblings] == [key("a", "2")]
    ledger.record([synced(key("a", "1"), 2)], owner="r2", run_id="r2", retire=[s.key for s in later.siblings])
    assert [e.key for e in ledger.entries(ENTITY)] == [key("a", "1")]


def test_concurrent_claims_never_hand_one_record_to_two_runs(ledger_url: str, ledger: Ledger) -> None:
    claims = [Claim(key(f"c{i:04d}"), 1) for i in range(300)]
    won: dict[str, set[LedgerKey]] = {}

    def run(owner: str) -> None:
        own = Ledger(ledger_url)  # its own engine and connections, like another run's process
        try:
            result = own.claim(claims, owner=owner, lease_seconds=60)
            won[owner] = {c.key for c, _ in result.claimed}
            assert {c.key for c in result.busy} | won[owner] == {c.key for c in claims}
        finally:
            own.engine.dispose()

    threads = [threading.Thread(target=run, args=(f"run-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(won) == {"run-0", "run-1"}
    assert won["run-0"].isdisjoint(won["run-1"])
    assert won["run-0"] | won["run-1"] == {c.key for c in claims}
