"""The queryable fields of products and product projections, the projection of a product, and the collection that
keeps the projections in step with the products.

A ``ProductProjection`` is one side of a product's ``masterData`` (``current`` or ``staged``) with the product's own
fields. ``GET /product-projections`` serves two of them: ``staged=true`` the staged data of every product,
``staged=false`` (the default) the current data of published products only. Both are materialised as
:class:`Collection` s that :class:`ProductCollection` updates on every write, so projection queries get the same
indexed range scans (id cursor, ``lastModifiedAt`` window) as every other resource. A projection shares its data
with the product (stored resources are never changed in place), so it costs one small dict per product and side.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from ctfluent_sandbox.commercetools.predicates import ANY_SCHEMA, Leaf, Schema
from ctfluent_sandbox.commercetools.resources import (
    BASE_RESOURCE_FIELDS,
    CUSTOM_FIELDS_SCHEMA,
    REFERENCE_SCHEMA,
    slug_entries,
)
from ctfluent_sandbox.commercetools.store import Collection, Resource, UniqueEntry

Side = Literal["current", "staged"]

MONEY_SCHEMA = Schema({"type": "string", "currencyCode": "string", "centAmount": "number", "fractionDigits": "number"})
PRICE_SCHEMA = Schema(
    {
        "id": "string",
        "key": "string",
        "value": MONEY_SCHEMA,
        "country": "string",
        "customerGroup": REFERENCE_SCHEMA,
        "channel": REFERENCE_SCHEMA,
        "validFrom": "string",
        "validUntil": "string",
        "discounted": ANY_SCHEMA,
        "tiers": ANY_SCHEMA,
        "custom": CUSTOM_FIELDS_SCHEMA,
    }
)
_ATTRIBUTE_SCHEMA = Schema({"name": "string", "value": "any"})
VARIANT_SCHEMA = Schema(
    {
        "id": "number",
        "sku": "string",
        "key": "string",
        "prices": PRICE_SCHEMA,
        "attributes": _ATTRIBUTE_SCHEMA,
        "images": Schema({"url": "string", "label": "string", "dimensions": Schema({"w": "number", "h": "number"})}),
        "assets": ANY_SCHEMA,
    }
)
# ProductData: what `current` and `staged` hold, and what a projection adds to the product's own fields.
_DATA_FIELDS: dict[str, Leaf | Schema] = {
    "name": ANY_SCHEMA,
    "description": ANY_SCHEMA,
    "slug": ANY_SCHEMA,
    "categories": REFERENCE_SCHEMA,
    "categoryOrderHints": ANY_SCHEMA,
    "metaTitle": ANY_SCHEMA,
    "metaDescription": ANY_SCHEMA,
    "metaKeywords": ANY_SCHEMA,
    "masterVariant": VARIANT_SCHEMA,
    "variants": VARIANT_SCHEMA,
    "searchKeywords": ANY_SCHEMA,
    "attributes": _ATTRIBUTE_SCHEMA,
}
_PRODUCT_FIELDS: dict[str, Leaf | Schema] = {
    "key": "string",
    "productType": REFERENCE_SCHEMA,
    "taxCategory": REFERENCE_SCHEMA,
    "state": REFERENCE_SCHEMA,
    "priceMode": "string",
    "reviewRatingStatistics": ANY_SCHEMA,
}
_OPTIONAL_PRODUCT_FIELDS = ("taxCategory", "state", "priceMode", "reviewRatingStatistics")

PRODUCT_SCHEMA = Schema(
    {
        **BASE_RESOURCE_FIELDS,
        **_PRODUCT_FIELDS,
        "masterData": Schema(
            {
                "published": "boolean",
                "hasStagedChanges": "boolean",
                "current": Schema(_DATA_FIELDS),
                "staged": Schema(_DATA_FIELDS),
            }
        ),
    }
)
PROJECTION_SCHEMA = Schema(
    {
        "id": "string",
        "version": "number",
        "createdAt": "string",
        "lastModifiedAt": "string",
        **_PRODUCT_FIELDS,
        **_DATA_FIELDS,
        "published": "boolean",
        "hasStagedChanges": "boolean",
    }
)


def variants(data: Resource) -> list[Resource]:
    """All variants of one side of a product, the master variant first."""
    return [data["masterVariant"], *data["variants"]]


def projection(product: Resource, side: Side) -> Resource:
    """The ``ProductProjection`` of one side of ``product``."""
    master = product["masterData"]
    view: Resource = {name: product[name] for name in ("id", "version", "createdAt", "lastModifiedAt")}
    if "key" in product:
        view["key"] = product["key"]
    view["productType"] = product["productType"]
    view.update(master[side])
    view["hasStagedChanges"] = master["hasStagedChanges"]
    view["published"] = master["published"]
    view.update({name: product[name] for name in _OPTIONAL_PRODUCT_FIELDS if name in product})
    return view


def _sides(product: Resource) -> tuple[Resource, ...]:
    master = product["masterData"]
    current, staged = master["current"], master["staged"]
    return (staged,) if current is staged else (staged, current)


def _skus(product: Resource) -> set[UniqueEntry]:
    """SKUs are unique in the project, over current and staged data alike."""
    return {("sku", v["sku"]) for data in _sides(product) for v in variants(data) if "sku" in v}


def _slugs(product: Resource) -> set[UniqueEntry]:
    return {entry for data in _sides(product) for entry in slug_entries(data["slug"])}


def _projection_collection() -> Collection:
    return Collection(
        PROJECTION_SCHEMA, indexed=("lastModifiedAt", "createdAt"), unique={"key": lambda p: p.get("key")}
    )


class ProductCollection(Collection):
    """The products, plus their projections: :attr:`staged` (every product) and :attr:`current` (published ones)."""

    def __init__(self) -> None:
        super().__init__(
            PRODUCT_SCHEMA,
            indexed=("lastModifiedAt", "createdAt"),
            unique={"key": lambda p: p.get("key")},
            unique_many={"sku": _skus, "slug": _slugs},
        )
        self.current = _projection_collection()
        self.staged = _projection_collection()

    def put(self, resource: Resource) -> None:
        super().put(resource)
        self.staged.put(projection(resource, "staged"))
        if resource["masterData"]["published"]:
            self.current.put(projection(resource, "current"))
        else:
            self.current.remove(resource["id"])

    def remove(self, resource_id: str) -> Resource | None:
        self.staged.remove(resource_id)
        self.current.remove(resource_id)
        return super().remove(resource_id)

    def load(self, resources: Iterable[Resource]) -> None:
        products = list(resources)
        super().load(products)
        self.staged.load(projection(p, "staged") for p in products)
        self.current.load(projection(p, "current") for p in products if p["masterData"]["published"])
