"""Channels and customer groups: created, queried, read by id or key, updated (channels), deleted.

* ``ChannelDraft`` -> ``Channel``: ``key`` (required), ``roles`` (default ``["InventorySupply"]``, as the API gives a
  channel without roles; a role twice counts once), ``name`` and ``description`` (localized), ``address`` (a
  ``BaseAddress``), ``geoLocation`` and ``custom``. A geo location is a GeoJSON point, ``{"type": "Point",
  "coordinates": [longitude, latitude]}``: another type, or coordinates that are not two numbers, is 400
  ``InvalidJsonInput`` (the API documents no range check, so none is made).
* Channel update actions: ``changeKey`` (unique: 400 ``DuplicateField``), ``changeName``, ``changeDescription``,
  ``setRoles``, ``addRoles``, ``removeRoles``, ``setAddress`` and ``setGeoLocation`` (without a value: unset).
  Not emulated: the custom field actions (``setCustomType``, ``setCustomField``, ``setAddressCustom*``) and
  ``reviewRatingStatistics``.
* Deleting a channel that a store or an inventory entry references is refused with 400 ``ReferenceExists``, as the
  spec documents. Prices still take their ``channel`` and ``customerGroup`` by id without checking them (see
  :mod:`.products`), so they neither need the channel to exist nor hold it back from deletion.
* What references a channel needs a role of it (a store's supply channels ``InventorySupply``, its distribution
  channels ``ProductDistribution``): :func:`channel_reference` answers 400 ``MissingRoleOnChannel`` otherwise.
* ``CustomerGroupDraft`` -> ``CustomerGroup``: ``groupName`` becomes ``name``; ``key`` optional; no update action.
* The API has no message type for channels or customer groups, so their writes produce none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ctfluent_sandbox.commercetools.customers import ADDRESS_SCHEMA, parse_address
from ctfluent_sandbox.commercetools.errors import CtError, invalid_json
from ctfluent_sandbox.commercetools.messages import Change
from ctfluent_sandbox.commercetools.predicates import ANY_SCHEMA, Schema
from ctfluent_sandbox.commercetools.resources import (
    BASE_RESOURCE_FIELDS,
    CUSTOM_FIELDS_SCHEMA,
    ActionHandler,
    ResourceKind,
    WriteContext,
    custom_fields,
    localized,
    new_resource_fields,
    optional_key,
    optional_list,
    reference,
    required_localized,
    required_str,
    resolve,
)
from ctfluent_sandbox.commercetools.store import Collection, Resource

CHANNEL_ROLES = ("InventorySupply", "ProductDistribution", "OrderExport", "OrderImport", "Primary")
CHANNEL_SCHEMA = Schema(
    {
        **BASE_RESOURCE_FIELDS,
        "key": "string",
        "roles": "string",
        "name": ANY_SCHEMA,
        "description": ANY_SCHEMA,
        "address": ADDRESS_SCHEMA,
        "geoLocation": Schema({"type": "string", "coordinates": "number"}),
        "custom": CUSTOM_FIELDS_SCHEMA,
    }
)
CUSTOMER_GROUP_SCHEMA = Schema({**BASE_RESOURCE_FIELDS, "key": "string", "name": "string"})
# Where other resources hold channel references: a channel they name cannot be deleted.
_STORE_CHANNEL_LISTS = ("supplyChannels", "distributionChannels")
INVENTORY_SUPPLY_CHANNEL = ("supplyChannel", "id")  # the lookup index of inventory entries by supply channel


def _collection(schema: Schema) -> Collection:
    return Collection(schema, indexed=("lastModifiedAt", "createdAt"), unique={"key": lambda r: r.get("key")})


def create_channel(draft: Mapping[str, Any], ctx: WriteContext) -> tuple[Resource, list[Change]]:
    channel: Resource = new_resource_fields(ctx)
    key = optional_key(draft)
    if key is None:
        raise invalid_json("key: Missing required value")
    channel["key"] = key
    channel["roles"] = _roles(draft) or ["InventorySupply"]
    for name in ("name", "description"):
        value = localized(draft, name)
        if value is not None:
            channel[name] = value
    if draft.get("address") is not None:
        channel["address"] = parse_address(draft["address"], ctx)
    if draft.get("geoLocation") is not None:
        channel["geoLocation"] = _geo_location(draft["geoLocation"])
    if draft.get("custom") is not None:
        channel["custom"] = custom_fields(draft["custom"], ctx)
    return channel, []


def _roles(source: Mapping[str, Any]) -> list[str]:
    roles = optional_list(source, "roles")
    unknown = [role for role in roles if role not in CHANNEL_ROLES]
    if unknown:
        raise invalid_json(f"roles: unknown role {unknown[0]!r}; expected one of {', '.join(CHANNEL_ROLES)}")
    return list(dict.fromkeys(roles))


def _geo_location(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or raw.get("type") != "Point":
        raise invalid_json('geoLocation: expected a GeoJSON Point, {"type": "Point", "coordinates": [lng, lat]}')
    coordinates = raw.get("coordinates")
    if not isinstance(coordinates, list) or len(coordinates) != 2 or not all(_is_number(c) for c in coordinates):
        raise invalid_json("geoLocation -> coordinates: expected two numbers, [longitude, latitude]")
    return {"type": "Point", "coordinates": list(coordinates)}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def create_customer_group(draft: Mapping[str, Any], ctx: WriteContext) -> tuple[Resource, list[Change]]:
    group: Resource = new_resource_fields(ctx)
    key = optional_key(draft)
    if key is not None:
        group["key"] = key
    group["name"] = required_str(draft, "groupName")
    return group, []


# -- what references a channel ------------------------------------------------------------------------------------


def channel_reference(identifier: Any, ctx: WriteContext, field: str, role: str) -> dict[str, str]:
    """The ``ChannelReference`` of a ``ChannelResourceIdentifier`` (by id or key) for a use that needs ``role``:
    400 ``ReferencedResourceNotFound`` for no such channel, 400 ``MissingRoleOnChannel`` for one without the role."""
    channel = resolve(identifier, "channel", ctx, field)
    if role not in channel["roles"]:
        by, value = ("key", identifier["key"]) if isinstance(identifier.get("key"), str) else ("id", channel["id"])
        raise CtError(
            400,
            "MissingRoleOnChannel",
            f"Given channel with {by} '{value}' does not have the required role {role}.",
            channel={"typeId": "channel", by: value},
            missingRole=role,
        )
    return reference("channel", channel["id"])


def _refuse_while_referenced(channel: Resource, ctx: WriteContext) -> None:
    """A channel a store or an inventory entry references cannot be deleted."""
    in_store = any(
        ref["id"] == channel["id"]
        for store in ctx.collections["store"]
        for name in _STORE_CHANNEL_LISTS
        for ref in store.get(name, ())
    )
    if in_store:
        raise _reference_exists("store")
    if ctx.collections["inventory-entry"].holding(INVENTORY_SUPPLY_CHANNEL, channel["id"]):
        raise _reference_exists("inventory-entry")


def _reference_exists(type_id: str) -> CtError:
    return CtError(
        400,
        "ReferenceExists",
        f"Can not delete a channel while it is referenced by at least one {type_id}.",
        referencedBy=type_id,
    )


# -- channel update actions ---------------------------------------------------------------------------------------


def _change_key(channel: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    key = optional_key(action)
    if key is None:
        raise invalid_json("key: Missing required value")
    channel["key"] = key  # unique: checked once all actions ran, like every unique field
    return []


def _change_localized(name: str) -> ActionHandler:
    def handler(channel: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
        channel[name] = required_localized(action, name)
        return []

    return handler


def _roles_action(combine: Callable[[list[str], list[str]], list[str]]) -> ActionHandler:
    """``setRoles``, ``addRoles``, ``removeRoles``: ``roles`` is required (an empty list is allowed)."""

    def handler(channel: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
        if action.get("roles") is None:
            raise invalid_json("roles: Missing required value")
        channel["roles"] = list(dict.fromkeys(combine(channel["roles"], _roles(action))))
        return []

    return handler


def _set_address(channel: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    channel.pop("address", None)
    if action.get("address") is not None:
        channel["address"] = parse_address(action["address"], ctx)
    return []


def _set_geo_location(channel: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    channel.pop("geoLocation", None)
    if action.get("geoLocation") is not None:
        channel["geoLocation"] = _geo_location(action["geoLocation"])
    return []


CHANNEL_ACTIONS: dict[str, ActionHandler] = {
    "changeKey": _change_key,
    "changeName": _change_localized("name"),
    "changeDescription": _change_localized("description"),
    "setRoles": _roles_action(lambda old, given: given),
    "addRoles": _roles_action(lambda old, given: old + given),
    "removeRoles": _roles_action(lambda old, given: [role for role in old if role not in given]),
    "setAddress": _set_address,
    "setGeoLocation": _set_geo_location,
}


def _identifiers(resource: Resource) -> dict[str, Any]:
    return {"key": resource["key"]} if "key" in resource else {}


def channel_kind() -> ResourceKind:
    return ResourceKind(
        type_id="channel",
        collection=_collection(CHANNEL_SCHEMA),
        create=create_channel,
        actions=CHANNEL_ACTIONS,
        identifiers=_identifiers,
        deleted=lambda channel: [],
        on_delete=_refuse_while_referenced,
    )


def customer_group_kind() -> ResourceKind:
    return ResourceKind(
        type_id="customer-group",
        collection=_collection(CUSTOMER_GROUP_SCHEMA),
        create=create_customer_group,
        actions={},  # no customer group update action is emulated: every action is answered as unknown
        identifiers=_identifiers,
        deleted=lambda group: [],
    )
