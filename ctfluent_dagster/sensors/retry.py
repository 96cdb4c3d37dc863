"""``automatic_retry_sensor``: failed records are retried by later runs even when nothing else changes.

Every run of an entity retries its failed records whose backoff has passed (``automatic_retry_attempts``,
``retry_backoff_seconds``). A shop where nothing changes starts no run, though, so a record whose error was
temporary would stay failed until the next message. At each tick this sensor finds the failed records now due
and requests a run for them: a delta run of the entity's sync job per partition, or a run of the back-sync's job
(which retries its own due failures). Records that have failed ``automatic_retry_attempts`` times in a row are not
due: they stay failed until re-driven.
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
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from ctfluent_dagster.assets.back_sync import back_sync_key
from ctfluent_dagster.entity import EntityDeclaration
from ctfluent_dagster.messages.handlers import scoped_run_config
from ctfluent_dagster.resources import LedgerResource
from ctfluent_dagster.sensors.waiting import records_run_key, runs_for_records
from ctfluent_dagster.settings import SyncSettings

SENSOR_NAME = "automatic_retry_sensor"
TRIGGER = "automatic retry"


def build_retry_sensor(
    settings: SyncSettings, entities: Sequence[EntityDeclaration], jobs: Sequence[UnresolvedAssetJobDefinition]
) -> SensorDefinition:
    attempts, backoff = settings.automatic_retry_attempts, settings.retry_backoff_seconds
    running = settings.messages.sensor_running and attempts > 0

    @sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=settings.messages.poll_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING if running else DefaultSensorStatus.STOPPED,
        jobs=jobs,
        description=f"Requests runs for failed records whose retry backoff has passed (up to {attempts} failed "
        "attempts in a row; then they stay failed until re-driven).",
    )
    def automatic_retry_sensor(context: SensorEvaluationContext, ledger: LedgerResource) -> SensorResult:
        store = ledger.get_ledger()
        requests: list[RunRequest] = []
        for entity in entities:
            due = [e for target in entity.targets for e in store.due_failures(target.entity_type, attempts, backoff)]
            if due:
                requests += runs_for_records(entity, due, "automatic-retry", TRIGGER)
                context.log.info(f"{entity.name}: {len(due)} failed record(s) due for an automatic retry")
            back_sync = entity.back_sync
            due_back = store.due_failures(back_sync.name, attempts, backoff) if back_sync else []
            if back_sync and due_back:
                op_name = back_sync_key(back_sync).to_python_identifier()
                requests.append(
                    RunRequest(
                        run_key=records_run_key("automatic-retry", back_sync.name, "", due_back),
                        job_name=back_sync.job,
                        run_config=scoped_run_config([op_name], trigger=TRIGGER),
                        tags={"ctfluent/trigger": "automatic-retry"},
                    )
                )
                context.log.info(f"{back_sync.name}: {len(due_back)} failed write(s) due for an automatic retry")
        return SensorResult(run_requests=requests,
                            skip_reason=None if requests else "no failed record is due for a retry")  # fmt: skip

    return automatic_retry_sensor
