"""Channels and customer groups, as far as prices name them: created, queried, read by id or key, deleted.

* ``ChannelDraft`` -> ``Channel``: ``key`` (required), ``roles`` (default ``["InventorySupply"]``, as the API
  gives a channel without roles), ``name`` and ``description`` (localized).
* ``CustomerGroupDraft`` -> ``CustomerGroup``: ``groupName`` becomes ``name``; ``key`` optional.
* The API has no message type for creating or deleting either, so their writes produce none. Not emulated: update
  actions, addresses, geo locations, custom fields. Prices still take their ``channel`` and ``customerGroup`` by id
  without checking them (see :mod:`.products`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ctfluent_sandbox.commercetools.errors import invalid_json
from ctfluent_sandbox.commercetools.messages import Change
from ctfluent_sandbox.commercetools.predicates import ANY_SCHEMA, Schema
from ctfluent_sandbox.commercetools.resources import (
    BASE_RESOURCE_FIELDS,
    ResourceKind,
    WriteContext,
    localized,
    new_resource_fields,
    optional_key,
    optional_list,
    required_str,
)
from ctfluent_sandbox.commercetools.store import Collection, Resource

CHANNEL_ROLES = ("InventorySupply", "ProductDistribution", "OrderExport", "OrderImport", "Primary")
CHANNEL_SCHEMA = Schema(
    {**BASE_RESOURCE_FIELDS, "key": "string", "roles": "string", "name": ANY_SCHEMA, "description": ANY_SCHEMA}
)
CUSTOMER_GROUP_SCHEMA = Schema({**BASE_RESOURCE_FIELDS, "key": "string", "name": "string"})


def _collection(schema: Schema) -> Collection:
    return Collection(schema, indexed=("lastModifiedAt", "createdAt"), unique={"key": lambda r: r.get("key")})


def create_channel(draft: Mapping[str, Any], ctx: WriteContext) -> tuple[Resource, list[Change]]:
    channel: Resource = new_resource_fields(ctx)
    key = optional_key(draft)
    if key is None:
        raise invalid_json("key: Missing required value")
    channel["key"] = key
    roles = optional_list(draft, "roles") or ["InventorySupply"]
    unknown = [role for role in roles if role not in CHANNEL_ROLES]
    if unknown:
        raise invalid_json(f"roles: unknown role {unknown[0]!r}; expected one of {', '.join(CHANNEL_ROLES)}")
    channel["roles"] = list(dict.fromkeys(roles))
    for name in ("name", "description"):
        value = localized(draft, name)
        if value is not None:
            channel[name] = value
    return channel, []


def create_customer_group(draft: Mapping[str, Any], ctx: WriteContext) -> tuple[Resource, list[Change]]:
    group: Resource = new_resource_fields(ctx)
    key = optional_key(draft)
    if key is not None:
        group["key"] = key
    group["name"] = required_str(draft, "groupName")
    return group, []


Build = Callable[[Mapping[str, Any], WriteContext], tuple[Resource, list[Change]]]


def _kind(type_id: str, schema: Schema, create: Build) -> ResourceKind:
    return ResourceKind(
        type_id=type_id,
        collection=_collection(schema),
        create=create,
        actions={},  # no update action is emulated: every action is answered as unknown
        identifiers=lambda resource: {"key": resource["key"]} if "key" in resource else {},
        deleted=lambda resource: [],
    )


def channel_kind() -> ResourceKind:
    return _kind("channel", CHANNEL_SCHEMA, create_channel)


def customer_group_kind() -> ResourceKind:
    return _kind("customer-group", CUSTOMER_GROUP_SCHEMA, create_customer_group)
