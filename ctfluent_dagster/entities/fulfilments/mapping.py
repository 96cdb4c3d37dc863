"""A Fluent fulfilment -> a commercetools order delivery with parcels, and the order's shipment state: pure
functions, table-tested.

* delivery: key = the fulfilment ref (as a commercetools key); its items = the fulfilment items with a filled
  quantity, by their order item refs, which are the commercetools line item ids (the order sync makes them so): a
  partial fulfilment is a delivery of some items;
* parcels: one per consignment of the fulfilment's articles, key = the consignment ref, tracking data = carrier
  (name, else ref), tracking id (``consignmentReference``), provider (the carrier ref);
* shipment state: the latest consignment's status through ``consignment_shipment_states``, else the fulfilment's
  through ``fulfilment_shipment_states``; a shipped or delivered fulfilment that, with the order's other deliveries,
  covers fewer items than the order is ``Partial`` (``partial_shipment``).

The order's update actions are only those that change it: an unchanged fulfilment writes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ctfluent_dagster.entities.fulfilments.models import Consignment, FluentFulfilment
from ctfluent_dagster.entities.fulfilments.settings import FulfilmentSettings
from ctfluent_dagster.sync.commercetools_entity import Action, commercetools_key

SHIPPED = ("Shipped", "Delivered")


@dataclass(frozen=True)
class MappedParcel:
    key: str
    tracking: dict[str, Any]


@dataclass(frozen=True)
class MappedDelivery:
    order_id: str
    key: str
    items: tuple[tuple[str, int], ...]  # (line item id, quantity)
    parcels: tuple[MappedParcel, ...]
    shipment_state: str | None

    def items_json(self) -> list[dict[str, Any]]:
        return [{"id": line, "quantity": quantity} for line, quantity in self.items]

    def fingerprint_basis(self) -> dict[str, Any]:
        """What the order gets from it: equal bases write the same."""
        return {"order": self.order_id, "key": self.key, "items": self.items_json(), "state": self.shipment_state,
                "parcels": [{"key": p.key, "trackingData": p.tracking} for p in self.parcels]}  # fmt: skip


@dataclass(frozen=True)
class SkippedFulfilment:
    reason: str


def tracking_data(consignment: Consignment) -> dict[str, Any]:
    carrier = consignment.carrier
    data = {
        "trackingId": consignment.consignment_reference,
        "carrier": (carrier.name or carrier.ref) if carrier else None,
        "provider": carrier.ref if carrier else None,
        "isReturn": False,
    }
    return {name: value for name, value in data.items() if value is not None}


def shipment_state(fulfilment: FluentFulfilment, settings: FulfilmentSettings) -> str | None:
    consignments = sorted(fulfilment.consignments, key=lambda c: c.updated_on.timestamp() if c.updated_on else 0.0)
    for consignment in reversed(consignments):
        state = settings.consignment_shipment_states.get(consignment.status or "")
        if state:
            return state
    return settings.fulfilment_shipment_states.get(fulfilment.status or "")


def map_delivery(fulfilment: FluentFulfilment, settings: FulfilmentSettings) -> MappedDelivery | SkippedFulfilment:
    if not fulfilment.commercetools_id:
        return SkippedFulfilment("no commercetools order: not created by this project, and no order has this order "
                                 f"number ({fulfilment.order.ref})")  # fmt: skip
    if fulfilment.truncated:
        return SkippedFulfilment(f"more {' and '.join(fulfilment.truncated)} than one query reads (100 items, 10 "
                                 "articles): not written, rather than a delivery of some of them")  # fmt: skip
    filled: Counter[str] = Counter()
    for item in fulfilment.items:
        if item.order_item_ref and item.filled_quantity > 0:
            filled[item.order_item_ref] += item.filled_quantity
    parcels = tuple(MappedParcel(commercetools_key(c.ref), tracking_data(c)) for c in fulfilment.consignments)
    if not filled and not parcels:
        state = shipment_state(fulfilment, settings)
        if state is None:
            return SkippedFulfilment(f"nothing to deliver yet (status {fulfilment.status}, no item filled)")
    return MappedDelivery(
        order_id=fulfilment.commercetools_id,
        key=commercetools_key(fulfilment.ref),
        items=tuple(sorted(filled.items())),
        parcels=parcels,
        shipment_state=shipment_state(fulfilment, settings),
    )


def _deliveries(order: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(((order.get("shippingInfo") or {}).get("deliveries")) or [])


def _covers_the_order(order: Mapping[str, Any], wanted: MappedDelivery) -> bool:
    """Whether the order's deliveries, this one as wanted, hold every item of the order."""
    delivered: Counter[str] = Counter()
    for delivery in _deliveries(order):
        if delivery.get("key") != wanted.key:
            for item in delivery.get("items") or []:
                delivered[str(item["id"])] += int(item["quantity"])
    for line, quantity in wanted.items:
        delivered[line] += quantity
    lines = [*(order.get("lineItems") or []), *(order.get("customLineItems") or [])]
    return all(delivered[str(line["id"])] >= int(line["quantity"]) for line in lines)


def delivery_actions(order: Mapping[str, Any], wanted: MappedDelivery, settings: FulfilmentSettings) -> list[Action]:
    """The update actions that bring the order's delivery (and shipment state) to ``wanted``: none when it is there."""
    actions: list[Action] = []
    current = next((d for d in _deliveries(order) if d.get("key") == wanted.key), None)
    if current is None:
        if wanted.items or wanted.parcels:
            drafts = [{"key": parcel.key, "trackingData": parcel.tracking} for parcel in wanted.parcels]
            actions.append({"action": "addDelivery", "deliveryKey": wanted.key, "items": wanted.items_json(),
                            "parcels": drafts})  # fmt: skip
    else:
        have = sorted((str(i["id"]), int(i["quantity"])) for i in current.get("items") or [])
        if have != list(wanted.items):
            actions.append({"action": "setDeliveryItems", "deliveryKey": wanted.key, "items": wanted.items_json()})
        parcels = {str(p.get("key")): p for p in current.get("parcels") or []}
        for parcel in wanted.parcels:
            known = parcels.get(parcel.key)
            if known is None:
                actions.append({"action": "addParcelToDelivery", "deliveryKey": wanted.key, "parcelKey": parcel.key,
                                "trackingData": parcel.tracking})  # fmt: skip
            elif (known.get("trackingData") or {}) != parcel.tracking:
                actions.append({"action": "setParcelTrackingData", "parcelKey": parcel.key,
                                "trackingData": parcel.tracking})  # fmt: skip
    state = wanted.shipment_state
    if state in SHIPPED and settings.partial_shipment == "partial" and not _covers_the_order(order, wanted):
        state = "Partial"
    if state is not None and order.get("shipmentState") != state:
        actions.append({"action": "changeShipmentState", "shipmentState": state})
    return actions
