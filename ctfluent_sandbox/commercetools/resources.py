"""What every emulated resource type shares: the description of a type (:class:`ResourceKind`), the context a
write runs in, and the update machinery (version check, atomic action list, version bump, unique checks).

A new resource type (orders, products, payments) is a ``ResourceKind``: a :class:`Collection`, a draft builder,
a table of update actions, what its messages carry and, where a write reaches other resources (a moved category
moves its subtree), hooks for that. Drafts name other resources by ``ResourceIdentifier``; :func:`resolve` finds
them in the collections of the :class:`WriteContext`.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ctfluent_sandbox.clock import iso_ms
from ctfluent_sandbox.commercetools.errors import (
    CtError,
    concurrent_modification,
    duplicate_field,
    invalid_field,
    invalid_json,
    invalid_operation,
    referenced_resource_not_found,
)
from ctfluent_sandbox.commercetools.ids import IdSource
from ctfluent_sandbox.commercetools.messages import Change
from ctfluent_sandbox.commercetools.predicates import ANY_SCHEMA, Leaf, Schema
from ctfluent_sandbox.commercetools.store import Collection, Resource, clone

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{2,256}$")  # keys, and the slugs of products and categories
REFERENCE_SCHEMA = Schema({"typeId": "string", "id": "string", "key": "string"})
CUSTOM_FIELDS_SCHEMA = Schema({"type": REFERENCE_SCHEMA, "fields": ANY_SCHEMA})
# The fields every resource type has (BaseResource in the API), for each type's predicate schema.
BASE_RESOURCE_FIELDS: dict[str, Leaf | Schema] = {
    "id": "string",
    "version": "number",
    "createdAt": "string",
    "lastModifiedAt": "string",
    "createdBy": ANY_SCHEMA,
    "lastModifiedBy": ANY_SCHEMA,
}


class CustomTypes:
    """Custom Types by key. There is no Types API in the emulator: a new key is registered on first use, with
    an id derived from project and key (stable across restarts and seeds)."""

    def __init__(self, project_key: str) -> None:
        self.project_key = project_key
        self._ids: dict[str, str] = {}

    def id_for_key(self, key: str) -> str:
        return self._ids.setdefault(
            key, str(uuid.uuid5(uuid.NAMESPACE_URL, f"ctfluent:{self.project_key}/types/{key}"))
        )

    def resolve(self, identifier: Any) -> str:
        """The id a ``TypeResourceIdentifier`` (``{typeId, id|key}``) names."""
        if not isinstance(identifier, dict):
            raise invalid_json("type: expected a TypeResourceIdentifier")
        if isinstance(identifier.get("key"), str):
            return self.id_for_key(identifier["key"])
        if identifier.get("id") in self._ids.values():
            return str(identifier["id"])
        raise referenced_resource_not_found("type", id=str(identifier.get("id")))


@dataclass
class WriteContext:
    """Everything a draft builder or update action needs besides the resource itself."""

    moment: datetime  # the time of the write: lastModifiedAt and the messages' createdAt
    client_id: str
    ids: IdSource
    collections: Mapping[str, Collection]  # every resource type a write may reference, by typeId
    types: CustomTypes
    now: str = field(init=False)  # ``moment`` as the API writes it: every timestamp the write sets

    def __post_init__(self) -> None:
        self.now = iso_ms(self.moment)

    @property
    def modified_by(self) -> dict[str, Any]:
        return _modified_by(self.client_id)


@functools.lru_cache(maxsize=256)
def _modified_by(client_id: str) -> dict[str, Any]:
    """``createdBy``/``lastModifiedBy`` of a client's writes: one shared document per client."""
    return {"clientId": client_id, "isPlatformClient": False}


ActionHandler = Callable[[Resource, Mapping[str, Any], WriteContext], list[Change]]
BY_KEY = ("key", "key")  # resources addressed as `/<path>/key=<key>`, the key in the unique index "key"


@dataclass(frozen=True)
class ResourceKind:
    type_id: str  # the reference typeId, e.g. "customer"
    collection: Collection
    create: Callable[[Mapping[str, Any], WriteContext], tuple[Resource, list[Change]]]
    actions: Mapping[str, ActionHandler]
    identifiers: Callable[[Resource], dict[str, Any]]  # resourceUserProvidedIdentifiers
    deleted: Callable[[Resource], list[Change]]  # the messages of a deletion
    created_as: str | None = None  # the create response wraps the resource in this field (CustomerSignInResult)
    # The second way to address one resource, ``/<path>/<segment>=<value>``: the path segment and the unique index
    # holding the value (``key=`` for most types, ``order-number=`` for orders).
    keyed_by: tuple[str, str] = BY_KEY
    # What a stored update does to other resources, given the resource before and after it (a moved category
    # moves its subtree). Runs once the update has succeeded, so a failing request changes nothing.
    after_update: Callable[[Resource, Resource, WriteContext], None] | None = None
    # Runs once a deletion is certain (its version matched): refuses it by raising before changing anything (a
    # product type still in use), or carries it over to other resources (a category takes its subtree along).
    on_delete: Callable[[Resource, WriteContext], None] | None = None


def expect_version(current: Resource, version: Any) -> None:
    if isinstance(version, bool) or not isinstance(version, int):
        raise invalid_json("version: Missing required value" if version is None else "version: expected an integer")
    if version != current["version"]:
        raise concurrent_modification(str(current.get("id") or current.get("key")), version, current["version"])


def run_actions(
    current: Resource, body: Any, actions: Mapping[str, ActionHandler], ctx: WriteContext
) -> tuple[Resource, list[Change]]:
    """Apply ``{version, actions}`` to a copy of ``current``; any failing action fails them all."""
    if not isinstance(body, dict):
        raise invalid_json("expected an object with 'version' and 'actions'")
    expect_version(current, body.get("version"))
    requested = body.get("actions")
    if not isinstance(requested, list):
        raise invalid_json("actions: Missing required value")
    updated = clone(current)
    return updated, apply_actions(updated, requested, actions, ctx)


def apply_actions(
    resource: Resource, requested: list[Any], actions: Mapping[str, ActionHandler], ctx: WriteContext
) -> list[Change]:
    """Apply an action list to ``resource`` in place, as one new version: for a private copy (an update request) or
    a resource not stored yet (the seeds give new resources their history this way, without copying them)."""
    changes: list[Change] = []
    for position, action in enumerate(requested):
        name = action.get("action") if isinstance(action, dict) else None
        handler = actions.get(name) if isinstance(name, str) else None
        if handler is None:
            raise invalid_json(f"actions -> [{position}] -> action: Unknown action {name!r}")
        changes += handler(resource, action, ctx)
    if requested:
        resource["version"] += 1
    return changes


def update_resource(
    kind: ResourceKind, current: Resource, body: Any, ctx: WriteContext
) -> tuple[Resource, list[Change]]:
    updated, changes = run_actions(current, body, kind.actions, ctx)
    if updated["version"] != current["version"]:
        mark_modified(updated, ctx)
    check_unique(kind, updated)
    return updated, changes


def mark_modified(resource: Resource, ctx: WriteContext) -> None:
    """Mark ``resource`` as last changed by the write of ``ctx``."""
    resource["lastModifiedAt"] = ctx.now
    resource["lastModifiedBy"] = ctx.modified_by


def check_unique(kind: ResourceKind, resource: Resource) -> None:
    clash = kind.collection.conflict(resource)
    if clash is not None:
        name, value = clash
        raise duplicate_field(name, resource.get(name, value))


def new_resource_fields(ctx: WriteContext) -> dict[str, Any]:
    """The fields every new resource starts with."""
    return {
        "id": ctx.ids.uuid(),
        "version": 1,
        "createdAt": ctx.now,
        "lastModifiedAt": ctx.now,
        "lastModifiedBy": ctx.modified_by,
        "createdBy": ctx.modified_by,
    }


# -- draft field readers shared by the resource types -------------------------------------------------------


def optional_str(source: Mapping[str, Any], name: str) -> str | None:
    value = source.get(name)
    if value is not None and not isinstance(value, str):
        raise invalid_json(f"{name}: expected a string")
    return value


def required_str(source: Mapping[str, Any], name: str) -> str:
    value = optional_str(source, name)
    if value is None:
        raise invalid_json(f"{name}: Missing required value")
    return value


def optional_list(source: Mapping[str, Any], name: str) -> list[Any]:
    value = source.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid_json(f"{name}: expected an array")
    return value


def optional_key(source: Mapping[str, Any], name: str = "key") -> str | None:
    value = optional_str(source, name)
    if value is not None and not KEY_PATTERN.match(value):
        raise _not_a_key(name, value)
    return value


def _not_a_key(field: str, value: str) -> CtError:
    message = f"The value '{value}' is not valid for field '{field}'. Allowed are 2-256 characters [A-Za-z0-9_-]."
    return invalid_field(field, value, message)


def optional_enum(source: Mapping[str, Any], name: str, allowed: Sequence[str]) -> str | None:
    """A field of an enum type: an unknown value is a JSON input error, as the API answers (``Canceled`` is a
    shipment state, the order state is spelled ``Cancelled``)."""
    value = source.get(name)
    if value is not None and value not in allowed:
        raise invalid_json(f"{name}: Unknown value {value!r}; expected one of {', '.join(allowed)}")
    return value


def required_enum(source: Mapping[str, Any], name: str, allowed: Sequence[str]) -> str:
    value = optional_enum(source, name, allowed)
    if value is None:
        raise invalid_json(f"{name}: Missing required value")
    return value


def optional_bool(source: Mapping[str, Any], name: str, default: bool) -> bool:
    value = source.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid_json(f"{name}: expected a boolean")
    return value


def localized(source: Mapping[str, Any], name: str) -> dict[str, str] | None:
    """A ``LocalizedString`` field (``{locale: text}``), or None when absent."""
    value = source.get(name)
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise invalid_json(f"{name}: expected a LocalizedString")
    return value


def required_localized(source: Mapping[str, Any], name: str) -> dict[str, str]:
    value = localized(source, name)
    if not value:
        raise invalid_json(f"{name}: Missing required value")
    return value


def slug(source: Mapping[str, Any], name: str = "slug") -> dict[str, str]:
    """A required slug: a LocalizedString whose every value matches :data:`KEY_PATTERN`."""
    value = required_localized(source, name)
    for locale, text in value.items():
        if not KEY_PATTERN.match(text):
            raise _not_a_key(f"{name}.{locale}", text)
    return value


def slug_entries(value: Mapping[str, str]) -> list[tuple[str, str]]:
    """Unique index entries of a slug: it is unique per locale, and a DuplicateField names ``slug.<locale>``."""
    return [(f"slug.{locale}", text) for locale, text in value.items()]


@functools.lru_cache(maxsize=1024)
def derived_id(path: str) -> str:
    """A stable id for a resource of a type the emulator has no API for (a tax category, a zone, a cart discount),
    derived from a path naming it, so references to it look like the API's and never change."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ctfluent:{path}"))


def reference(type_id: str, resource_id: str) -> dict[str, str]:
    return {"typeId": type_id, "id": resource_id}


def resolve(identifier: Any, type_id: str, ctx: WriteContext, field: str) -> Resource:
    """The resource a ``ResourceIdentifier`` (``{typeId?, id|key}``) names: 400 ReferencedResourceNotFound when
    none matches."""
    if not isinstance(identifier, dict):
        raise invalid_json(f"{field}: expected a ResourceIdentifier")
    collection = ctx.collections[type_id]
    key, resource_id = identifier.get("key"), identifier.get("id")
    if isinstance(key, str):
        found = collection.find("key", key)
        if found is None:
            raise referenced_resource_not_found(type_id, key=key)
        return found
    if isinstance(resource_id, str):
        found = collection.get(resource_id)
        if found is None:
            raise referenced_resource_not_found(type_id, id=resource_id)
        return found
    raise invalid_json(f"{field}: a ResourceIdentifier needs an 'id' or a 'key'")


def custom_fields(draft: Any, ctx: WriteContext) -> dict[str, Any]:
    """A ``CustomFieldsDraft`` as the resource carries it: a type reference by id and the non-null fields."""
    if not isinstance(draft, dict):
        raise invalid_json("custom: expected a CustomFieldsDraft")
    fields = draft.get("fields") or {}
    if not isinstance(fields, dict):
        raise invalid_json("custom -> fields: expected an object")
    return {
        "type": {"typeId": "type", "id": ctx.types.resolve(draft.get("type"))},
        "fields": {name: value for name, value in fields.items() if value is not None},
    }


def store_reference(identifier: Any, ctx: WriteContext) -> dict[str, str]:
    """A ``StoreResourceIdentifier`` (by key or id) as the ``StoreKeyReference`` resources carry."""
    return {"typeId": "store", "key": resolve(identifier, "store", ctx, "stores")["key"]}


def no_custom_type() -> CtError:
    return invalid_operation(
        "This resource has no custom type set - please use setCustomType first to set the type of the custom fields"
    )
