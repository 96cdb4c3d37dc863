"""Builds an entity's Dagster definitions from its declaration (``ctfluent_dagster/entity.py``), in either direction.

* **Partitioned** (every commercetools source, and a staged Fluent source): the source asset
  ``<source system>/<source>`` stages the day's or the chosen records as Parquet; one ``<other system>/<target>``
  asset per target pushes them through the sync engine. Jobs: the entity's sync job (backfill from the UI) and its
  re-drive job; reconciliation schedules.
* **Unpartitioned** (an unstaged Fluent source, such as the order status): one ``commercetools/<target>`` asset per
  target reads the records its run names (by its sensor, by the webhook events, by a re-drive, or due for a retry)
  from Fluent itself and writes them. Jobs: ``<name>_back_sync`` and the re-drive job.

An entity read from Fluent also gets a webhook job (what ``ctfluent-webhooks`` launches: the run takes the recorded
events). Each target gets its failures checks. The assets are thin: the work is in the plain core (clients, staging,
ledger, engine).
"""

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dagster import (
    AssetChecksDefinition,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    DagsterInstance,
    Failure,
    MaterializeResult,
    MetadataValue,
    ScheduleDefinition,
    asset,
    define_asset_job,
)

from ctfluent_dagster.assets.checks import failures_checks, tag_run_with_problems
from ctfluent_dagster.assets.common import AssetJob, SyncScope, report_metadata, run_config
from ctfluent_dagster.assets.keys import POOLS, op_names, source_key, target_key
from ctfluent_dagster.assets.runs import reconciliation_schedules
from ctfluent_dagster.entity import (
    EntityDeclaration,
    FluentSource,
    Record,
    SourceReading,
    SyncContext,
    Target,
)
from ctfluent_dagster.ledger.store import Ledger, Liveness
from ctfluent_dagster.partitions import (
    partition_window,
    partitioned_asset,
)
from ctfluent_dagster.pushing import ShardClients, ShardJob, StagedPush, push_in_processes, sync_engine
from ctfluent_dagster.records import RunScope, Status
from ctfluent_dagster.resources import (
    CommercetoolsResource,
    CommercetoolsWriteResource,
    ContextResource,
    FluentResource,
    LedgerResource,
    SyncSettingsResource,
)
from ctfluent_dagster.settings import MessagesSettings, SyncSettings
from ctfluent_dagster.staging import FULL
from ctfluent_dagster.sync.engine import RETIRED_STATUSES, SyncEngine
from ctfluent_dagster.sync.processes import PageCounter, peak_memory_mb
from ctfluent_dagster.webhooks.events import FluentEventStore


def run_liveness(instance: DagsterInstance) -> Liveness:
    """Whether a run (a lease owner) still runs, as this Dagster instance knows it; None when it does not know
    the run (another instance, or not a run id)."""

    def is_alive(run_id: str) -> bool | None:
        run = instance.get_run_by_id(run_id)
        return None if run is None else not run.is_finished

    return is_alive


@dataclass(frozen=True)
class EntityDefinitions:
    """An entity's definitions, and its jobs by role (the sensors request them)."""

    entity: EntityDeclaration
    assets: list[AssetsDefinition]
    checks: list[AssetChecksDefinition]
    schedules: list[ScheduleDefinition]
    sync_job: AssetJob
    redrive_job: AssetJob
    webhook_job: AssetJob | None  # an entity read from Fluent: the run ctfluent-webhooks launches

    @property
    def jobs(self) -> list[AssetJob]:
        return [self.sync_job, self.redrive_job, *([self.webhook_job] if self.webhook_job else [])]


CHANGES_JOB_NAME = "commercetools_changes"


def build_changes_job(built: Sequence[EntityDefinitions]) -> AssetJob:
    """Every partitioned entity read from commercetools in one job: the messages sensor runs the changes of a tick
    that touch several entities on one day as one run of it, selecting their assets, so a record that references
    another one changed beside it finds it in Fluent within the run instead of waiting for a later run."""
    return define_asset_job(
        CHANGES_JOB_NAME,
        selection=[a for b in built if b.entity.partitioned and not b.entity.from_fluent for a in b.assets],
        description="The commercetools changes of one messages-sensor tick and day, across the entities they touch "
        "(each run selects those entities' assets); requested by commercetools_messages_sensor.",
    )


def build_entity(
    entity: EntityDeclaration, registry: Sequence[EntityDeclaration], messages: MessagesSettings
) -> EntityDefinitions:
    """``registry``: every entity, to turn a target's ``after`` into asset dependencies and to sync the targets other
    records reference on demand."""
    if entity.partitioned:
        upstream = [AssetKey([entity.source.system, name]) for name in entity.source.after]
        selection = [_source_asset(entity, upstream), *(_target_asset(entity, t, registry) for t in entity.targets)]
    else:
        selection = [_unstaged_target_asset(entity, t, registry) for t in entity.targets]
    checks = [check for target in entity.targets for check in failures_checks(entity, target)]
    names = op_names(entity)
    direction = f"{entity.source.system} {entity.name} -> {entity.target_system}"
    sync_job = define_asset_job(
        entity.sync_job,
        selection=selection,
        description=f"{direction} for the chosen day(s); backfill from the UI." if entity.partitioned else
        f"{direction}: what the run names (requested by {entity.changes_sensor}), and the failures due for a retry.",
    )  # fmt: skip
    redrive_job = define_asset_job(
        entity.redrive_job,
        selection=selection,
        config=run_config(names, RunScope(redrive=True, trigger="re-drive")),
        description=f"Re-read the failed {entity.name} (or the `ids` given) and write them again"
        + ("; pick any partition." if entity.partitioned else ", as the source has them now."),
    )
    webhook_job = None
    if entity.from_fluent:
        webhook_job = define_asset_job(
            entity.webhook_job,
            selection=selection,
            config=run_config(names, RunScope(webhook_events=True, trigger="webhook")),
            description=f"Write the {entity.name} the webhook events recorded by ctfluent-webhooks name (it launches "
            f"this job when an event arrives, if configured; {entity.changes_sensor} takes them at its next tick "
            "otherwise).",
        )  # fmt: skip
    schedules = reconciliation_schedules(entity, sync_job, messages) if entity.partitioned else []
    return EntityDefinitions(entity, selection, checks, schedules, sync_job, redrive_job, webhook_job)


# -- the resources of a run -------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncResources:
    """The code location's resources a sync step uses, and what it builds on them."""

    commercetools: CommercetoolsResource
    commercetools_write: CommercetoolsWriteResource
    fluent: FluentResource
    ledger: LedgerResource
    sync_settings: SyncSettingsResource
    context: ContextResource

    @property
    def settings(self) -> SyncSettings:
        return self.sync_settings.settings

    def get_ledger(self) -> Ledger:
        return self.ledger.get_ledger()

    def shard_clients(self) -> ShardClients:
        """The clients as settings, for a push shard process to build its own."""
        write = self.commercetools_write
        writer = write.client_settings() if write.configured else None
        return ShardClients.of(self.commercetools.client_settings(), writer, self.fluent.client_settings(),
                               self.get_ledger().url, self.settings, self.context.by_name())  # fmt: skip

    def sync_context(self, entity: EntityDeclaration) -> SyncContext:
        writer = self.commercetools_write.get_client() if self.commercetools_write.configured else None
        return entity.sync_context(
            self.sync_settings.settings, self.fluent.get_client(), self.context.by_name(),
            commercetools=self.commercetools.get_client(), writer=writer,
            sources_by_fluent_ref=self.ledger.get_ledger().sources_by_fluent_ref,
        )  # fmt: skip

    def reading(self, entity: EntityDeclaration) -> SourceReading:
        return entity.reading(self.sync_context(entity))

    def check_writer(self, entity: EntityDeclaration) -> None:
        """An entity written to commercetools needs the write client."""
        if entity.from_fluent and not self.commercetools_write.configured:
            raise Failure(description=off_reason(entity))


def off_reason(entity: EntityDeclaration) -> str:
    scopes = ", ".join(dict.fromkeys(scope for target in entity.targets for scope in target.scopes))
    return (f"the {entity.name} back-sync is off: set CTP_WRITE_CLIENT_ID and CTP_WRITE_CLIENT_SECRET (a client "
            f"with {scopes})")  # fmt: skip


# -- the source, staged ------------------------------------------------------------------------------


def _source_asset(entity: EntityDeclaration, upstream: Sequence[AssetKey]) -> AssetsDefinition:
    source = entity.source

    @partitioned_asset(
        key=source_key(entity),
        deps=upstream,
        pool=POOLS[source.system],
        group_name=entity.name,
        kinds={source.system, "parquet"},
        description=source.description,
    )
    def stage_source(
        context: AssetExecutionContext,
        config: SyncScope,
        commercetools: CommercetoolsResource,
        commercetools_write: CommercetoolsWriteResource,
        fluent: FluentResource,
        ledger: LedgerResource,
        sync_settings: SyncSettingsResource,
        context_values: ContextResource,
    ) -> MaterializeResult:
        config.check_partitions(context.partition_keys)
        started = time.monotonic()
        run = SyncResources(commercetools, commercetools_write, fluent, ledger, sync_settings, context_values)
        reading = run.reading(entity)
        staging = sync_settings.staging()
        name = config.dataset_name(context.run.root_run_id or context.run.run_id)
        per_partition: dict[str, int] = {}
        gone: list[str] = []
        if config.mode == "full":
            for partition_key in context.partition_keys:
                start, end = partition_window(partition_key)
                with staging.writer(source.name, partition_key, FULL, source.key_of, source.version_of) as writer:
                    for page in reading.between(start, end):
                        writer.write(page)
                staging.remove_deltas(source.name, partition_key)
                per_partition[partition_key] = writer.rows
        else:
            (partition_key,) = context.partition_keys
            events = FluentEventStore(ledger=ledger.get_ledger()) if config.webhook_events else None
            recorded = pending_events(events, entity) if events is not None else PendingEvents([], {})
            named = recorded.keys(entity, run.sync_context(entity))
            wanted = sorted({*_keys_to_read(entity, config, ledger), *named})
            found: set[str] = set()
            with staging.writer(source.name, partition_key, name, source.key_of, source.version_of) as writer:
                for page in reading.by_keys(wanted):
                    writer.write(page)
                    found.update(source.key_of(record) for record in page)
            gone = sorted(set(wanted) - found) + _known_gone(entity, config, ledger, reading)
            staging.write_gone(source.name, partition_key, name, gone)
            per_partition[partition_key] = writer.rows
            if events is not None:  # staged: the push step takes them from here, a re-execution too
                events.mark_handled(recorded.event_ids)
        total = sum(per_partition.values())
        context.log.info(f"staged {total} {entity.name} for {len(per_partition)} partition(s) ({config.mode}); "
                         f"{len(gone)} gone from {source.system}")  # fmt: skip
        return MaterializeResult(
            metadata={
                "mode": config.mode,
                "trigger": config.trigger or "manual/backfill",
                "records": total,
                "ids_requested": len(config.ids),
                "gone": len(gone),
                "partitions": len(per_partition),
                "seconds": MetadataValue.float(round(time.monotonic() - started, 2)),
                "dataset": MetadataValue.path(staging.location(source.name)),
            }
        )

    return stage_source


def _keys_to_read(entity: EntityDeclaration, config: SyncScope, ledger: LedgerResource) -> list[str]:
    if config.ids or not config.redrive:
        return list(config.ids)
    return sorted(_known_keys(entity, ledger.get_ledger(), status=["failed"]))


def _known_keys(
    entity: EntityDeclaration,
    store: Ledger,
    *,
    status: Sequence[Status] | None = None,
    exclude_status: Sequence[Status] = (),
) -> set[str]:
    """The source keys the ledger knows for any of the entity's targets, filtered by status."""
    return set().union(*(store.source_ids(t.entity_type, status=status, exclude_status=exclude_status)
                         for t in entity.targets))  # fmt: skip


def _known_gone(
    entity: EntityDeclaration, config: SyncScope, ledger: LedgerResource, reading: SourceReading
) -> list[str]:
    """Keys deleted in the source: given (a delete message), or found by comparing the ledger with it."""
    if config.deleted_ids:
        return sorted(set(config.deleted_ids))
    if not config.reconcile_deletions:
        return []
    known = _known_keys(entity, ledger.get_ledger(), exclude_status=RETIRED_STATUSES)
    return sorted(known - set(reading.all_keys()))


@dataclass(frozen=True)
class PendingEvents:
    """The recorded webhook events of an entity's types not handled yet: their ids, and the refs they name by type
    (only refs are taken from an event: what is written is read from Fluent)."""

    event_ids: list[str]
    refs_by_type: dict[str, list[str]]

    def keys(self, entity: EntityDeclaration, context: SyncContext) -> set[str]:
        """The keys of the entity's records these events name."""
        if not self.refs_by_type or not isinstance(entity.source, FluentSource):
            return set()
        return entity.source.event_keys(context, self.refs_by_type)


def pending_events(
    events: FluentEventStore, entity: EntityDeclaration, received_before: datetime | None = None
) -> PendingEvents:
    """The entity's events not handled yet, received before ``received_before``; one that names no record counts
    (it is handled all the same, with nothing to write)."""
    types = entity.source.event_types if isinstance(entity.source, FluentSource) else ()
    chosen = [event for event in events.pending(entity_types=list(types))
              if received_before is None or event.received_at < received_before]  # fmt: skip
    refs: dict[str, list[str]] = defaultdict(list)
    for event in chosen:
        if event.entity_ref:
            refs[event.entity_type or ""].append(event.entity_ref)
    return PendingEvents([event.event_id for event in chosen], dict(refs))


# -- the targets -------------------------------------------------------------------------------------------


def _upstream_of(entity: EntityDeclaration, target: Target, registry: Sequence[EntityDeclaration]) -> list[AssetKey]:
    """The targets (of any entity, on the same side) whose records this one's reference."""
    known = {target_key(e, t) for e in registry for t in e.targets}
    upstream = [AssetKey([entity.target_system, name]) for name in target.after]
    unknown = [key.to_user_string() for key in upstream if key not in known]
    if unknown:
        raise ValueError(f"{entity.name}: target {target.name} comes after unknown targets {', '.join(unknown)}")
    return upstream


def _target_asset(entity: EntityDeclaration, target: Target, registry: Sequence[EntityDeclaration]) -> AssetsDefinition:
    source = entity.source

    @partitioned_asset(
        key=target_key(entity, target),
        deps=[source_key(entity), *_upstream_of(entity, target, registry)],
        pool=POOLS[entity.target_system],
        group_name=entity.name,
        kinds={entity.target_system},
        description=target.description,
    )
    def push_target(
        context: AssetExecutionContext,
        config: SyncScope,
        commercetools: CommercetoolsResource,
        commercetools_write: CommercetoolsWriteResource,
        fluent: FluentResource,
        ledger: LedgerResource,
        sync_settings: SyncSettingsResource,
        context_values: ContextResource,
    ) -> MaterializeResult:
        config.check_partitions(context.partition_keys)
        run = SyncResources(commercetools, commercetools_write, fluent, ledger, sync_settings, context_values)
        run.check_writer(entity)
        staging = sync_settings.staging()
        name = config.dataset_name(context.run.root_run_id or context.run.run_id)
        reread = run.reading(entity).by_keys
        staged = StagedPush(source.name, context.partition_keys, name, source_key(entity).to_user_string())
        settings = sync_settings.settings
        dialect = run.get_ledger().engine.dialect.name
        shards = 1 if config.dry_run else staged.processes(staging, settings.push_processes, dialect)
        concurrency = max(1, settings.fluent_concurrency // shards)
        engine = sync_engine(entity, target, run, run_id=context.run.run_id, is_alive=run_liveness(context.instance),
                             logger=context.log, dry_run=config.dry_run, registry=registry,
                             concurrency=concurrency)  # fmt: skip
        peaks: list[float | None] = []  # of the shard processes
        with engine:
            if shards > 1:
                job = ShardJob(entity.name, target.name, run.shard_clients(), context.run.run_id, staged, PageCounter(),
                               concurrency)  # fmt: skip
                for shard in push_in_processes(engine, staging, job, shards,
                                               at_once=settings.push_processes is not None):  # fmt: skip
                    engine.absorb(shard.report, shard.waited)
                    peaks.append(shard.peak_memory_mb)
                if peaks:
                    context.log.info(f"pushed in {len(peaks) + 1} processes, {concurrency} Fluent requests in flight "
                                     "each")  # fmt: skip
            else:
                staged.push(engine, staging)
            engine.resume_waiting(reread, id_of=source.key_of)
            engine.retry_failed(reread, source.key_of, settings.automatic_retry_attempts,
                                settings.retry_backoff_seconds)  # fmt: skip
        # Per pushing process, the run's own first: the most memory each needed (a sizing figure).
        peaks = [peak_memory_mb(), *peaks]
        return _materialization(context, target, engine, config, config.mode, context.partition_keys, peaks)

    return push_target


def _unstaged_target_asset(
    entity: EntityDeclaration, target: Target, registry: Sequence[EntityDeclaration]
) -> AssetsDefinition:
    """A target of an unstaged Fluent source: unpartitioned; it reads what its run names from Fluent and writes it."""
    source = entity.source
    upstream = [AssetKey(["fluent", name]) for name in source.after] + _upstream_of(entity, target, registry)

    @asset(
        key=target_key(entity, target),
        deps=upstream,
        pool=POOLS[entity.target_system],
        group_name=entity.name,
        kinds={entity.target_system},
        description=target.description,
    )
    def write_target(
        context: AssetExecutionContext,
        config: SyncScope,
        commercetools: CommercetoolsResource,
        commercetools_write: CommercetoolsWriteResource,
        fluent: FluentResource,
        ledger: LedgerResource,
        sync_settings: SyncSettingsResource,
        context_values: ContextResource,
    ) -> MaterializeResult:
        settings = sync_settings.settings
        store = ledger.get_ledger()
        attempts, backoff = settings.automatic_retry_attempts, settings.retry_backoff_seconds
        due = [] if config.redrive else store.due_failures(target.entity_type, attempts, backoff)
        if not (config.ids or config.redrive or config.webhook_events or due):
            return MaterializeResult(metadata={"mode": "nothing", "trigger": config.trigger or "manual"})
        run = SyncResources(commercetools, commercetools_write, fluent, ledger, sync_settings, context_values)
        run.check_writer(entity)
        events = FluentEventStore(ledger=store) if config.webhook_events else None
        recorded = pending_events(events, entity) if events is not None else PendingEvents([], {})
        failed = store.source_ids(target.entity_type, status=["failed"]) if config.redrive and not config.ids else ()
        # Verify, then fetch: what an event names is read from Fluent; what is written is Fluent's own.
        keys = sorted({*config.ids, *recorded.keys(entity, run.sync_context(entity)), *failed})
        reread = run.reading(entity).by_keys
        engine = sync_engine(entity, target, run, run_id=context.run.run_id, is_alive=run_liveness(context.instance),
                             logger=context.log, dry_run=config.dry_run, registry=registry)  # fmt: skip
        with engine:
            for page in reread(keys) if keys else ():
                engine.sync_chunk(page)
            engine.resume_waiting(reread, id_of=source.key_of)
            if not config.redrive:
                engine.retry_failed(reread, source.key_of, attempts, backoff)
        if events is not None:  # written (or failed, and in the ledger to re-drive): handled
            events.mark_handled(recorded.event_ids)
        mode = "redrive" if config.redrive else "+".join(
            name for name, given in (("webhook", config.webhook_events), ("ids", config.ids), ("retry", due)) if given
        )  # fmt: skip
        return _materialization(context, target, engine, config, mode, [])

    return write_target


def _materialization(
    context: AssetExecutionContext,
    target: Target,
    engine: SyncEngine[Record, Any],
    config: SyncScope,
    mode: str,
    partitions: Sequence[str],
    peaks: Sequence[float | None] = (),
) -> MaterializeResult:
    """The run's tags and the asset's metadata: what the engine did to the target's records (``peaks``: the peak
    memory of each process that pushed them, when several did or a staged push ran)."""
    report = engine.report
    if not config.dry_run:
        tag_run_with_problems(context, target.name, report.counts)
    context.log.info(
        f"{target.name}: "
        + (", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())) or "nothing")
        + f" ({report.records_per_second:.0f} records/s)"
    )
    metadata = report_metadata(report, mode=mode, run_id=context.run.run_id, partitions=partitions)
    metadata["trigger"] = config.trigger or ("manual/backfill" if partitions else "manual")
    if peaks:
        metadata["push_processes"] = len(peaks)
        metadata["push_peak_memory_mb"] = ", ".join(f"{peak:.0f}" for peak in peaks if peak is not None)
    if config.dry_run:
        metadata["dry_run"] = MetadataValue.text("nothing was written: `planned` says what a real run would do")
    metadata["ids_requested"] = len(config.ids)
    return MaterializeResult(metadata=metadata)
