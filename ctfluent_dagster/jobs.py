"""Jobs that are not an entity's: the pre-flight check of both APIs and of what each entity needs in Fluent, the
overview of every entity's records, and the pruning of the attempt history and of the staged datasets.

Each entity's own jobs (sync, re-drive) are built with its assets in ``assets/factory.py``.
"""

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from functools import partial

from dagster import (
    DefaultScheduleStatus,
    Failure,
    JobDefinition,
    MetadataValue,
    OpExecutionContext,
    Output,
    ScheduleDefinition,
    job,
    op,
)

from ctfluent_dagster.assets.common import run_url
from ctfluent_dagster.assets.factory import SyncResources
from ctfluent_dagster.entities import ENTITIES
from ctfluent_dagster.entity import EntityDeclaration
from ctfluent_dagster.ledger.store import Ledger
from ctfluent_dagster.preflight import PreflightCheck, history_check, run_preflight
from ctfluent_dagster.resources import (
    CommercetoolsResource,
    CommercetoolsWriteResource,
    ContextResource,
    FluentResource,
    LedgerResource,
    SyncSettingsResource,
)
from ctfluent_dagster.settings import SyncSettings
from ctfluent_dagster.webhooks.events import FluentEventStore


@op(description="Check credentials, scopes, project settings and what each entity needs before any sync.")
def preflight_checks(
    context: OpExecutionContext,
    commercetools: CommercetoolsResource,
    commercetools_write: CommercetoolsWriteResource,
    fluent: FluentResource,
    ledger: LedgerResource,
    sync_settings: SyncSettingsResource,
    context_values: ContextResource,
) -> Output[None]:
    run = SyncResources(commercetools, commercetools_write, fluent, ledger, sync_settings, context_values)
    settings = sync_settings.settings
    entity_checks = [partial(probe, run.sync_context(e)) for e in ENTITIES if (probe := e.preflight) is not None]
    entity_checks += [partial(_history_before_start, e, run, settings.start_date) for e in ENTITIES if e.partitioned]
    writer = commercetools_write.get_client() if commercetools_write.configured else None
    checks = run_preflight(commercetools.get_client(), fluent.get_client(), entity_checks, writer)
    for check in checks:
        log = context.log.info if check.ok else context.log.error
        log(f"{'OK  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    metadata = {check.name: MetadataValue.text(("OK: " if check.ok else "FAILED: ") + check.detail) for check in checks}
    failed = [check.name for check in checks if not check.ok]
    if failed:
        raise Failure(description=f"pre-flight failed: {', '.join(failed)}", metadata=metadata)
    return Output(None, metadata=metadata)


def _history_before_start(entity: EntityDeclaration, run: SyncResources, start: date) -> list[PreflightCheck]:
    moment = datetime.combine(start, time.min, tzinfo=UTC)
    count = partial(run.reading(entity).count_before, moment)
    return [history_check(entity.name, entity.source.partition_field, start, count)]


@job(description="Pre-flight checks of both APIs: run it before the first sync.")
def preflight() -> None:
    preflight_checks()


def overview_markdown(ledger: Ledger) -> tuple[str, int]:
    """Per entity and target: records by status and reason code, the oldest unresolved failure, the re-drive to
    launch; and how many records are failed in all."""
    lines = ["| entity | target | synced | skipped | waiting | failed | by reason | oldest unresolved failure "
             "| re-drive |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    failed_total = 0
    targets = [(e.name, t.entity_type, e.redrive_job) for e in ENTITIES for t in e.targets]
    for entity, entity_type, redrive_job in targets:
        reasons = ledger.reason_counts(entity_type)
        by_status: Counter[str] = Counter()
        for (status, _), count in reasons.items():
            by_status[status] += count
        failed_total += by_status["failed"]
        breakdown = ", ".join(f"{status} {code} x{count}" for (status, code), count in sorted(reasons.items())
                              if code and status in ("skipped", "waiting", "failed"))  # fmt: skip
        oldest = ledger.oldest_failure(entity_type)
        since = (f"{oldest.updated_at:%Y-%m-%d %H:%M} UTC ([run]({run_url(oldest.run_id)}))"
                 if oldest and oldest.run_id else "none")  # fmt: skip
        redrive = f"`{redrive_job}`" if by_status["failed"] else "-"
        counts = " | ".join(str(by_status[status]) for status in ("synced", "skipped", "waiting", "failed"))
        lines.append(f"| {entity} | {entity_type} | {counts} | {breakdown or '-'} | {since} | {redrive} |")
    return "\n".join(lines), failed_total


@op(description="Every entity's records by status and reason, the oldest unresolved failure and the re-drive.")
def overview_report(context: OpExecutionContext, ledger: LedgerResource) -> Output[None]:
    report, failed = overview_markdown(ledger.get_ledger())
    context.log.info(f"{failed} failed record(s) in all")
    return Output(None, metadata={"overview": MetadataValue.md(report), "failed": failed})


@job(description="One overview of the sync: per entity, synced, skipped, waiting and failed records by reason code, "
     "the oldest unresolved failure and the re-drive job to launch (the report is the run's metadata).")  # fmt: skip
def sync_overview() -> None:
    overview_report()


@op(description="Forget the attempts older than history_retention_days.")
def prune_attempts(context: OpExecutionContext, ledger: LedgerResource, sync_settings: SyncSettingsResource) -> None:
    days = sync_settings.settings.history_retention_days
    removed = ledger.get_ledger().prune_attempts(datetime.now(UTC) - timedelta(days=days))
    context.log.info(f"pruned {removed} attempt(s) older than {days} days")


@job(description="Prune the attempt history to its retention (history_retention_days).")
def prune_attempt_history() -> None:
    prune_attempts()


def _daily(settings: SyncSettings, job_def: JobDefinition, cron: str, description: str) -> ScheduleDefinition:
    """A maintenance job's daily schedule, running when ``messages.schedules_running`` says so."""
    status = DefaultScheduleStatus.RUNNING if settings.messages.schedules_running else DefaultScheduleStatus.STOPPED
    return ScheduleDefinition(name=f"{job_def.name}_daily", job=job_def, cron_schedule=cron, execution_timezone="UTC",
                              default_status=status, description=description)  # fmt: skip


def history_schedule(settings: SyncSettings) -> ScheduleDefinition:
    return _daily(settings, prune_attempt_history, settings.history_prune_cron,
                  f"Prune the attempt history to {settings.history_retention_days} days.")  # fmt: skip


@op(description="Delete the webhook events handled more than webhook_event_retention_days ago.")
def prune_handled_events(
    context: OpExecutionContext, ledger: LedgerResource, sync_settings: SyncSettingsResource
) -> Output[None]:
    days = sync_settings.settings.webhook_event_retention_days
    events = FluentEventStore(ledger=ledger.get_ledger())
    removed = events.prune(handled_before=datetime.now(UTC) - timedelta(days=days))
    context.log.info(f"deleted {removed} webhook event(s) handled more than {days} days ago")
    return Output(None, metadata={"deleted": removed})


@job(description="Delete the recorded Fluent webhook events handled more than webhook_event_retention_days ago "
     "(a replay of one is recorded again, and changes nothing: the back-sync writes what Fluent has).")  # fmt: skip
def prune_webhook_events() -> None:
    prune_handled_events()


def webhook_events_schedule(settings: SyncSettings) -> ScheduleDefinition:
    days = settings.webhook_event_retention_days
    return _daily(settings, prune_webhook_events, settings.history_prune_cron,
                  f"Delete webhook events handled more than {days} days ago.")  # fmt: skip


@op(description="Delete the staged datasets staged more than staging_retention_days ago.")
def prune_staged_datasets(context: OpExecutionContext, sync_settings: SyncSettingsResource) -> Output[None]:
    days = sync_settings.settings.staging_retention_days
    staging = sync_settings.staging()
    removed = staging.prune(datetime.now(UTC) - timedelta(days=days))
    context.log.info(f"deleted {len(removed)} staged file(s) older than {days} days from {staging.root}")
    return Output(None, metadata={"deleted": len(removed), "files": MetadataValue.json(removed)})


@job(description="Delete staged datasets (whole commercetools records: personal data) past their retention "
     "(staging_retention_days). A step re-executed after that asks to re-run its commercetools step.")  # fmt: skip
def prune_staging() -> None:
    prune_staged_datasets()


def staging_schedule(settings: SyncSettings) -> ScheduleDefinition:
    return _daily(settings, prune_staging, settings.staging_prune_cron,
                  f"Delete staged datasets after {settings.staging_retention_days} days.")  # fmt: skip
