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
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from typing import Generic, Literal, Protocol, TypeVar

from ctfluent_dagster.fluent.client import FluentAlreadyExistsError, FluentNotFoundError
from ctfluent_dagster.ledger.store import Claim, ClaimResult, Ledger, LedgerEntry, LedgerKey, Outcome
from ctfluent_dagster.transport import ApiError

log = logging.getLogger(__name__)

UpdatePolicy = Literal["upsert", "create_only"]
Change = Literal["created", "updated", "linked", "unchanged", "superseded", "skipped", "failed"]
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
    error: ApiError | None = None


class SyncEngine(Generic[RecordT, PushT]):
    """Use as a context manager (it owns the worker threads); call :meth:`sync_chunk` per chunk of records."""

    def __init__(
        self,
        ledger: Ledger,
        entity: EntitySync[RecordT, PushT],
        *,
        run_id: str,
        concurrency: int = 8,
        policy: UpdatePolicy = "upsert",
        lease_seconds: float = 900.0,
        busy_poll_seconds: float = 0.5,
    ) -> None:
        self.ledger = ledger
        self.entity = entity
        self.run_id = run_id
        self.policy = policy
        self.lease_seconds = lease_seconds
        self.busy_poll_seconds = busy_poll_seconds
        self.report = SyncReport()
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"sync-{entity.entity_type}")

    def __enter__(self) -> SyncEngine[RecordT, PushT]:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.report.finished = time.monotonic()

    # -- the pipeline ------------------------------------------------------------------------------

    def sync_chunk(self, records: Sequence[RecordT], partition_key: str | None = None) -> None:
        self.report.records_read += len(records)
        plans = [plan for record in records for plan in self.entity.plan(record)]
        by_key = {plan.key: plan for plan in plans}
        planned_targets: dict[str, set[str]] = {}
        for plan in plans:
            planned_targets.setdefault(plan.key.source_id, set()).add(plan.key.target_key)

        pending = [Claim(plan.key, plan.version) for plan in plans]
        while pending:
            claims = self.ledger.claim(pending, owner=self.run_id, lease_seconds=self.lease_seconds)
            self._process(claims, by_key, planned_targets, partition_key)
            pending = claims.busy
            if pending:
                log.info("%d records are being synced by another run; waiting for their leases", len(pending))
                time.sleep(self.busy_poll_seconds)

    def _process(
        self,
        claims: ClaimResult,
        by_key: dict[LedgerKey, PlannedPush[PushT] | PlannedSkip],
        planned_targets: dict[str, set[str]],
        partition_key: str | None,
    ) -> None:
        self.report.counts["superseded"] += len(claims.superseded)
        work = [(by_key[claim.key], prior) for claim, prior in claims.claimed]
        results = list(self._pool.map(lambda item: self._apply(item[0], item[1], partition_key), work))
        outcomes = [result.outcome for result in results]
        retire = [
            sibling.key
            for sibling in claims.siblings
            if sibling.key.target_key not in planned_targets.get(sibling.key.source_id, set())
        ]
        written = self.ledger.record(outcomes, owner=self.run_id, run_id=self.run_id, retire=retire)
        if written < len(outcomes):
            log.warning("%d outcomes were not recorded: their leases expired", len(outcomes) - written)
        for (plan, _prior), result in zip(work, results, strict=True):
            self.report.add(result.change, self._problem_row(plan, result, partition_key))

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
            return _Result("failed", outcome, exc)
        return _Result(
            change,
            Outcome(
                plan.key,
                "synced",
                plan.version,
                label=plan.label,
                fluent_ref=identity.ref,
                fluent_id=identity.id,
                payload_hash=plan.payload_hash,
                partition_key=partition_key,
            ),
        )

    def _push(self, plan: PlannedPush[PushT], prior: LedgerEntry) -> tuple[Change, FluentIdentity]:
        known_ref = prior.fluent_ref
        if known_ref and prior.status == "synced" and prior.payload_hash == plan.payload_hash:
            return "unchanged", FluentIdentity(known_ref, prior.fluent_id)
        if known_ref and self.policy == "create_only":
            return "linked", FluentIdentity(known_ref, prior.fluent_id)
        if known_ref:
            try:
                return "updated", self.entity.update(plan, known_ref)
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
