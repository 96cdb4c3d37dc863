"""Orders: commercetools orders -> Fluent orders, each with its customer at order time, partitioned by the day the
order was created (it is created in Fluent once; its payments are their own entity)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ctfluent_dagster.backsync import BackSync, BackSyncSettings, SettingsRoot
from ctfluent_dagster.entities.categories.catalogue import catalogue_checks, catalogue_ref
from ctfluent_dagster.entities.customers.mapping import configured_retailers
from ctfluent_dagster.entities.customers.settings import CustomerMappingSettings
from ctfluent_dagster.entities.orders.settings import OrderSettings
from ctfluent_dagster.entities.orders.status import ENTITY_TYPE as ORDER_STATUS
from ctfluent_dagster.entities.orders.status import build_status_sync
from ctfluent_dagster.entities.orders.sync import ENTITY_TYPE, OrderSync
from ctfluent_dagster.entity import EntityDeclaration, Source, SyncContext, Target
from ctfluent_dagster.preflight import PreflightCheck, retailer_checks

# What an order's line item keeps of its product variant: the rest (prices in every currency, images, attributes,
# localized names) is the catalogue's, and would make a staged order ten times larger.
_VARIANT_FIELDS = ("id", "sku", "key")
_LINE_ITEM_DROPPED = ("productSlug", "productType", "state", "perMethodTaxRate")


def _slim(record: dict[str, Any]) -> dict[str, Any]:
    lines = [
        {name: value for name, value in line.items() if name not in _LINE_ITEM_DROPPED}
        | {"variant": {name: line["variant"][name] for name in _VARIANT_FIELDS if name in line.get("variant", {})}}
        for line in record.get("lineItems", ())
    ]
    return {**record, "lineItems": lines}


def _build(context: SyncContext) -> OrderSync:
    return OrderSync(
        context.fluent,
        context.entity_settings(OrderSettings),
        context.settings_of("customers", CustomerMappingSettings),
        context.retailer_id,
        catalogue_ref(context),
    )


def _back_sync_settings(section: BaseModel) -> BackSyncSettings:
    if not isinstance(section, OrderSettings):
        raise TypeError(f"expected OrderSettings, got {type(section).__name__}")
    return section.status_back_sync


def _served_retailers(settings: SettingsRoot, default_retailer_id: str | None) -> list[str]:
    """The retailers orders go to: the customers' store map and defaults, as the order mapping picks them."""
    customers = settings.entity("customers")
    if not isinstance(customers, CustomerMappingSettings):
        raise TypeError(f"expected CustomerMappingSettings, got {type(customers).__name__}")
    return configured_retailers(customers, default_retailer_id)


def _preflight(context: SyncContext) -> list[PreflightCheck]:
    customers = context.settings_of("customers", CustomerMappingSettings)
    return [*retailer_checks(context.fluent, configured_retailers(customers, context.retailer_id)),
            *catalogue_checks(context)]  # fmt: skip


ENTITY = EntityDeclaration(
    name="orders",
    source=Source(
        name="orders",
        type_id="order",
        resource="orders",
        scopes=("view_orders",),
        # The shipping method's key (click & collect, delivery type) is on the method, not on the order.
        extra=(("expand", "shippingInfo.shippingMethod"),),
        partition_field="createdAt",
        page_size=100,
        scrub=_slim,
        after=("products", "customers"),
        description="commercetools orders created in the day (UTC), staged as Parquet (line items keep only their "
        "variant's id, SKU and key).",
    ),
    targets=(
        Target(
            name="orders",
            entity_type=ENTITY_TYPE,
            description="Fluent orders, created once each with the customer at order time (found by username or "
            "created, guests by email); never updated afterwards.",
            build=_build,
            after=("variant_products", "customers"),
            gone_status="deleted",
            deactivate_gone=False,  # an order deleted in commercetools stays in Fluent, whose workflows own it
        ),
    ),
    settings=OrderSettings,
    routes=Path(__file__).with_name("routes.yaml"),
    preflight=_preflight,
    uses_settings=("customers",),
    back_sync=BackSync(
        name=ORDER_STATUS,
        description="commercetools order states written back from the Fluent order statuses that "
        "orders.status_back_sync maps (COMPLETE -> Complete, CANCELLED -> Cancelled), found by webhooks and polling.",
        fluent_entity_type="ORDER",
        after="orders",
        scopes=("manage_orders",),
        settings=_back_sync_settings,
        build=build_status_sync,
        served_retailers=_served_retailers,
    ),
)
