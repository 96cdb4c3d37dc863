"""``fluent_<name>_sensor`` (``fluent_order_status_sensor``): finds what Fluent changed and requests back-sync runs.

Each tick, first the webhook events ``ctfluent-webhooks`` recorded (seconds after Fluent sent them), then, every
``poll_interval_seconds``, Fluent itself (the safety net: a webhook may be lost or not configured): records in the
written-back statuses updated since the watermark minus an overlap, the (id, status) pairs already seen dropped; the
watermark moves only after a full pass. The changes become runs of the back-sync job, at most
``max_changes_per_run`` each, with run keys from their content: evaluating them again requests nothing new.
"""

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from dagster import DefaultSensorStatus, RunRequest, SensorDefinition, SensorEvaluationContext, SensorResult, sensor
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from ctfluent_dagster.assets.back_sync import build_back_sync_entity, pending_refs
from ctfluent_dagster.backsync import BackSync, BackSyncSettings, Change, PollCursor, run_key
from ctfluent_dagster.configuration import load_settings
from ctfluent_dagster.entity import EntityDeclaration
from ctfluent_dagster.messages.handlers import scoped_run_config
from ctfluent_dagster.resources import (
    CommercetoolsResource,
    CommercetoolsWriteResource,
    FluentResource,
    LedgerResource,
    SyncSettingsResource,
)
from ctfluent_dagster.webhooks.events import FluentEventStore


def build_back_sync_sensor(
    entity: EntityDeclaration,
    back_sync: BackSync,
    job: UnresolvedAssetJobDefinition,
    settings: BackSyncSettings | None = None,
) -> SensorDefinition:
    """``settings``: the back-sync's (default: as the code location's settings say)."""
    settings = settings or back_sync.settings(load_settings().entity(entity.name))
    op_name = "__".join(("commercetools", back_sync.name))

    @sensor(
        name=back_sync.sensor,
        job=job,
        minimum_interval_seconds=settings.tick_seconds,
        default_status=DefaultSensorStatus.RUNNING if settings.sensor_running else DefaultSensorStatus.STOPPED,
        description=f"Requests {back_sync.job} runs for what Fluent changed: webhook events recorded by "
        "ctfluent-webhooks at every tick, and Fluent polled as the safety net.",
    )
    def fluent_status_sensor(
        context: SensorEvaluationContext,
        commercetools: CommercetoolsResource,
        commercetools_write: CommercetoolsWriteResource,
        fluent: FluentResource,
        ledger: LedgerResource,
        sync_settings: SyncSettingsResource,
    ) -> SensorResult:
        if not commercetools_write.configured:
            return SensorResult(skip_reason=f"the {back_sync.name} back-sync is off: CTP_WRITE_CLIENT_ID and "
                                "CTP_WRITE_CLIENT_SECRET are not set")  # fmt: skip
        now = datetime.now(UTC)
        cursor = PollCursor.decode(context.cursor)
        found: Counter[str] = Counter()
        events = FluentEventStore(ledger=ledger.get_ledger())  # migrated by the resource: the events table exists
        pending = pending_refs(events, back_sync, now - timedelta(seconds=settings.webhook_grace_seconds))
        # An event names a record; its run reads the record from Fluent (verify, then fetch).
        refs = sorted({ref for ref in pending.values() if ref})
        found["webhook"] = len(refs)
        changes: list[Change] = []
        if cursor.due(now, settings):
            sync = build_back_sync_entity(entity, back_sync, commercetools, commercetools_write, fluent, ledger,
                                          sync_settings)  # fmt: skip
            changes, cursor = cursor.poll(sync.changed_since(cursor.since(now, settings)), now, settings)
            found["poll"] = len(changes)
        # Polled changes and the refs events name, together at most max_changes_per_run per run.
        items: list[Change | str] = [*changes, *refs]
        size = settings.max_changes_per_run
        requests = []
        for start in range(0, len(items), size):
            chunk_changes = [item for item in items[start : start + size] if isinstance(item, dict)]
            chunk_refs = [item for item in items[start : start + size] if isinstance(item, str)]
            scope: dict[str, Any] = {"changes": chunk_changes} if chunk_changes else {}
            scope |= {"refs": chunk_refs} if chunk_refs else {}
            requests.append(RunRequest(
                run_key=run_key(back_sync.name, chunk_changes, chunk_refs),
                job_name=back_sync.job,
                run_config=scoped_run_config([op_name], trigger=_trigger(found), **scope),
                tags={"ctfluent/trigger": back_sync.sensor},
            ))  # fmt: skip
        # Handled once their run is requested: should that run fail, its records are failed in the ledger and
        # re-driven; the polling would find them again too.
        events.mark_handled(list(pending))
        if not requests:
            return SensorResult(skip_reason=f"no {back_sync.name} changes ({_trigger(found)})", cursor=cursor.encode())
        context.log.info(f"{len(changes)} {back_sync.name} change(s) ({_trigger(found)}) in {len(requests)} run(s)")
        return SensorResult(run_requests=requests, cursor=cursor.encode())

    return fluent_status_sensor


def _trigger(found: Counter[str]) -> str:
    return ", ".join(f"{count} from {source}" for source, count in sorted(found.items())) or "nothing new"
