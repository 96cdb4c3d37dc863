"""``waiting_records_sensor``: writes waiting records once what they wait for has been written.

A record that references another entity's record that is not there yet (a product whose category has not synced)
ends *waiting* in the ledger. A run resumes its own entity's waiting records before it ends; this sensor covers the
rest (the category synced in a later run): each tick it finds the waiting records whose references are all there
now and requests a delta run of their entity's sync job (per partition, for a partitioned entity).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from ctfluent_dagster.assets.common import AssetJob, as_dagster_jobs
from ctfluent_dagster.assets.runs import run_request
from ctfluent_dagster.entity import EntityDeclaration
from ctfluent_dagster.partitions import daily_partitions, partition_for
from ctfluent_dagster.records import LedgerEntry, RunScope
from ctfluent_dagster.resources import LedgerResource
from ctfluent_dagster.settings import MessagesSettings
from ctfluent_dagster.sync.engine import ready_waiting

SENSOR_NAME = "waiting_records_sensor"


def records_run_key(kind: str, name: str, day: str, entries: Sequence[LedgerEntry]) -> str:
    # New whenever a record's ledger row changed since (it waited or failed again), so a retry is never
    # deduplicated away.
    basis = "\n".join(sorted(f"{e.key.source_id}@{e.updated_at.isoformat()}" for e in entries))
    return f"{kind}:{name}:{day}:{hashlib.sha256(basis.encode()).hexdigest()[:20]}"


def runs_for_records(
    entity: EntityDeclaration, entries: Sequence[LedgerEntry], kind: str, trigger: str
) -> list[RunRequest]:
    """Delta runs of the entity's sync job that write these records again: for a partitioned entity one per
    partition they were in (today's for a record whose partition is unknown or outside the partitions)."""
    today = partition_for(datetime.now(UTC))
    by_day: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        day = entry.partition_key or today
        by_day[day if daily_partitions.has_partition_key(day) else today].append(entry)
    if not entity.partitioned:
        by_day = {"": list(entries)}
    requests = []
    for day, day_entries in sorted(by_day.items()):
        scope = RunScope(ids=tuple(sorted({e.key.source_id for e in day_entries})), trigger=trigger)
        requests.append(run_request(entity, scope, run_key=records_run_key(kind, entity.name, day, day_entries),
                                    partition_key=day or None, tags={"ctfluent/trigger": kind}))  # fmt: skip
    return requests


def build_waiting_sensor(
    settings: MessagesSettings, entities: Sequence[EntityDeclaration], jobs: Sequence[AssetJob]
) -> SensorDefinition:
    @sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=settings.poll_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING if settings.sensor_running else DefaultSensorStatus.STOPPED,
        jobs=as_dagster_jobs(jobs),
        description="Requests runs for waiting records whose references have been written.",
    )
    def waiting_records_sensor(context: SensorEvaluationContext, ledger: LedgerResource) -> SensorResult:
        store = ledger.get_ledger()
        requests = []
        for entity in entities:
            ready = [e for target in entity.targets
                     for e in ready_waiting(store, target.entity_type, limit=settings.max_ids_per_run)]  # fmt: skip
            if ready:
                requests += runs_for_records(entity, ready, "waiting", "waiting records ready")
                context.log.info(f"{entity.name}: {len(ready)} waiting record(s) can be written now")
        return SensorResult(run_requests=requests, skip_reason=None if requests else "no waiting record is ready")

    return waiting_records_sensor
