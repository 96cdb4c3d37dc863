"""Categories: the queryable fields, ``CategoryDraft`` -> ``Category``, the update actions, the tree.

* ``parent`` is a reference by id; ``ancestors`` are references from the root down to the parent. ``changeParent``
  recomputes them for the category and its whole subtree (the descendants' ``ancestors`` follow without a version
  change of their own: the field is derived). A category cannot move below itself, nor become a root again (the
  action requires a parent, as in the API).
* Deleting a category deletes its subtree too and takes the deleted categories out of every product (current and
  staged data): each such product gets a new version, as for any change, but no message.
* Messages: the API defines only ``CategoryCreated`` and ``CategorySlugChanged`` for categories, so every other
  action, and the deletion, produces none.
* Without an ``orderHint`` the API generates one from the creation time: ``"0.0000"``, the epoch milliseconds and
  random digits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctfluent_sandbox.commercetools import products
from ctfluent_sandbox.commercetools.errors import invalid_json, invalid_operation
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
    optional_str,
    reference,
    required_localized,
    required_str,
    resolve,
    slug,
    slug_entries,
)
from ctfluent_sandbox.commercetools.store import Collection, Resource

_LOCALIZED_FIELDS = ("description", "metaTitle", "metaDescription", "metaKeywords")

CATEGORY_SCHEMA = Schema(
    {
        **BASE_RESOURCE_FIELDS,
        "key": "string",
        "externalId": "string",
        "name": ANY_SCHEMA,
        "slug": ANY_SCHEMA,
        **dict.fromkeys(_LOCALIZED_FIELDS, ANY_SCHEMA),
        "ancestors": REFERENCE_SCHEMA,
        "parent": REFERENCE_SCHEMA,
        "orderHint": "string",
        "custom": CUSTOM_FIELDS_SCHEMA,
        "assets": ANY_SCHEMA,
    }
)


def new_collection() -> Collection:
    return Collection(
        CATEGORY_SCHEMA,
        indexed=("lastModifiedAt", "createdAt"),
        unique={"key": lambda c: c.get("key")},
        unique_many={"slug": lambda c: slug_entries(c["slug"])},
    )


def identifiers(category: Resource) -> dict[str, Any]:
    found: dict[str, Any] = {name: category[name] for name in ("key", "externalId") if name in category}
    found["slug"] = category["slug"]
    return found


# -- creation ------------------------------------------------------------------------------------------------


def create(draft: Mapping[str, Any], ctx: WriteContext) -> tuple[Resource, list[Change]]:
    category: Resource = {**new_resource_fields(ctx)}
    key = optional_key(draft)
    if key is not None:
        category["key"] = key
    category["name"] = required_localized(draft, "name")
    category["slug"] = slug(draft)
    category["ancestors"] = []
    if draft.get("parent") is not None:
        _attach(category, resolve(draft["parent"], "category", ctx, "parent"))
    category["orderHint"] = optional_str(draft, "orderHint") or _generated_order_hint(ctx)
    external_id = optional_str(draft, "externalId")
    if external_id is not None:
        category["externalId"] = external_id
    for name in _LOCALIZED_FIELDS:
        value = localized(draft, name)
        if value is not None:
            category[name] = value
    if draft.get("custom") is not None:
        category["custom"] = custom_fields(draft["custom"], ctx)
    if optional_list(draft, "assets"):
        raise invalid_json("assets: assets are not emulated")
    category["assets"] = []
    return category, [Change("CategoryCreated", {"category": category})]


def _generated_order_hint(ctx: WriteContext) -> str:
    return f"0.0000{int(ctx.moment.timestamp() * 1000)}{ctx.ids.rng.randrange(10**8):08d}"


def _attach(category: Resource, parent: Resource) -> None:
    """Put ``category`` below ``parent``: its parent reference and ancestors (root first)."""
    if parent["id"] == category["id"] or any(a["id"] == category["id"] for a in parent["ancestors"]):
        raise invalid_operation("A category cannot be moved below itself or one of its descendants.")
    category["parent"] = reference("category", parent["id"])
    category["ancestors"] = [*parent["ancestors"], reference("category", parent["id"])]


# -- update actions --------------------------------------------------------------------------------------------


def _change_name(category: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    category["name"] = required_localized(action, "name")
    return []


def _change_slug(category: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    old = category["slug"]
    category["slug"] = slug(action)
    return [Change("CategorySlugChanged", {"slug": category["slug"], "oldSlug": old})]


def _change_parent(category: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    if action.get("parent") is None:
        raise invalid_json("parent: Missing required value")
    _attach(category, resolve(action["parent"], "category", ctx, "parent"))
    return []


def _change_order_hint(category: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    category["orderHint"] = required_str(action, "orderHint")
    return []


def _setter(name: str) -> ActionHandler:
    """``set<Name>``: set or (value absent) unset an optional field; categories have no message for these."""

    def handler(category: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
        value: str | dict[str, str] | None
        if name == "key":
            value = optional_key(action)
        elif name == "externalId":
            value = optional_str(action, name)
        else:
            value = localized(action, name)
        if value is None:
            category.pop(name, None)
        else:
            category[name] = value
        return []

    return handler


ACTIONS: dict[str, ActionHandler] = {
    "changeName": _change_name,
    "changeSlug": _change_slug,
    "changeParent": _change_parent,
    "changeOrderHint": _change_order_hint,
    "setKey": _setter("key"),
    "setExternalId": _setter("externalId"),
    "setDescription": _setter("description"),
    "setMetaTitle": _setter("metaTitle"),
    "setMetaDescription": _setter("metaDescription"),
    "setMetaKeywords": _setter("metaKeywords"),
}


# -- the tree --------------------------------------------------------------------------------------------------


def _descendants(categories: Collection, category_id: str) -> list[Resource]:
    return [c for c in categories if any(a["id"] == category_id for a in c["ancestors"])]


def _move_subtree(before: Resource, after: Resource, ctx: WriteContext) -> None:
    """After ``changeParent``: the descendants' ancestors start with the moved category's new ones."""
    if after["ancestors"] == before["ancestors"]:
        return
    categories = ctx.collections["category"]
    above = [*after["ancestors"], reference("category", after["id"])]
    for descendant in _descendants(categories, after["id"]):
        ids = [a["id"] for a in descendant["ancestors"]]
        below = descendant["ancestors"][ids.index(after["id"]) + 1 :]
        categories.put({**descendant, "ancestors": [*above, *below]})


def _delete_subtree(category: Resource, ctx: WriteContext) -> None:
    categories = ctx.collections["category"]
    doomed = _descendants(categories, category["id"])
    for descendant in doomed:
        categories.remove(descendant["id"])
    products.leave_categories({category["id"], *(d["id"] for d in doomed)}, ctx)


def kind(collection: Collection) -> ResourceKind:
    return ResourceKind(
        type_id="category",
        collection=collection,
        create=create,
        actions=ACTIONS,
        identifiers=identifiers,
        deleted=lambda category: [],
        after_update=_move_subtree,
        on_delete=_delete_subtree,
    )
