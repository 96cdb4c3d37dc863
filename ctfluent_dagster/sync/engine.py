"""The sync core shared by every entity: plan, claim, decide, push concurrently, record, report.

An :class:`EntitySync` (customers today; products and orders next) knows how to map a commercetools record and
how to create, update and find it in Fluent. The engine knows everything else:

* change detection: a record whose mapped payload hash equals the last synced one sends nothing;
* version guard and racing runs: via ledger claims (see ``ledger/store.py``);
* self-healing: create hits "already exists" -> find it, then update (``upsert``) or just link
  (``create_only``); update hits "not found" -> create;
* every record ends synced, skipped (with the mapping's reason) or failed (with the API's code and message).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from typing import Generic, Literal, Protocol, TypeVar

from ctfluent_dagster.fluent.client import FluentAlreadyExistsError, FluentNotFoundError
from ctfluent_dagster.ledger.store import Claim, Ledger, LedgerEntry, LedgerKey, Outcome
from ctfluent_dagster.transport import ApiError

log = logging.getLogger(__name__)

UpdatePolicy = Literal["upsert", "create_only"]
Change = Literal["created", "updated", "linked", "unchanged", "superseded", "skipped", "failed"]
Action = Literal["skip", "unchanged", "linked", "create", "update"]
RecordT = TypeVar("RecordT")
RecordT_contra = TypeVar("RecordT_contra", contravariant=True)
PushT = TypeVar("PushT")


@dataclass(frozen=True)
class FluentIdentity:
    ref: str
    id: str | None = None


@dataclass(frozen=True)
class PlannedPush(Generic[PushT]):
    key: LedgerKey
    version: int
    ref: str  # the Fluent key a new record gets (e.g. the username)
    payload_hash: str  # of what Fluent would hold; equal hashes mean nothing to send
    payload: PushT
    label: str  # masked, human-readable pointer to the source record for failure tables


@dataclass(frozen=True)
class PlannedSkip:
    key: LedgerKey
    version: int
    reason: str
    label: str


class EntitySync(Protocol[RecordT_contra, PushT]):
    entity_type: str

    def plan(self, record: RecordT_contra) -> Sequence[PlannedPush[PushT] | PlannedSkip]:
        """Map one commercetools record to the Fluent records it becomes (pure)."""
        ...

    def create(self, push: PlannedPush[PushT]) -> FluentIdentity: ...

    def update(self, push: PlannedPush[PushT], ref: str) -> FluentIdentity: ...

    def create_many(self, pushes: Sequence[PlannedPush[PushT]]) -> list[FluentIdentity]:
        """All in one request; any failure means none was applied (Fluent permits no partial mutation)."""
        ...

    def update_many(self, pushes: Sequence[tuple[PlannedPush[PushT], str]]) -> list[FluentIdentity]: ...

    def find(self, ref: str) -> FluentIdentity | None: ...


@dataclass(frozen=True)
class ProblemRow:
    """One failed or skipped record, as shown in the UI (no personal data beyond the masked label)."""

    source_id: str
    version: int
    target_key: str
    label: str
    code: str
    message: str
    partition_key: str | None


@dataclass
class SyncReport:
    max_rows: int = 200  # tables in metadata stay small; the ledger keeps every row
    counts: Counter[str] = field(default_factory=Counter)
    failures: list[ProblemRow] = field(default_factory=list)
    skips: list[ProblemRow] = field(default_factory=list)
    records_read: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def records_per_second(self) -> float:
        return self.records_read / self.seconds if self.seconds > 0 else 0.0

    def add(self, change: Change, row: ProblemRow | None = None) -> None:
        self.counts[change] += 1
        if row is not None:
            rows = self.failures if change == "failed" else self.skips
            if len(rows) < self.max_rows:
                rows.append(row)


@dataclass(frozen=True)
class _Result:
    change: Change
    outcome: Outcome


Done = list[tuple[PlannedPush[PushT] | PlannedSkip, _Result]]


@dataclass
class _Chunk(Generic[PushT]):
    """One chunk's claimed records, being pushed by the worker threads."""

    keys: list[LedgerKey]
    futures: list[Future[Done[PushT]]]
    retire: list[LedgerKey]
    partition_key: str | None


class SyncEngine(Generic[RecordT, PushT]):
    """Use as a context manager (it owns the worker threads); call :meth:`sync_chunk` per chunk of records.

    Chunks are pipelined: while the workers push one chunk, the caller's thread reads, maps and claims the next,
    so the workers never wait for the ledger or the mapping. Records another run holds are retried at the end.
    Creates and updates go to Fluent ``batch_size`` per request (alias batching); a batch that fails is pushed
    again one record at a time, which isolates the failing record and heals the others.
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
        lease_seconds: float = 900.0,
        busy_poll_seconds: float = 0.5,
    ) -> None:
        self.ledger = ledger
        self.entity = entity
        self.run_id = run_id
        self.policy = policy
        self.batch_size = max(1, batch_size)
        self.lease_seconds = lease_seconds
        self.busy_poll_seconds = busy_poll_seconds
        self.report = SyncReport()
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"sync-{entity.entity_type}")
        self._in_flight: deque[_Chunk[PushT]] = deque()
        self._busy: list[tuple[list[PlannedPush[PushT] | PlannedSkip], str | None]] = []

    def __enter__(self) -> SyncEngine[RecordT, PushT]:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None:
                self._finish()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
            # Whatever was claimed but not recorded (the run is failing) goes back to other runs at once.
            unrecorded = [key for chunk in self._in_flight for key in chunk.keys]
            if unrecorded:
                self.ledger.release(unrecorded, owner=self.run_id)
            self.report.finished = time.monotonic()

    # -- the pipeline ------------------------------------------------------------------------------

    def sync_chunk(self, records: Sequence[RecordT], partition_key: str | None = None) -> None:
        self.report.records_read += len(records)
        plans = [plan for record in records for plan in self.entity.plan(record)]
        self._claim_and_submit(plans, partition_key)
        self._record_chunks(keep_in_flight=1)

    def _claim_and_submit(self, plans: list[PlannedPush[PushT] | PlannedSkip], partition_key: str | None) -> None:
        by_key = {plan.key: plan for plan in plans}
        planned_targets: dict[str, set[str]] = {}
        for plan in plans:
            planned_targets.setdefault(plan.key.source_id, set()).add(plan.key.target_key)
        claims = self.ledger.claim(
            [Claim(plan.key, plan.version) for plan in plans], owner=self.run_id, lease_seconds=self.lease_seconds
        )
        self.report.counts["superseded"] += len(claims.superseded)
        if claims.busy:
            self._busy.append(([by_key[claim.key] for claim in claims.busy], partition_key))
        futures: list[Future[Done[PushT]]] = []
        groups: dict[Action, list[tuple[PlannedPush[PushT], LedgerEntry]]] = {"create": [], "update": []}
        for claim, prior in claims.claimed:
            plan = by_key[claim.key]
            action = self._decide(plan, prior)
            if isinstance(plan, PlannedPush) and action in groups:
                groups[action].append((plan, prior))
            else:  # decided without asking Fluent
                futures.append(_completed([(plan, self._apply(plan, prior, partition_key))]))
        for action, items in groups.items():
            for start in range(0, len(items), self.batch_size):
                batch = items[start : start + self.batch_size]
                futures.append(self._pool.submit(self._push_batch, action, batch, partition_key))
        retire = [
            sibling.key
            for sibling in claims.siblings
            if sibling.key.target_key not in planned_targets.get(sibling.key.source_id, set())
        ]
        keys = [claim.key for claim, _ in claims.claimed]
        self._in_flight.append(_Chunk(keys, futures, retire, partition_key))

    def _record_chunks(self, keep_in_flight: int) -> None:
        while len(self._in_flight) > keep_in_flight:
            chunk = self._in_flight[0]
            done = [pair for future in chunk.futures for pair in future.result()]
            outcomes = [result.outcome for _, result in done]
            written = self.ledger.record(outcomes, owner=self.run_id, run_id=self.run_id, retire=chunk.retire)
            if written < len(outcomes):
                log.warning("%d outcomes were not recorded: their leases expired", len(outcomes) - written)
            self._in_flight.popleft()
            for plan, result in done:
                self.report.add(result.change, self._problem_row(plan, result, chunk.partition_key))

    def _finish(self) -> None:
        self._record_chunks(keep_in_flight=0)
        while self._busy:
            waiting = sum(len(plans) for plans, _ in self._busy)
            log.info("%d records are being synced by another run; waiting for their leases", waiting)
            time.sleep(self.busy_poll_seconds)
            busy, self._busy = self._busy, []
            for plans, partition_key in busy:
                self._claim_and_submit(plans, partition_key)
            self._record_chunks(keep_in_flight=0)

    def _problem_row(
        self, plan: PlannedPush[PushT] | PlannedSkip, result: _Result, partition_key: str | None
    ) -> ProblemRow | None:
        if result.change not in ("failed", "skipped"):
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

    def _apply(self, plan: PlannedPush[PushT] | PlannedSkip, prior: LedgerEntry, partition_key: str | None) -> _Result:
        if isinstance(plan, PlannedSkip):
            outcome = Outcome(
                plan.key,
                "skipped",
                plan.version,
                label=plan.label,
                error_code="SKIPPED",
                error_message=plan.reason,
                partition_key=partition_key,
            )
            return _Result("skipped", outcome)
        try:
            change, identity = self._push(plan, prior)
        except ApiError as exc:
            outcome = Outcome(
                plan.key,
                "failed",
                plan.version,
                label=plan.label,
                error_code=exc.code or (f"HTTP {exc.status}" if exc.status else type(exc).__name__),
                error_message=exc.message,
                partition_key=partition_key,
            )
            return _Result("failed", outcome)
        return self._synced(plan, change, identity, partition_key)

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

    def _decide(self, plan: PlannedPush[PushT] | PlannedSkip, prior: LedgerEntry) -> Action:
        if isinstance(plan, PlannedSkip):
            return "skip"
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
                log.info("%s %s is gone from Fluent; creating it again", self.entity.entity_type, plan.label)
        try:
            return "created", self.entity.create(plan)
        except FluentAlreadyExistsError:
            existing = self.entity.find(plan.ref)
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
            except ApiError as exc:
                log.info("a batch of %d %ss failed (%s); pushing them one by one", len(items), action, exc.code)
        return [(plan, self._apply(plan, prior, partition_key)) for plan, prior in items]


def _completed(value: Done[PushT]) -> Future[Done[PushT]]:
    future: Future[Done[PushT]] = Future()
    future.set_result(value)
    return future
