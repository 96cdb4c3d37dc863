"""Stores (mapped to Fluent retailers by the project): the queryable fields and ``StoreDraft`` -> ``Store``.

There are no Channel or Product Selection APIs in the emulator, so a draft must leave those lists empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctfluent_sandbox.commercetools.errors import invalid_json, referenced_resource_not_found, required_field
from ctfluent_sandbox.commercetools.messages import Change
from ctfluent_sandbox.commercetools.predicates import ANY_SCHEMA, Schema
from ctfluent_sandbox.commercetools.resources import (
    BASE_RESOURCE_FIELDS,
    CUSTOM_FIELDS_SCHEMA,
    REFERENCE_SCHEMA,
    ResourceKind,
    WriteContext,
    custom_fields,
    localized,
    new_resource_fields,
    optional_key,
    optional_list,
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
_CHANNEL_LISTS = {
    "distributionChannels": "channel",
    "supplyChannels": "channel",
    "productSelections": "product-selection",
}


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
    for list_name, type_id in _CHANNEL_LISTS.items():
        references = optional_list(draft, list_name)
        if references:  # nothing can be found: the emulator has no channels or product selections
            first = references[0] if isinstance(references[0], dict) else {}
            first = first.get("productSelection", first)
            raise referenced_resource_not_found(type_id, key=str(first.get("key") or first.get("id")))
        store[list_name] = []
    if draft.get("custom") is not None:
        store["custom"] = custom_fields(draft["custom"], ctx)
    payload = {k: store[k] for k in ("name", "languages", "countries", *_CHANNEL_LISTS, "custom") if k in store}
    return store, [Change("StoreCreated", payload)]


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


def kind(collection: Collection) -> ResourceKind:
    return ResourceKind(
        type_id="store",
        collection=collection,
        create=create,
        actions={},  # no store update action is emulated yet: every action is answered as unknown
        identifiers=lambda store: {"key": store["key"]},
        deleted=lambda store: [Change("StoreDeleted")],
    )
