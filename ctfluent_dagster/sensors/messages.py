"""``commercetools_messages_sensor``: polls the Messages API and requests runs for what changed.

Thin wiring: the poller (``messages/poller.py``) reads new messages safely, the routes and handlers
(``messages/routing.py``) turn them into run plans, and this sensor hands those to Dagster. The cursor moves only
with a successful tick: if commercetools cannot be read, the tick fails (red in the UI) and the same messages are
read again next time. Once a run is requested the cursor moves on; a run that later fails is recovered by the
ledger's failed state and the re-drive job, not by reading the messages again.
"""

from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from ctfluent_dagster.assets.common import AssetJob, as_dagster_jobs
from ctfluent_dagster.assets.runs import deletion_reconciliation_request, full_resync_requests, run_request
from ctfluent_dagster.entity import CommercetoolsSource, EntityDeclaration
from ctfluent_dagster.messages.handlers import DeleteHandler, SyncHandler
from ctfluent_dagster.messages.poller import Gap, MessagePoller, PollCursor
from ctfluent_dagster.messages.routing import HandlerRegistry, MessageHandler, RunPlan, load_routes, route_messages
from ctfluent_dagster.partitions import daily_partitions, days_between
from ctfluent_dagster.resources import CommercetoolsResource, SyncSettingsResource
from ctfluent_dagster.settings import MessagesSettings

SENSOR_NAME = "commercetools_messages_sensor"


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{name} x{count}" for name, count in counter.most_common()) or "none"


def plan_run_request(plan: RunPlan, entities: Sequence[EntityDeclaration]) -> RunRequest:
    """The plan as a run of its job, with the typed config of the job's entity."""
    entity = next((e for e in entities if plan.job_name in (e.sync_job, e.redrive_job)), None)
    if entity is None:
        raise ValueError(f"a message handler planned a run of {plan.job_name}, which is no entity's sync or re-drive "
                         "job")  # fmt: skip
    return run_request(entity, plan.scope, run_key=plan.run_key, partition_key=plan.partition_key,
                       job_name=plan.job_name, tags={**plan.tags, "ctfluent/trigger": "messages"})  # fmt: skip


def commercetools_sources(entities: Sequence[EntityDeclaration]) -> list[tuple[EntityDeclaration, CommercetoolsSource]]:
    """The entities read from commercetools (what its messages concern), with their sources."""
    return [(entity, entity.source) for entity in entities if isinstance(entity.source, CommercetoolsSource)]


def shipped_handlers(entities: Sequence[EntityDeclaration]) -> list[MessageHandler]:
    """``<typeId>.upsert`` and ``<typeId>.delete`` for each entity: runs of the entity's own sync job."""
    handlers: list[MessageHandler] = []
    for entity, source in commercetools_sources(entities):
        handlers.append(SyncHandler(f"{source.type_id}.upsert", entity.sync_job))
        handlers.append(DeleteHandler(f"{source.type_id}.delete", entity.sync_job))
    return handlers


def _gap_requests(gap: Gap, entities: Sequence[EntityDeclaration]) -> list[RunRequest]:
    """Re-sync every day of the gap in full, and look for deletions the lost messages would have carried."""
    since = gap.since.isoformat()
    days = days_between(gap.since.date(), gap.until.date())
    trigger = f"retention gap since {since}"
    requests: list[RunRequest] = []
    for entity, _ in commercetools_sources(entities):
        requests += full_resync_requests(entity, days, f"retention-gap:{since}", trigger, "retention-gap")
        if days:  # the deactivations are recorded on the gap's last day
            key = f"retention-gap:{since}:{entity.name}:deletions"
            requests.append(deletion_reconciliation_request(entity, days[-1], key, trigger))
    return requests


def build_messages_sensor(
    settings: MessagesSettings,
    entities: Sequence[EntityDeclaration],
    jobs: Sequence[AssetJob],
) -> SensorDefinition:
    """The messages sensor for these entities (those read from commercetools): their routes (or the configured
    routes file) and handlers."""
    shipped = shipped_handlers(entities)
    shipped_routes = [source.routes for _, source in commercetools_sources(entities)]

    @sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=settings.poll_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING if settings.sensor_running else DefaultSensorStatus.STOPPED,
        jobs=as_dagster_jobs(jobs),
        description="Polls the commercetools Messages API and requests a delta run per route and day.",
    )
    def commercetools_messages_sensor(
        context: SensorEvaluationContext, commercetools: CommercetoolsResource, sync_settings: SyncSettingsResource
    ) -> SensorResult:
        current = sync_settings.settings.messages
        client = commercetools.get_client()
        poller = MessagePoller(
            client,
            settle=timedelta(seconds=current.settle_seconds),
            overlap=timedelta(seconds=current.overlap_seconds),
            max_pages=current.max_pages_per_tick,
        )
        polled = poller.poll(PollCursor.decode(context.cursor))  # raises: the tick fails, the cursor stays
        registry = HandlerRegistry.with_configured(shipped, current.handlers)
        routes = load_routes(current.routes_file or shipped_routes)
        routing = route_messages(polled.messages, routes, registry, current.max_ids_per_run, client)

        requests = []
        for plan in routing.plans:
            if plan.partition_key is None or daily_partitions.has_partition_key(plan.partition_key):
                requests.append(plan_run_request(plan, entities))
            else:
                context.log.warning(f"{plan.run_key}: day {plan.partition_key} is outside the partitions; skipped")
        if polled.gap:
            context.log.warning(
                f"message retention gap: messages between {polled.gap.since:%Y-%m-%d %H:%M} and "
                f"{polled.gap.until:%Y-%m-%d %H:%M} UTC may have expired (kept {polled.retention_days} days); "
                "re-syncing those days in full and reconciling deletions"
            )
            requests += _gap_requests(polled.gap, entities)
        context.log.info(
            f"{polled.pages} page(s), {len(polled.messages)} new message(s) ({polled.late} late, "
            f"{polled.duplicates} already seen); routed: {_counts(routing.routed)}; "
            f"unrouted (skipped): {_counts(routing.unrouted)}; {len(requests)} run(s)"
            + ("; more messages waiting for the next tick" if polled.more else "")
        )
        skip = None if requests else f"no routed messages ({len(polled.messages)} new, {_counts(routing.unrouted)})"
        return SensorResult(run_requests=requests, cursor=polled.cursor.encode(), skip_reason=skip)

    return commercetools_messages_sensor
