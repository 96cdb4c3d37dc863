"""The fulfilments section of the settings (``fulfilments:`` in ``ctfluent.yaml``, ``CTFLUENT_FULFILMENTS__*``):
how Fluent fulfilments and consignments become commercetools deliveries, parcels and the order's shipment state.

The status tables are Fluent's workflow statuses (those of its reference workflows; a workflow of your own may name
others: adapt them, as the connector's Fulfilment Status and Shipping Status mapping tables are adapted). A status
not listed leaves the shipment state as it is.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ctfluent_dagster.fluent.changes import FluentChangesSettings

ShipmentState = Literal["Shipped", "Delivered", "Ready", "Pending", "Delayed", "Partial", "Backorder", "Canceled"]

_FULFILMENT_STATES: dict[str, ShipmentState] = {
    "AWAITING_WAVE": "Pending",
    "ASSIGNED": "Pending",
    "PICKING": "Pending",
    "PICKED": "Ready",
    "PACKED": "Ready",
    "READY_FOR_COLLECTION": "Ready",
    "AWAITING_COURIER": "Ready",
    "FULFILLED": "Shipped",
    "SHIPPED": "Shipped",
    "COMPLETE": "Shipped",
    "REJECTED": "Canceled",
    "CANCELLED": "Canceled",
}
_CONSIGNMENT_STATES: dict[str, ShipmentState] = {
    "CREATED": "Ready",
    "AWAITING_COURIER_COLLECTION": "Ready",
    "IN_TRANSIT": "Shipped",
    "SHIPPED": "Shipped",
    "DELIVERED": "Delivered",
    "COMPLETE": "Delivered",
}


class FulfilmentSettings(FluentChangesSettings):
    # Fluent fulfilment status -> the order's shipmentState.
    fulfilment_shipment_states: dict[str, ShipmentState] = Field(default_factory=lambda: dict(_FULFILMENT_STATES))
    # Fluent consignment status -> the order's shipmentState; it wins over its fulfilment's.
    consignment_shipment_states: dict[str, ShipmentState] = Field(default_factory=lambda: dict(_CONSIGNMENT_STATES))
    # A shipped or delivered fulfilment that, with the order's other deliveries, covers fewer items than the order:
    # "Partial" (the commercetools convention), or the mapped state as it is.
    partial_shipment: Literal["partial", "as_mapped"] = "partial"
    # A 409 (the order changed between read and write) re-reads it and tries again, at most this many times.
    max_conflict_retries: int = Field(default=5, ge=0)
