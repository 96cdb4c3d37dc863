"""Reconciliation: some commercetools changes emit no message (a middle name, a locale) and messages can be lost
in a retention gap. Daily, re-sync the last few days' partitions (unchanged customers cost nothing, thanks to the
ledger) and mark customers that commercetools no longer has as deleted."""

from datetime import timedelta

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    schedule,
)

from ctfluent_dagster.jobs import customer_sync_job, reconcile_customer_deletions
from ctfluent_dagster.messages.handlers import customer_sync_run_config
from ctfluent_dagster.partitions import days_between
from ctfluent_dagster.settings import MessagesSettings


def build_reconciliation_schedules(settings: MessagesSettings) -> list[ScheduleDefinition]:
    status = DefaultScheduleStatus.RUNNING if settings.schedules_running else DefaultScheduleStatus.STOPPED

    @schedule(
        name="customer_reconciliation",
        cron_schedule=settings.reconciliation_cron,
        job=customer_sync_job,
        execution_timezone="UTC",
        default_status=status,
        description=f"Re-sync the last {settings.reconciliation_days} days' customer partitions in full.",
    )
    def customer_reconciliation(context: ScheduleEvaluationContext) -> list[RunRequest]:
        today = context.scheduled_execution_time.date()
        first = today - timedelta(days=settings.reconciliation_days)
        return [
            RunRequest(
                run_key=f"reconciliation:{today}:{day}",
                partition_key=day,
                run_config=customer_sync_run_config([], "daily reconciliation"),
                tags={"ctfluent/trigger": "reconciliation"},
            )
            for day in days_between(first, today)
        ]

    deletions = ScheduleDefinition(
        name="customer_deletion_reconciliation",
        cron_schedule=settings.reconciliation_cron,
        job=reconcile_customer_deletions,
        execution_timezone="UTC",
        default_status=status,
        description="Mark customers deleted in commercetools whose CustomerDeleted message was missed.",
    )
    return [customer_reconciliation, deletions]
