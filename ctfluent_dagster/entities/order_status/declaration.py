"""Order status, Fluent -> commercetools: when Fluent's workflows complete or cancel an order, the commercetools order
gets the states ``order_status.statuses`` maps that status to. Found by Fluent's ``ORDER`` webhook events and by
polling; unstaged: ``commercetools/order_status`` reads the orders it writes from Fluent itself."""

from __future__ import annotations

from ctfluent_dagster.entities.order_status.settings import OrderStatusSettings
from ctfluent_dagster.entities.order_status.sync import ENTITY_TYPE, build_reader, build_sync, locate_orders
from ctfluent_dagster.entities.shared import RETAILER, retailers_served
from ctfluent_dagster.entity import EntityDeclaration, FluentSource, Target

ENTITY = EntityDeclaration(
    name="order_status",
    source=FluentSource(
        name="orders",
        description="Fluent orders in a status order_status.statuses writes back, read by ref or by updatedOn.",
        reader=build_reader,
        event_types=("ORDER",),
        served_retailers=retailers_served,
        staged=False,
        after=("orders",),
        enrich=locate_orders,
    ),
    targets=(
        Target(
            name="order_status",
            entity_type=ENTITY_TYPE,
            description="commercetools order states written back from the Fluent order statuses that "
            "order_status.statuses maps (COMPLETE -> Complete, CANCELLED -> Cancelled), found by webhooks and "
            "polling.",
            build=build_sync,
            scopes=("manage_orders",),
            deactivate_gone=False,  # an order Fluent no longer returns: only the ledger learns it
        ),
    ),
    settings=OrderStatusSettings,
    uses_settings=("customers",),
    context=(RETAILER,),
)
