"""Runs of an entity's jobs as sensors and schedules request them: the scope (``RunScope``) as the typed config of
each of the entity's assets; and the daily reconciliation schedules of a partitioned entity."""

from collections.abc import Mapping, Sequence
from datetime import timedelta

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    schedule,
)

from ctfluent_dagster.assets.common import AssetJob, run_config
from ctfluent_dagster.assets.keys import op_names
from ctfluent_dagster.entity import EntityDeclaration
from ctfluent_dagster.partitions import days_between, partition_for
from ctfluent_dagster.records import RunScope
from ctfluent_dagster.settings import MessagesSettings


def run_request(
    entity: EntityDeclaration,
    scope: RunScope,
    *,
    run_key: str,
    tags: Mapping[str, str],
    partition_key: str | None = None,
    job_name: str | None = None,
) -> RunRequest:
    """A run of the entity's sync job (or of ``job_name``, a job of its assets) over ``scope``: the typed config of
    each of its assets."""
    return RunRequest(run_key=run_key, job_name=job_name or entity.sync_job, partition_key=partition_key,
                      run_config=run_config(op_names(entity), scope), tags=dict(tags))  # fmt: skip


# -- reconciliation --------------------------------------------------------------------------------------


def reconciliation_schedules(
    entity: EntityDeclaration, job: AssetJob, settings: MessagesSettings
) -> list[ScheduleDefinition]:
    """Some changes emit no message (a middle name, a category rename) and messages can be lost in a retention
    gap; a Fluent webhook can be lost. Daily: re-sync the last days' partitions in full (unchanged records cost
    nothing, thanks to the ledger), and retire what the source no longer has (deleted in commercetools, or a record
    Fluent no longer returns)."""
    status = DefaultScheduleStatus.RUNNING if settings.schedules_running else DefaultScheduleStatus.STOPPED

    @schedule(
        name=f"{entity.name}_reconciliation",
        cron_schedule=settings.reconciliation_cron,
        job_name=job.name,
        execution_timezone="UTC",
        default_status=status,
        description=f"Re-sync the last {settings.reconciliation_days} days' {entity.name} partitions in full.",
    )
    def reconciliation(context: ScheduleEvaluationContext) -> list[RunRequest]:
        today = context.scheduled_execution_time.date()
        days = days_between(today - timedelta(days=settings.reconciliation_days), today)
        return full_resync_requests(entity, days, f"reconciliation:{today}", "daily reconciliation",
                                    "reconciliation")  # fmt: skip

    @schedule(
        name=f"{entity.name}_deletion_reconciliation",
        cron_schedule=settings.reconciliation_cron,
        job_name=job.name,
        execution_timezone="UTC",
        default_status=status,
        description=f"Retire the {entity.name} {entity.source.system} no longer has whose deletion was missed.",
    )
    def deletion_reconciliation(context: ScheduleEvaluationContext) -> RunRequest:
        return deletion_reconciliation_request(entity, partition_for(context.scheduled_execution_time),
                                               f"deletion-reconciliation:{context.scheduled_execution_time:%Y-%m-%d}",
                                               "daily deletion reconciliation")  # fmt: skip

    return [reconciliation, deletion_reconciliation]


def deletion_reconciliation_request(entity: EntityDeclaration, day: str, run_key: str, trigger: str) -> RunRequest:
    return run_request(entity, RunScope(reconcile_deletions=True, trigger=trigger), run_key=run_key,
                       partition_key=day, tags={"ctfluent/trigger": "deletion-reconciliation"})  # fmt: skip


def full_resync_requests(
    entity: EntityDeclaration, days: Sequence[str], key_prefix: str, trigger: str, tag: str
) -> list[RunRequest]:
    tags = {"ctfluent/trigger": tag}
    scope = RunScope(trigger=trigger)
    return [run_request(entity, scope, run_key=f"{key_prefix}:{entity.name}:{day}", partition_key=day, tags=tags)
            for day in days]  # fmt: skip
