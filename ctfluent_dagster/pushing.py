"""The sync engine of one target, built from a run's clients; and one staged push shared by several processes.

A push shard process (``push_processes``) has no Dagster resources: it rebuilds the clients from their settings
(:class:`ShardClients`, which pickle: no connections, no threads) and pushes its share of the staged pages; the run's
own process pushes shard 0 and then resumes waiting records and retries failures, for every shard.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any, Protocol

from ctfluent_dagster.commercetools.client import CommercetoolsClient, CommercetoolsSettings
from ctfluent_dagster.configuration import settings_class
from ctfluent_dagster.entities import ENTITIES
from ctfluent_dagster.entity import (
    EntityDeclaration,
    Record,
    SourceReading,
    SyncContext,
    Target,
    mapping_fingerprint,
)
from ctfluent_dagster.fluent.changes import parse_time
from ctfluent_dagster.fluent.client import FluentClient, FluentSettings
from ctfluent_dagster.ledger.store import Ledger, Liveness
from ctfluent_dagster.partitions import partition_for
from ctfluent_dagster.records import LedgerKey
from ctfluent_dagster.settings import SyncSettings
from ctfluent_dagster.staging import DatasetStore
from ctfluent_dagster.sync.engine import SyncEngine, SyncReport
from ctfluent_dagster.sync.on_demand import TargetOnDemand
from ctfluent_dagster.sync.processes import PageCounter, Shards, default_push_processes, peak_memory_mb

# Unless push_processes is set, a process of a push takes at least this many records; a smaller push uses fewer
# processes (starting one costs about two seconds of imports).
RECORDS_PER_PROCESS = 1_000


class RunClients(Protocol):
    """What building an engine needs of a run: its settings, ledger and clients."""

    @property
    def settings(self) -> SyncSettings: ...

    def get_ledger(self) -> Ledger: ...

    def sync_context(self, entity: EntityDeclaration) -> SyncContext: ...

    def reading(self, entity: EntityDeclaration) -> SourceReading: ...


@dataclass
class ShardClients:
    """A run's clients as settings, rebuilt on first use in a push shard process."""

    commercetools: CommercetoolsSettings
    writer: CommercetoolsSettings | None
    fluent: FluentSettings
    ledger_url: str
    settings_data: dict[str, Any]  # the run's SyncSettings, dumped (its class is built from the entities)
    values: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        commercetools: CommercetoolsSettings,
        writer: CommercetoolsSettings | None,
        fluent: FluentSettings,
        ledger_url: str,
        settings: SyncSettings,
        values: dict[str, str | None],
    ) -> ShardClients:
        return cls(commercetools, writer, fluent, ledger_url, settings.model_dump(), values)

    @cached_property
    def settings(self) -> SyncSettings:
        return settings_class().model_validate(self.settings_data)  # as the run had them, not read again

    @cached_property
    def _ledger(self) -> Ledger:
        return Ledger(self.ledger_url)  # migrated by the run's process, which started this one

    @cached_property
    def _fluent(self) -> FluentClient:
        return FluentClient(self.fluent)

    @cached_property
    def _commercetools(self) -> CommercetoolsClient:
        return CommercetoolsClient(self.commercetools)

    @cached_property
    def _writer(self) -> CommercetoolsClient | None:
        return CommercetoolsClient(self.writer) if self.writer is not None else None

    def get_ledger(self) -> Ledger:
        return self._ledger

    def sync_context(self, entity: EntityDeclaration) -> SyncContext:
        return entity.sync_context(
            self.settings, self._fluent, self.values, commercetools=self._commercetools, writer=self._writer,
            sources_by_fluent_ref=self._ledger.sources_by_fluent_ref,
        )  # fmt: skip

    def reading(self, entity: EntityDeclaration) -> SourceReading:
        return entity.reading(self.sync_context(entity))


def sync_engine(
    entity: EntityDeclaration,
    target: Target,
    run: RunClients,
    *,
    run_id: str,
    is_alive: Liveness | None = None,
    logger: Any = None,
    dry_run: bool = False,
    registry: Sequence[EntityDeclaration] = (),
    wait_for_busy: bool = True,
    concurrency: int | None = None,
) -> SyncEngine[Record, Any]:
    """The engine of one target. ``registry``: the entities whose on-demand targets (``Target.on_demand``) this
    engine may sync when its records reference them (never in a dry run). ``concurrency``: Fluent requests in
    flight (default: the settings' ``fluent_concurrency``)."""
    settings = run.settings
    section = settings.entity(entity.name)
    context = run.sync_context(entity)
    fingerprint = mapping_fingerprint(target.name, entity.settings_sections(settings), context.values)

    def on_demand(owner: EntityDeclaration, wanted: Target) -> TargetOnDemand:
        def engine() -> SyncEngine[Record, Any]:
            return sync_engine(owner, wanted, run, run_id=run_id, is_alive=is_alive, logger=logger,
                               wait_for_busy=False)  # fmt: skip

        return TargetOnDemand(run.reading(owner).by_keys, partial(record_partition, owner), engine)

    providers = {} if dry_run else {
        other.entity_type: on_demand(owner, other)
        for owner in registry for other in owner.targets if other.on_demand and other is not target
    }  # fmt: skip
    return SyncEngine(
        run.get_ledger(),
        target.build(context),
        run_id=run_id,
        concurrency=concurrency or settings.fluent_concurrency,
        batch_size=settings.fluent_batch_size,
        policy=entity.update_policy(section),
        gone_status=target.gone_status,
        deactivate_dropped=target.deactivate_dropped,
        deactivate_gone=target.deactivate_gone,
        lease_seconds=settings.lease_seconds,
        is_alive=is_alive,
        config_hash=fingerprint,
        logger=logger,
        dry_run=dry_run,
        on_demand=providers,
        wait_for_busy=wait_for_busy,
    )


def record_partition(entity: EntityDeclaration, record: Record) -> str | None:
    """The daily partition a record belongs to, by its source's partition field."""
    moment = record.get(entity.source.partition_field)
    return partition_for(parse_time(moment)) if moment else None


@dataclass(frozen=True)
class StagedPush:
    """The staged pages one push takes: its source's datasets of these partitions."""

    source: str  # the staging folder (the source's name)
    partition_keys: Sequence[str]
    dataset: str
    staged_by: str  # the asset that stages them (to say so when one is missing)

    def size(self, staging: DatasetStore) -> tuple[int, int]:
        """Its pages and records."""
        pages, records = 0, 0
        for partition_key in self.partition_keys:
            more_pages, more_records = staging.size(self.source, partition_key, self.dataset)
            pages, records = pages + more_pages, records + more_records
        return pages, records

    def processes(self, staging: DatasetStore, configured: int | None, ledger_dialect: str) -> int:
        """How many processes it may be pushed in: as configured (``push_processes``), else the default for the
        ledger; never more than there are pages, nor (unless configured) than RECORDS_PER_PROCESS records each."""
        pages, records = self.size(staging)
        wanted = configured or min(default_push_processes(ledger_dialect), records // RECORDS_PER_PROCESS)
        return max(1, min(wanted, pages))

    def push(
        self,
        engine: SyncEngine[Record, Any],
        staging: DatasetStore,
        pages: PageCounter | None = None,
        on_page: Callable[[int], None] | None = None,
        retire: bool = True,
    ) -> None:
        """Push the pages ``pages`` hands this process (default: every page), in partition order; ``on_page`` hears
        how many records of each page needed mapping (not settled). ``retire``: deactivate what is gone, too."""
        take = pages.take if pages is not None else itertools.count().__next__
        wanted, page = take(), 0
        for partition_key in self.partition_keys:
            for chunk in staging.read_chunks(self.source, partition_key, self.dataset, self.staged_by):
                if page == wanted:
                    mapped = engine.sync_staged(chunk, partition_key)
                    if on_page is not None:
                        on_page(mapped)
                    wanted = take()
                page += 1
            if retire:
                engine.retire(staging.read_gone(self.source, partition_key, self.dataset), partition_key)


@dataclass(frozen=True)
class ShardJob:
    """What a push shard process needs: which target, the clients, the run, and the pages (it pickles)."""

    entity: str
    target: str
    clients: ShardClients
    run_id: str
    staged: StagedPush
    pages: PageCounter
    concurrency: int


@dataclass(frozen=True)
class ShardResult:
    report: SyncReport
    waited: frozenset[LedgerKey]  # what ended waiting there (the run's process resumes those)
    peak_memory_mb: float | None


def push_shard(job: ShardJob, shard: int) -> ShardResult:
    """A push shard process: its share of the pages, with an engine of its own; what it did."""
    entity = next(e for e in ENTITIES if e.name == job.entity)  # the registry, as the code location has it
    target = next(t for t in entity.targets if t.name == job.target)
    logger = logging.getLogger(f"ctfluent_dagster.push.{target.name}")
    engine = sync_engine(entity, target, job.clients, run_id=job.run_id, logger=logger, registry=ENTITIES,
                         concurrency=job.concurrency)  # fmt: skip
    with engine:
        job.staged.push(engine, DatasetStore.from_settings(job.clients.settings), job.pages, retire=False)
    return ShardResult(engine.report, engine.waited, peak_memory_mb())


def push_in_processes(
    engine: SyncEngine[Record, Any], staging: DatasetStore, job: ShardJob, processes: int, *, at_once: bool
) -> list[ShardResult]:
    """Push ``job.staged`` here and in up to ``processes - 1`` shard processes, which take pages as they free up.
    ``at_once``: start them at once (``push_processes`` is configured); else once this process has met
    RECORDS_PER_PROCESS records that need mapping, with pages left for them (a run with little to do, such as one
    with nothing changed, starts none). What the shards did, for ``engine.absorb``."""
    pages, _ = job.staged.size(staging)
    mapped = 0

    def on_page(count: int) -> None:
        nonlocal mapped
        mapped += count
        if mapped >= RECORDS_PER_PROCESS and pages - job.pages.taken >= processes - 1:
            shards.start()

    with Shards(partial(push_shard, job), processes) as shards:
        if at_once:
            shards.start()
        job.staged.push(engine, staging, job.pages, on_page)
        return shards.results()
