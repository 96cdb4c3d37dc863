"""Stores (mapped to Fluent retailers by the project): the queryable fields, ``StoreDraft`` -> ``Store``, the channel
and name update actions, and their messages.

* A draft names its ``supplyChannels`` and ``distributionChannels`` by ``ChannelResourceIdentifier`` (id or key);
  the store holds ``ChannelReference``s (by id), each channel once. An unknown channel is 400
  ``ReferencedResourceNotFound``; as documented, a supply channel needs the ``InventorySupply`` role and a
  distribution channel ``ProductDistribution``, else 400 ``MissingRoleOnChannel`` (on creation as on updates).
* Update actions: ``setName`` (without a name: unset), ``setSupplyChannels``, ``addSupplyChannel``,
  ``removeSupplyChannel``, ``setDistributionChannels``, ``addDistributionChannel``, ``removeDistributionChannel``.
* Messages: ``StoreCreated`` (the store's fields), ``StoreNameSet`` (``name``), ``StoreSupplyChannelsChanged`` and
  ``StoreDistributionChannelsChanged`` (``added...``/``removed...``, each only when not empty), ``StoreDeleted``.
  Adding a channel the store has is documented to have no effect: no change, no message; removing one it does not
  have is treated alike (undocumented).
* Not emulated: product selections (there is no Product Selection API: a draft naming one fails on it), languages
  and countries updates, custom field actions, ``storefront``; a store that customers or orders reference can still
  be deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctfluent_sandbox.commercetools.channels import channel_reference
from ctfluent_sandbox.commercetools.errors import invalid_json, referenced_resource_not_found, required_field
from ctfluent_sandbox.commercetools.messages import Change
from ctfluent_sandbox.commercetools.predicates import ANY_SCHEMA, Schema
from ctfluent_sandbox.commercetools.resources import (
    BASE_RESOURCE_FIELDS,
    CUSTOM_FIELDS_SCHEMA,
    REFERENCE_SCHEMA,
    ActionHandler,
    ResourceKind,
    WriteContext,
    custom_fields,
    localized,
    new_resource_fields,
    optional_key,
    optional_list,
    resolve,
)
from ctfluent_sandbox.commercetools.store import Collection, Resource

STORE_SCHEMA = Schema(
    {
        **BASE_RESOURCE_FIELDS,
        "key": "string",
        "name": ANY_SCHEMA,
        "languages": "string",
        "countries": Schema({"code": "string"}),
        "distributionChannels": REFERENCE_SCHEMA,
        "supplyChannels": REFERENCE_SCHEMA,
        "productSelections": ANY_SCHEMA,
        "custom": CUSTOM_FIELDS_SCHEMA,
    }
)


class _ChannelList:
    """One of a store's channel lists: its field, the draft field of one channel, the role it needs and its
    message."""

    def __init__(self, field: str, single: str, role: str, message: str) -> None:
        self.field, self.single, self.role, self.message = field, single, role, message
        self.title = field[0].upper() + field[1:]  # addedSupplyChannels, removedSupplyChannels

    def references(self, identifiers: list[Any], ctx: WriteContext) -> list[dict[str, str]]:
        found = [channel_reference(identifier, ctx, self.field, self.role) for identifier in identifiers]
        return list({ref["id"]: ref for ref in found}.values())  # each channel once, in the given order

    def change(self, store: Resource, new: list[dict[str, str]]) -> list[Change]:
        """Give the store the list ``new``: a message with what was added and removed, none if nothing was."""
        old = store[self.field]
        store[self.field] = new
        added, removed = [r for r in new if r not in old], [r for r in old if r not in new]
        fields = {f"added{self.title}": added, f"removed{self.title}": removed}
        changed = {name: value for name, value in fields.items() if value}
        return [Change(self.message, changed)] if changed else []


_SUPPLY = _ChannelList("supplyChannels", "supplyChannel", "InventorySupply", "StoreSupplyChannelsChanged")
_DISTRIBUTION = _ChannelList(
    "distributionChannels", "distributionChannel", "ProductDistribution", "StoreDistributionChannelsChanged"
)


def new_collection() -> Collection:
    return Collection(STORE_SCHEMA, indexed=("lastModifiedAt",), unique={"key": lambda s: s["key"]})


def create(draft: Mapping[str, Any], ctx: WriteContext) -> tuple[Resource, list[Change]]:
    key = optional_key(draft)
    if key is None:
        raise required_field("key")
    store: Resource = {**new_resource_fields(ctx), "key": key}
    name = localized(draft, "name")
    if name is not None:
        store["name"] = name
    store["languages"] = _strings(draft, "languages")
    store["countries"] = [{"code": code} for code in _country_codes(draft)]
    for channels in (_DISTRIBUTION, _SUPPLY):
        store[channels.field] = channels.references(optional_list(draft, channels.field), ctx)
    selections = optional_list(draft, "productSelections")
    if selections:  # nothing can be found: the emulator has no product selections
        first = selections[0] if isinstance(selections[0], dict) else {}
        first = first.get("productSelection", first)
        raise referenced_resource_not_found("product-selection", key=str(first.get("key") or first.get("id")))
    store["productSelections"] = []
    if draft.get("custom") is not None:
        store["custom"] = custom_fields(draft["custom"], ctx)
    fields = ("name", "languages", "countries", "distributionChannels", "supplyChannels", "productSelections", "custom")
    return store, [Change("StoreCreated", {k: store[k] for k in fields if k in store})]


def _strings(draft: Mapping[str, Any], name: str) -> list[str]:
    values = optional_list(draft, name)
    if not all(isinstance(v, str) for v in values):
        raise invalid_json(f"{name}: expected an array of strings")
    return list(values)


def _country_codes(draft: Mapping[str, Any]) -> list[str]:
    countries = optional_list(draft, "countries")
    if not all(isinstance(c, dict) and isinstance(c.get("code"), str) for c in countries):
        raise invalid_json("countries: expected an array of StoreCountry")
    return [c["code"] for c in countries]


# -- update actions --------------------------------------------------------------------------------------------


def _set_name(store: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    name = localized(action, "name")
    store.pop("name", None)
    if name is None:
        return [Change("StoreNameSet")]
    store["name"] = name
    return [Change("StoreNameSet", {"name": name})]


def _set_channels(channels: _ChannelList) -> ActionHandler:
    def handler(store: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
        return channels.change(store, channels.references(optional_list(action, channels.field), ctx))

    return handler


def _add_channel(channels: _ChannelList) -> ActionHandler:
    def handler(store: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
        added = channels.references([_required(action, channels.single)], ctx)
        return channels.change(store, [*store[channels.field], *(r for r in added if r not in store[channels.field])])

    return handler


def _remove_channel(channels: _ChannelList) -> ActionHandler:
    def handler(store: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
        # Removing needs no role: the channel may have lost it since it was added.
        removed = resolve(_required(action, channels.single), "channel", ctx, channels.single)["id"]
        return channels.change(store, [ref for ref in store[channels.field] if ref["id"] != removed])

    return handler


def _required(action: Mapping[str, Any], name: str) -> Any:
    value = action.get(name)
    if value is None:
        raise invalid_json(f"{name}: Missing required value")
    return value


ACTIONS: dict[str, ActionHandler] = {
    "setName": _set_name,
    "setSupplyChannels": _set_channels(_SUPPLY),
    "addSupplyChannel": _add_channel(_SUPPLY),
    "removeSupplyChannel": _remove_channel(_SUPPLY),
    "setDistributionChannels": _set_channels(_DISTRIBUTION),
    "addDistributionChannel": _add_channel(_DISTRIBUTION),
    "removeDistributionChannel": _remove_channel(_DISTRIBUTION),
}


def kind(collection: Collection) -> ResourceKind:
    return ResourceKind(
        type_id="store",
        collection=collection,
        create=create,
        actions=ACTIONS,
        identifiers=lambda store: {"key": store["key"]},
        deleted=lambda store: [Change("StoreDeleted")],
    )
