"""Fulfilments, Fluent -> commercetools: Fluent fulfilments and their consignments become deliveries with parcels on
the commercetools order, and its shipment state; staged per day of their latest change (asset
``fluent/fulfilments``), found changed by ``FULFILMENT`` and ``CONSIGNMENT`` webhook events and by polling both."""

from __future__ import annotations

from ctfluent_dagster.entities.fulfilments.settings import FulfilmentSettings
from ctfluent_dagster.entities.fulfilments.sync import (
    ENTITY_TYPE,
    build_reader,
    build_sync,
    fulfilments_of_events,
    with_orders,
)
from ctfluent_dagster.entities.shared import retailers_served
from ctfluent_dagster.entity import EntityDeclaration, FluentSource, Target

ENTITY = EntityDeclaration(
    name="fulfilments",
    source=FluentSource(
        name="fulfilments",
        description="Fluent fulfilments whose latest change (theirs, or a consignment's) falls in the day (UTC), with "
        "their items and consignments, staged as Parquet.",
        reader=build_reader,
        served_retailers=retailers_served,
        event_types=("FULFILMENT", "CONSIGNMENT"),
        keys_of_events=fulfilments_of_events,
        after=("orders",),
        enrich=with_orders,
    ),
    targets=(
        Target(
            name="deliveries",
            entity_type=ENTITY_TYPE,
            description="commercetools order deliveries (one per Fluent fulfilment, its filled items), parcels (one "
            "per consignment, with carrier and tracking) and the order's shipment state "
            "(fulfilments.*_shipment_states).",
            build=build_sync,
            scopes=("manage_orders",),
            deactivate_gone=False,
        ),
    ),
    settings=FulfilmentSettings,
)
