"""``fluent_<name>_sensor`` (``fluent_order_status_sensor``): finds what Fluent changed for an entity read from Fluent
and requests runs of its sync job.

Each tick, first the webhook events of the entity's types that ``ctfluent-webhooks`` recorded (seconds after Fluent
sent them), then, every ``poll_interval_seconds``, Fluent itself (the safety net: a webhook may be lost or not
configured): the entity's records updated since the watermark minus an overlap, those already seen at the same
``updatedOn`` dropped; the watermark moves only after a full pass. The records found become runs, at most
``max_changes_per_run`` each, scoped to their keys (each run reads them from Fluent: an event only names a record),
with run keys from their content: evaluating them again requests nothing new. A staged entity's runs go to the
partitions of the records' ``updatedOn`` (today's for what an event names).
"""

import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from dagster import DefaultSensorStatus, RunRequest, SensorDefinition, SensorEvaluationContext, SensorResult, sensor
from pydantic import BaseModel

from ctfluent_dagster.assets.common import AssetJob, as_dagster_jobs
from ctfluent_dagster.assets.factory import SyncResources, off_reason, pending_events
from ctfluent_dagster.assets.runs import run_request
from ctfluent_dagster.configuration import load_settings
from ctfluent_dagster.entity import EntityDeclaration, FluentSource
from ctfluent_dagster.fluent.changes import FluentChangesSettings, PollCursor
from ctfluent_dagster.partitions import partition_for
from ctfluent_dagster.pushing import record_partition
from ctfluent_dagster.records import RunScope
from ctfluent_dagster.resources import (
    CommercetoolsResource,
    CommercetoolsWriteResource,
    ContextResource,
    FluentResource,
    LedgerResource,
    SyncSettingsResource,
)
from ctfluent_dagster.webhooks.events import FluentEventStore


def changes_settings(section: BaseModel) -> FluentChangesSettings:
    """The sensor's part of an entity's settings section (every entity read from Fluent extends it)."""
    if not isinstance(section, FluentChangesSettings):
        raise TypeError(f"an entity read from Fluent has FluentChangesSettings, not {type(section).__name__}")
    return section


def build_fluent_changes_sensor(
    entity: EntityDeclaration, jobs: Sequence[AssetJob], settings: FluentChangesSettings | None = None
) -> SensorDefinition:
    """``settings``: the sensor's (default: as the code location's settings say)."""
    source = entity.source
    if not isinstance(source, FluentSource):
        raise TypeError(f"{entity.name} is not read from Fluent")
    settings = settings or changes_settings(load_settings().entity(entity.name))

    @sensor(
        name=entity.changes_sensor,
        jobs=as_dagster_jobs(jobs),
        minimum_interval_seconds=settings.tick_seconds,
        default_status=DefaultSensorStatus.RUNNING if settings.sensor_running else DefaultSensorStatus.STOPPED,
        description=f"Requests {entity.sync_job} runs for what Fluent changed: webhook events recorded by "
        "ctfluent-webhooks at every tick, and Fluent polled as the safety net.",
    )
    def fluent_changes_sensor(
        context: SensorEvaluationContext,
        commercetools: CommercetoolsResource,
        commercetools_write: CommercetoolsWriteResource,
        fluent: FluentResource,
        ledger: LedgerResource,
        sync_settings: SyncSettingsResource,
        context_values: ContextResource,
    ) -> SensorResult:
        if not commercetools_write.configured:
            return SensorResult(skip_reason=off_reason(entity))
        run = SyncResources(commercetools, commercetools_write, fluent, ledger, sync_settings, context_values)
        now = datetime.now(UTC)
        cursor = PollCursor.decode(context.cursor)
        found: Counter[str] = Counter()
        events = FluentEventStore(ledger=ledger.get_ledger())  # migrated by the resource: the events table exists
        pending = pending_events(events, entity, now - timedelta(seconds=settings.webhook_grace_seconds))
        # An event names a record; its run reads the record from Fluent (verify, then fetch).
        named = sorted(pending.keys(entity, run.sync_context(entity)))
        found["webhook"] = len(named)
        today = partition_for(now)
        by_partition: dict[str, dict[str, str]] = defaultdict(dict)  # partition -> key -> what the run key hashes
        if cursor.due(now, settings):
            reader = source.reader(run.sync_context(entity))
            polled, cursor = cursor.poll(reader.updated_between(cursor.since(now, settings), None), now, settings,
                                         source.key_of)  # fmt: skip
            found["poll"] = len(polled)
            for record in polled:
                partition = (record_partition(entity, record) or today) if entity.partitioned else ""
                by_partition[partition][source.key_of(record)] = str(record["updatedOn"])
        for key in named:
            by_partition[today if entity.partitioned else ""].setdefault(key, "event")
        requests = [
            request
            for partition, keys in sorted(by_partition.items())
            for request in _requests(entity, partition, keys, settings.max_changes_per_run, _trigger(found))
        ]
        # Handled once their run is requested: should that run fail, its records are failed in the ledger and
        # re-driven; the polling would find them again too.
        events.mark_handled(pending.event_ids)
        if not requests:
            return SensorResult(skip_reason=f"no {entity.name} changes ({_trigger(found)})", cursor=cursor.encode())
        context.log.info(f"{sum(len(k) for k in by_partition.values())} {entity.name} change(s) ({_trigger(found)}) "
                         f"in {len(requests)} run(s)")  # fmt: skip
        return SensorResult(run_requests=requests, cursor=cursor.encode())

    return fluent_changes_sensor


def _requests(
    entity: EntityDeclaration, partition: str, keys: dict[str, str], size: int, trigger: str
) -> list[RunRequest]:
    """Runs of at most ``size`` keys each; requesting the same records (at the same ``updatedOn``) again requests
    the same runs."""
    ordered = sorted(keys)
    requests = []
    for start in range(0, len(ordered), size):
        chunk = ordered[start : start + size]
        basis = "\n".join(f"{key}@{keys[key]}" for key in chunk)
        run_key = f"{entity.name}:{partition}:{hashlib.sha256(basis.encode()).hexdigest()[:20]}"
        requests.append(run_request(entity, RunScope(ids=tuple(chunk), trigger=trigger), run_key=run_key,
                                    partition_key=partition or None,
                                    tags={"ctfluent/trigger": entity.changes_sensor}))  # fmt: skip
    return requests


def _trigger(found: Counter[str]) -> str:
    return ", ".join(f"{count} from {source}" for source, count in sorted(found.items())) or "nothing new"
