"""commercetools customers -> Fluent customers, as two daily-partitioned assets and a failures check."""

from collections.abc import Mapping
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from ctfluent_dagster.assets.common import SyncScope, outstanding_failures, report_metadata
from ctfluent_dagster.partitions import COMMERCETOOLS_POOL, FLUENT_POOL, batched_backfill, daily_partitions
from ctfluent_dagster.resources import CommercetoolsResource, FluentResource, LedgerResource, SyncSettingsResource
from ctfluent_dagster.sync.customers import ENTITY_TYPE, CustomerPush, CustomerSync
from ctfluent_dagster.sync.engine import SyncEngine

STAGED_ENTITY = "customers"
COMMERCETOOLS_CUSTOMERS = AssetKey(["commercetools", "customers"])
FLUENT_CUSTOMERS = AssetKey(["fluent", "customers"])
REDRIVE_JOB = "redrive_failed_customers"


@asset(
    key=COMMERCETOOLS_CUSTOMERS,
    partitions_def=daily_partitions,
    backfill_policy=batched_backfill,
    pool=COMMERCETOOLS_POOL,
    group_name="customers",
    kinds={"commercetools", "parquet"},
    description="commercetools customers whose current lastModifiedAt falls in the day (UTC), staged as Parquet.",
)
def commercetools_customers(
    context: AssetExecutionContext,
    config: SyncScope,
    commercetools: CommercetoolsResource,
    sync_settings: SyncSettingsResource,
) -> MaterializeResult:
    config.check_partitions(context.partition_keys)
    client = commercetools.get_client()
    staging = sync_settings.staging()
    per_partition: dict[str, int] = {}
    for partition_key in context.partition_keys:
        with staging.writer(STAGED_ENTITY, partition_key, config.dataset_name()) as writer:
            if config.ids:
                pages = client.customers_by_ids(config.ids)
            else:
                window = daily_partitions.time_window_for_partition_key(partition_key)
                pages = client.customers_modified_between(window.start, window.end)
            for page in pages:
                writer.write(page)
        if not config.ids:
            staging.remove_deltas(STAGED_ENTITY, partition_key)
        per_partition[partition_key] = writer.rows
    total = sum(per_partition.values())
    context.log.info("staged %d customers for %d partition(s) (%s)", total, len(per_partition), config.mode)
    return MaterializeResult(
        metadata={
            "mode": config.mode,
            "trigger": config.trigger or "manual/backfill",
            "customers": total,
            "ids_requested": len(config.ids),
            "partitions": len(per_partition),
            "dataset": MetadataValue.path(str(staging.path(STAGED_ENTITY, context.partition_keys[0]).parent.parent)),
        }
    )


def customer_entity(fluent: FluentResource, sync_settings: SyncSettingsResource) -> CustomerSync:
    return CustomerSync(fluent.get_client(), sync_settings.settings.customers, fluent.retailer_id)


def customer_sync_engine(
    run_id: str, fluent: FluentResource, ledger: LedgerResource, sync_settings: SyncSettingsResource
) -> SyncEngine[Mapping[str, Any], CustomerPush]:
    """The engine every customer-pushing run uses (assets, sensors' delta runs, re-drive)."""
    settings = sync_settings.settings
    return SyncEngine(
        ledger.get_ledger(),
        customer_entity(fluent, sync_settings),
        run_id=run_id,
        concurrency=settings.fluent_concurrency,
        batch_size=settings.fluent_batch_size,
        policy=settings.customers.update_policy,
    )


@asset(
    key=FLUENT_CUSTOMERS,
    deps=[COMMERCETOOLS_CUSTOMERS],
    partitions_def=daily_partitions,
    backfill_policy=batched_backfill,
    pool=FLUENT_POOL,
    group_name="customers",
    kinds={"fluent"},
    description="Fluent customers (one per Fluent retailer) pushed from the staged commercetools customers.",
)
def fluent_customers(
    context: AssetExecutionContext,
    config: SyncScope,
    fluent: FluentResource,
    ledger: LedgerResource,
    sync_settings: SyncSettingsResource,
) -> MaterializeResult:
    config.check_partitions(context.partition_keys)
    staging = sync_settings.staging()
    with customer_sync_engine(context.run.run_id, fluent, ledger, sync_settings) as engine:
        for partition_key in context.partition_keys:
            for chunk in staging.read_chunks(STAGED_ENTITY, partition_key, config.dataset_name()):
                engine.sync_chunk(chunk, partition_key)
    report = engine.report
    context.log.info(
        "customers: %s (%.0f/s)", ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())) or "none",
        report.records_per_second,
    )  # fmt: skip
    metadata = report_metadata(report, mode=config.mode, run_id=context.run.run_id, partitions=context.partition_keys)
    metadata["trigger"] = config.trigger or "manual/backfill"
    metadata["ids_requested"] = len(config.ids)
    return MaterializeResult(metadata=metadata)


@asset_check(
    asset=FLUENT_CUSTOMERS,
    name="no_outstanding_failures",
    description="Fails while any customer is failed in the ledger, whichever partition or run it came from.",
)
def fluent_customers_no_outstanding_failures(ledger: LedgerResource) -> AssetCheckResult:
    passed, severity, metadata = outstanding_failures(ledger.get_ledger(), ENTITY_TYPE, REDRIVE_JOB)
    return AssetCheckResult(passed=passed, severity=severity, metadata=metadata)
