"""Standalone Prices: ``StandalonePriceDraft`` -> ``StandalonePrice``, a price of one SKU kept outside its product,
the update actions that change what price selection picks, and their messages.

* A Standalone Price names its variant by ``sku`` only, and the variant need not exist (yet). It is ``active``
  unless its draft says otherwise; an inactive one is not considered by price selection. Which of a product's prices
  count, embedded or standalone, is the product's ``priceMode`` (``setPriceMode`` in :mod:`.products`).
* Scope: currency (of ``value``), ``country``, ``customerGroup``, ``channel`` (taken by id, unchecked, as for
  embedded prices), and a validity window. Two prices of one SKU with the same scope are refused: with the same
  window 400 ``DuplicateStandalonePriceScope``, with overlapping windows 400 ``OverlappingStandalonePriceValidity``.
* ``changeValue`` sets the value, or with ``staged: true`` the staged value (``staged``), which
  ``applyStagedChanges`` makes the value. Messages: ``StandalonePriceCreated`` (the price),
  ``StandalonePriceValueChanged`` (``value``, ``staged``, ``oldValue``), ``StandalonePriceStagedChangesApplied``,
  ``StandalonePriceActiveChanged``, ``StandalonePriceValidFromSet``/``ValidUntilSet``/``ValidFromAndUntilSet``,
  ``StandalonePriceKeySet`` and, for a deletion, ``StandalonePriceDeleted`` (``sku``).
* Not emulated: tiers, discounts, custom fields, recurrence policies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctfluent_sandbox.commercetools.errors import CtError, invalid_json
from ctfluent_sandbox.commercetools.messages import Change
from ctfluent_sandbox.commercetools.money import cent_precision
from ctfluent_sandbox.commercetools.predicates import ANY_SCHEMA, Schema
from ctfluent_sandbox.commercetools.products import new_price
from ctfluent_sandbox.commercetools.projections import MONEY_SCHEMA
from ctfluent_sandbox.commercetools.resources import (
    BASE_RESOURCE_FIELDS,
    REFERENCE_SCHEMA,
    ActionHandler,
    ResourceKind,
    WriteContext,
    new_resource_fields,
    optional_bool,
    optional_key,
    optional_str,
    required_str,
)
from ctfluent_sandbox.commercetools.store import Collection, Resource, clone

TYPE_ID = "standalone-price"
_SCOPE_FIELDS = ("country", "customerGroup", "channel")
_NOT_EMULATED = ("tiers", "discounted", "custom", "recurrencePolicy")

STANDALONE_PRICE_SCHEMA = Schema(
    {
        **BASE_RESOURCE_FIELDS,
        "key": "string",
        "sku": "string",
        "value": MONEY_SCHEMA,
        "country": "string",
        "customerGroup": REFERENCE_SCHEMA,
        "channel": REFERENCE_SCHEMA,
        "validFrom": "string",
        "validUntil": "string",
        "staged": Schema({"value": MONEY_SCHEMA}),
        "active": "boolean",
        "tiers": ANY_SCHEMA,
    }
)


def new_collection() -> Collection:
    return Collection(
        STANDALONE_PRICE_SCHEMA, indexed=("lastModifiedAt", "createdAt"), unique={"key": lambda p: p.get("key")}
    )


def create(draft: Mapping[str, Any], ctx: WriteContext) -> tuple[Resource, list[Change]]:
    for name in _NOT_EMULATED:
        if draft.get(name):
            raise invalid_json(f"{name}: not emulated")
    if draft.get("staged") is not None:
        raise invalid_json("staged: not emulated on creation")
    if draft.get("value") is None:
        raise invalid_json("value: Missing required value")
    sku = required_str(draft, "sku")
    # The scope fields are read as an embedded price's are (country checked, references by id).
    scoped = new_price({name: draft[name] for name in ("value", *_SCOPE_FIELDS, "validFrom", "validUntil")
                        if draft.get(name) is not None}, ctx)  # fmt: skip
    price: Resource = new_resource_fields(ctx)
    key = optional_key(draft)
    if key is not None:
        price["key"] = key
    price["sku"] = sku
    price.update({name: value for name, value in scoped.items() if name != "id"})
    price["active"] = optional_bool(draft, "active", True)
    _check_scope(price, ctx)
    return price, [Change("StandalonePriceCreated", {"standalonePrice": clone(price)})]


def _scope(price: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        price["sku"],
        price["value"]["currencyCode"],
        price.get("country"),
        price.get("customerGroup", {}).get("id"),
        price.get("channel", {}).get("id"),
    )


def _check_scope(price: Resource, ctx: WriteContext) -> None:
    """No other price of the SKU has this scope for the same or an overlapping validity window."""
    start, end = price.get("validFrom") or "", price.get("validUntil") or "\uffff"
    for other in ctx.collections[TYPE_ID]:
        if other["id"] == price["id"] or _scope(other) != _scope(price):
            continue
        other_start, other_end = other.get("validFrom") or "", other.get("validUntil") or "\uffff"
        if not (start < other_end and other_start < end):
            continue
        same_window = (price.get("validFrom"), price.get("validUntil")) == (
            other.get("validFrom"),
            other.get("validUntil"),
        )
        extra: dict[str, Any] = {
            "conflictingStandalonePrice": {"typeId": TYPE_ID, "id": other["id"]},
            "sku": price["sku"],
            "currency": price["value"]["currencyCode"],
            **{name: price[name] for name in (*_SCOPE_FIELDS, "validFrom", "validUntil") if name in price},
        }
        if same_window:
            raise CtError(400, "DuplicateStandalonePriceScope",
                          f"Duplicate standalone price scope for SKU '{price['sku']}'.", **extra)  # fmt: skip
        extra.update({f"conflicting{name[0].upper()}{name[1:]}": other[name] for name in ("validFrom", "validUntil")
                      if name in other})  # fmt: skip
        raise CtError(400, "OverlappingStandalonePriceValidity",
                      "Two standalone prices have overlapping validity periods.", **extra)  # fmt: skip


# -- update actions ------------------------------------------------------------------------------------------------


def _change_value(price: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    if action.get("value") is None:
        raise invalid_json("value: Missing required value")
    value = cent_precision(action["value"], "value")
    staged = optional_bool(action, "staged", False)
    if staged:
        old = price.get("staged", {}).get("value")
        price["staged"] = {"value": value}
    else:
        old = price["value"]
        price["value"] = value
    fields: dict[str, Any] = {"value": value, "staged": staged}
    if old is not None:
        fields["oldValue"] = old
    return [Change("StandalonePriceValueChanged", fields)]


def _apply_staged_changes(price: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    staged = price.pop("staged", None)
    if staged is None:
        return []
    price["value"] = staged["value"]
    return [Change("StandalonePriceStagedChangesApplied", {"stagedChanges": staged})]


def _change_active(price: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    active = action.get("active")
    if not isinstance(active, bool):
        raise invalid_json("active: Missing required value")
    old, price["active"] = price["active"], active
    return [Change("StandalonePriceActiveChanged", {"active": active, "oldActive": old})]


def _validity_setter(names: tuple[str, ...], message_type: str) -> ActionHandler:
    """``setValidFrom``, ``setValidUntil``, ``setValidFromAndUntil``: set or (absent) unset the dates."""

    def handler(price: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
        fields: dict[str, Any] = {}
        for name in names:
            value = optional_str(action, name)
            previous = price.pop(name, None)
            if value is not None:
                price[name] = fields[name] = value
            if previous is not None:
                fields[f"previous{name[0].upper()}{name[1:]}"] = previous
        _check_scope(price, ctx)
        return [Change(message_type, fields)]

    return handler


def _set_key(price: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    key, old = optional_key(action), price.pop("key", None)
    fields: dict[str, Any] = {}
    if key is not None:
        price["key"] = fields["key"] = key
    if old is not None:
        fields["oldKey"] = old
    return [Change("StandalonePriceKeySet", fields)]


ACTIONS: dict[str, ActionHandler] = {
    "changeValue": _change_value,
    "applyStagedChanges": _apply_staged_changes,
    "changeActive": _change_active,
    "setValidFrom": _validity_setter(("validFrom",), "StandalonePriceValidFromSet"),
    "setValidUntil": _validity_setter(("validUntil",), "StandalonePriceValidUntilSet"),
    "setValidFromAndUntil": _validity_setter(("validFrom", "validUntil"), "StandalonePriceValidFromAndUntilSet"),
    "setKey": _set_key,
}


def kind(collection: Collection) -> ResourceKind:
    return ResourceKind(
        type_id=TYPE_ID,
        collection=collection,
        create=create,
        actions=ACTIONS,
        identifiers=lambda price: {"key": price["key"]} if "key" in price else {},
        deleted=lambda price: [Change("StandalonePriceDeleted", {"sku": price["sku"]})],
    )
