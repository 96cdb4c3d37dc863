"""Jobs a user launches from the UI: the partitioned customer sync, the re-drive of failures, the pre-flight."""

from collections import Counter, defaultdict
from datetime import datetime
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

from ctfluent_dagster.assets.common import outstanding_failures, report_metadata
from ctfluent_dagster.assets.customers import COMMERCETOOLS_CUSTOMERS, FLUENT_CUSTOMERS, REDRIVE_JOB
from ctfluent_dagster.partitions import FLUENT_POOL, partition_for
from ctfluent_dagster.preflight import run_preflight
from ctfluent_dagster.resources import CommercetoolsResource, FluentResource, LedgerResource, SyncSettingsResource
from ctfluent_dagster.sync.customers import ENTITY_TYPE, CustomerSync
from ctfluent_dagster.sync.engine import SyncEngine

customer_sync_job = define_asset_job(
    "customer_sync",
    selection=AssetSelection.assets(COMMERCETOOLS_CUSTOMERS, FLUENT_CUSTOMERS),
    description="commercetools customers -> Fluent customers for the chosen day(s); backfill from the UI.",
)


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
    settings = sync_settings.settings
    entity = CustomerSync(fluent.get_client(), settings.customers, fluent.retailer_id)
    per_partition: Counter[str] = Counter()
    found: set[str] = set()
    with SyncEngine(
        store, entity, run_id=context.run_id, concurrency=settings.fluent_concurrency,
        policy=settings.customers.update_policy,
    ) as engine:  # fmt: skip
        for page in commercetools.get_client().customers_by_ids(ids):
            by_partition: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for record in page:
                by_partition[partition_for(datetime.fromisoformat(record["lastModifiedAt"]))].append(record)
                found.add(record["id"])
            for partition_key, chunk in by_partition.items():
                engine.sync_chunk(chunk, partition_key)
                per_partition[partition_key] += len(chunk)
    missing = len(set(ids) - found)
    if missing:
        context.log.warning("%d customer(s) no longer exist in commercetools and were not re-driven", missing)
    for partition_key, count in sorted(per_partition.items()):
        context.log_event(
            AssetMaterialization(
                FLUENT_CUSTOMERS,
                partition=partition_key,
                metadata={"mode": "redrive", "records_redriven": count, "redrive_run": context.run_id},
            )
        )
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
    metadata = report_metadata(engine.report, mode="redrive", run_id=context.run_id, partitions=sorted(per_partition))
    metadata["not_in_commercetools"] = missing
    return Output(None, metadata=metadata)


@job(name=REDRIVE_JOB, description="Push failed customers again (all, or the ids given in the launchpad config).")
def redrive_failed_customers() -> None:
    redrive_customers()


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
