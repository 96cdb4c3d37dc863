"""Builds an entity's back-sync (Fluent -> commercetools, ``EntityDeclaration.back_sync``) as Dagster definitions:
the ``commercetools/<name>`` asset downstream of the Fluent target it follows, its failures check, the back-sync job
(what ``fluent_<name>_sensor`` requests) and the re-drive job. The work is the sync engine's, as for the forward
direction: each change claimed, versioned, written, and recorded in the ledger.
"""

from collections.abc import Mapping
from datetime import datetime

from dagster import (
    AssetExecutionContext,
    AssetKey,
    Config,
    Failure,
    MaterializeResult,
    asset,
    define_asset_job,
)
from pydantic import Field

from ctfluent_dagster.assets.common import report_metadata
from ctfluent_dagster.assets.factory import (
    EntityDefinitions,
    failures_check,
    fluent_key,
    run_failures_check,
    run_liveness,
    tag_run_with_problems,
)
from ctfluent_dagster.backsync import BackSync, BackSyncContext, BackSyncEntity, latest_per_ref
from ctfluent_dagster.entity import EntityDeclaration, Target
from ctfluent_dagster.messages.handlers import scoped_run_config
from ctfluent_dagster.partitions import COMMERCETOOLS_POOL
from ctfluent_dagster.resources import (
    CommercetoolsResource,
    CommercetoolsWriteResource,
    FluentResource,
    LedgerResource,
    SyncSettingsResource,
)
from ctfluent_dagster.sync.engine import SyncEngine
from ctfluent_dagster.webhooks.events import FluentEventStore

CHUNK = 500


class BackSyncScope(Config):
    """What a back-sync run writes: the changes the sensor's poll of Fluent found, and Fluent records as they are
    now (named by webhook events, by ``refs``, or by a re-drive). A webhook event only names a record: its status
    is read from Fluent, never taken from the event."""

    changes: list[dict[str, str]] = Field(
        default_factory=list, description="changes found by polling Fluent: {id, ref, status, updatedOn}"
    )
    refs: list[str] = Field(default_factory=list, description="Fluent refs to write back as Fluent has them now")
    redrive: bool = Field(default=False, description="write back every failed record (or `refs`) as it is now")
    webhook_events: bool = Field(default=False, description="take the webhook events recorded and not handled yet")
    trigger: str = Field(default="", description="why the run was requested (set by the sensor)")


def back_sync_key(back_sync: BackSync) -> AssetKey:
    return AssetKey(["commercetools", back_sync.name])


def build_back_sync(
    entity: EntityDeclaration, back_sync: BackSync, targets_by_name: Mapping[str, Target]
) -> EntityDefinitions:
    upstream = fluent_key(targets_by_name[back_sync.after])

    @asset(
        key=back_sync_key(back_sync),
        deps=[upstream],
        pool=COMMERCETOOLS_POOL,
        group_name=entity.name,
        kinds={"commercetools"},
        description=back_sync.description,
    )
    def write_back(
        context: AssetExecutionContext,
        config: BackSyncScope,
        commercetools: CommercetoolsResource,
        commercetools_write: CommercetoolsWriteResource,
        fluent: FluentResource,
        ledger: LedgerResource,
        sync_settings: SyncSettingsResource,
    ) -> MaterializeResult:
        settings = sync_settings.settings
        store = ledger.get_ledger()
        # Automatic retry: failed writes whose backoff has passed are written again as Fluent has them now.
        retrying = [] if config.redrive else sorted({
            e.key.source_id
            for e in store.due_failures(back_sync.name, settings.automatic_retry_attempts,
                                        settings.retry_backoff_seconds)
        })  # fmt: skip
        if not (config.changes or config.refs or config.redrive or config.webhook_events or retrying):
            return MaterializeResult(metadata={"mode": "nothing", "trigger": config.trigger or "manual"})
        if not commercetools_write.configured:
            raise Failure(description=f"the {back_sync.name} back-sync is off: set CTP_WRITE_CLIENT_ID and "
                          f"CTP_WRITE_CLIENT_SECRET (a client with {', '.join(back_sync.scopes)})")  # fmt: skip
        sync = build_back_sync_entity(entity, back_sync, commercetools, commercetools_write, fluent, ledger,
                                      sync_settings)  # fmt: skip
        events = FluentEventStore(ledger=store) if config.webhook_events else None
        recorded = pending_refs(events, back_sync) if events is not None else {}
        refs = sorted({*config.refs, *(ref for ref in recorded.values() if ref), *retrying,
                       *(store.source_ids(back_sync.name, status=["failed"]) if config.redrive and not config.refs
                         else ())})  # fmt: skip
        # Verify, then fetch: what an event names is read from Fluent, its status and updatedOn are Fluent's own.
        changes = latest_per_ref([dict(change) for change in config.changes] + (sync.current(refs) if refs else []))
        engine = SyncEngine(store, sync, run_id=context.run.run_id, concurrency=settings.fluent_concurrency,
                            lease_seconds=settings.lease_seconds, is_alive=run_liveness(context.instance),
                            logger=context.log)  # fmt: skip
        with engine:
            for start in range(0, len(changes), CHUNK):
                engine.sync_chunk(sync.locate(changes[start : start + CHUNK]))
        if events is not None:  # written (or failed, and in the ledger to re-drive): handled
            events.mark_handled(list(recorded))
        report = engine.report
        report.counts["retried"] += len(retrying)
        tag_run_with_problems(context, back_sync.name, report.counts)
        mode = "redrive" if config.redrive else "+".join(name for name, given in (
            ("webhook", config.webhook_events), ("refs", config.refs), ("changes", config.changes),
            ("retry", retrying)) if given)  # fmt: skip
        metadata = report_metadata(report, mode=mode, run_id=context.run.run_id, partitions=[])
        metadata["trigger"] = config.trigger or "manual"
        context.log.info(f"{back_sync.name}: " + (", ".join(f"{k} {v}" for k, v in sorted(report.counts.items()))
                                                   or "nothing to write"))  # fmt: skip
        return MaterializeResult(metadata=metadata)

    job = define_asset_job(
        back_sync.job, selection=[write_back],
        description=f"Write Fluent's {back_sync.name} changes back to commercetools (requested by "
        f"{back_sync.sensor}).",
    )  # fmt: skip
    redrive = define_asset_job(
        back_sync.redrive_job, selection=[write_back],
        config=scoped_run_config([write_back.op.name], redrive=True, trigger="re-drive"),
        description=f"Write back every failed {back_sync.name} (or the `refs` given) as Fluent has it now.",
    )  # fmt: skip
    from_webhooks = define_asset_job(
        back_sync.webhook_job, selection=[write_back],
        config=scoped_run_config([write_back.op.name], webhook_events=True, trigger="webhook"),
        description=f"Write back the webhook events recorded by ctfluent-webhooks (which launches this job when "
        f"an event arrives, if configured; {back_sync.sensor} takes them at its next tick otherwise).",
    )  # fmt: skip
    checks = [failures_check(back_sync_key(back_sync), back_sync.name, back_sync.redrive_job),
              run_failures_check(back_sync_key(back_sync), back_sync.name, back_sync.redrive_job)]  # fmt: skip
    return EntityDefinitions(assets=[write_back], checks=checks, jobs=[job, redrive, from_webhooks], schedules=[])


def build_back_sync_entity(
    entity: EntityDeclaration,
    back_sync: BackSync,
    commercetools: CommercetoolsResource,
    commercetools_write: CommercetoolsWriteResource,
    fluent: FluentResource,
    ledger: LedgerResource,
    sync_settings: SyncSettingsResource,
) -> BackSyncEntity:
    """The back-sync's plain object on the code location's resources (for its asset and its sensor)."""
    context = BackSyncContext(fluent.get_client(), commercetools.get_client(), commercetools_write.get_client(),
                              ledger.get_ledger(), sync_settings.settings.entity(entity.name))  # fmt: skip
    return back_sync.build(context)


def pending_refs(
    events: FluentEventStore, back_sync: BackSync, received_before: datetime | None = None
) -> dict[str, str | None]:
    """The recorded webhook events of this back-sync not handled yet (received before ``received_before``), by event
    id: the Fluent ref each names, or None for one that names no ref (nothing to write back; handled all the
    same). Only the ref is taken from an event: what is written back is read from Fluent."""
    return {
        event.event_id: event.entity_ref
        for event in events.pending(entity_types=[back_sync.fluent_entity_type])
        if received_before is None or event.received_at < received_before
    }
