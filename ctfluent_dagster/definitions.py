"""The code location: every registered entity's assets, checks, jobs, schedules and sensors, wired to configuration.

Secrets and endpoints come from environment variables through ``EnvVar`` (listed in ``.env.example``); every
other setting from ``settings.py``.
"""

from __future__ import annotations

import os

from dagster import Definitions, EnvVar, in_process_executor

from ctfluent_dagster.assets import CHANGES_JOB, ENTITY_DEFINITIONS
from ctfluent_dagster.assets.common import as_dagster_jobs
from ctfluent_dagster.assets.journey import record_journey
from ctfluent_dagster.commercetools.client import BASE_READ_SCOPES
from ctfluent_dagster.configuration import load_settings
from ctfluent_dagster.entities import ENTITIES
from ctfluent_dagster.entity import CommercetoolsSource
from ctfluent_dagster.jobs import (
    history_schedule,
    preflight,
    prune_attempt_history,
    prune_staging,
    prune_webhook_events,
    staging_schedule,
    sync_overview,
    webhook_events_schedule,
)
from ctfluent_dagster.resources import (
    CommercetoolsResource,
    CommercetoolsWriteResource,
    ContextResource,
    FluentResource,
    LedgerResource,
    SyncSettingsResource,
)
from ctfluent_dagster.sensors.fluent_changes import build_fluent_changes_sensor
from ctfluent_dagster.sensors.messages import build_messages_sensor
from ctfluent_dagster.sensors.retry import build_retry_sensor
from ctfluent_dagster.sensors.waiting import build_waiting_sensor


def optional_env(*names: str) -> EnvVar | None:
    """The first of these variables that is set, as an EnvVar (so the UI shows its name, not its value)."""
    return next((EnvVar(name) for name in names if os.environ.get(name)), None)


def read_scopes() -> str:
    """What the sync reads with, when CTP_SCOPES does not say: the core's scopes and every commercetools source's."""
    scopes = [*BASE_READ_SCOPES, *(scope for entity in ENTITIES if isinstance(entity.source, CommercetoolsSource)
                                   for scope in entity.source.scopes)]  # fmt: skip
    return " ".join(dict.fromkeys(scopes))


def write_scopes() -> str:
    """What the entities synced from Fluent write with, when CTP_WRITE_SCOPES does not say: their targets'."""
    return " ".join(dict.fromkeys(scope for entity in ENTITIES for target in entity.targets for scope in target.scopes))


def context_values() -> dict[str, EnvVar | str]:
    """The context values the entities declare, each from its variable (unset and optional: empty)."""
    declared = {value.name: value for entity in ENTITIES for value in entity.context}
    return {name: EnvVar(value.variable) if value.required else optional_env(value.variable) or ""
            for name, value in declared.items()}  # fmt: skip


settings = load_settings()
# The ledger's database; the API clients count their requests-per-second limits there too, shared by every run.
ledger_url = optional_env("CTFLUENT_LEDGER_URL")
messages_settings = settings.messages
built = list(ENTITY_DEFINITIONS.values())
# The messages sensor requests the sync jobs of the entities read from commercetools; an entity read from Fluent has
# its own changes sensor; the waiting and retry sensors request every entity's sync job.
sync_jobs = [b.sync_job for b in built]
changes_sensors = [build_fluent_changes_sensor(b.entity, [b.sync_job]) for b in built if b.entity.from_fluent]

defs = Definitions(
    assets=[a for entity in built for a in entity.assets],
    asset_checks=[c for entity in built for c in entity.checks],
    jobs=[
        *as_dagster_jobs([*(j for entity in built for j in entity.jobs), CHANGES_JOB]),
        preflight,
        sync_overview,
        prune_attempt_history,
        prune_staging,
        prune_webhook_events,
        record_journey,
    ],
    sensors=[
        build_messages_sensor(
            messages_settings,
            ENTITIES,
            jobs=[b.sync_job for b in built if not b.entity.from_fluent],
            changes_job=CHANGES_JOB,
        ),
        build_waiting_sensor(messages_settings, ENTITIES, jobs=sync_jobs),
        build_retry_sensor(settings, ENTITIES, jobs=sync_jobs),
        *changes_sensors,
    ],
    schedules=[
        *(s for entity in built for s in entity.schedules),
        history_schedule(settings),
        staging_schedule(settings),
        webhook_events_schedule(settings),
    ],
    # Every job here is a chain of steps that run one after the other: one process per run is enough, and saves
    # the start-up of a process per step (seconds of CPU each), which is what bounds delta-run latency.
    executor=in_process_executor,
    resources={
        "commercetools": CommercetoolsResource(
            project_key=EnvVar("CTP_PROJECT_KEY"),
            client_id=EnvVar("CTP_CLIENT_ID"),
            client_secret=EnvVar("CTP_CLIENT_SECRET"),
            scopes=optional_env("CTP_SCOPES", "CTP_SCOPE") or read_scopes(),
            region=optional_env("CTP_REGION"),
            api_url=optional_env("CTP_API_URL"),
            auth_url=optional_env("CTP_AUTH_URL"),
            rate_limit_url=ledger_url,
        ),
        "fluent": FluentResource(
            host=EnvVar("FLUENT_HOST"),
            client_id=EnvVar("FLUENT_CLIENT_ID"),
            client_secret=EnvVar("FLUENT_CLIENT_SECRET"),
            username=EnvVar("FLUENT_USERNAME"),
            password=EnvVar("FLUENT_PASSWORD"),
            rate_limit_url=ledger_url,
        ),
        # Writes to commercetools (the entities synced from Fluent) use a client of their own with the manage scopes
        # their targets declare; unset: those entities are off.
        "commercetools_write": CommercetoolsWriteResource(
            project_key=EnvVar("CTP_PROJECT_KEY"),
            client_id=optional_env("CTP_WRITE_CLIENT_ID") or "",
            client_secret=optional_env("CTP_WRITE_CLIENT_SECRET") or "",
            scopes=optional_env("CTP_WRITE_SCOPES") or write_scopes(),
            region=optional_env("CTP_REGION"),
            api_url=optional_env("CTP_API_URL"),
            auth_url=optional_env("CTP_AUTH_URL"),
            rate_limit_url=ledger_url,
        ),
        "context_values": ContextResource(values=context_values()),
        "ledger": LedgerResource(url=ledger_url),
        "sync_settings": SyncSettingsResource(),
    },
)
