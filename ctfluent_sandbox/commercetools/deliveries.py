"""Deliveries and parcels of an order: the order update actions that record its shipments, and their messages.

* Orders here are single-shipping (``shippingMode: Single``): deliveries live in ``shippingInfo.deliveries``. As
  documented, a delivery can only be added to an order that has ``shippingInfo``; without one the action is 400
  ``InvalidOperation`` (the code is undocumented). ``shippingKey``, which names the shipping of an order with
  multiple shipping, is refused the same way.
* ``addDelivery`` (``deliveryKey``, ``items``, ``parcels``, ``address``, ``custom``) adds a ``Delivery`` with a new
  id and ``createdAt``, its parcels likewise. As documented, its ``DeliveryAdded`` message carries the delivery
  without the parcels, and each parcel of the draft gets a ``ParcelAddedToDelivery`` message of its own.
* ``addParcelToDelivery``, ``setParcelTrackingData``, ``setParcelMeasurements``, ``setParcelItems``,
  ``setDeliveryItems``, ``setDeliveryAddress``, ``removeDelivery`` and ``removeParcelFromDelivery``, with their
  messages (``ParcelAddedToDelivery``, ``ParcelTrackingDataUpdated``, ``ParcelMeasurementsUpdated``,
  ``ParcelItemsUpdated``, ``DeliveryItemsUpdated``, ``DeliveryAddressSet``, ``DeliveryRemoved``,
  ``ParcelRemovedFromDelivery``), name a delivery by ``deliveryId`` or ``deliveryKey`` and a parcel by ``parcelId``
  or ``parcelKey``: neither given is 400 ``InvalidJsonInput``, none of the order's matching 400 ``InvalidOperation``
  (the code is undocumented). Without a value, the ``set*`` actions of optional fields unset them.
* Delivery and parcel items (``{id, quantity}``) must name a line item or custom line item of the order (else 400
  ``InvalidOperation``), with a positive integer quantity (else 400 ``InvalidField``). Quantities are not checked
  against the ordered ones: as documented, the API does not validate that the deliveries of an order stay within
  them (partial and split shipments).
* ``deliveryKey`` and ``parcelKey`` follow the key pattern (400 ``InvalidField``) and are unique within the order:
  another delivery (parcel) of the order with the key is 400 ``DuplicateField`` on ``deliveryKey`` (``parcelKey``);
  the API's answer is undocumented.
* Not emulated: multiple shipping, the custom field actions of deliveries, parcels and delivery addresses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ctfluent_sandbox.commercetools.customers import ADDRESS_SCHEMA, parse_address
from ctfluent_sandbox.commercetools.errors import duplicate_field, invalid_field, invalid_json, invalid_operation
from ctfluent_sandbox.commercetools.messages import Change
from ctfluent_sandbox.commercetools.predicates import Schema
from ctfluent_sandbox.commercetools.resources import (
    CUSTOM_FIELDS_SCHEMA,
    ActionHandler,
    WriteContext,
    custom_fields,
    optional_key,
    optional_list,
    optional_str,
)
from ctfluent_sandbox.commercetools.store import Resource, clone

_ITEM_SCHEMA = Schema({"id": "string", "quantity": "number"})
_MEASUREMENTS = ("heightInMillimeter", "lengthInMillimeter", "widthInMillimeter", "weightInGram")
_TRACKING_TEXTS = ("trackingId", "carrier", "provider", "providerTransaction")
DELIVERY_SCHEMA = Schema(
    {
        "id": "string",
        "key": "string",
        "createdAt": "string",
        "items": _ITEM_SCHEMA,
        "parcels": Schema(
            {
                "id": "string",
                "key": "string",
                "createdAt": "string",
                "measurements": Schema(dict.fromkeys(_MEASUREMENTS, "number")),
                "trackingData": Schema({**dict.fromkeys(_TRACKING_TEXTS, "string"), "isReturn": "boolean"}),
                "items": _ITEM_SCHEMA,
                "custom": CUSTOM_FIELDS_SCHEMA,
            }
        ),
        "address": ADDRESS_SCHEMA,
        "custom": CUSTOM_FIELDS_SCHEMA,
    }
)


# -- finding deliveries and parcels ----------------------------------------------------------------------------


def _deliveries(order: Resource, action: Mapping[str, Any]) -> list[Resource]:
    """The order's deliveries, to read or change in place (the order is the update's private copy)."""
    if action.get("shippingKey") is not None:
        raise invalid_operation("The order's shippingMode is Single: shippingKey applies to multiple shipping only.")
    info = order.get("shippingInfo")
    if info is None:
        raise invalid_operation("The order has no shippingInfo: deliveries need the order's shipping information.")
    deliveries: list[Resource] = info.setdefault("deliveries", [])
    return deliveries


def _delivery(order: Resource, action: Mapping[str, Any]) -> Resource:
    delivery_id, key = optional_str(action, "deliveryId"), optional_str(action, "deliveryKey")
    if delivery_id is None and key is None:
        raise invalid_json("deliveryId: Missing required value (or a deliveryKey)")
    for delivery in _deliveries(order, action):
        if delivery["id"] == delivery_id if delivery_id is not None else delivery.get("key") == key:
            return delivery
    wanted = f"id '{delivery_id}'" if delivery_id is not None else f"key '{key}'"
    raise invalid_operation(f"The order has no delivery with the {wanted}.")


def _parcel(order: Resource, action: Mapping[str, Any]) -> tuple[Resource, Resource]:
    """The delivery and the parcel ``parcelId`` or ``parcelKey`` names."""
    parcel_id, key = optional_str(action, "parcelId"), optional_str(action, "parcelKey")
    if parcel_id is None and key is None:
        raise invalid_json("parcelId: Missing required value (or a parcelKey)")
    for delivery in _deliveries(order, action):
        for parcel in delivery["parcels"]:
            if parcel["id"] == parcel_id if parcel_id is not None else parcel.get("key") == key:
                return delivery, parcel
    wanted = f"id '{parcel_id}'" if parcel_id is not None else f"key '{key}'"
    raise invalid_operation(f"The order has no parcel with the {wanted}.")


# -- the parts of a delivery -----------------------------------------------------------------------------------


def _items(order: Resource, raw: Any, field: str) -> list[dict[str, Any]]:
    """``DeliveryItem``s: each names a (custom) line item of the order, with a positive quantity."""
    if raw is None:
        raise invalid_json(f"{field}: Missing required value")
    if not isinstance(raw, list):
        raise invalid_json(f"{field}: expected an array of DeliveryItem")
    lines = {line["id"] for line in (*order.get("lineItems", ()), *order.get("customLineItems", ()))}
    items = []
    for position, item in enumerate(raw):
        where = f"{field} -> [{position}]"
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise invalid_json(f"{where} -> id: Missing required value")
        quantity = item.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise invalid_json(f"{where} -> quantity: expected an integer")
        if quantity < 1:
            raise invalid_field("quantity", quantity, f"The quantity of a delivery item must be positive: {quantity}.")
        if item["id"] not in lines:
            raise invalid_operation(f"The order has no line item or custom line item with the id '{item['id']}'.")
        items.append({"id": item["id"], "quantity": quantity})
    return items


def _measurements(raw: Any) -> dict[str, int]:
    if not isinstance(raw, dict):
        raise invalid_json("measurements: expected ParcelMeasurements")
    measured = {name: raw[name] for name in _MEASUREMENTS if raw.get(name) is not None}
    if any(isinstance(value, bool) or not isinstance(value, int) for value in measured.values()):
        raise invalid_json("measurements: expected integers")
    return measured


def _tracking_data(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise invalid_json("trackingData: expected TrackingData")
    tracking: dict[str, Any] = {}
    for name in _TRACKING_TEXTS:
        value = optional_str(raw, name)
        if value is not None:
            tracking[name] = value
    if raw.get("isReturn") is not None:
        if not isinstance(raw["isReturn"], bool):
            raise invalid_json("trackingData -> isReturn: expected a boolean")
        tracking["isReturn"] = raw["isReturn"]
    return tracking


def _check_key(order: Resource, field: str, key: str | None) -> None:
    """``deliveryKey``/``parcelKey``: unique among the order's deliveries/parcels."""
    if key is None:
        return
    deliveries = order["shippingInfo"]["deliveries"]
    taken = (
        (d.get("key") for d in deliveries)
        if field == "deliveryKey"
        else (p.get("key") for d in deliveries for p in d["parcels"])
    )
    if key in taken:
        raise duplicate_field(field, key)


def _new_parcel(order: Resource, raw: Mapping[str, Any], key_field: str, ctx: WriteContext) -> Resource:
    """A ``Parcel`` from a ``ParcelDraft`` (key in ``key``) or an ``addParcelToDelivery`` (key in ``parcelKey``)."""
    parcel: Resource = {"id": ctx.ids.uuid()}
    key = optional_key(raw, key_field)
    _check_key(order, "parcelKey", key)
    if key is not None:
        parcel["key"] = key
    parcel["createdAt"] = ctx.now
    if raw.get("measurements") is not None:
        parcel["measurements"] = _measurements(raw["measurements"])
    if raw.get("trackingData") is not None:
        parcel["trackingData"] = _tracking_data(raw["trackingData"])
    parcel["items"] = _items(order, raw.get("items") or [], "items")
    if raw.get("custom") is not None:
        parcel["custom"] = custom_fields(raw["custom"], ctx)
    return parcel


def _parcel_added(delivery: Resource, parcel: Resource) -> Change:
    delivery["parcels"].append(parcel)
    # Copies: a later action of the same request may change the delivery, not this message.
    return Change("ParcelAddedToDelivery", {"delivery": clone(delivery), "parcel": clone(parcel)})


# -- update actions --------------------------------------------------------------------------------------------


def _add_delivery(order: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    deliveries = _deliveries(order, action)
    delivery: Resource = {"id": ctx.ids.uuid()}
    key = optional_key(action, "deliveryKey")
    _check_key(order, "deliveryKey", key)
    if key is not None:
        delivery["key"] = key
    delivery["createdAt"] = ctx.now
    delivery["items"] = _items(order, action.get("items") or [], "items")
    delivery["parcels"] = []
    if action.get("address") is not None:
        delivery["address"] = parse_address(action["address"], ctx)
    if action.get("custom") is not None:
        delivery["custom"] = custom_fields(action["custom"], ctx)
    deliveries.append(delivery)
    changes = [Change("DeliveryAdded", {"delivery": clone(delivery)})]
    for position, raw in enumerate(optional_list(action, "parcels")):
        if not isinstance(raw, dict):
            raise invalid_json(f"parcels -> [{position}]: expected a ParcelDraft")
        changes.append(_parcel_added(delivery, _new_parcel(order, raw, "key", ctx)))
    return changes


def _add_parcel(order: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    delivery = _delivery(order, action)
    return [_parcel_added(delivery, _new_parcel(order, action, "parcelKey", ctx))]


def _set_parcel_part(name: str, parse: Callable[[Any], dict[str, Any]], message: str) -> ActionHandler:
    """``setParcelTrackingData``, ``setParcelMeasurements``: set (or, without a value, unset) one part."""

    def handler(order: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
        delivery, parcel = _parcel(order, action)
        parcel.pop(name, None)
        fields: dict[str, Any] = {"deliveryId": delivery["id"], "parcelId": parcel["id"]}
        if action.get(name) is not None:
            parcel[name] = parse(action[name])
            fields[name] = clone(parcel[name])
        return [Change(message, fields)]

    return handler


def _set_parcel_items(order: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    delivery, parcel = _parcel(order, action)
    old, parcel["items"] = parcel.get("items", []), _items(order, action.get("items"), "items")
    fields = {"parcelId": parcel["id"], "deliveryId": delivery["id"], "items": parcel["items"], "oldItems": old}
    return [Change("ParcelItemsUpdated", clone(fields))]


def _set_delivery_items(order: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    delivery = _delivery(order, action)
    old, delivery["items"] = delivery["items"], _items(order, action.get("items"), "items")
    fields = {"deliveryId": delivery["id"], "items": delivery["items"], "oldItems": old}
    return [Change("DeliveryItemsUpdated", clone(fields))]


def _set_delivery_address(order: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    delivery = _delivery(order, action)
    fields: dict[str, Any] = {"deliveryId": delivery["id"]}
    old = delivery.pop("address", None)
    if action.get("address") is not None:
        delivery["address"] = fields["address"] = parse_address(action["address"], ctx)
    if old is not None:
        fields["oldAddress"] = old
    return [Change("DeliveryAddressSet", clone(fields))]


def _remove_delivery(order: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    delivery = _delivery(order, action)
    _deliveries(order, action).remove(delivery)
    return [Change("DeliveryRemoved", {"delivery": delivery})]


def _remove_parcel(order: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    delivery, parcel = _parcel(order, action)
    delivery["parcels"].remove(parcel)
    return [Change("ParcelRemovedFromDelivery", {"deliveryId": delivery["id"], "parcel": parcel})]


ACTIONS: dict[str, ActionHandler] = {
    "addDelivery": _add_delivery,
    "addParcelToDelivery": _add_parcel,
    "setParcelTrackingData": _set_parcel_part("trackingData", _tracking_data, "ParcelTrackingDataUpdated"),
    "setParcelMeasurements": _set_parcel_part("measurements", _measurements, "ParcelMeasurementsUpdated"),
    "setParcelItems": _set_parcel_items,
    "setDeliveryItems": _set_delivery_items,
    "setDeliveryAddress": _set_delivery_address,
    "removeDelivery": _remove_delivery,
    "removeParcelFromDelivery": _remove_parcel,
}
