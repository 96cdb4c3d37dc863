"""Categories: ``category(ref, catalogue)``, ``categories(...)``, ``createCategory``, ``updateCategory``.

Categories form a tree per catalogue. ``parentCategory`` and ``childCategories`` must already exist in the same
catalogue (see :mod:`.catalogues` for the codes), so parents are created first. Naming a category in
``childCategories`` makes it a child: its ``parentCategory`` is set (and its ``updatedOn`` moves), as a category
has one parent. A link that would make a category its own ancestor is C0160E. A duplicate ``(catalogue, ref)`` is
C0121E, the generic unique violation (C0128E is for products).

``updateCategory`` with ``parentCategory: null`` given explicitly makes the category a root category; leaving the
field out leaves the parent as it is. Fluent declares the field nullable but does not document what null does: the
emulator chose "no parent", the only reading under which an update can move a category to the root.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from graphql import GraphQLResolveInfo

from ctfluent_sandbox.fluent.catalogues import (
    CATALOGUE_REF,
    entity_changes,
    in_catalogue,
    new_entity,
    require_entity,
    require_linked,
    search_entities,
)
from ctfluent_sandbox.fluent.engine import RequestContext, ResolverRegistry, request_context
from ctfluent_sandbox.fluent.errors import CUSTOM_VALIDATION, FluentError
from ctfluent_sandbox.fluent.store import EntityStore, Record, TableSpec

CATEGORIES = "categories"
TABLES = (TableSpec(CATEGORIES, "Category", unique=(CATALOGUE_REF,)),)
RESOLVERS = ResolverRegistry()


@RESOLVERS.query("category")
def category(_root: None, info: GraphQLResolveInfo, ref: str, catalogue: dict[str, Any]) -> Record | None:
    return request_context(info).store.find(CATEGORIES, CATALOGUE_REF, (catalogue["ref"], ref))


@RESOLVERS.query("categories")
def categories(_root: None, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    return search_entities(request_context(info).store.records(CATEGORIES), CATEGORIES, args)


@RESOLVERS.mutation("createCategory")
def create_category(_root: None, info: GraphQLResolveInfo, input: dict[str, Any]) -> Record:
    context = request_context(info)
    record = new_entity(context.store, input, context.now)
    # A new category cannot close a loop through its parent: nothing links to it yet.
    record["parentCategory"] = _parent_ref(context.store, input, record["catalogue"])
    created = context.store.insert(CATEGORIES, record)
    _adopt(context, created, input.get("childCategories"))
    return created


@RESOLVERS.mutation("updateCategory")
def update_category(_root: None, info: GraphQLResolveInfo, input: dict[str, Any]) -> Record:
    context = request_context(info)
    existing = require_entity(context.store, CATEGORIES, input)
    changes = entity_changes(existing, input, context.now, ("type", "status", "name", "summary"))
    parent = _parent_ref(context.store, input, existing["catalogue"])
    if parent is not None:
        _check_not_ancestor(context.store, existing, parent)
        changes["parentCategory"] = parent
    elif "parentCategory" in input:  # given as null: no parent any more
        changes["parentCategory"] = None
    updated = context.store.update(CATEGORIES, existing["id"], changes)
    _adopt(context, updated, input.get("childCategories"))
    return updated


@RESOLVERS.field("Category", "parentCategory")
def parent_category(source: Record, info: GraphQLResolveInfo) -> Record | None:
    if source["parentCategory"] is None:
        return None
    return request_context(info).store.find(CATEGORIES, CATALOGUE_REF, (source["catalogue"], source["parentCategory"]))


@RESOLVERS.field("Category", "childCategories")
def child_categories(source: Record, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    children = in_catalogue(request_context(info).store, CATEGORIES, source["catalogue"])
    return search_entities([child for child in children if child["parentCategory"] == source["ref"]], CATEGORIES, args)


def _parent_ref(store: EntityStore, input: Mapping[str, Any], catalogue: str) -> str | None:
    parents = require_linked(store, CATEGORIES, [input.get("parentCategory")], catalogue)
    return parents[0]["ref"] if parents else None


def _adopt(context: RequestContext, parent: Record, keys: Iterable[Mapping[str, Any] | None] | None) -> None:
    """Make the categories ``keys`` name children of ``parent``."""
    for child in require_linked(context.store, CATEGORIES, keys, parent["catalogue"]):
        _check_not_ancestor(context.store, child, parent["ref"])
        context.store.update(CATEGORIES, child["id"], {"parentCategory": parent["ref"], "updatedOn": context.now})


def _check_not_ancestor(store: EntityStore, child: Record, parent_ref: str) -> None:
    """Refuse making ``parent_ref`` the parent of ``child`` when ``child`` is that category or one of its
    ancestors: the tree would become a loop."""
    ancestor: str | None = parent_ref
    while ancestor is not None:
        if ancestor == child["ref"]:
            raise FluentError(
                CUSTOM_VALIDATION,
                f"Category '{parent_ref}' cannot be the parent of '{child['ref']}': it is that category or below it",
            )
        record = store.find_required(CATEGORIES, CATALOGUE_REF, (child["catalogue"], ancestor))
        ancestor = record["parentCategory"]
