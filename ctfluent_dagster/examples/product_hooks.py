"""A working example of each product hook. Enable them in ctfluent.yaml::

    products:
      hooks:
        payload: ["ctfluent_dagster.examples.product_hooks:add_brand"]
        query_fields: ["ctfluent_dagster.examples.product_hooks:also_select_gtin"]
        query_variables: ["ctfluent_dagster.examples.product_hooks:tag_integration"]

They run for standard and variant products alike (and the same three exist for categories).
"""

from __future__ import annotations

from typing import Any

from ctfluent_dagster.entities.products.models import ProductProjection


def add_brand(payload: dict[str, Any], product: ProductProjection) -> dict[str, Any]:
    """Payload hook: a brand attribute derived from the product key's prefix (part of change detection)."""
    brand = (product.key or "").split("-")[0]
    if brand:
        payload["attributes"] = [*payload.get("attributes", []), {"name": "brand", "type": "STRING", "value": brand}]
    return payload


def also_select_gtin(fields: list[str], operation: str) -> list[str]:
    """Query-fields hook: also read back the gtin from every product mutation."""
    return fields if "gtin" in fields or "Product" not in operation else [*fields, "gtin"]


def tag_integration(variables: dict[str, Any], product: ProductProjection | None) -> dict[str, Any]:
    """Variables hook: mark what wrote the product, at send time (not part of change detection)."""
    marker = {"name": "syncedBy", "type": "STRING", "value": "ctfluent"}
    attributes = [*variables["input"].get("attributes", []), marker]
    return {**variables, "input": {**variables["input"], "attributes": attributes}}
