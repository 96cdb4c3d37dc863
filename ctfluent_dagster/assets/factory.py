"""Builds an entity's Dagster definitions from its declaration (``ctfluent_dagster/entity.py``).

Per entity: the ``commercetools/<source>`` asset (stages the day's or the chosen records as Parquet), one
``fluent/<target>`` asset per target (pushes them through the sync engine), a failures check per target, the
entity's sync job and its re-drive job (both runs of the entity's own assets), and its reconciliation schedules.
The assets are thin: the work is in the plain core (clients, staging, ledger, engine).
"""

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    DagsterInstance,
    DefaultScheduleStatus,
    Failure,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    asset_check,
    define_asset_job,
    schedule,
)
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from ctfluent_dagster.assets.common import SyncScope, outstanding_failures, report_metadata
from ctfluent_dagster.backsync import parse_time
from ctfluent_dagster.entity import EntityDeclaration, Record, Source, Target, mapping_fingerprint
from ctfluent_dagster.ledger.store import Ledger, Liveness
from ctfluent_dagster.messages.handlers import scoped_run_config
from ctfluent_dagster.partitions import (
    COMMERCETOOLS_POOL,
    FLUENT_POOL,
    days_between,
    partition_for,
    partition_window,
    partitioned_asset,
)
from ctfluent_dagster.preflight import retailer_names
from ctfluent_dagster.records import Status
from ctfluent_dagster.resources import CommercetoolsResource, FluentResource, LedgerResource, SyncSettingsResource
from ctfluent_dagster.settings import MessagesSettings
from ctfluent_dagster.staging import FULL
from ctfluent_dagster.sync.engine import RETIRED_STATUSES, SyncEngine
from ctfluent_dagster.sync.on_demand import TargetOnDemand


def commercetools_key(entity: EntityDeclaration) -> AssetKey:
    return AssetKey(["commercetools", entity.source.name])


def fluent_key(target: Target) -> AssetKey:
    return AssetKey(["fluent", target.name])


def op_names(entity: EntityDeclaration) -> tuple[str, ...]:
    """The ops of the entity's assets (the run config of its jobs is keyed by them)."""
    keys = [commercetools_key(entity), *(fluent_key(t) for t in entity.targets)]
    return tuple("__".join(key.path) for key in keys)


def run_liveness(instance: DagsterInstance) -> Liveness:
    """Whether a run (a lease owner) still runs, as this Dagster instance knows it; None when it does not know
    the run (another instance, or not a run id)."""

    def is_alive(run_id: str) -> bool | None:
        run = instance.get_run_by_id(run_id)
        return None if run is None else not run.is_finished

    return is_alive


@dataclass(frozen=True)
class EntityDefinitions:
    assets: list[AssetsDefinition]
    checks: list[AssetChecksDefinition]
    jobs: list[UnresolvedAssetJobDefinition]
    schedules: list[ScheduleDefinition]

    def __add__(self, other: "EntityDefinitions") -> "EntityDefinitions":
        return EntityDefinitions(self.assets + other.assets, self.checks + other.checks, self.jobs + other.jobs,
                                 self.schedules + other.schedules)  # fmt: skip


def build_entity(
    entity: EntityDeclaration, registry: Sequence[EntityDeclaration], messages: MessagesSettings
) -> EntityDefinitions:
    """``registry``: every entity, to turn a target's ``after`` into asset dependencies and to sync the targets other
    records reference on demand."""
    source_asset = _source_asset(entity, [AssetKey(["commercetools", name]) for name in entity.source.after])
    target_assets = [_target_asset(entity, target, registry) for target in entity.targets]
    checks = [check for target in entity.targets for check in _failures_check(entity, target)]
    selection = [source_asset, *target_assets]
    sync_job = define_asset_job(
        entity.sync_job,
        selection=selection,
        description=f"commercetools {entity.name} -> Fluent for the chosen day(s); backfill from the UI.",
    )
    redrive_job = define_asset_job(
        entity.redrive_job,
        selection=selection,
        config=scoped_run_config(op_names(entity), redrive=True, trigger="re-drive"),
        description=f"Re-read the failed {entity.name} (or the `ids` given) and push them again; pick any partition.",
    )
    return EntityDefinitions(
        assets=selection,
        checks=checks,
        jobs=[sync_job, redrive_job],
        schedules=_reconciliation_schedules(entity, sync_job, messages),
    )


# -- commercetools -----------------------------------------------------------------------------------


def _source_asset(entity: EntityDeclaration, upstream: Sequence[AssetKey]) -> AssetsDefinition:
    source = entity.source

    @partitioned_asset(
        key=commercetools_key(entity),
        deps=upstream,
        pool=COMMERCETOOLS_POOL,
        group_name=entity.name,
        kinds={"commercetools", "parquet"},
        description=source.description,
    )
    def stage_source(
        context: AssetExecutionContext,
        config: SyncScope,
        commercetools: CommercetoolsResource,
        ledger: LedgerResource,
        sync_settings: SyncSettingsResource,
    ) -> MaterializeResult:
        config.check_partitions(context.partition_keys)
        started = time.monotonic()
        client = commercetools.get_client()
        staging = sync_settings.staging()
        name = config.dataset_name(context.run.root_run_id or context.run.run_id)
        per_partition: dict[str, int] = {}
        gone: list[str] = []
        if config.mode == "full":
            for partition_key in context.partition_keys:
                start, end = partition_window(partition_key)
                with staging.writer(source.name, partition_key, FULL) as writer:
                    for page in source.modified_between(client, start, end):
                        writer.write(page)
                staging.remove_deltas(source.name, partition_key)
                per_partition[partition_key] = writer.rows
        else:
            (partition_key,) = context.partition_keys
            wanted = _ids_to_read(entity, config, ledger)
            found: set[str] = set()
            with staging.writer(source.name, partition_key, name) as writer:
                for page in source.by_ids(client, wanted):
                    writer.write(page)
                    found.update(record["id"] for record in page)
            gone = sorted(set(wanted) - found) + _known_gone(entity, config, ledger, client)
            staging.write_gone(source.name, partition_key, name, gone)
            per_partition[partition_key] = writer.rows
        total = sum(per_partition.values())
        context.log.info(f"staged {total} {entity.name} for {len(per_partition)} partition(s) ({config.mode}); "
                         f"{len(gone)} gone from commercetools")  # fmt: skip
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


def _ids_to_read(entity: EntityDeclaration, config: SyncScope, ledger: LedgerResource) -> list[str]:
    if config.ids or not config.redrive:
        return list(config.ids)
    store = ledger.get_ledger()
    return sorted(_known_ids(entity, store, status=["failed"]))


def _known_ids(
    entity: EntityDeclaration,
    store: Ledger,
    *,
    status: Sequence[Status] | None = None,
    exclude_status: Sequence[Status] = (),
) -> set[str]:
    """The commercetools ids the ledger knows for any of the entity's targets, filtered by status."""
    return set().union(*(store.source_ids(t.entity_type, status=status, exclude_status=exclude_status)
                         for t in entity.targets))  # fmt: skip


def _known_gone(entity: EntityDeclaration, config: SyncScope, ledger: LedgerResource, client: Any) -> list[str]:
    """Ids deleted in commercetools: given (a delete message), or found by comparing the ledger with it."""
    if config.deleted_ids:
        return sorted(set(config.deleted_ids))
    if not config.reconcile_deletions:
        return []
    store = ledger.get_ledger()
    known = _known_ids(entity, store, exclude_status=RETIRED_STATUSES)
    return sorted(known - set(entity.source.all_ids(client)))


# -- Fluent --------------------------------------------------------------------------------------------


def sync_engine(
    entity: EntityDeclaration,
    target: Target,
    *,
    run_id: str,
    commercetools: CommercetoolsResource,
    fluent: FluentResource,
    ledger: LedgerResource,
    sync_settings: SyncSettingsResource,
    is_alive: Liveness | None = None,
    logger: Any = None,
    dry_run: bool = False,
    registry: Sequence[EntityDeclaration] = (),
    wait_for_busy: bool = True,
) -> SyncEngine[Record, Any]:
    """The engine of one target. ``registry``: the entities whose on-demand targets (``Target.on_demand``) this
    engine may sync when its records reference them (never in a dry run)."""
    settings = sync_settings.settings
    section = settings.entity(entity.name)
    client = commercetools.get_client()
    context = entity.sync_context(settings, fluent.get_client(), fluent.retailer_id, fluent.catalogue_ref or None,
                                  client)  # fmt: skip
    fingerprint = mapping_fingerprint(target.name, entity.settings_sections(settings), fluent.retailer_id,
                                      fluent.catalogue_ref)  # fmt: skip

    def on_demand(owner: EntityDeclaration, wanted: Target) -> TargetOnDemand:
        def engine() -> SyncEngine[Record, Any]:
            return sync_engine(owner, wanted, run_id=run_id, commercetools=commercetools, fluent=fluent,
                               ledger=ledger, sync_settings=sync_settings, is_alive=is_alive, logger=logger,
                               wait_for_busy=False)  # fmt: skip

        return TargetOnDemand(partial(owner.source.by_ids, client), partial(record_partition, owner.source), engine)

    providers = {} if dry_run else {
        other.entity_type: on_demand(owner, other)
        for owner in registry for other in owner.targets if other.on_demand and other is not target
    }  # fmt: skip
    return SyncEngine(
        ledger.get_ledger(),
        target.build(context),
        run_id=run_id,
        concurrency=settings.fluent_concurrency,
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


def record_partition(source: Source, record: Record) -> str | None:
    """The daily partition a record belongs to, by its partition field."""
    moment = record.get(source.partition_field)
    return partition_for(parse_time(moment)) if moment else None


def _target_asset(entity: EntityDeclaration, target: Target, registry: Sequence[EntityDeclaration]) -> AssetsDefinition:
    source = entity.source
    targets_by_name = {t.name: t for e in registry for t in e.targets}
    upstream = [commercetools_key(entity), *(fluent_key(targets_by_name[name]) for name in target.after)]

    @partitioned_asset(
        key=fluent_key(target),
        deps=upstream,
        pool=FLUENT_POOL,
        group_name=entity.name,
        kinds={"fluent"},
        description=target.description,
    )
    def push_target(
        context: AssetExecutionContext,
        config: SyncScope,
        commercetools: CommercetoolsResource,
        fluent: FluentResource,
        ledger: LedgerResource,
        sync_settings: SyncSettingsResource,
    ) -> MaterializeResult:
        config.check_partitions(context.partition_keys)
        staging = sync_settings.staging()
        name = config.dataset_name(context.run.root_run_id or context.run.run_id)
        client = commercetools.get_client()
        engine = sync_engine(
            entity, target, run_id=context.run.run_id, commercetools=commercetools, fluent=fluent, ledger=ledger,
            sync_settings=sync_settings, is_alive=run_liveness(context.instance), logger=context.log,
            dry_run=config.dry_run, registry=registry,
        )  # fmt: skip
        with engine:
            for partition_key in context.partition_keys:
                for chunk in staging.read_chunks(source.name, partition_key, name):
                    engine.sync_staged(chunk, partition_key)
                engine.retire(staging.read_gone(source.name, partition_key, name), partition_key)
            reread = partial(source.by_ids, client)
            engine.resume_waiting(reread, id_of=record_id)
            settings = sync_settings.settings
            engine.retry_failed(reread, record_id, settings.automatic_retry_attempts, settings.retry_backoff_seconds)
        report = engine.report
        if not config.dry_run:
            tag_run_with_problems(context, target.name, report.counts)
        context.log.info(
            f"{target.name}: "
            + (", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())) or "nothing")
            + f" ({report.records_per_second:.0f} records/s)"
        )
        metadata = report_metadata(report, mode=config.mode, run_id=context.run.run_id,
                                   partitions=context.partition_keys)  # fmt: skip
        metadata["trigger"] = config.trigger or "manual/backfill"
        if config.dry_run:
            metadata["dry_run"] = MetadataValue.text("nothing was written: `planned` says what a real run would do")
        metadata["ids_requested"] = len(config.ids)
        return MaterializeResult(metadata=metadata)

    return push_target


def _failures_check(entity: EntityDeclaration, target: Target) -> list[AssetChecksDefinition]:
    return [failures_check(fluent_key(target), target.entity_type, entity.redrive_job, target.target_is_retailer),
            run_failures_check(fluent_key(target), target.entity_type, entity.redrive_job)]  # fmt: skip


def record_id(record: Record) -> str:
    return str(record["id"])


def tag_run_with_problems(context: AssetExecutionContext, name: str, counts: Mapping[str, int]) -> None:
    """The run's tags say how many records ended failed, waiting or skipped here (the Runs list shows them)."""
    tags = {f"ctfluent/{name}.{status}": str(counts[status]) for status in ("failed", "waiting", "skipped")
            if counts.get(status)}  # fmt: skip
    if tags:
        context.instance.add_run_tags(context.run.run_id, tags)


def run_failures_check(asset: AssetKey, entity_type: str, redrive_job: str) -> AssetChecksDefinition:
    """Fails the run (after everything is recorded: checks run last) when it left records failed, so that the Runs
    list, run-failure sensors and alerts see it; ``fail_runs_with_failed_records: false`` turns that off."""

    @asset_check(
        asset=asset,
        name="no_failures_in_this_run",
        description=f"Fails the run when it left any {entity_type} failed (setting fail_runs_with_failed_records).",
    )
    def no_failures_in_this_run(
        context: AssetCheckExecutionContext, ledger: LedgerResource, sync_settings: SyncSettingsResource
    ) -> AssetCheckResult:
        run_id = context.run.run_id
        failed = ledger.get_ledger().failed_in_run(entity_type, run_id)
        metadata: dict[str, Any] = {"failed_in_this_run": len(failed),
                                    "redrive": MetadataValue.text(f"Jobs > {redrive_job}")}  # fmt: skip
        if failed and sync_settings.settings.fail_runs_with_failed_records:
            codes = ", ".join(f"{code} x{count}" for code, count in Counter(e.error_code or "?" for e in failed)
                              .most_common())  # fmt: skip
            raise Failure(
                description=f"this run left {len(failed)} {entity_type} record(s) failed ({codes}); everything is "
                f"recorded: see the no_outstanding_failures check, then re-drive with {redrive_job} (or let "
                "automatic retry take them)",
                metadata=metadata,
            )
        return AssetCheckResult(passed=not failed, severity=AssetCheckSeverity.WARN, metadata=metadata)

    return no_failures_in_this_run


def failures_check(
    asset: AssetKey, entity_type: str, redrive_job: str, target_is_retailer: bool = False
) -> AssetChecksDefinition:
    @asset_check(
        asset=asset,
        name="no_outstanding_failures",
        description=f"Fails while any {entity_type} is failed in the ledger, whichever partition or run it "
        "came from; lists the waiting ones beside.",
    )
    def no_outstanding_failures(ledger: LedgerResource, fluent: FluentResource) -> AssetCheckResult:
        names = partial(retailer_names, fluent.get_client()) if target_is_retailer else None
        passed, severity, metadata = outstanding_failures(ledger.get_ledger(), entity_type, redrive_job, names)
        return AssetCheckResult(passed=passed, severity=severity, metadata=metadata)

    return no_outstanding_failures


# -- reconciliation --------------------------------------------------------------------------------------


def _reconciliation_schedules(
    entity: EntityDeclaration, job: UnresolvedAssetJobDefinition, settings: MessagesSettings
) -> list[ScheduleDefinition]:
    """Some changes emit no message (a middle name, a category rename) and messages can be lost in a retention
    gap. Daily: re-sync the last days' partitions in full (unchanged records cost nothing, thanks to the ledger),
    and deactivate what commercetools no longer has."""
    status = DefaultScheduleStatus.RUNNING if settings.schedules_running else DefaultScheduleStatus.STOPPED

    @schedule(
        name=f"{entity.name}_reconciliation",
        cron_schedule=settings.reconciliation_cron,
        job=job,
        execution_timezone="UTC",
        default_status=status,
        description=f"Re-sync the last {settings.reconciliation_days} days' {entity.name} partitions in full.",
    )
    def reconciliation(context: ScheduleEvaluationContext) -> list[RunRequest]:
        today = context.scheduled_execution_time.date()
        days = days_between(today - timedelta(days=settings.reconciliation_days), today)
        return full_resync_requests(entity, days, f"reconciliation:{today}", "daily reconciliation", "reconciliation")

    @schedule(
        name=f"{entity.name}_deletion_reconciliation",
        cron_schedule=settings.reconciliation_cron,
        job=job,
        execution_timezone="UTC",
        default_status=status,
        description=f"Deactivate {entity.name} deleted in commercetools whose messages were missed (or never sent).",
    )
    def deletion_reconciliation(context: ScheduleEvaluationContext) -> RunRequest:
        return deletion_reconciliation_request(entity, partition_for(context.scheduled_execution_time),
                                               f"deletion-reconciliation:{context.scheduled_execution_time:%Y-%m-%d}",
                                               "daily deletion reconciliation")  # fmt: skip

    return [reconciliation, deletion_reconciliation]


def deletion_reconciliation_request(entity: EntityDeclaration, day: str, run_key: str, trigger: str) -> RunRequest:
    return RunRequest(
        run_key=run_key,
        job_name=entity.sync_job,
        partition_key=day,
        run_config=scoped_run_config(op_names(entity), reconcile_deletions=True, trigger=trigger),
        tags={"ctfluent/trigger": "deletion-reconciliation"},
    )


def full_resync_requests(
    entity: EntityDeclaration, days: Sequence[str], key_prefix: str, trigger: str, tag: str
) -> list[RunRequest]:
    return [
        RunRequest(
            run_key=f"{key_prefix}:{entity.name}:{day}",
            job_name=entity.sync_job,
            partition_key=day,
            run_config=scoped_run_config(op_names(entity), trigger=trigger),
            tags={"ctfluent/trigger": tag},
        )
        for day in days
    ]
