"""``automatic_retry_sensor``: failed records are retried by later runs even when nothing else changes.

Every run of an entity retries its failed records whose backoff has passed (``automatic_retry_attempts``,
``retry_backoff_seconds``). A shop where nothing changes starts no run, though, so a record whose error was
temporary would stay failed until the next change. At each tick this sensor finds the failed records now due
and requests a run for them: a delta run of the entity's sync job per partition, or, for an unpartitioned entity
(the order status), a run of its job, which retries its own due failures as the source has them now. Records that
have failed ``automatic_retry_attempts`` times in a row are not due: they stay failed until re-driven.
"""

from __future__ import annotations

from collections.abc import Sequence

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
from ctfluent_dagster.records import RunScope
from ctfluent_dagster.resources import LedgerResource
from ctfluent_dagster.sensors.waiting import records_run_key, runs_for_records
from ctfluent_dagster.settings import SyncSettings

SENSOR_NAME = "automatic_retry_sensor"
TRIGGER = "automatic retry"
KIND = "automatic-retry"


def build_retry_sensor(
    settings: SyncSettings, entities: Sequence[EntityDeclaration], jobs: Sequence[AssetJob]
) -> SensorDefinition:
    attempts, backoff = settings.automatic_retry_attempts, settings.retry_backoff_seconds
    running = settings.messages.sensor_running and attempts > 0

    @sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=settings.messages.poll_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING if running else DefaultSensorStatus.STOPPED,
        jobs=as_dagster_jobs(jobs),
        description=f"Requests runs for failed records whose retry backoff has passed (up to {attempts} failed "
        "attempts in a row; then they stay failed until re-driven).",
    )
    def automatic_retry_sensor(context: SensorEvaluationContext, ledger: LedgerResource) -> SensorResult:
        store = ledger.get_ledger()
        requests: list[RunRequest] = []
        for entity in entities:
            due = [e for target in entity.targets for e in store.due_failures(target.entity_type, attempts, backoff)]
            if not due:
                continue
            if entity.partitioned:
                requests += runs_for_records(entity, due, KIND, TRIGGER)
            else:
                requests.append(run_request(entity, RunScope(trigger=TRIGGER), tags={"ctfluent/trigger": KIND},
                                            run_key=records_run_key(KIND, entity.name, "", due)))  # fmt: skip
            context.log.info(f"{entity.name}: {len(due)} failed record(s) due for an automatic retry")
        return SensorResult(run_requests=requests,
                            skip_reason=None if requests else "no failed record is due for a retry")  # fmt: skip

    return automatic_retry_sensor
