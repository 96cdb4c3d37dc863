"""Jobs: the partitioned customer sync, re-drive of failures, deletions, their reconciliation, the pre-flight."""

from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetMaterialization,
    AssetSelection,
    Config,
    Failure,
    MetadataValue,
    OpExecutionContext,
    Output,
    define_asset_job,
    job,
    op,
)
from pydantic import Field

from ctfluent_dagster.assets.common import outstanding_failures, problem_table, report_metadata
from ctfluent_dagster.assets.customers import (
    COMMERCETOOLS_CUSTOMERS,
    FLUENT_CUSTOMERS,
    REDRIVE_JOB,
    customer_entity,
    customer_sync_engine,
)
from ctfluent_dagster.ledger.store import Ledger
from ctfluent_dagster.messages.handlers import CUSTOMER_SYNC_JOB, DELETE_CUSTOMERS_JOB, DELETE_CUSTOMERS_OP
from ctfluent_dagster.partitions import FLUENT_POOL, daily_partitions, partition_for
from ctfluent_dagster.preflight import run_preflight
from ctfluent_dagster.resources import CommercetoolsResource, FluentResource, LedgerResource, SyncSettingsResource
from ctfluent_dagster.sync.customers import ENTITY_TYPE
from ctfluent_dagster.sync.deletions import DeletionReport, mark_deleted

customer_sync_job = define_asset_job(
    CUSTOMER_SYNC_JOB,
    selection=AssetSelection.assets(COMMERCETOOLS_CUSTOMERS, FLUENT_CUSTOMERS),
    description="commercetools customers -> Fluent customers for the chosen day(s); backfill from the UI.",
)


def log_customer_events(context: OpExecutionContext, store: Ledger, partitions: dict[str, dict[str, Any]]) -> None:
    """What an op that changed Fluent customers reports: a materialization of each partition it touched (so the
    partition's history shows it) and a fresh evaluation of the failures check."""
    for partition_key, metadata in sorted(partitions.items()):
        if daily_partitions.has_partition_key(partition_key):
            context.log_event(AssetMaterialization(FLUENT_CUSTOMERS, partition=partition_key, metadata=metadata))
    passed, severity, check_metadata = outstanding_failures(store, ENTITY_TYPE, REDRIVE_JOB)
    # log_event accepts check evaluations at run time (see OpExecutionContext.log_event); its annotation lags.
    context.log_event(
        AssetCheckEvaluation(  # type: ignore[arg-type]
            asset_key=FLUENT_CUSTOMERS,
            check_name="no_outstanding_failures",
            passed=passed,
            severity=severity,
            metadata=check_metadata,
        )
    )


def deletion_metadata(report: DeletionReport, run_id: str, trigger: str) -> dict[str, Any]:
    return {
        "mode": "delete",
        "trigger": trigger,
        **{name: report.counts.get(name, 0) for name in ("marked", "recorded", "already", "failed")},
        "failures": problem_table(report.failures, run_id),
    }


# -- re-drive ---------------------------------------------------------------------------------------


class RedriveConfig(Config):
    ids: list[str] = Field(
        default_factory=list, description="commercetools customer ids to re-drive; empty = every failed customer"
    )


@op(pool=FLUENT_POOL, description="Re-read failed (or chosen) customers from commercetools and push them again.")
def redrive_customers(
    context: OpExecutionContext,
    config: RedriveConfig,
    commercetools: CommercetoolsResource,
    fluent: FluentResource,
    ledger: LedgerResource,
    sync_settings: SyncSettingsResource,
) -> Output[None]:
    store = ledger.get_ledger()
    ids = config.ids or sorted({e.key.source_id for e in store.entries(ENTITY_TYPE, status="failed")})
    context.log.info("re-driving %d customer(s)", len(ids))
    per_partition: Counter[str] = Counter()
    found: set[str] = set()
    with customer_sync_engine(context.run.run_id, fluent, ledger, sync_settings) as engine:
        for page in commercetools.get_client().customers_by_ids(ids):
            by_partition: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for record in page:
                by_partition[partition_for(datetime.fromisoformat(record["lastModifiedAt"]))].append(record)
                found.add(record["id"])
            for partition_key, chunk in by_partition.items():
                engine.sync_chunk(chunk, partition_key)
                per_partition[partition_key] += len(chunk)
    gone = sorted(set(ids) - found)
    deletions = DeletionReport()
    if gone:
        # Deleted in commercetools meanwhile: mark them so instead of leaving them failed for ever.
        context.log.info("%d customer(s) no longer exist in commercetools: marking them deleted", len(gone))
        deletions = mark_deleted(store, customer_entity(fluent, sync_settings), gone, run_id=context.run.run_id)
    log_customer_events(
        context,
        store,
        {
            partition: {"mode": "redrive", "records_redriven": count, "redrive_run": context.run.run_id}
            for partition, count in per_partition.items()
        },
    )
    metadata = report_metadata(
        engine.report, mode="redrive", run_id=context.run.run_id, partitions=sorted(per_partition)
    )
    metadata["deleted_in_commercetools"] = len(gone)
    metadata["deletion_failures"] = deletions.counts.get("failed", 0)
    return Output(None, metadata=metadata)


@job(name=REDRIVE_JOB, description="Push failed customers again (all, or the ids given in the launchpad config).")
def redrive_failed_customers() -> None:
    redrive_customers()


# -- deletions ---------------------------------------------------------------------------------------


class DeleteCustomersConfig(Config):
    ids: list[str] = Field(description="commercetools ids of deleted customers")
    partition: str = Field(default="", description="the day (UTC) they were deleted, for the asset's history")
    trigger: str = Field(default="", description="why the run was requested (set by the messages sensor)")


@op(name=DELETE_CUSTOMERS_OP, pool=FLUENT_POOL, description="Mark customers deleted in commercetools in Fluent.")
def mark_customers_deleted(
    context: OpExecutionContext,
    config: DeleteCustomersConfig,
    fluent: FluentResource,
    ledger: LedgerResource,
    sync_settings: SyncSettingsResource,
) -> Output[None]:
    store = ledger.get_ledger()
    entity = customer_entity(fluent, sync_settings)
    report = mark_deleted(store, entity, config.ids, run_id=context.run.run_id, partition_key=config.partition or None)
    metadata = deletion_metadata(report, context.run.run_id, config.trigger or "manual")
    log_customer_events(context, store, {config.partition: metadata} if config.partition else {})
    return Output(None, metadata=metadata)


@job(name=DELETE_CUSTOMERS_JOB, description="Mark customers deleted in commercetools (Fluent cannot delete them).")
def delete_customers() -> None:
    mark_customers_deleted()


@op(pool=FLUENT_POOL, description="Find customers the ledger knows but commercetools no longer has; mark them.")
def reconcile_deleted_customers(
    context: OpExecutionContext,
    commercetools: CommercetoolsResource,
    fluent: FluentResource,
    ledger: LedgerResource,
    sync_settings: SyncSettingsResource,
) -> Output[None]:
    store = ledger.get_ledger()
    known = store.source_ids(ENTITY_TYPE, exclude_status="deleted")
    existing = set(commercetools.get_client().all_ids("customers"))
    gone = sorted(known - existing)
    context.log.info("%d customer(s) known to the ledger, %d gone from commercetools", len(known), len(gone))
    today = partition_for(datetime.now(UTC))
    entity = customer_entity(fluent, sync_settings)
    report = mark_deleted(store, entity, gone, run_id=context.run.run_id, partition_key=today)
    metadata = deletion_metadata(report, context.run.run_id, "deletion reconciliation")
    log_customer_events(context, store, {today: metadata} if gone else {})
    return Output(None, metadata=metadata)


@job(description="Mark customers the ledger knows but commercetools no longer has (missed CustomerDeleted messages).")
def reconcile_customer_deletions() -> None:
    reconcile_deleted_customers()


# -- pre-flight --------------------------------------------------------------------------------------


@op(description="Check credentials, scopes, project settings and retailers before any sync.")
def preflight_checks(
    context: OpExecutionContext,
    commercetools: CommercetoolsResource,
    fluent: FluentResource,
    sync_settings: SyncSettingsResource,
) -> Output[None]:
    customers = sync_settings.settings.customers
    retailers = [fluent.retailer_id, customers.default_retailer_id, *customers.store_retailers.values()]
    checks = run_preflight(commercetools.get_client(), fluent.get_client(), [r for r in retailers if r])
    for check in checks:
        log = context.log.info if check.ok else context.log.error
        log(f"{'OK  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    metadata = {check.name: MetadataValue.text(("OK: " if check.ok else "FAILED: ") + check.detail) for check in checks}
    failed = [check.name for check in checks if not check.ok]
    if failed:
        raise Failure(description=f"pre-flight failed: {', '.join(failed)}", metadata=metadata)
    return Output(None, metadata=metadata)


@job(description="Pre-flight checks of both APIs: run it before the first sync.")
def preflight() -> None:
    preflight_checks()
