"""Customers: commercetools customers -> Fluent customers (one per Fluent retailer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ctfluent_dagster.entities.customers.mapping import customer_retailers
from ctfluent_dagster.entities.customers.models import ENTITY_TYPE
from ctfluent_dagster.entities.customers.settings import CustomerMappingSettings
from ctfluent_dagster.entities.customers.sync import CustomerSync
from ctfluent_dagster.entities.shared import RETAILER, default_retailer
from ctfluent_dagster.entity import CommercetoolsSource, EntityDeclaration, SyncContext, Target
from ctfluent_dagster.preflight import PreflightCheck, retailer_checks

# Returned by the API (hashed) but never needed by the sync: dropped before anything is staged.
_SECRETS = ("password",)


def _without_secrets(record: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in record.items() if name not in _SECRETS}


def _build(context: SyncContext) -> CustomerSync:
    return CustomerSync(context.fluent, context.entity_settings(CustomerMappingSettings), default_retailer(context))


def _preflight(context: SyncContext) -> list[PreflightCheck]:
    settings = context.entity_settings(CustomerMappingSettings)
    return retailer_checks(context.fluent, customer_retailers(settings, default_retailer(context)))


ENTITY = EntityDeclaration(
    name="customers",
    source=CommercetoolsSource(
        name="customers",
        type_id="customer",
        resource="customers",
        scopes=("view_customers",),
        description="commercetools customers whose current lastModifiedAt falls in the day (UTC), staged as Parquet.",
        scrub=_without_secrets,
        routes=Path(__file__).with_name("routes.yaml"),
    ),
    targets=(
        Target(
            name="customers",
            entity_type=ENTITY_TYPE,
            description="Fluent customers (one per Fluent retailer) pushed from the staged commercetools customers.",
            build=_build,
            gone_status="deleted",  # commercetools never reuses an id; Fluent cannot delete: marked ctDeleted
            target_is_retailer=True,
            on_demand=True,  # an order's registered customer not in Fluent yet is created with the order
        ),
    ),
    settings=CustomerMappingSettings,
    context=(RETAILER,),
    preflight=_preflight,
)
