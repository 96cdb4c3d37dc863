"""Inventory: ``InventoryEntryDraft`` -> ``InventoryEntry``, the stock of one SKU in one supply channel (or in none),
its update actions and their messages.

* A draft needs ``sku`` and ``quantityOnStock``; ``supplyChannel`` (by id or key) must exist (400
  ``ReferencedResourceNotFound``) and have the ``InventorySupply`` role (400 ``MissingRoleOnChannel``: the API
  documents the role's meaning, not this check for inventory, which the emulator makes so that a channel used for
  stock is one the API would show as a warehouse). ``key``, ``restockableInDays``, ``expectedDelivery`` (stored as
  given) and ``custom`` are optional.
* Only one entry per SKU and supply channel (no channel counts as one): another is 400 ``DuplicateField`` on
  ``sku``, as the API answers (commercetools/commercetools-project-sync#301). ``key`` is unique too.
* No reservations are emulated (the emulator has no carts, and orders are placed with inventory mode ``None``), so
  ``availableQuantity`` always equals ``quantityOnStock``. Quantities are not bounded: ``removeQuantity`` can take
  the stock below zero (the API documents no limit).
* Update actions: ``changeQuantity``, ``addQuantity``, ``removeQuantity`` (each: ``InventoryEntryQuantitySet`` with
  old and new ``quantityOnStock`` and ``availableQuantity``, ``sku`` and ``supplyChannel``), ``setRestockableInDays``,
  ``setExpectedDelivery``, ``setKey``, ``setSupplyChannel`` (without a value: unset; the spec has no message for
  these). Creation: ``InventoryEntryCreated`` (the entry); deletion: ``InventoryEntryDeleted`` (``sku``,
  ``supplyChannel``).
* Not emulated: cart quantity limits, reservation expiry, stock levels (so no ``InventoryEntryOutOfStock``,
  ``ReorderPoint``, ``SafetyStock`` messages), custom field actions.
* ``sku`` and ``key`` (``= ...``, ``in (...)``) and ``supplyChannel(id = ...)`` are served by lookup indexes: a page
  of SKUs (or keys) out of a hundred thousand entries reads only the entries of those SKUs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ctfluent_sandbox.commercetools.channels import INVENTORY_SUPPLY_CHANNEL, channel_reference
from ctfluent_sandbox.commercetools.errors import invalid_json
from ctfluent_sandbox.commercetools.messages import Change
from ctfluent_sandbox.commercetools.predicates import Schema
from ctfluent_sandbox.commercetools.resources import (
    BASE_RESOURCE_FIELDS,
    CUSTOM_FIELDS_SCHEMA,
    REFERENCE_SCHEMA,
    ActionHandler,
    ResourceKind,
    WriteContext,
    custom_fields,
    new_resource_fields,
    optional_key,
    optional_str,
    required_str,
)
from ctfluent_sandbox.commercetools.store import Collection, Resource

TYPE_ID = "inventory-entry"
SUPPLY_ROLE = "InventorySupply"
_NOT_EMULATED = ("minCartQuantity", "maxCartQuantity", "reservationExpirationInMinutes", "stockLevels")

INVENTORY_SCHEMA = Schema(
    {
        **BASE_RESOURCE_FIELDS,
        "key": "string",
        "sku": "string",
        "supplyChannel": REFERENCE_SCHEMA,
        "quantityOnStock": "number",
        "availableQuantity": "number",
        "restockableInDays": "number",
        "expectedDelivery": "string",
        "custom": CUSTOM_FIELDS_SCHEMA,
    }
)


def unique_entries(entry: Resource) -> tuple[tuple[str, str], ...]:
    """The entry's place in the unique index of (SKU, supply channel); a clash is reported on ``sku``."""
    channel = entry.get("supplyChannel")
    return (("sku", f"{entry['sku']}\n{'' if channel is None else channel['id']}"),)


def _channel_ids(entry: Resource) -> tuple[str, ...]:
    channel = entry.get("supplyChannel")
    return () if channel is None else (channel["id"],)


def new_collection() -> Collection:
    return Collection(
        INVENTORY_SCHEMA,
        indexed=("lastModifiedAt", "createdAt"),
        unique={"key": lambda entry: entry.get("key")},
        unique_many={"skuAndSupplyChannel": unique_entries},
        lookups={
            ("sku",): lambda entry: (entry["sku"],),
            ("key",): lambda entry: (entry["key"],) if "key" in entry else (),
            INVENTORY_SUPPLY_CHANNEL: _channel_ids,
        },
    )


def _quantity(source: Mapping[str, Any], name: str) -> int:
    value = source.get(name)
    if value is None:
        raise invalid_json(f"{name}: Missing required value")
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_json(f"{name}: expected an integer")
    return value


def create(draft: Mapping[str, Any], ctx: WriteContext) -> tuple[Resource, list[Change]]:
    for name in _NOT_EMULATED:
        if draft.get(name) is not None:
            raise invalid_json(f"{name}: not emulated")
    entry: Resource = new_resource_fields(ctx)
    key = optional_key(draft)
    if key is not None:
        entry["key"] = key
    entry["sku"] = required_str(draft, "sku")
    if draft.get("supplyChannel") is not None:
        entry["supplyChannel"] = channel_reference(draft["supplyChannel"], ctx, "supplyChannel", SUPPLY_ROLE)
    entry["quantityOnStock"] = entry["availableQuantity"] = _quantity(draft, "quantityOnStock")
    if draft.get("restockableInDays") is not None:
        entry["restockableInDays"] = _quantity(draft, "restockableInDays")
    expected = optional_str(draft, "expectedDelivery")
    if expected is not None:
        entry["expectedDelivery"] = expected
    if draft.get("custom") is not None:
        entry["custom"] = custom_fields(draft["custom"], ctx)
    return entry, [Change("InventoryEntryCreated", {"inventoryEntry": entry})]


def _where(entry: Resource) -> dict[str, Any]:
    """What the quantity and deletion messages say about the entry: its SKU and supply channel."""
    return {"sku": entry["sku"], **({"supplyChannel": entry["supplyChannel"]} if "supplyChannel" in entry else {})}


# -- update actions --------------------------------------------------------------------------------------------


def _quantity_action(new_stock: Callable[[int, int], int]) -> ActionHandler:
    """``changeQuantity``, ``addQuantity``, ``removeQuantity``: the stock becomes ``new_stock(old, quantity)``; the
    available quantity moves with it (nothing is reserved)."""

    def handler(entry: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
        old_stock, old_available = entry["quantityOnStock"], entry["availableQuantity"]
        stock = new_stock(old_stock, _quantity(action, "quantity"))
        entry["quantityOnStock"], entry["availableQuantity"] = stock, old_available + stock - old_stock
        fields = {
            "oldQuantityOnStock": old_stock,
            "newQuantityOnStock": stock,
            "oldAvailableQuantity": old_available,
            "newAvailableQuantity": entry["availableQuantity"],
            **_where(entry),
        }
        return [Change("InventoryEntryQuantitySet", fields)]

    return handler


def _set_restockable_in_days(entry: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    entry.pop("restockableInDays", None)
    if action.get("restockableInDays") is not None:
        entry["restockableInDays"] = _quantity(action, "restockableInDays")
    return []


def _set_expected_delivery(entry: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    expected = optional_str(action, "expectedDelivery")
    entry.pop("expectedDelivery", None)
    if expected is not None:
        entry["expectedDelivery"] = expected
    return []


def _set_key(entry: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    key = optional_key(action)
    entry.pop("key", None)
    if key is not None:
        entry["key"] = key  # unique: checked once all actions ran
    return []


def _set_supply_channel(entry: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    entry.pop("supplyChannel", None)
    if action.get("supplyChannel") is not None:
        # Moved onto a channel holding the SKU already: DuplicateField once all actions ran.
        entry["supplyChannel"] = channel_reference(action["supplyChannel"], ctx, "supplyChannel", SUPPLY_ROLE)
    return []


ACTIONS: dict[str, ActionHandler] = {
    "changeQuantity": _quantity_action(lambda old, quantity: quantity),
    "addQuantity": _quantity_action(lambda old, quantity: old + quantity),
    "removeQuantity": _quantity_action(lambda old, quantity: old - quantity),
    "setRestockableInDays": _set_restockable_in_days,
    "setExpectedDelivery": _set_expected_delivery,
    "setKey": _set_key,
    "setSupplyChannel": _set_supply_channel,
}


def kind(collection: Collection) -> ResourceKind:
    return ResourceKind(
        type_id=TYPE_ID,
        collection=collection,
        create=create,
        actions=ACTIONS,
        identifiers=lambda entry: {"key": entry["key"]} if "key" in entry else {},
        deleted=lambda entry: [Change("InventoryEntryDeleted", _where(entry))],
    )
