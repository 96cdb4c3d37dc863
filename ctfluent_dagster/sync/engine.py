"""The sync core shared by every entity: plan, claim, resolve references, decide, push concurrently, record.

An :class:`EntitySync` (customers, categories, products, ...) knows how to map a commercetools record and how to
create, update, find and deactivate it in Fluent. The engine knows everything else:

* cheap no-change runs: records whose commercetools version and payload hash equal the ledger's synced ones cost
  one bulk comparison per chunk, no claim and no write;
* change detection: a record whose mapped payload hash equals the last synced one sends nothing;
* version guard and racing runs: via ledger claims (see ``ledger/store.py``), kept alive by a heartbeat;
* references: a record that needs other Fluent records (a product its categories) gets them resolved through the
  ledger; when one is not in Fluent yet the record ends **waiting** for it, and :meth:`SyncEngine.resume_waiting`
  pushes it once it can be;
* self-healing: create hits "already exists" -> find it, then update (``upsert``) or just link
  (``create_only``); update hits "not found" -> create;
* gone records (deleted or unpublished in commercetools) and targets a record no longer has (a removed variant)
  are deactivated in Fluent, as the entity defines it;
* every record ends synced, skipped (with the mapping's reason), waiting (with what for), failed (with the API's
  code and message), or deactivated.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Generic, Literal, TypeVar, cast

from ctfluent_dagster.fluent.client import FluentAlreadyExistsError, FluentNotFoundError
from ctfluent_dagster.ledger.store import Busy, Claim, KnownRecords, Ledger, Liveness, current_holder
from ctfluent_dagster.records import (
    Change,
    Dependency,
    EntitySync,
    FluentIdentity,
    GoneStatus,
    LedgerEntry,
    LedgerKey,
    OnDemandSync,
    Outcome,
    Plan,
    PlannedPush,
    PlannedRetire,
    PlannedSkip,
    PushT,
    Status,
    UpdatePolicy,
)
from ctfluent_dagster.staging import StagedChunk
from ctfluent_dagster.transport import ApiError, TemporaryApiError

log = logging.getLogger(__name__)

Action = Literal["skip", "unchanged", "linked", "create", "update"]
RecordT = TypeVar("RecordT")
WAITING_CODE = "WAITING"
UNAVAILABLE_CODE = "REFERENCE_UNAVAILABLE"
# Statuses of a Fluent record the ledger tracks whose source or target is gone; nothing to deactivate again.
RETIRED_STATUSES: tuple[Status, ...] = ("deleted", "inactive")
# Rounds of references within one chunk (a category tree's depth); deeper ones wait for resume_waiting.
_MAX_LEVELS = 8
# References of other entities found in Fluent, remembered for the rest of a run (bounded: a run of a million orders
# references as many customers).
_REMEMBERED_REFERENCES = 20_000


@dataclass(frozen=True)
class ProblemRow:
    """One failed, skipped or waiting record, as shown in the UI (no personal data beyond the masked label)."""

    source_id: str
    version: int
    target_key: str
    label: str
    code: str
    message: str
    partition_key: str | None

    @property
    def key(self) -> tuple[str, str]:
        return self.source_id, self.target_key


@dataclass
class SyncReport:
    max_rows: int = 200  # tables in metadata stay small; the ledger keeps every row
    counts: Counter[str] = field(default_factory=Counter)
    failures: list[ProblemRow] = field(default_factory=list)
    skips: list[ProblemRow] = field(default_factory=list)
    waiting: list[ProblemRow] = field(default_factory=list)
    notes: list[ProblemRow] = field(default_factory=list)  # pushed, with what the mapping had to adapt
    planned: list[ProblemRow] = field(default_factory=list)  # a dry run's: what it would do, with the differences
    records_read: int = 0
    # The same counts per partition (a run over many partitions reports each one's own).
    by_partition: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def records_per_second(self) -> float:
        return self.records_read / self.seconds if self.seconds > 0 else 0.0

    def absorb(self, other: SyncReport) -> None:
        """Add what another shard of the same push did (another process's report)."""
        self.counts.update(other.counts)
        self.records_read += other.records_read
        for partition_key, counts in other.by_partition.items():
            self.by_partition[partition_key].update(counts)
        for rows, more in ((self.failures, other.failures), (self.skips, other.skips), (self.waiting, other.waiting),
                           (self.notes, other.notes), (self.planned, other.planned)):  # fmt: skip
            rows.extend(more[: max(0, self.max_rows - len(rows))])

    def add(self, change: Change, row: ProblemRow | None = None, partition_key: str | None = None) -> None:
        self.counts[change] += 1
        if partition_key is not None:
            self.by_partition[partition_key][change] += 1
        tables = {"failed": self.failures, "skipped": self.skips, "waiting": self.waiting}
        rows = tables.get(change)
        if row is not None and rows is not None and len(rows) < self.max_rows:
            rows.append(row)


@dataclass(frozen=True)
class _Result:
    change: Change
    outcome: Outcome


Done = list[tuple[Plan[PushT], _Result]]


@dataclass(frozen=True)
class _BusyPlans(Generic[PushT]):
    """Records another live run held when this run claimed them: claimed again once that run lets them go."""

    plans: list[Plan[PushT]]
    partition_key: str | None
    mapped: Mapping[str, set[str]] | None
    known: KnownRecords | None
    busy: list[Busy]


@dataclass
class _Chunk(Generic[PushT]):
    """One chunk's claimed records, being pushed by the worker threads."""

    keys: list[LedgerKey]
    futures: list[Future[Done[PushT]]]
    retire: list[LedgerKey]
    partition_key: str | None


def _error_code(exc: ApiError) -> str:
    return exc.code or (f"HTTP {exc.status}" if exc.status else type(exc).__name__)


def ready_waiting(ledger: Ledger, entity_type: str, limit: int = 2000) -> list[LedgerEntry]:
    """Waiting records whose references are all in Fluent now: ready to be pushed."""
    waiting = ledger.entries(entity_type, status="waiting", limit=limit)
    resolved = ledger.resolve(d for entry in waiting for d in entry.waiting_for)
    return [entry for entry in waiting if all(d in resolved for d in entry.waiting_for)]


class SyncEngine(Generic[RecordT, PushT]):
    """Use as a context manager (it owns the worker threads and the lease heartbeat); call :meth:`sync_chunk` per
    chunk of records.

    Chunks are pipelined: while the workers push one chunk, the caller's thread reads, maps and claims the next,
    so the workers never wait for the ledger or the mapping. Records another live run holds are retried at the end.
    Creates and updates go to Fluent ``batch_size`` per request (alias batching). A batch that fails permanently
    is pushed again one record at a time, which isolates the failing record and heals the others; a batch that
    still fails temporarily after the retry budget fails as a whole (one outage must not cost a retry budget per
    record).
    """

    def __init__(
        self,
        ledger: Ledger,
        entity: EntitySync[RecordT, PushT],
        *,
        run_id: str,
        concurrency: int = 8,
        batch_size: int = 1,
        policy: UpdatePolicy = "upsert",
        gone_status: GoneStatus = "deleted",
        deactivate_dropped: bool = False,
        deactivate_gone: bool = True,
        lease_seconds: float = 60.0,
        busy_poll_seconds: float = 0.5,
        is_alive: Liveness | None = None,
        config_hash: str | None = None,
        logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
        dry_run: bool = False,
        on_demand: Mapping[str, OnDemandSync] | None = None,
        wait_for_busy: bool = True,
    ) -> None:
        """``config_hash``: a fingerprint of everything the mapping depends on besides the record (settings, code);
        with it, records the ledger holds as settled at their version are skipped before they are even parsed.
        ``dry_run``: map, resolve and compare with the ledger and Fluent, write nothing (neither Fluent nor the
        ledger), and report what would be done (``report.planned``). ``on_demand``: by entity type, the syncs of
        referenced records this run pushes itself when they are not in Fluent yet (``Dependency.on_demand``).
        ``wait_for_busy``: whether records another live run holds are pushed once it lets them go (False: left to
        that run; an on-demand sync, whose caller falls back on its own)."""
        self.dry_run = dry_run
        self.on_demand = dict(on_demand or {})
        self.wait_for_busy = wait_for_busy
        self.ledger = ledger
        self.entity = entity
        self.run_id = run_id
        self.policy = policy
        self.gone_status = gone_status
        self.deactivate_dropped = deactivate_dropped
        self.deactivate_gone = deactivate_gone
        self.batch_size = max(1, batch_size)
        self.lease_seconds = lease_seconds
        self.busy_poll_seconds = busy_poll_seconds
        self.is_alive = is_alive
        self.config_hash = config_hash
        self.log = logger or log
        self.report = SyncReport()
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"sync-{entity.entity_type}")
        self._in_flight: deque[_Chunk[PushT]] = deque()
        self._waited: set[LedgerKey] = set()  # records that ended waiting in this run (they may move on later)
        self._busy: list[_BusyPlans[PushT]] = []
        self._in_fluent: dict[Dependency, FluentIdentity] = {}  # references of other entities, found in Fluent
        self._stop_heartbeat = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, name=f"lease-heartbeat-{run_id[:8]}", daemon=True)
        self._heartbeat.start()

    def __enter__(self) -> SyncEngine[RecordT, PushT]:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None:
                self._finish()
        finally:
            for sync in self.on_demand.values():
                sync.close()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._stop_heartbeat.set()
            self._heartbeat.join()
            # Whatever was claimed but not recorded (the run is failing) goes back to other runs at once.
            unrecorded = [key for chunk in self._in_flight for key in chunk.keys]
            if unrecorded:
                self.ledger.release(unrecorded, owner=self.run_id)
            self.report.finished = time.monotonic()

    @property
    def waited(self) -> frozenset[LedgerKey]:
        """The records that ended waiting in this run so far (they may still move on in it)."""
        return frozenset(self._waited)

    def absorb(self, report: SyncReport, waited: Iterable[LedgerKey]) -> None:
        """Count what another shard of this push did in its own process (its report, and what ended waiting there:
        a record that moves on here later counts once, with its latest outcome)."""
        self.report.absorb(report)
        self._waited.update(waited)

    def _beat(self) -> None:
        """Renew this run's leases well before they lapse: a run that dies stops renewing, so they lapse soon."""
        while not self._stop_heartbeat.wait(self.lease_seconds / 4):
            try:
                self.ledger.renew(self.run_id, self.lease_seconds, holder=current_holder())
            except Exception:  # a missed beat is retried at the next one; the lease is 4 beats long
                log.warning("renewing the leases of run %s failed", self.run_id, exc_info=True)

    # -- the pipeline ------------------------------------------------------------------------------

    def sync_staged(self, chunk: StagedChunk, partition_key: str | None = None) -> int:
        """A staged chunk: sources settled at their version (nothing changed, same mapping) are counted with one
        bulk comparison and never parsed or mapped; the others are synced. Returns how many were."""
        known = self.ledger.known(self.entity.entity_type, chunk.ids)
        settled = (
            known.settled(zip(chunk.ids, chunk.versions, strict=True), self.config_hash) if self.config_hash else {}
        )
        for counts in settled.values():
            self._count("unchanged", counts["synced"], partition_key)
            self._count("skipped", counts["skipped"], partition_key)
        self.report.records_read += len(settled)
        records = cast(list[RecordT], chunk.records(skip=settled))
        self.sync_chunk(records, partition_key, known)
        return len(records)

    def sync_chunk(
        self, records: Sequence[RecordT], partition_key: str | None = None, known: KnownRecords | None = None
    ) -> None:
        """``known``: the ledger's rows of these records, when the caller has read them already."""
        self.report.records_read += len(records)
        plans: list[Plan[PushT]] = [plan for record in records for plan in self.entity.plan(record)]
        if not plans:
            return
        if known is None:
            known = self.ledger.known(self.entity.entity_type, {plan.key.source_id for plan in plans})
        mapped = mapped_targets(plans)
        levels = self._levels(self._drop_unchanged(plans, partition_key, known))
        for level, level_plans in enumerate(levels):
            if level:  # references within the chunk (a parent category): recorded before what references them
                self._record_chunks(keep_in_flight=0)
            self._claim_and_submit(level_plans, partition_key, mapped, known)
        self._record_chunks(keep_in_flight=1)

    def _levels(self, plans: list[Plan[PushT]]) -> list[list[Plan[PushT]]]:
        """Plans in rounds: a record that references another record of the same chunk and entity comes a round
        after it, so that it finds it in Fluent instead of waiting for a later pass."""
        level_of: dict[str, int] = {}
        pending = list(plans)
        in_chunk = {plan.key.source_id for plan in plans}
        levels: list[list[Plan[PushT]]] = []
        while pending:
            current, later = [], []
            for plan in pending:
                inner = [
                    d.source_id for d in (plan.requires if isinstance(plan, PlannedPush) else ())
                    if d.entity_type == self.entity.entity_type and d.source_id in in_chunk
                    and d.source_id != plan.key.source_id
                ]  # fmt: skip
                if all(source in level_of for source in inner) or len(levels) >= _MAX_LEVELS:
                    current.append(plan)
                else:
                    later.append(plan)
            for plan in current:
                level_of.setdefault(plan.key.source_id, len(levels))
            levels.append(current)
            pending = later
        return levels

    def retire(self, source_ids: Iterable[str], partition_key: str | None = None) -> None:
        """These commercetools records are gone (deleted, unpublished): deactivate their Fluent records."""
        ids = sorted(set(source_ids))
        if not ids:
            return
        known = self.ledger.entries(self.entity.entity_type, source_ids=ids)
        status = self.gone_status
        plans: list[Plan[PushT]] = [
            PlannedRetire(e.key, e.source_version or 0, e.label or "", e.fluent_ref if self.deactivate_gone else None,
                          status)
            for e in known
        ]  # fmt: skip
        plans += [
            PlannedRetire(LedgerKey(self.entity.entity_type, source_id, ""), 0, "", None, status)
            for source_id in sorted(set(ids) - {e.key.source_id for e in known})
        ]
        self._claim_and_submit(plans, partition_key)
        self._record_chunks(keep_in_flight=0)

    def resume_waiting(
        self, reread: Callable[[Sequence[str]], Iterable[Sequence[RecordT]]], id_of: Callable[[RecordT], str]
    ) -> None:
        """Push the waiting records whose references have reached Fluent, re-read by id (their current state), until
        none is left that can move (a chain of parents moves one level per round). Not in a dry run."""
        if self.dry_run:
            return
        self._record_chunks(keep_in_flight=0)
        tried: set[str] = set()
        while True:
            ready = [e for e in ready_waiting(self.ledger, self.entity.entity_type) if e.key.source_id not in tried]
            if not ready:
                return
            self.log.info("%d waiting %s record(s) can be pushed now", len(ready), self.entity.entity_type)
            tried |= self._push_again(ready, reread, id_of)

    def retry_failed(
        self,
        reread: Callable[[Sequence[str]], Iterable[Sequence[RecordT]]],
        id_of: Callable[[RecordT], str],
        max_attempts: int,
        backoff_seconds: float,
    ) -> None:
        """Automatic retry: push again, re-read by id, the failed records whose backoff has passed
        (``backoff_seconds * 2**(attempts - 1)`` after their last failure) and that have failed fewer than
        ``max_attempts`` times; the others stay failed until re-driven. Not in a dry run."""
        if self.dry_run:
            return
        self._record_chunks(keep_in_flight=0)
        due = [e for e in self.ledger.due_failures(self.entity.entity_type, max_attempts, backoff_seconds)
               if e.run_id != self.run_id]  # fmt: skip  # failed in this run: a later run retries them
        if due:
            self.log.info("retrying %d failed %s record(s) whose backoff has passed", len(due), self.entity.entity_type)
            self.report.counts["retried"] += len(due)
            self._push_again(due, reread, id_of)

    def _push_again(
        self,
        entries: Sequence[LedgerEntry],
        reread: Callable[[Sequence[str]], Iterable[Sequence[RecordT]]],
        id_of: Callable[[RecordT], str],
    ) -> set[str]:
        """Re-read these records by id and push them, each in its partition; those gone are retired."""
        by_partition: dict[str | None, set[str]] = defaultdict(set)
        for entry in entries:
            by_partition[entry.partition_key].add(entry.key.source_id)
        for partition_key, ids in by_partition.items():
            found: set[str] = set()
            for page in reread(sorted(ids)):
                self.sync_chunk(page, partition_key)
                found.update(id_of(record) for record in page)
            self.retire(ids - found, partition_key)
        self._record_chunks(keep_in_flight=0)
        return {entry.key.source_id for entry in entries}

    def _count(self, change: Change, count: int, partition_key: str | None) -> None:
        self.report.counts[change] += count
        if partition_key is not None:
            self.report.by_partition[partition_key][change] += count

    def _drop_unchanged(
        self, plans: list[Plan[PushT]], partition_key: str | None, known: KnownRecords
    ) -> list[Plan[PushT]]:
        """Records the ledger holds as synced at this version with this payload: counted, not claimed."""
        same = known.unchanged((p.key, p.version, p.payload_hash) for p in plans if isinstance(p, PlannedPush))
        if not same:
            return plans
        self._count("unchanged", len(same), partition_key)
        return [plan for plan in plans if not (isinstance(plan, PlannedPush) and plan.key in same)]

    def _claim_and_submit(
        self,
        plans: list[Plan[PushT]],
        partition_key: str | None,
        mapped: Mapping[str, set[str]] | None = None,
        known: KnownRecords | None = None,
    ) -> None:
        """``mapped``: every Fluent target each source record maps to now (also those not in ``plans``, e.g.
        unchanged): the ledger's other targets of those sources (in ``known``) are ones the source dropped."""
        if not plans:
            return
        if self.dry_run:
            self._preview(plans, partition_key)
            return
        by_key = {plan.key: plan for plan in plans}
        claims = self.ledger.claim(
            [Claim(plan.key, plan.version) for plan in plans],
            owner=self.run_id,
            lease_seconds=self.lease_seconds,
            is_alive=self.is_alive,
        )
        for owner, count in claims.taken_over.items():
            self.log.warning("took over %d record(s) leased by run %s, which is no longer running", count, owner)
        self.report.counts["superseded"] += len(claims.superseded)
        if claims.busy:
            self._busy.append(_BusyPlans([by_key[b.claim.key] for b in claims.busy], partition_key, mapped, known,
                                         claims.busy))  # fmt: skip
        references = {d for claim, _ in claims.claimed if isinstance(p := by_key[claim.key], PlannedPush)
                      for d in p.requires}  # fmt: skip
        resolved, blocked = self._references(references)
        failed_on_demand = self._sync_on_demand(references, resolved)
        if failed_on_demand is not None:  # something was synced: look again
            resolved, blocked = self._references(references)
        futures: list[Future[Done[PushT]]] = []
        groups: dict[Action, list[tuple[PlannedPush[PushT], LedgerEntry]]] = {"create": [], "update": []}
        for claim, prior in claims.claimed:
            plan = by_key[claim.key]
            if isinstance(plan, PlannedPush) and plan.requires:
                held = self._held_by_references(plan, resolved, blocked, partition_key, failed_on_demand)
                if held is not None:
                    futures.append(_completed([(plan, held)]))
                    continue
                plan = replace(plan, resolved={d: resolved[d] for d in plan.requires if d in resolved})
            action = self._decide(plan, prior)
            if isinstance(plan, PlannedPush) and action in groups:
                groups[action].append((plan, prior))
            elif isinstance(plan, PlannedRetire) and plan.ref and prior.status not in RETIRED_STATUSES:
                futures.append(self._pool.submit(self._apply_one, plan, prior, partition_key))
            else:  # decided without asking Fluent
                futures.append(_completed([(plan, self._apply(plan, prior, partition_key))]))
        if groups["create"]:
            self._prepare([plan for plan, _ in groups["create"]])
        for action, items in groups.items():
            for start in range(0, len(items), self.batch_size):
                batch = items[start : start + self.batch_size]
                futures.append(self._pool.submit(self._push_batch, action, batch, partition_key))
        siblings = known.siblings(list(by_key)) if known is not None and mapped is not None else []
        dropped = [  # Fluent records the source had before and no longer maps to (a removed variant, a store left)
            sibling
            for sibling in siblings
            if mapped is not None
            and sibling.key.source_id in mapped
            and sibling.key.target_key not in mapped[sibling.key.source_id]
        ]
        never_pushed = ("pending", "skipped", "waiting", "failed", "inactive")
        # Forgotten unless they are in Fluent and the entity deactivates what its source dropped (below).
        retire = [s.key for s in dropped if s.status in never_pushed and not (self.deactivate_dropped and s.fluent_ref)]
        keys = [claim.key for claim, _ in claims.claimed]
        self._in_flight.append(_Chunk(keys, futures, retire, partition_key))
        if self.deactivate_dropped:
            stale = [s for s in dropped if s.fluent_ref and s.status != "inactive"]
            for sibling in stale:
                self.log.info("%s %s no longer exists in commercetools: deactivating it", sibling.key.entity_type,
                              sibling.fluent_ref)  # fmt: skip
            self._claim_and_submit(
                [PlannedRetire(s.key, s.source_version or 0, s.label or "", s.fluent_ref, "inactive") for s in stale],
                partition_key,
            )

    def _references(
        self, dependencies: set[Dependency]
    ) -> tuple[dict[Dependency, FluentIdentity], dict[Dependency, str]]:
        """Which references are in Fluent, and which will not come (of those that do not wait), in one ledger query;
        references of other entities found in Fluent earlier in this run are not looked up again (this run does not
        change them; a record of its own entity may be deactivated by it)."""
        found = self.ledger.references(d for d in dependencies if d not in self._in_fluent)
        if len(self._in_fluent) > _REMEMBERED_REFERENCES:
            self._in_fluent.clear()
        self._in_fluent.update((d, identity) for d, identity in found.resolved.items()
                               if d.entity_type != self.entity.entity_type)  # fmt: skip
        resolved = {**found.resolved, **{d: self._in_fluent[d] for d in dependencies if d in self._in_fluent}}
        blocked = {d: why for d, why in found.unavailable.items() if d.unavailable != "wait"}
        return resolved, blocked

    def _prepare(self, creates: list[PlannedPush[PushT]]) -> None:
        """What a chunk's creates need, once for all of them (the entity's ``prepare``). A failure costs only the
        batching: each batch does it again for itself and records what fails, with its reason."""
        try:
            self.entity.prepare(creates, self.batch_size)
        except ApiError as exc:  # the message may name a customer: the code only
            self.log.warning("preparing %d %s creates failed (%s %s); each batch tries again", len(creates),
                             self.entity.entity_type, type(exc).__name__, exc.code or "")  # fmt: skip

    def _sync_on_demand(
        self, references: Iterable[Dependency], resolved: Mapping[Dependency, FluentIdentity]
    ) -> dict[Dependency, LedgerEntry] | None:
        """Push the on-demand references that are not in Fluent yet through their own syncs; the ones that failed
        (now, or earlier in this run: not pushed twice in one run), with their ledger entries. None: nothing to do."""
        missing = [d for d in references if d.on_demand and d.source_id is not None and d not in resolved
                   and d.entity_type in self.on_demand]  # fmt: skip
        if not missing:
            return None
        by_type: dict[str, set[str]] = defaultdict(set)
        for dependency in missing:
            by_type[dependency.entity_type].add(str(dependency.source_id))
        failed: dict[Dependency, LedgerEntry] = {}
        for entity_type, ids in by_type.items():
            before = self.ledger.entries(entity_type, source_ids=sorted(ids))
            done_here = {e.key.source_id for e in before if e.status == "failed" and e.run_id == self.run_id}
            if ids - done_here:
                self.on_demand[entity_type].sync_now(sorted(ids - done_here))
                self.report.counts[f"{entity_type}_on_demand"] += len(ids - done_here)
            entries = {(e.key.source_id, e.key.target_key): e
                       for e in self.ledger.entries(entity_type, source_ids=sorted(ids), status="failed")}  # fmt: skip
            for dependency in missing:
                entry = entries.get((str(dependency.source_id), dependency.target_key or ""))
                if dependency.entity_type == entity_type and entry is not None:
                    failed[dependency] = entry
        return failed

    def _preview(self, plans: list[Plan[PushT]], partition_key: str | None) -> None:
        """A dry run: what each record would become, decided as a real run decides, without claiming or writing."""
        ids = sorted({p.key.source_id for p in plans})
        known = {e.key: e for e in self.ledger.entries(self.entity.entity_type, source_ids=ids)}
        references = {d for p in plans if isinstance(p, PlannedPush) for d in p.requires}
        resolved, blocked = self._references(references)
        for plan in plans:
            prior = known.get(plan.key)
            change, detail = self._foresee(plan, prior, resolved, blocked)
            self._count(change, 1, partition_key)
            if len(self.report.planned) < self.report.max_rows:
                self.report.planned.append(ProblemRow(plan.key.source_id, plan.version, plan.key.target_key,
                                                      plan.label, change, detail, partition_key))  # fmt: skip

    def _foresee(
        self,
        plan: Plan[PushT],
        prior: LedgerEntry | None,
        resolved: Mapping[Dependency, FluentIdentity],
        blocked: Mapping[Dependency, str],
    ) -> tuple[Change, str]:
        """What a real run would decide for ``plan`` (the same decisions), without writing anything."""
        if isinstance(plan, PlannedRetire):
            retired = prior is not None and prior.status in RETIRED_STATUSES
            return ("would_deactivate" if plan.ref and not retired else "gone"), ""
        if isinstance(plan, PlannedSkip):
            skipped = self._skip(plan, prior, None)
            return skipped.change, skipped.outcome.error_message or "in Fluent already: kept"
        held = self._held_by_references(plan, resolved, blocked, None)
        if held is not None:
            return held.change, held.outcome.error_message or ""
        action = self._decide(plan, prior)
        if action == "create" or prior is None or prior.fluent_ref is None:
            return "would_create", ""
        if action == "unchanged":
            return "unchanged", ""
        if action == "linked":
            return "linked", "in Fluent already; create_only: not updated"
        ready = replace(plan, resolved={d: resolved[d] for d in plan.requires if d in resolved})
        try:
            differences = self.entity.differences(ready, prior.fluent_ref)
        except ApiError as exc:
            differences = [f"not compared: {exc.message}"]
        return "would_update", "; ".join(differences) or "no field differs (attributes or links only)"

    def _held_by_references(
        self,
        plan: PlannedPush[PushT],
        resolved: Mapping[Dependency, FluentIdentity],
        blocked: Mapping[Dependency, str],
        partition_key: str | None,
        failed_on_demand: Mapping[Dependency, LedgerEntry] | None = None,
    ) -> _Result | None:
        """The outcome of a record its references keep from Fluent (one synced on demand failed: it fails with that
        failure; one will not come: failed or skipped; one is not there yet: waiting), or None when it can go."""
        for dependency in plan.requires:
            failed = (failed_on_demand or {}).get(dependency)
            if failed is not None:
                reason = f"{dependency.describe()} did not reach Fluent: {failed.error_message or 'no reason'}"
                outcome = Outcome(plan.key, "failed", plan.version, label=plan.label,
                                  error_code=failed.error_code or UNAVAILABLE_CODE, error_message=reason,
                                  partition_key=partition_key, attempted_ref=plan.ref)  # fmt: skip
                return _Result("failed", outcome)
        stopped = {d: blocked[d] for d in plan.requires if d in blocked}
        if stopped:
            return self._unavailable(plan, stopped, partition_key)
        missing = [d for d in plan.requires if d not in resolved and not d.optional]
        return self._waiting(plan, missing, partition_key) if missing else None

    def _record_chunks(self, keep_in_flight: int) -> None:
        while len(self._in_flight) > keep_in_flight:
            chunk = self._in_flight[0]
            done = [pair for future in chunk.futures for pair in future.result()]
            outcomes = [
                replace(result.outcome, config_hash=self.config_hash, operation=result.change,
                        lookup=None if isinstance(plan, PlannedRetire) else plan.lookup)
                for plan, result in done
            ]  # fmt: skip
            written = self.ledger.record(outcomes, owner=self.run_id, run_id=self.run_id, retire=chunk.retire)
            if written < len(outcomes):
                self.log.warning("%d outcomes were not recorded: their leases expired", len(outcomes) - written)
            self._in_flight.popleft()
            for plan, result in done:
                if plan.key in self._waited:  # it waited earlier in this run: only its latest outcome counts
                    self._waited.discard(plan.key)
                    self.report.counts["waiting"] -= 1
                    if chunk.partition_key is not None:
                        self.report.by_partition[chunk.partition_key]["waiting"] -= 1
                    key = (plan.key.source_id, plan.key.target_key)
                    self.report.waiting = [row for row in self.report.waiting if row.key != key]
                if result.change == "waiting":
                    self._waited.add(plan.key)
                self.report.add(result.change, self._problem_row(plan, result, chunk.partition_key),
                                chunk.partition_key)  # fmt: skip
                if isinstance(plan, PlannedPush) and plan.notes and result.outcome.status == "synced":
                    self._note(plan, chunk.partition_key)

    def flush(self) -> None:
        """Wait for every chunk in flight and record it."""
        self._record_chunks(keep_in_flight=0)

    def _finish(self) -> None:
        self._record_chunks(keep_in_flight=0)
        if not self.wait_for_busy:
            self._busy = []
        while self._busy:
            holders: Counter[str] = Counter(b.owner for held in self._busy for b in held.busy)
            until = max(b.until for held in self._busy for b in held.busy)
            self.log.info(
                "%d %s record(s) are being synced by other run(s) (%s); waiting for their leases, at the latest "
                "until %s UTC unless those runs keep running",
                sum(holders.values()), self.entity.entity_type,
                ", ".join(f"run {owner}: {count}" for owner, count in holders.most_common()),
                until.strftime("%H:%M:%S"),
            )  # fmt: skip
            time.sleep(self.busy_poll_seconds)
            busy, self._busy = self._busy, []
            for held in busy:
                self._claim_and_submit(held.plans, held.partition_key, held.mapped, held.known)
            self._record_chunks(keep_in_flight=0)

    def _note(self, plan: PlannedPush[PushT], partition_key: str | None) -> None:
        self.report.counts["noted"] += 1
        if len(self.report.notes) < self.report.max_rows:
            row = ProblemRow(plan.key.source_id, plan.version, plan.key.target_key, plan.label, "NOTE",
                             "; ".join(plan.notes), partition_key)  # fmt: skip
            self.report.notes.append(row)

    def _problem_row(self, plan: Plan[PushT], result: _Result, partition_key: str | None) -> ProblemRow | None:
        if result.change not in ("failed", "skipped", "waiting"):
            return None
        return ProblemRow(
            source_id=plan.key.source_id,
            version=plan.version,
            target_key=plan.key.target_key,
            label=plan.label,
            code=result.outcome.error_code or "",
            message=result.outcome.error_message or "",
            partition_key=partition_key,
        )

    # -- one record --------------------------------------------------------------------------------

    def _apply_one(self, plan: Plan[PushT], prior: LedgerEntry, partition_key: str | None) -> Done[PushT]:
        return [(plan, self._apply(plan, prior, partition_key))]

    def _waiting(self, plan: PlannedPush[PushT], missing: Sequence[Dependency], partition_key: str | None) -> _Result:
        reason = "waiting for " + ", ".join(d.describe() for d in missing) + " to reach Fluent"
        outcome = Outcome(plan.key, "waiting", plan.version, label=plan.label, error_code=WAITING_CODE,
                          error_message=reason, partition_key=partition_key, waiting_for=tuple(missing))  # fmt: skip
        return _Result("waiting", outcome)

    def _unavailable(
        self, plan: PlannedPush[PushT], stopped: Mapping[Dependency, str], partition_key: str | None
    ) -> _Result:
        """References that will not reach Fluent: the record fails (a user must fix one of them, then re-drive)
        or, when each says so, is skipped with them."""
        reason = "; ".join(f"{d.describe()} will not reach Fluent: {why}" for d, why in stopped.items())
        if all(d.unavailable == "skip" for d in stopped):
            outcome = Outcome(plan.key, "skipped", plan.version, label=plan.label, error_code="SKIPPED",
                              error_message=reason, partition_key=partition_key)  # fmt: skip
            return _Result("skipped", outcome)
        outcome = Outcome(plan.key, "failed", plan.version, label=plan.label, error_code=UNAVAILABLE_CODE,
                          error_message=reason, partition_key=partition_key)  # fmt: skip
        return _Result("failed", outcome)

    def _failed(self, plan: Plan[PushT], exc: ApiError, partition_key: str | None) -> _Result:
        outcome = Outcome(plan.key, "failed", plan.version, label=plan.label, error_code=_error_code(exc),
                          error_message=exc.message, partition_key=partition_key,
                          attempted_ref=None if isinstance(plan, PlannedSkip) else plan.ref)  # fmt: skip
        return _Result("failed", outcome)

    def _apply(self, plan: Plan[PushT], prior: LedgerEntry, partition_key: str | None) -> _Result:
        if isinstance(plan, PlannedSkip):
            return self._skip(plan, prior, partition_key)
        if isinstance(plan, PlannedRetire):
            return self._retire(plan, prior, partition_key)
        try:
            change, identity = self._push(plan, prior)
        except ApiError as exc:
            return self._failed(plan, exc, partition_key)
        return self._synced(plan, change, identity, partition_key)

    def _skip(self, plan: PlannedSkip, prior: LedgerEntry | None, partition_key: str | None) -> _Result:
        if plan.before_create and prior is not None and prior.status == "synced" and prior.fluent_ref:
            outcome = Outcome(plan.key, "synced", plan.version, label=plan.label, fluent_ref=prior.fluent_ref,
                              fluent_id=prior.fluent_id, payload_hash=prior.payload_hash,
                              partition_key=partition_key)  # fmt: skip
            return _Result("linked", outcome)
        status: Literal["failed", "skipped"] = "failed" if plan.failure_code else "skipped"
        outcome = Outcome(plan.key, status, plan.version, label=plan.label, error_code=plan.failure_code or "SKIPPED",
                          error_message=plan.reason, partition_key=partition_key)  # fmt: skip
        return _Result(status, outcome)

    def _retire(self, plan: PlannedRetire, prior: LedgerEntry, partition_key: str | None) -> _Result:
        change: Change = "gone"
        if plan.ref and prior.status not in RETIRED_STATUSES:
            try:
                self.entity.deactivate(plan.ref)
            except ApiError as exc:
                failed = self._failed(plan, exc, partition_key)
                message = f"deactivating failed: {failed.outcome.error_message}"
                return _Result("failed", replace(failed.outcome, error_message=message))
            change = "deactivated"
        outcome = Outcome(plan.key, plan.status, plan.version, label=plan.label, partition_key=partition_key)
        return _Result(change, outcome)

    def _synced(
        self, plan: PlannedPush[PushT], change: Change, identity: FluentIdentity, partition_key: str | None
    ) -> _Result:
        outcome = Outcome(
            plan.key,
            "synced",
            plan.version,
            label=plan.label,
            fluent_ref=identity.ref,
            fluent_id=identity.id,
            payload_hash=plan.payload_hash,
            partition_key=partition_key,
        )
        return _Result(change, outcome)

    def _decide(self, plan: Plan[PushT], prior: LedgerEntry | None) -> Action:
        if isinstance(plan, PlannedSkip | PlannedRetire):
            return "skip"
        if prior is None:
            return "create"
        known_ref = prior.fluent_ref
        if known_ref and prior.status == "synced" and prior.payload_hash == plan.payload_hash:
            return "unchanged"
        if known_ref and self.policy == "create_only":
            return "linked"
        return "update" if known_ref else "create"

    def _push(self, plan: PlannedPush[PushT], prior: LedgerEntry) -> tuple[Change, FluentIdentity]:
        action = self._decide(plan, prior)
        if action == "unchanged" and prior.fluent_ref:
            return "unchanged", FluentIdentity(prior.fluent_ref, prior.fluent_id)
        if action == "linked" and prior.fluent_ref:
            return "linked", FluentIdentity(prior.fluent_ref, prior.fluent_id)
        if action == "update" and prior.fluent_ref:
            try:
                return "updated", self.entity.update(plan, prior.fluent_ref)
            except FluentNotFoundError:
                self.log.info("%s %s is gone from Fluent; creating it again", self.entity.entity_type, plan.label)
        try:
            return "created", self.entity.create(plan)
        except FluentAlreadyExistsError:
            existing = self.entity.find(plan)
            if existing is None:
                raise
        if self.policy == "create_only":
            return "linked", existing
        return "updated", self.entity.update(plan, existing.ref)

    def _push_batch(
        self, action: Action, items: list[tuple[PlannedPush[PushT], LedgerEntry]], partition_key: str | None
    ) -> Done[PushT]:
        if len(items) > 1:
            try:
                if action == "create":
                    identities = self.entity.create_many([plan for plan, _ in items])
                else:
                    identities = self.entity.update_many(
                        [(plan, prior.fluent_ref or plan.ref) for plan, prior in items]
                    )
                change: Change = "created" if action == "create" else "updated"
                return [
                    (plan, self._synced(plan, change, identity, partition_key))
                    for (plan, _), identity in zip(items, identities, strict=True)
                ]
            except TemporaryApiError as exc:
                # The retry budget is spent: Fluent is down or throttling. Pushing each record again would spend
                # it once per record; they fail together and are retried by a later run or a re-drive.
                self.log.warning("a batch of %d %ss failed temporarily (%s); not retrying it record by record",
                                 len(items), action, _error_code(exc))  # fmt: skip
                return [(plan, self._failed(plan, exc, partition_key)) for plan, _ in items]
            except ApiError as exc:
                self.log.info("a batch of %d %ss failed (%s); pushing them one by one", len(items), action, exc.code)
        return [(plan, self._apply(plan, prior, partition_key)) for plan, prior in items]


def mapped_targets(plans: Iterable[Plan[PushT]]) -> dict[str, set[str]]:
    """The Fluent targets each source record maps to, by commercetools id."""
    targets: dict[str, set[str]] = defaultdict(set)
    for plan in plans:
        targets[plan.key.source_id].add(plan.key.target_key)
    return targets


def _completed(value: Done[PushT]) -> Future[Done[PushT]]:
    future: Future[Done[PushT]] = Future()
    future.set_result(value)
    return future
