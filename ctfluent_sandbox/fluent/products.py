"""Standard and variant products: lookups, searches, create, update and ``removeCategoriesFrom*``.

Both kinds share one ref namespace per catalogue: a variant whose ref a standard product of the same catalogue
already has (or the other way round) is a duplicate, like a second product of the same kind. A duplicate is
C0128E, the "duplicate product ref" code of the fact sheet (§5), rather than C0121E, the generic unique violation
categories and customers get.

- ``categories``, ``variants`` and a variant's ``product`` must already exist in the same catalogue (codes in
  :mod:`.catalogues`). A variant needs its ``product``: the schema lets the input omit it but types
  ``VariantProduct.product`` non-null, so a missing one is C0140E, as a missing ``input`` is.
- ``StandardProduct.variants`` lists the variants linked either way: by their ``product``, or by the standard
  product's ``variants``.
- On update, attributes upsert by name and prices by ``(type, currency)``; listed categories and variants are
  added to the existing ones; ``taxType`` and ``product`` replace. Nothing in an update removes a price, an
  attribute or a link: categories go with ``removeCategoriesFromStandardProduct`` /
  ``removeCategoriesFromVariantProduct``, which answer ``{status: "SUCCESS"}`` (Fluent's value is undocumented).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import GraphQLResolveInfo

from ctfluent_sandbox.fluent.catalogues import (
    CATALOGUE_REF,
    add_refs,
    entity_changes,
    in_catalogue,
    new_entity,
    require_entity,
    require_linked,
    search_entities,
)
from ctfluent_sandbox.fluent.categories import CATEGORIES
from ctfluent_sandbox.fluent.engine import RequestContext, ResolverRegistry, request_context
from ctfluent_sandbox.fluent.errors import DUPLICATE_PRODUCT_REF, MISSING_VARIABLES, FluentError
from ctfluent_sandbox.fluent.store import Record, TableSpec, UniqueKey, upsert_by

STANDARD = "standard_products"
VARIANT = "variant_products"
TABLES = (
    TableSpec(STANDARD, "StandardProduct", unique=(CATALOGUE_REF,), duplicate_code=DUPLICATE_PRODUCT_REF),
    TableSpec(VARIANT, "VariantProduct", unique=(CATALOGUE_REF,), duplicate_code=DUPLICATE_PRODUCT_REF),
)
RESOLVERS = ResolverRegistry()

PRICE_KEY: UniqueKey = ("type", "currency")
PLAIN_FIELDS = ("type", "status", "gtin", "name", "summary")
REMOVED_STATUS = "SUCCESS"
_ENTITIES = {spec.name: spec.entity for spec in TABLES}
_OTHER_KIND = {STANDARD: VARIANT, VARIANT: STANDARD}


# -- queries -------------------------------------------------------------------------------------


@RESOLVERS.query("standardProduct")
def standard_product(_root: None, info: GraphQLResolveInfo, ref: str, catalogue: dict[str, Any]) -> Record | None:
    return request_context(info).store.find(STANDARD, CATALOGUE_REF, (catalogue["ref"], ref))


@RESOLVERS.query("variantProduct")
def variant_product(_root: None, info: GraphQLResolveInfo, ref: str, catalogue: dict[str, Any]) -> Record | None:
    return request_context(info).store.find(VARIANT, CATALOGUE_REF, (catalogue["ref"], ref))


@RESOLVERS.query("standardProducts")
def standard_products(_root: None, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    return search_entities(request_context(info).store.records(STANDARD), STANDARD, args)


@RESOLVERS.query("variantProducts")
def variant_products(_root: None, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    return search_entities(request_context(info).store.records(VARIANT), VARIANT, args)


# -- mutations -----------------------------------------------------------------------------------


@RESOLVERS.mutation("createStandardProduct")
def create_standard_product(_root: None, info: GraphQLResolveInfo, input: dict[str, Any]) -> Record:
    context = request_context(info)
    record = _new_product(context, STANDARD, input)
    variants = require_linked(context.store, VARIANT, input.get("variants"), record["catalogue"])
    record["variants"] = add_refs([], variants)
    return context.store.insert(STANDARD, record)


@RESOLVERS.mutation("createVariantProduct")
def create_variant_product(_root: None, info: GraphQLResolveInfo, input: dict[str, Any]) -> Record:
    context = request_context(info)
    if input.get("product") is None:
        raise FluentError(MISSING_VARIABLES, "Missing 'product': a VariantProduct needs its StandardProduct")
    record = _new_product(context, VARIANT, input)
    record["product"] = _base_product_ref(context, input["product"], record["catalogue"])
    return context.store.insert(VARIANT, record)


@RESOLVERS.mutation("updateStandardProduct")
def update_standard_product(_root: None, info: GraphQLResolveInfo, input: dict[str, Any]) -> Record:
    context = request_context(info)
    existing = require_entity(context.store, STANDARD, input)
    changes = _product_changes(context, existing, input)
    variants = require_linked(context.store, VARIANT, input.get("variants"), existing["catalogue"])
    changes["variants"] = add_refs(existing["variants"], variants)
    return context.store.update(STANDARD, existing["id"], changes)


@RESOLVERS.mutation("updateVariantProduct")
def update_variant_product(_root: None, info: GraphQLResolveInfo, input: dict[str, Any]) -> Record:
    context = request_context(info)
    existing = require_entity(context.store, VARIANT, input)
    changes = _product_changes(context, existing, input)
    if input.get("product") is not None:
        changes["product"] = _base_product_ref(context, input["product"], existing["catalogue"])
    return context.store.update(VARIANT, existing["id"], changes)


@RESOLVERS.mutation("removeCategoriesFromStandardProduct")
def remove_categories_from_standard_product(
    _root: None, info: GraphQLResolveInfo, input: dict[str, Any]
) -> dict[str, str]:
    return _remove_categories(request_context(info), STANDARD, input["standardProduct"], input["categories"])


@RESOLVERS.mutation("removeCategoriesFromVariantProduct")
def remove_categories_from_variant_product(
    _root: None, info: GraphQLResolveInfo, input: dict[str, Any]
) -> dict[str, str]:
    return _remove_categories(request_context(info), VARIANT, input["variantProduct"], input["categories"])


# -- links ---------------------------------------------------------------------------------------


@RESOLVERS.field("StandardProduct", "categories")
@RESOLVERS.field("VariantProduct", "categories")
def product_categories(source: Record, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    linked = set(source["categories"])
    candidates = in_catalogue(request_context(info).store, CATEGORIES, source["catalogue"])
    return search_entities([category for category in candidates if category["ref"] in linked], CATEGORIES, args)


@RESOLVERS.field("StandardProduct", "variants")
def standard_product_variants(source: Record, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    listed = set(source["variants"])
    candidates = in_catalogue(request_context(info).store, VARIANT, source["catalogue"])
    variants = [variant for variant in candidates if variant["product"] == source["ref"] or variant["ref"] in listed]
    return search_entities(variants, VARIANT, args)


@RESOLVERS.field("VariantProduct", "product")
def variant_base_product(source: Record, info: GraphQLResolveInfo) -> Record:
    return request_context(info).store.find_required(STANDARD, CATALOGUE_REF, (source["catalogue"], source["product"]))


# -- shared by both kinds ------------------------------------------------------------------------


def _new_product(context: RequestContext, table: str, input: Mapping[str, Any]) -> dict[str, Any]:
    """The record of a new product of either kind, without its kind's own links."""
    record = new_entity(context.store, input, context.now)
    # The store refuses a duplicate within the table; the other kind's table shares the namespace.
    other = _OTHER_KIND[table]
    if context.store.find(other, CATALOGUE_REF, (record["catalogue"], record["ref"])) is not None:
        raise FluentError(
            DUPLICATE_PRODUCT_REF,
            f"A {_ENTITIES[other]} with ref '{record['ref']}' already exists in catalogue '{record['catalogue']}'",
        )
    categories = require_linked(context.store, CATEGORIES, input.get("categories"), record["catalogue"])
    return {
        **record,
        "gtin": input["gtin"],
        "categories": add_refs([], categories),
        "prices": upsert_by([], input.get("prices") or (), PRICE_KEY),
        "tax": input.get("taxType"),
    }


def _product_changes(context: RequestContext, existing: Record, input: Mapping[str, Any]) -> dict[str, Any]:
    """An update's changes common to both kinds."""
    changes = entity_changes(existing, input, context.now, PLAIN_FIELDS)
    categories = require_linked(context.store, CATEGORIES, input.get("categories"), existing["catalogue"])
    changes["categories"] = add_refs(existing["categories"], categories)
    changes["prices"] = upsert_by(existing["prices"], input.get("prices") or (), PRICE_KEY)
    if input.get("taxType") is not None:
        changes["tax"] = input["taxType"]
    return changes


def _base_product_ref(context: RequestContext, key: Mapping[str, Any], catalogue: str) -> str:
    [base] = require_linked(context.store, STANDARD, [key], catalogue)
    return str(base["ref"])


def _remove_categories(
    context: RequestContext, table: str, product_key: Mapping[str, Any], category_keys: list[Mapping[str, Any]]
) -> dict[str, str]:
    """Unlink the categories (which must exist; one not linked is no error) and move ``updatedOn``."""
    product = require_entity(context.store, table, product_key)
    categories = require_linked(context.store, CATEGORIES, category_keys, product["catalogue"])
    removed = {category["ref"] for category in categories}
    kept = [ref for ref in product["categories"] if ref not in removed]
    context.store.update(table, product["id"], {"categories": kept, "updatedOn": context.now})
    return {"status": REMOVED_STATUS}
