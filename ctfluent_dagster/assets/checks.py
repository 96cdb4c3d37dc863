"""The checks of each target's asset (failed records in the ledger, failed in this run) and the run tags that count
a run's problems: what the UI shows of failed pushes."""

from collections import Counter
from collections.abc import Mapping
from functools import partial
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    Failure,
    MetadataValue,
    asset_check,
)

from ctfluent_dagster.assets.common import outstanding_failures
from ctfluent_dagster.assets.keys import target_key
from ctfluent_dagster.entity import EntityDeclaration, Target
from ctfluent_dagster.preflight import retailer_names
from ctfluent_dagster.resources import FluentResource, LedgerResource, SyncSettingsResource


def failures_checks(entity: EntityDeclaration, target: Target) -> list[AssetChecksDefinition]:
    key = target_key(entity, target)
    return [failures_check(key, target.entity_type, entity.redrive_job, target.target_is_retailer),
            run_failures_check(key, target.entity_type, entity.redrive_job)]  # fmt: skip


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
