"""The code location: assets, checks, jobs and resources, wired to configuration.

Secrets and endpoints come from environment variables through ``EnvVar`` (listed in ``.env.example``); every
other setting from ``settings.py``.
"""

from __future__ import annotations

import os

from dagster import Definitions, EnvVar, in_process_executor

from ctfluent_dagster.assets.customers import (
    commercetools_customers,
    fluent_customers,
    fluent_customers_no_outstanding_failures,
)
from ctfluent_dagster.jobs import (
    customer_sync_job,
    delete_customers,
    preflight,
    reconcile_customer_deletions,
    redrive_failed_customers,
)
from ctfluent_dagster.resources import CommercetoolsResource, FluentResource, LedgerResource, SyncSettingsResource
from ctfluent_dagster.schedules import build_reconciliation_schedules
from ctfluent_dagster.sensors.messages import build_messages_sensor
from ctfluent_dagster.settings import load_settings


def optional_env(*names: str) -> EnvVar | None:
    """The first of these variables that is set, as an EnvVar (so the UI shows its name, not its value)."""
    return next((EnvVar(name) for name in names if os.environ.get(name)), None)


messages_settings = load_settings().messages

defs = Definitions(
    assets=[commercetools_customers, fluent_customers],
    asset_checks=[fluent_customers_no_outstanding_failures],
    jobs=[customer_sync_job, redrive_failed_customers, delete_customers, reconcile_customer_deletions, preflight],
    sensors=[
        build_messages_sensor(
            messages_settings,
            jobs=[customer_sync_job, delete_customers, reconcile_customer_deletions],
            deletions_job=reconcile_customer_deletions.name,
        )
    ],
    schedules=build_reconciliation_schedules(messages_settings),
    # Every job here is a chain of steps that run one after the other: one process per run is enough, and saves
    # the start-up of a process per step (seconds of CPU each), which is what bounds delta-run latency.
    executor=in_process_executor,
    resources={
        "commercetools": CommercetoolsResource(
            project_key=EnvVar("CTP_PROJECT_KEY"),
            client_id=EnvVar("CTP_CLIENT_ID"),
            client_secret=EnvVar("CTP_CLIENT_SECRET"),
            scopes=optional_env("CTP_SCOPES", "CTP_SCOPE") or CommercetoolsResource.model_fields["scopes"].default,
            region=optional_env("CTP_REGION"),
            api_url=optional_env("CTP_API_URL"),
            auth_url=optional_env("CTP_AUTH_URL"),
        ),
        "fluent": FluentResource(
            host=EnvVar("FLUENT_HOST"),
            client_id=EnvVar("FLUENT_CLIENT_ID"),
            client_secret=EnvVar("FLUENT_CLIENT_SECRET"),
            username=EnvVar("FLUENT_USERNAME"),
            password=EnvVar("FLUENT_PASSWORD"),
            retailer_id=EnvVar("FLUENT_RETAILER_ID"),
        ),
        "ledger": LedgerResource(url=optional_env("CTFLUENT_LEDGER_URL")),
        "sync_settings": SyncSettingsResource(),
    },
)
