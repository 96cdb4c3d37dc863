"""Orders: commercetools orders -> Fluent orders, each with its customer at order time, partitioned by the day the
order was created (it is created in Fluent once; its payments are their own entity, its status comes back as the
``order_status`` entity)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ctfluent_dagster.entities.customers import CustomerMappingSettings
from ctfluent_dagster.entities.orders import ENTITY_TYPE
from ctfluent_dagster.entities.orders.cancellation import ENTITY_TYPE as CANCELLATION
from ctfluent_dagster.entities.orders.cancellation import CancellationSync
from ctfluent_dagster.entities.orders.settings import OrderSettings
from ctfluent_dagster.entities.orders.sync import OrderSync
from ctfluent_dagster.entities.shared import (
    CATALOGUE,
    RETAILER,
    catalogue_checks,
    catalogue_ref,
    configured_retailers,
    default_retailer,
)
from ctfluent_dagster.entity import CommercetoolsSource, EntityDeclaration, SyncContext, Target
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
        default_retailer(context),
        catalogue_ref(context),
    )


def _cancellations(context: SyncContext) -> CancellationSync:
    customers = context.settings_of("customers", CustomerMappingSettings)
    settings = context.entity_settings(OrderSettings)
    return CancellationSync(context.fluent, settings, customers, default_retailer(context))


def _preflight(context: SyncContext) -> list[PreflightCheck]:
    customers = context.settings_of("customers", CustomerMappingSettings)
    retailers = configured_retailers(customers.store_retailers, default_retailer(context),
                                     customers.default_retailer_id)  # fmt: skip
    return [*retailer_checks(context.fluent, retailers), *catalogue_checks(context)]


ENTITY = EntityDeclaration(
    name="orders",
    source=CommercetoolsSource(
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
        routes=Path(__file__).with_name("routes.yaml"),
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
        Target(
            name="order_cancellations",
            entity_type=CANCELLATION,
            description="Orders cancelled in commercetools: the orders.cancellation_event (CancelOrder) sent to each "
            "Fluent order through the Event API, once (an order Fluent holds as cancelled already gets none).",
            build=_cancellations,
            after=("orders",),
            deactivate_gone=False,
        ),
    ),
    settings=OrderSettings,
    context=(RETAILER, CATALOGUE),
    preflight=_preflight,
    uses_settings=("customers",),
)
