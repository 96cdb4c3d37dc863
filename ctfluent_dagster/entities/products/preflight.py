"""The products' pre-flight checks, beside the catalogue's: where the GTINs are, and what price selection needs.

* **GTIN.** Fluent requires one per product; without it a product is skipped and every order of it fails. The check
  reads the product types (``GET /product-types``: ``view_product_types``) and the first pages of published
  projections, and says which attribute holds GTINs, what share of the sampled variants lacks one, and which setting
  to change. It fails when no product type has the configured attribute, or when most sampled variants lack a GTIN.
* **Prices.** The selection's channel and customer group resolve (keys are looked up), and a project whose sampled
  products use Standalone Prices can read them (``view_standalone_prices``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from ctfluent_dagster.commercetools.client import CommercetoolsClient
from ctfluent_dagster.entities.products.mapping import gtin
from ctfluent_dagster.entities.products.models import STANDALONE, Variant
from ctfluent_dagster.entities.products.pricing import resolved_ids
from ctfluent_dagster.entities.products.settings import ProductSettings
from ctfluent_dagster.entities.shared import catalogue_checks
from ctfluent_dagster.entity import SyncContext
from ctfluent_dagster.preflight import PreflightCheck, attempt
from ctfluent_dagster.transport import ApiError

SAMPLE_PAGES, SAMPLE_PAGE_SIZE = 2, 100  # the first published projections, by id
MOST = 0.5  # more than this share of sampled variants without GTIN fails the check
# An attribute named or labelled like this, or whose sampled values are GTIN-shaped, may hold GTINs.
_GTIN_NAME = re.compile(r"gtin|ean|upc|barcode|bar_code|isbn|\bjan\b", re.IGNORECASE)
_GTIN_VALUE = re.compile(r"^\d{8}$|^\d{12,14}$")  # GTIN-8, -12 (UPC), -13 (EAN), -14


def product_checks(context: SyncContext) -> list[PreflightCheck]:
    """The catalogue exists; the GTINs are where the settings say; price selection can read what it needs."""
    settings = context.entity_settings(ProductSettings)
    client = context.commercetools

    @cache
    def sample() -> CatalogueSample:
        if client is None:
            raise ValueError("no commercetools client to read the catalogue with")
        return CatalogueSample.read(client)

    def gtins() -> tuple[bool, str]:
        found = sample()
        return gtin_verdict(found.product_types, found.variants, settings)

    def prices() -> tuple[bool, str]:
        channel_id, customer_group_id = resolved_ids(client, settings.prices)
        scoped = [f"{name} {ident}" for name, ident in (("channel", channel_id), ("customer group", customer_group_id))
                  if ident]  # fmt: skip
        detail = f"price selection: country {settings.prices.country or '-'}" + "".join(f", {s}" for s in scoped)
        standalone = sum(1 for product in sample().projections if product.get("priceMode") == STANDALONE)
        if not standalone:
            return True, f"{detail}; no sampled product uses Standalone Prices"
        assert client is not None  # the sample was read with it
        try:
            client.query("standalone-prices", limit=1)
        except ApiError as exc:
            return False, (f"{standalone} sampled product(s) use Standalone Prices, which cannot be read ({exc}): add "
                           "view_standalone_prices to CTP_SCOPES")  # fmt: skip
        return True, f"{detail}; {standalone} sampled product(s) priced by Standalone Prices, readable"

    return [*catalogue_checks(context), _checked("products: GTIN", gtins), _checked("products: prices", prices)]


def _checked(name: str, probe: Any) -> PreflightCheck:
    def guarded() -> tuple[bool, str]:
        try:
            result: tuple[bool, str] = probe()
        except ValueError as exc:
            return False, str(exc)
        return result

    return attempt(name, guarded)


@dataclass(frozen=True)
class CatalogueSample:
    product_types: list[dict[str, Any]]
    projections: list[dict[str, Any]]

    @classmethod
    def read(cls, client: CommercetoolsClient) -> CatalogueSample:
        types = [t for page in client.iterate_by_id("product-types") for t in page]
        projections: list[dict[str, Any]] = []
        for number in range(SAMPLE_PAGES):
            page = client.query("product-projections", sort=["id asc"], limit=SAMPLE_PAGE_SIZE,
                                offset=number * SAMPLE_PAGE_SIZE, extra=(("staged", "false"),))  # fmt: skip
            projections += page.results
            if page.count < SAMPLE_PAGE_SIZE:
                break
        return cls(types, projections)

    @property
    def variants(self) -> list[Variant]:
        return [Variant.model_validate(v) for p in self.projections for v in [p["masterVariant"], *p["variants"]]]


def gtin_verdict(
    product_types: Sequence[dict[str, Any]], variants: Sequence[Variant], settings: ProductSettings
) -> tuple[bool, str]:
    """Whether the products will have GTINs, with the share of ``variants`` lacking one and what to change."""
    attribute = settings.gtin_attribute
    holding = sorted(t.get("key") or t["name"] for t in product_types
                     if any(d["name"] == attribute for d in t.get("attributes", [])))  # fmt: skip
    candidates = _candidates(product_types, variants, attribute)
    advice = (f"set products.gtin_attribute: {candidates[0]} ({', '.join(candidates[1:])} also look like GTINs)"
              if len(candidates) > 1 else f"set products.gtin_attribute: {candidates[0]}"
              if candidates else "set products.gtin_attribute to the attribute that holds GTINs")  # fmt: skip
    advice += ", or products.missing_gtin: sku (the SKU stands in when it fits 20 characters)"
    if not product_types:
        return True, "no product type yet: no catalogue to check"
    if not holding and settings.missing_gtin == "sku":
        return True, f"no product type has the attribute {attribute!r}: the SKUs stand in (products.missing_gtin: sku)"
    if not holding:
        return False, (f"no product type has the attribute {attribute!r} (products.gtin_attribute): every product "
                       f"would be skipped and every order of one fail REFERENCE_UNAVAILABLE; {advice}")  # fmt: skip
    source = f"GTINs from the attribute {attribute!r} (product types {', '.join(holding)})"
    if not variants:
        return True, f"{source}; no published product to sample"
    lacking = sum(1 for variant in variants if gtin(variant, settings) is None)
    share = f"{lacking / len(variants):.0%} of {len(variants)} sampled variants lack one"
    if lacking / len(variants) > MOST:
        return False, (f"{source}: {share} and would be skipped, with every order of them failing "
                       f"REFERENCE_UNAVAILABLE; {advice}")  # fmt: skip
    consequence = "skipped with the reason (missing_gtin: skip)" if settings.missing_gtin == "skip" else "skipped"
    return True, f"{source}; {share} and are {consequence}" + (f"; {advice}" if lacking else "")


def _candidates(product_types: Sequence[dict[str, Any]], variants: Sequence[Variant], configured: str) -> list[str]:
    """Attributes other than ``configured`` that may hold GTINs: named or labelled like one, or with GTIN-shaped
    sampled values; those with most such values first."""
    shaped: Counter[str] = Counter(a.name for v in variants for a in v.attributes
                                   if isinstance(a.value, str | int) and _GTIN_VALUE.match(str(a.value)))  # fmt: skip
    named = {d["name"] for t in product_types for d in t.get("attributes", [])
             if _GTIN_NAME.search(d["name"]) or any(_GTIN_NAME.search(str(label))
                                                    for label in (d.get("label") or {}).values())}  # fmt: skip
    found = (named | set(shaped)) - {configured}
    return sorted(found, key=lambda name: (-shaped[name], name))
