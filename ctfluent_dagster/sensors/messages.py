"""``commercetools_messages_sensor``: polls the Messages API and requests runs for what changed.

Thin wiring: the poller (``messages/poller.py``) reads new messages safely, the routes and handlers
(``messages/routing.py``) turn them into run plans, and this sensor hands those to Dagster. The cursor moves only
with a successful tick: if commercetools cannot be read, the tick fails (red in the UI) and the same messages are
read again next time. Once a run is requested the cursor moves on; a run that later fails is recovered by the
ledger's failed state and the re-drive job, not by reading the messages again.
"""

import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from dagster import (
    AssetKey,
    DefaultSensorStatus,
    RunConfig,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from ctfluent_dagster.assets.common import AssetJob, SyncScope, as_dagster_jobs
from ctfluent_dagster.assets.keys import asset_keys, op_names
from ctfluent_dagster.assets.runs import deletion_reconciliation_request, full_resync_requests, run_request
from ctfluent_dagster.entity import CommercetoolsSource, EntityDeclaration
from ctfluent_dagster.messages.handlers import DeleteHandler, SyncHandler
from ctfluent_dagster.messages.poller import Gap, MessagePoller, PollCursor
from ctfluent_dagster.messages.routing import HandlerRegistry, MessageHandler, RunPlan, load_routes, route_messages
from ctfluent_dagster.partitions import daily_partitions, days_between
from ctfluent_dagster.records import RunScope
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


def _delta(scope: RunScope) -> bool:
    """A scope of named records only (not a whole day, a re-drive, a reconciliation)."""
    return bool(scope.ids or scope.deleted_ids) and not (
        scope.redrive or scope.reconcile_deletions or scope.webhook_events
    )


def _merged(scopes: Sequence[RunScope]) -> RunScope:
    """One entity's delta scopes of a day as one."""
    return replace(
        scopes[0],
        ids=tuple(sorted({i for s in scopes for i in s.ids})),
        deleted_ids=tuple(sorted({i for s in scopes for i in s.deleted_ids})),
        trigger="; ".join(dict.fromkeys(s.trigger for s in scopes if s.trigger)),
    )


def changes_run_request(
    day: str, plans: Sequence[RunPlan], entities: Sequence[EntityDeclaration], job_name: str
) -> RunRequest:
    """The delta plans of several entities on one day as one run of the changes job: their assets selected, each
    entity's ops configured with its (merged) scope; Dagster orders the steps by their dependencies."""
    by_job = {entity.sync_job: entity for entity in entities}
    scopes: dict[str, list[RunScope]] = defaultdict(list)
    for plan in plans:
        scopes[plan.job_name].append(plan.scope)
    ops: dict[str, SyncScope] = {}
    assets: list[AssetKey] = []
    for job, entity_scopes in scopes.items():
        entity = by_job[job]
        ops |= dict.fromkeys(op_names(entity), SyncScope.of(_merged(entity_scopes)))
        assets += asset_keys(entity)
    keys = sorted(plan.run_key for plan in plans)
    tags: dict[str, str] = {}
    for plan in plans:
        for name, value in plan.tags.items():
            tags[name] = value if tags.get(name, value) == value else f"{tags[name]}, {value}"
    return RunRequest(
        run_key=f"changes:{day}:{hashlib.sha256(chr(10).join(keys).encode()).hexdigest()[:16]}",
        job_name=job_name,
        partition_key=day,
        asset_selection=assets,
        run_config=RunConfig(ops=ops),
        tags={**tags, "ctfluent/trigger": "messages", "ctfluent/entities": ", ".join(by_job[j].name for j in scopes)},
    )


def plan_run_requests(
    plans: Sequence[RunPlan], entities: Sequence[EntityDeclaration], changes_job: str | None
) -> list[RunRequest]:
    """The plans as runs: per day, the delta plans of two entities or more as one run of ``changes_job`` (when
    given), the others each as a run of its own job."""
    requests: list[RunRequest] = []
    by_day: dict[str, list[RunPlan]] = defaultdict(list)
    sync_jobs = {entity.sync_job for entity in entities if entity.partitioned}
    for plan in plans:
        if changes_job and plan.partition_key and plan.job_name in sync_jobs and _delta(plan.scope):
            by_day[plan.partition_key].append(plan)
        else:
            requests.append(plan_run_request(plan, entities))
    for day, day_plans in by_day.items():
        if len({plan.job_name for plan in day_plans}) > 1:
            assert changes_job is not None
            requests.append(changes_run_request(day, day_plans, entities, changes_job))
        else:
            requests += [plan_run_request(plan, entities) for plan in day_plans]
    return requests


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
    changes_job: AssetJob | None = None,
) -> SensorDefinition:
    """The messages sensor for these entities (those read from commercetools): their routes (or the configured
    routes file) and handlers. With ``changes_job`` (assets/``CHANGES_JOB``), a tick's changes of several entities
    on one day are one run of it."""
    shipped = shipped_handlers(entities)
    shipped_routes = [source.routes for _, source in commercetools_sources(entities)]

    @sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=settings.poll_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING if settings.sensor_running else DefaultSensorStatus.STOPPED,
        jobs=as_dagster_jobs([*jobs, *([changes_job] if changes_job else [])]),
        description="Polls the commercetools Messages API and requests a delta run per day (one across the "
        "entities the changes touch) and per other route.",
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

        plans = []
        for plan in routing.plans:
            if plan.partition_key is None or daily_partitions.has_partition_key(plan.partition_key):
                plans.append(plan)
            else:
                context.log.warning(f"{plan.run_key}: day {plan.partition_key} is outside the partitions; skipped")
        requests = plan_run_requests(plans, entities, changes_job.name if changes_job else None)
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
