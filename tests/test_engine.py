"""The sync engine on its own: a small in-memory entity, a real ledger on SQLite and on PostgreSQL.

What the entity tests (customers against the sandbox) cannot pin down precisely: how records are batched and how a
failed batch is split, dependency waits and their resumption, waits on another run's leases and the takeover of a
dead run's, the heartbeat, the no-change path that never touches the ledger, and deactivation of gone records.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from ctfluent_dagster.fluent.client import FluentGraphQLError, GraphQLErrorDetail, error_from_graphql
from ctfluent_dagster.ledger.schema import sync_state
from ctfluent_dagster.ledger.store import Claim, ClaimResult, Ledger, Liveness
from ctfluent_dagster.records import (
    Dependency,
    FluentIdentity,
    LedgerKey,
    Outcome,
    PlannedPush,
    PlannedSkip,
    Status,
    payload_fingerprint,
)
from ctfluent_dagster.sync.engine import SyncEngine
from ctfluent_dagster.transport import ApiError, TemporaryApiError
from tests.support import dead_lease_holder

THING = "thing"
ENGINE_LOG = "ctfluent_dagster.sync.engine"
Payload = dict[str, Any]


@dataclass(frozen=True)
class Thing:
    """A commercetools record of the fake entity: one Fluent record per target, optionally under a parent."""

    id: str
    version: int = 1
    name: str = "thing"
    parent: str | None = None  # the commercetools id of another thing, which must be in Fluent first
    targets: tuple[str, ...] = ("",)


def key(source_id: str, target: str = "") -> LedgerKey:
    return LedgerKey(THING, source_id, target)


def ref_of(source_id: str, target: str = "") -> str:
    return f"T-{source_id}{'-' + target if target else ''}"


def parent_of(parent_id: str) -> Dependency:
    return Dependency(THING, source_id=parent_id, label=parent_id)


class FakeFluent:
    """An in-memory Fluent for things, with the rules that matter to the engine: a batch is all or nothing, a ref
    is unique, a parent must exist. ``refuse`` makes every request that includes a ref fail with that error."""

    entity_type = THING

    def __init__(self) -> None:
        self.records: dict[str, Payload] = {}
        self.calls: list[tuple[str, tuple[str, ...], float]] = []  # (operation, refs, when)
        self.refuse: dict[str, ApiError] = {}
        self.gate = threading.Event()  # pushes wait for it; set unless a test holds them
        self.gate.set()
        self._lock = threading.Lock()

    # -- what the test looks at

    def operations(self, *kinds: str) -> list[tuple[str, tuple[str, ...]]]:
        return [(kind, refs) for kind, refs, _ in self.calls if not kinds or kind in kinds]

    # -- EntitySync

    def plan(self, record: Thing) -> Sequence[PlannedPush[Payload] | PlannedSkip]:
        requires = (parent_of(record.parent),) if record.parent else ()
        plans: list[PlannedPush[Payload] | PlannedSkip] = []
        for target in record.targets:
            payload = {"name": record.name, "parent": record.parent}
            plans.append(
                PlannedPush(key(record.id, target), record.version, ref_of(record.id, target),
                            payload_fingerprint(payload), payload, label=record.id, requires=requires)
            )  # fmt: skip
        return plans

    def _request(self, kind: str, refs: Sequence[str]) -> None:
        self.gate.wait(timeout=30)
        with self._lock:
            self.calls.append((kind, tuple(refs), time.monotonic()))
        for ref in refs:
            if ref in self.refuse:
                raise self.refuse[ref]

    def _write(self, push: PlannedPush[Payload], ref: str) -> FluentIdentity:
        parent = push.payload["parent"]
        if parent is not None:  # Fluent refuses a reference to a record it does not have
            resolved = push.resolved.get(parent_of(parent))
            if resolved is None or resolved.ref not in self.records:
                raise error_from_graphql([{"message": f"parent {parent} not found", "extensions": {"code": "C0120E"}}])
        with self._lock:
            self.records[ref] = {**push.payload, "active": True}
        return FluentIdentity(ref, f"id-{ref}")

    def _check_create(self, push: PlannedPush[Payload]) -> None:
        if push.ref in self.records:
            raise error_from_graphql([{"message": "ref taken", "extensions": {"code": "C0121E"}}])

    def create(self, push: PlannedPush[Payload]) -> FluentIdentity:
        self._request("create", [push.ref])
        self._check_create(push)
        return self._write(push, push.ref)

    def update(self, push: PlannedPush[Payload], ref: str) -> FluentIdentity:
        self._request("update", [ref])
        if ref not in self.records:
            raise error_from_graphql([{"message": "not found", "extensions": {"code": "C0120E"}}])
        return self._write(push, ref)

    def prepare(self, creates: Sequence[PlannedPush[Payload]], batch_size: int) -> None:
        pass

    def create_many(self, pushes: Sequence[PlannedPush[Payload]]) -> list[FluentIdentity]:
        self._request("create_many", [p.ref for p in pushes])
        for push in pushes:  # all or nothing
            self._check_create(push)
        return [self._write(push, push.ref) for push in pushes]

    def update_many(self, pushes: Sequence[tuple[PlannedPush[Payload], str]]) -> list[FluentIdentity]:
        self._request("update_many", [ref for _, ref in pushes])
        if any(ref not in self.records for _, ref in pushes):
            raise error_from_graphql([{"message": "not found", "extensions": {"code": "C0120E"}}])
        return [self._write(push, ref) for push, ref in pushes]

    def find(self, push: PlannedPush[Payload]) -> FluentIdentity | None:
        ref = push.ref
        self._request("find", [ref])
        return FluentIdentity(ref, f"id-{ref}") if ref in self.records else None

    def differences(self, push: PlannedPush[Payload], ref: str) -> list[str]:
        return sorted(f"{k} differs" for k, v in push.payload.items() if self.records[ref].get(k) != v)

    def deactivate(self, ref: str) -> FluentIdentity:
        self._request("deactivate", [ref])
        self.records[ref]["active"] = False
        return FluentIdentity(ref, f"id-{ref}")


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    ledger = Ledger(ledger_url)
    ledger.migrate()
    yield ledger
    ledger.engine.dispose()


@pytest.fixture
def fluent() -> FakeFluent:
    return FakeFluent()


def engine(ledger: Ledger, fluent: FakeFluent, run_id: str = "run-1", **options: Any) -> SyncEngine[Thing, Payload]:
    settings: dict[str, Any] = {"concurrency": 4, "batch_size": 10, "busy_poll_seconds": 0.05} | options
    return SyncEngine(ledger, fluent, run_id=run_id, **settings)


def sync(ledger: Ledger, fluent: FakeFluent, records: Sequence[Thing], **options: Any) -> SyncEngine[Thing, Payload]:
    with engine(ledger, fluent, **options) as running:
        running.sync_chunk(records, "2026-11-20")
    return running


def things(count: int, **fields: Any) -> list[Thing]:
    return [Thing(f"t{n:02d}", **fields) for n in range(count)]


def statuses(ledger: Ledger) -> dict[str, str]:
    return {f"{e.key.source_id}{'/' + e.key.target_key if e.key.target_key else ''}": e.status
            for e in ledger.entries(THING)}  # fmt: skip


def permanent(code: str, message: str) -> FluentGraphQLError:
    return FluentGraphQLError([GraphQLErrorDetail(code, message)])


# -- batching and failed batches --------------------------------------------------------------------------------


def test_records_go_to_fluent_batch_size_per_request_and_end_synced(ledger: Ledger, fluent: FakeFluent) -> None:
    report = sync(ledger, fluent, things(25)).report
    assert sorted(len(refs) for _, refs in fluent.operations()) == [5, 10, 10]
    assert {kind for kind, _ in fluent.operations()} == {"create_many"}
    assert (report.counts["created"], report.records_read) == (25, 25)
    entries = ledger.entries(THING)
    assert {e.status for e in entries} == {"synced"} and len(entries) == 25
    assert all(e.fluent_ref == ref_of(e.key.source_id) and e.fluent_id == f"id-{e.fluent_ref}" for e in entries)

    fluent.calls.clear()
    changed = [Thing(t.id, version=2, name="renamed") if t.id in ("t03", "t07", "t11") else t for t in things(25)]
    report = sync(ledger, fluent, changed, run_id="run-2").report
    assert fluent.operations() == [("update_many", (ref_of("t03"), ref_of("t07"), ref_of("t11")))]
    assert (report.counts["updated"], report.counts["unchanged"]) == (3, 22)


def test_a_permanent_error_in_a_batch_isolates_the_culprit_one_by_one(ledger: Ledger, fluent: FakeFluent) -> None:
    fluent.refuse[ref_of("t04")] = permanent("C0141E", "name too long")
    report = sync(ledger, fluent, things(10)).report
    singles = sorted(refs[0] for _, refs in fluent.operations("create"))
    assert len(fluent.operations("create_many")) == 1 and singles == sorted(ref_of(t.id) for t in things(10))
    assert (report.counts["created"], report.counts["failed"]) == (9, 1)
    (failure,) = report.failures
    assert (failure.source_id, failure.code, failure.message) == ("t04", "C0141E", "name too long")
    (entry,) = ledger.entries(THING, status="failed")
    assert (entry.key.source_id, entry.error_code, entry.attempts) == ("t04", "C0141E", 1)
    assert set(fluent.records) == {ref_of(t.id) for t in things(10)} - {ref_of("t04")}


def test_a_temporary_error_after_the_retry_budget_fails_the_batch_as_a_whole(
    ledger: Ledger, fluent: FakeFluent, caplog: pytest.LogCaptureFixture
) -> None:
    fluent.refuse[ref_of("t04")] = TemporaryApiError("Service Unavailable", status=503)
    caplog.set_level(logging.WARNING, logger=ENGINE_LOG)
    report = sync(ledger, fluent, things(10)).report
    assert fluent.operations() == [("create_many", tuple(ref_of(t.id) for t in things(10)))]  # exactly one call
    assert report.counts["failed"] == 10 and report.counts["created"] == 0
    failed = ledger.entries(THING, status="failed")
    assert len(failed) == 10 and {e.error_code for e in failed} == {"HTTP 503"}
    assert "not retrying it record by record" in caplog.text


# -- dependencies ---------------------------------------------------------------------------------------------


def test_a_record_whose_dependency_is_not_in_fluent_waits_and_is_pushed_once_it_is(
    ledger: Ledger, fluent: FakeFluent
) -> None:
    child, parent = Thing("c1", parent="p1"), Thing("p1")
    catalogue = {t.id: t for t in (child, parent)}
    reread: list[list[str]] = []

    def read_by_ids(ids: Sequence[str]) -> Iterable[Sequence[Thing]]:
        reread.append(list(ids))
        return [[catalogue[i] for i in ids if i in catalogue]]

    with engine(ledger, fluent) as running:
        running.sync_chunk([child], "2026-11-20")
        running.resume_waiting(read_by_ids, id_of=lambda t: t.id)  # the parent is nowhere yet: nothing moves
    assert fluent.operations() == [] and reread == []
    assert running.report.counts["waiting"] == 1
    (row,) = running.report.waiting
    assert (row.source_id, row.code, row.message) == ("c1", "WAITING", "waiting for thing p1 to reach Fluent")
    (entry,) = ledger.entries(THING, status="waiting")
    assert entry.waiting_for == (parent_of("p1"),) and entry.error_message == row.message
    assert entry.partition_key == "2026-11-20"

    with engine(ledger, fluent, run_id="run-2") as running:
        running.sync_chunk([parent], "2026-11-21")
        running.resume_waiting(read_by_ids, id_of=lambda t: t.id)
    assert reread == [["c1"]]
    assert fluent.operations("create", "create_many") == [("create", (ref_of("p1"),)), ("create", (ref_of("c1"),))]
    assert statuses(ledger) == {"c1": "synced", "p1": "synced"}
    (entry,) = ledger.entries(THING, source_ids=["c1"])
    assert (entry.waiting_for, entry.partition_key, entry.run_id) == ((), "2026-11-20", "run-2")


@pytest.mark.parametrize("chunks", [["c1 c2 p1"], ["c2 c1", "p1"]], ids=["one chunk", "root in a later chunk"])
def test_a_chain_of_references_reaches_fluent_parents_first_in_one_run(
    ledger: Ledger, fluent: FakeFluent, chunks: list[str]
) -> None:
    catalogue = {t.id: t for t in (Thing("c1", parent="p1"), Thing("c2", parent="c1"), Thing("p1"))}
    with engine(ledger, fluent) as running:
        for chunk in chunks:
            running.sync_chunk([catalogue[i] for i in chunk.split()], "2026-11-20")
        running.resume_waiting(lambda ids: [[catalogue[i] for i in ids]], id_of=lambda t: t.id)
    assert statuses(ledger) == {"c1": "synced", "c2": "synced", "p1": "synced"}
    pushed = [ref for _, refs in fluent.operations("create", "create_many") for ref in refs]
    assert sorted(pushed) == sorted(ref_of(i) for i in catalogue)  # each exactly once
    assert pushed.index(ref_of("p1")) < pushed.index(ref_of("c1")) < pushed.index(ref_of("c2"))
    # Nothing is left waiting at the end of the run, so the report shows no waiting record.
    assert running.report.counts["created"] == 3
    assert running.report.counts["waiting"] == 0 and running.report.waiting == []


# -- other runs' leases -----------------------------------------------------------------------------------------


def test_records_another_live_run_holds_are_waited_for_and_the_wait_is_logged(
    ledger: Ledger, fluent: FakeFluent, caplog: pytest.LogCaptureFixture
) -> None:
    held = ledger.claim([Claim(key("t01"), 1)], owner="run-other", lease_seconds=60)  # a live run, this process
    (until,) = [row.lease_expires_at for row in _rows(ledger, "t01")]
    released_at: list[float] = []

    def other_run_gives_up() -> None:
        released_at.append(time.monotonic())
        ledger.release([c.key for c, _ in held.claimed], owner="run-other")

    caplog.set_level(logging.INFO, logger=ENGINE_LOG)
    timer = threading.Timer(0.5, other_run_gives_up)
    timer.start()
    try:
        report = sync(ledger, fluent, things(3)).report
    finally:
        timer.join()
    assert statuses(ledger) == {"t00": "synced", "t01": "synced", "t02": "synced"}
    (late,) = [when for _, refs, when in fluent.calls if ref_of("t01") in refs]
    assert late >= released_at[0]  # pushed only once the other run let go
    assert report.counts["created"] == 3
    (wait,) = {r.getMessage() for r in caplog.records if "being synced by other run" in r.getMessage()}
    assert "1 thing record(s)" in wait and "(run run-other: 1)" in wait
    assert re.search(rf"until {until:%H:%M:%S} UTC", wait), wait


@pytest.mark.parametrize("why", ["its process is gone from this host", "the orchestrator says its run ended"])
def test_a_lease_of_a_dead_run_is_taken_over_at_once(
    ledger: Ledger, fluent: FakeFluent, caplog: pytest.LogCaptureFixture, why: str
) -> None:
    ledger.claim([Claim(key("t01"), 1)], owner="run-killed", lease_seconds=5)

    def run_ended(run_id: str) -> bool | None:
        return {"run-killed": False}.get(run_id)

    is_alive: Liveness | None = None
    if why.startswith("its process"):
        with ledger.engine.begin() as conn:
            conn.execute(sync_state.update().values(lease_holder=dead_lease_holder()))
    else:  # the holder process (this one) lives on; the run it served has ended
        is_alive = run_ended
    caplog.set_level(logging.INFO, logger=ENGINE_LOG)
    started = time.monotonic()
    report = sync(ledger, fluent, things(3), is_alive=is_alive).report
    assert time.monotonic() - started < 2.5  # not after the 5 s lease
    assert report.counts["created"] == 3 and statuses(ledger)["t01"] == "synced"
    assert "took over 1 record(s) leased by run run-killed, which is no longer running" in caplog.text
    assert "being synced by other run" not in caplog.text


def test_the_heartbeat_keeps_a_slow_runs_leases(ledger: Ledger, fluent: FakeFluent) -> None:
    fluent.gate.clear()  # the push hangs until released
    try:
        with engine(ledger, fluent, batch_size=1, lease_seconds=1.0) as running:
            running.sync_chunk([Thing("t01")], "2026-11-20")
            first = _rows(ledger, "t01")[0].lease_expires_at
            time.sleep(3.0)  # three times the lease
            later = _rows(ledger, "t01")[0].lease_expires_at
            other = ledger.claim([Claim(key("t01"), 1)], owner="run-other", lease_seconds=60)
            fluent.gate.set()
    finally:
        fluent.gate.set()
    assert later > first
    assert other.claimed == [] and [(b.claim.key, b.owner) for b in other.busy] == [(key("t01"), "run-1")]
    assert running.report.counts["created"] == 1 and statuses(ledger) == {"t01": "synced"}


# -- the no-change path ----------------------------------------------------------------------------------------


class CountingLedger(Ledger):
    """Counts the ledger's writes (claims and records)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.claimed: list[list[LedgerKey]] = []
        self.records = 0

    def claim(
        self, claims: Sequence[Claim], owner: str, lease_seconds: float, is_alive: Liveness | None = None
    ) -> ClaimResult:
        self.claimed.append([c.key for c in claims])
        return super().claim(claims, owner, lease_seconds, is_alive)

    def record(self, outcomes: Sequence[Outcome], owner: str, run_id: str, retire: Iterable[LedgerKey] = ()) -> int:
        self.records += 1
        return super().record(outcomes, owner, run_id, retire)


def test_unchanged_records_are_neither_claimed_nor_recorded(ledger: Ledger, fluent: FakeFluent) -> None:
    sync(ledger, fluent, things(20))
    before = {e.key: e for e in ledger.entries(THING)}
    counting = CountingLedger(ledger.url)
    fluent.calls.clear()

    report = sync(counting, fluent, things(20), run_id="run-2").report
    assert report.counts["unchanged"] == 20 and fluent.calls == []
    assert (counting.claimed, counting.records) == ([], 0)
    assert {e.key: e for e in ledger.entries(THING)} == before  # same run, same updated_at: not written at all

    changed = [Thing("t05", version=2, name="renamed"), *things(20)[6:]]
    report = sync(counting, fluent, changed, run_id="run-3").report
    assert counting.claimed == [[key("t05")]] and counting.records == 1
    assert (report.counts["updated"], report.counts["unchanged"]) == (1, 14)
    counting.engine.dispose()


# -- gone and dropped records -------------------------------------------------------------------------------------


def test_retire_deactivates_gone_records_once_and_records_unknown_ones(ledger: Ledger, fluent: FakeFluent) -> None:
    sync(ledger, fluent, things(3))
    fluent.calls.clear()
    with engine(ledger, fluent, run_id="run-2") as running:
        running.retire(["t01", "never-seen"], "2026-11-21")
    assert fluent.operations() == [("deactivate", (ref_of("t01"),))]
    assert fluent.records[ref_of("t01")]["active"] is False
    assert (running.report.counts["deactivated"], running.report.counts["gone"]) == (1, 1)
    assert statuses(ledger) == {"t00": "synced", "t01": "deleted", "t02": "synced", "never-seen": "deleted"}
    (unknown,) = ledger.entries(THING, source_ids=["never-seen"])
    assert unknown.fluent_ref is None

    fluent.calls.clear()
    with engine(ledger, fluent, run_id="run-3") as running:
        running.retire(["t01"])  # again (a repeated delete message): nothing to do
        running.sync_chunk([Thing("t01", version=9, name="back")])  # deleted is final: later changes are ignored
    assert fluent.calls == [] and running.report.counts["superseded"] == 2
    assert statuses(ledger)["t01"] == "deleted"


@pytest.mark.parametrize("deactivate_dropped", [True, False])
def test_a_target_the_source_no_longer_maps_to_is_deactivated_when_declared(
    ledger: Ledger, fluent: FakeFluent, deactivate_dropped: bool
) -> None:
    sync(ledger, fluent, [Thing("p", targets=("v1", "v2"))])
    fluent.calls.clear()
    with engine(ledger, fluent, run_id="run-2", deactivate_dropped=deactivate_dropped) as running:
        running.sync_chunk([Thing("p", version=2, targets=("v1",))], "2026-11-21")  # variant v2 removed
    if deactivate_dropped:
        assert fluent.operations("deactivate") == [("deactivate", (ref_of("p", "v2"),))]
        assert fluent.records[ref_of("p", "v2")]["active"] is False
        assert statuses(ledger) == {"p/v1": "synced", "p/v2": "inactive"}
        assert running.report.counts["deactivated"] == 1
    else:
        assert fluent.operations("deactivate") == []
        assert statuses(ledger) == {"p/v1": "synced", "p/v2": "synced"}
    assert running.report.counts["unchanged"] == 1  # v1 itself did not change


def _rows(ledger: Ledger, source_id: str) -> list[Any]:
    with ledger.engine.connect() as conn:
        return list(conn.execute(sync_state.select().where(sync_state.c.source_id == source_id)))


@pytest.mark.parametrize("problem", ["skipped", "failed", "waiting"])
def test_a_dropped_target_that_never_reached_fluent_is_forgotten(
    ledger: Ledger, fluent: FakeFluent, problem: Status
) -> None:
    v2 = key("p", "v2")
    ledger.claim([Claim(key("p", "v1"), 1), Claim(v2, 1)], owner="run-0", lease_seconds=60)
    stale = Outcome(v2, problem, 1, error_code="X", error_message="a problem",
                    waiting_for=(parent_of("nowhere"),) if problem == "waiting" else ())  # fmt: skip
    synced = Outcome(key("p", "v1"), "synced", 1, fluent_ref=ref_of("p", "v1"), payload_hash="old")
    ledger.record([synced, stale], owner="run-0", run_id="run-0")
    with engine(ledger, fluent, run_id="run-1") as running:
        running.sync_chunk([Thing("p", version=2, targets=("v1",))])  # v2 is no longer there
    assert statuses(ledger) == {"p/v1": "synced"}  # its old problem is not outstanding for ever
    assert fluent.operations("deactivate") == []
