"""commercetools product projection -> one Fluent standard product and one variant product per variant: pure
functions, no I/O.

* refs: a variant's ref is its SKU, always (orders reference variants by SKU); a variant without SKU is skipped
  with the reason. The standard product's ref is the product key; without key, per ``without_key`` (the
  commercetools id, or a skip). Standard and variant refs share one namespace per catalogue: a standard ref equal
  to one of the product's SKUs follows ``ref_collision``, so that the variant keeps its SKU.
* gtin (required, max 20): the configured variant attribute; missing, per ``missing_gtin`` (a skip whose reason names
  the settings to change, or the SKU when it fits). Never a made-up placeholder. The standard product takes its
  master variant's.
* name and summary in the locale chain (a summary cut to Fluent's 255 characters is recorded with the run);
  type per product type, else the configured default; tax type when configured.
* prices (variants): per currency, the price commercetools' price selection picks for the configured country,
  channel and customer group at the moment of the sync (``select_price``), as ``Decimal(centAmount) /
  10**fractionDigits``; a currency the selection finds no price for is not sent, and noted.
* attributes: the configured variant attributes (enum -> label, localized -> the locale chain, sets -> lists), the
  images as ``imageUrls``, and the commercetools identity (product id and key, variant id).
* categories: the commercetools category ids, resolved to Fluent categories through the ledger when sent (the
  product waits until they are in Fluent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ctfluent_dagster.commercetools.models import localized, money_amount
from ctfluent_dagster.entities.products.models import (
    PRODUCT_FIELD_LIMITS,
    SUMMARY_LIMIT,
    Price,
    ProductProjection,
    Variant,
)
from ctfluent_dagster.entities.products.settings import PriceSelection, ProductSettings
from ctfluent_dagster.fluent.models import AttributeInput, cut_to_limit, length_violations

GTIN_LIMIT = PRODUCT_FIELD_LIMITS["gtin"]
# commercetools' price selection fallback, most specific first: which of (customer group, channel, country) a price's
# scope must match, the others being absent from it (docs.commercetools.com/api/pricing-and-discounts-overview,
# "Price selection"). A dimension the selection has no value for matches prices without it.
_FALLBACK = (
    (True, True, True),
    (True, True, False),
    (True, False, True),
    (True, False, False),
    (False, True, True),
    (False, True, False),
    (False, False, True),
    (False, False, False),
)


@dataclass(frozen=True)
class PriceScope:
    """The price selection's context beside the settings: the channel and customer group by id (keys resolved when
    the sync is built) and the moment whose valid prices count."""

    at: datetime
    channel_id: str | None = None
    customer_group_id: str | None = None

    def wanted(self, country: str | None) -> tuple[str | None, str | None, str | None]:
        """The selection as a price scope: (customer group id, channel id, country)."""
        return self.customer_group_id, self.channel_id, country

    def reaches(self, price: Price, country: str | None) -> bool:
        """Whether some fallback level of this selection matches ``price``'s scope."""
        return all(own is None or own == value for own, value in zip(price.scope, self.wanted(country), strict=True))


@dataclass(frozen=True)
class MappedProduct:
    """A Fluent standard or variant product without its catalogue, categories and standard-product link."""

    ref: str
    fields: dict[str, Any]
    category_ids: tuple[str, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SkippedProduct:
    reason: str
    variant_id: int | None = None  # set for a skipped variant
    sku: str | None = None  # a skipped variant's, when it has one: orders name it by its SKU


def standard_ref(product: ProductProjection, settings: ProductSettings) -> str | None:
    base = product.key or (product.id if settings.without_key == "id" else None)
    if base is None or base not in {v.sku for v in product.all_variants}:
        return base
    return base + settings.collision_suffix if settings.ref_collision == "suffix" else product.id


def gtin(variant: Variant, settings: ProductSettings) -> str | None:
    value = variant.attribute(settings.gtin_attribute)
    if isinstance(value, str | int) and str(value).strip():
        return str(value).strip()
    if settings.missing_gtin == "sku" and variant.sku and len(variant.sku) <= GTIN_LIMIT:
        return variant.sku
    return None


def missing_gtin_reason(variant: Variant, settings: ProductSettings) -> str:
    """Why ``variant`` has no GTIN, naming the settings that would give it one: the reason travels to every record
    that waits for it (its variants, the orders of it), so the first failed order says what to change."""
    missing = f"variant {variant.id} has no gtin (attribute {settings.gtin_attribute!r})"
    attribute = "set products.gtin_attribute to the attribute that holds GTINs"
    if settings.missing_gtin == "skip":
        return f"{missing}: {attribute}, or products.missing_gtin: sku"
    stand_in = f"its SKU is longer than {GTIN_LIMIT} characters" if variant.sku else "it has no SKU"
    return f"{missing} and {stand_in} (missing_gtin: sku): {attribute}"


def attribute_input(name: str, value: Any, settings: ProductSettings) -> AttributeInput | None:
    """A commercetools attribute value as a Fluent attribute (None for an empty value)."""
    plain = _plain(value, settings)
    if plain is None or plain in ("", []):
        return None
    if isinstance(plain, bool):
        kind = "BOOLEAN"
    elif isinstance(plain, int):
        kind = "INTEGER"
    elif isinstance(plain, float | Decimal):
        kind = "FLOAT"
    elif isinstance(plain, str):
        kind = "STRING"
    else:
        kind = "JSON"
    return AttributeInput(name=name, type=kind, value=plain)


def _plain(value: Any, settings: ProductSettings) -> Any:
    if isinstance(value, list):
        return [_plain(item, settings) for item in value]
    if isinstance(value, dict):
        if "label" in value and "key" in value:  # enum / lenum: the label (localized for lenum)
            return _plain(value["label"], settings)
        if "typeId" in value and "id" in value:  # a reference: its id
            return value["id"]
        if "centAmount" in value and "currencyCode" in value:  # money
            return str(money_amount(int(value["centAmount"]), int(value.get("fractionDigits", 2))))
        if value and all(isinstance(v, str) for v in value.values()):  # ltext: a localized string
            return localized(value, settings.locales, settings.any_locale)
    return value


def select_price(prices: Sequence[Price], currency: str, country: str | None, scope: PriceScope) -> Price | None:
    """The price commercetools selects for a cart in ``currency`` (and ``country``, ``scope``'s channel and customer
    group) at ``scope.at``: currency and validity filter; then the first fallback level with a price wins, and within
    it a price whose validity window holds the moment beats one without dates."""
    by_scope: dict[tuple[str | None, str | None, str | None], list[Price]] = {}
    for price in prices:
        if price.value.currency_code == currency and price.valid_at(scope.at):
            by_scope.setdefault(price.scope, []).append(price)
    if not by_scope:
        return None
    wanted = scope.wanted(country)
    for level in _FALLBACK:
        matches = by_scope.get((wanted[0] if level[0] else None, wanted[1] if level[1] else None,
                                wanted[2] if level[2] else None))  # fmt: skip
        if matches:
            return max(matches, key=lambda p: p.dated)  # the first dated one, else the first
    return None


def prices(
    candidates: Sequence[Price], settings: ProductSettings, scope: PriceScope, notes: list[str]
) -> list[dict[str, Any]]:
    """Fluent prices, one per currency (the configured ones, else every currency among ``candidates``); what
    Fluent will not learn is noted: a currency without a selectable price, a price valid only for a while."""
    selection = settings.prices
    currencies = selection.currencies or sorted({p.value.currency_code for p in candidates})
    sent: list[dict[str, Any]] = []
    for currency in currencies:
        country = selection.country_for(currency)
        price = select_price(candidates, currency, country, scope)
        if price is None:
            notes.append(f"no {currency} price for the price selection ({_describe(selection, country)}): none sent")
        else:
            sent.append({"type": settings.price_type, "currency": currency, "value": price.value.amount})
            if price.valid_until is not None:
                notes.append(f"the {currency} price is valid until {price.valid_until.isoformat()}: Fluent keeps it "
                             "after that until the product is synced again")  # fmt: skip
        starts = [p.valid_from for p in candidates if p.value.currency_code == currency
                  and p.valid_from is not None and p.valid_from > scope.at and scope.reaches(p, country)]  # fmt: skip
        if starts:
            notes.append(f"a {currency} price valid from {min(starts).isoformat()} reaches Fluent only when the "
                         "product is synced again then")  # fmt: skip
    return sent


def _describe(selection: PriceSelection, country: str | None) -> str:
    parts = [f"country {country}" if country else "no country"]
    for name, ref in (("channel", selection.channel), ("customer group", selection.customer_group)):
        if ref is not None:
            parts.append(f"{name} {ref.key or ref.id}")
    return ", ".join(parts)


def _common(
    product: ProductProjection, variant: Variant, settings: ProductSettings, kind: str
) -> tuple[dict[str, Any], list[str]] | SkippedProduct:
    """The fields standard and variant products share: type, gtin, name, summary, tax type."""
    name = localized(product.name, settings.locales, settings.any_locale)
    if not name:
        return SkippedProduct(f"no name in {', '.join(settings.locales)}")
    value = gtin(variant, settings)
    if value is None:
        return SkippedProduct(missing_gtin_reason(variant, settings))
    notes: list[str] = []
    description = localized(product.description, settings.locales, settings.any_locale)
    summary = cut_to_limit(description, SUMMARY_LIMIT, "summary", notes)
    fields: dict[str, Any] = {"type": kind, "gtin": value, "name": name}
    if summary:
        fields["summary"] = summary
    if settings.tax_type is not None:
        fields["taxType"] = settings.tax_type.model_dump()
    return fields, notes


def _finish(ref: str, fields: dict[str, Any], attributes: Sequence[AttributeInput | None],
            product: ProductProjection, notes: list[str]) -> MappedProduct | SkippedProduct:  # fmt: skip
    fields = {"ref": ref, **fields}
    problems = length_violations(fields, PRODUCT_FIELD_LIMITS)
    if problems:
        return SkippedProduct("too long for Fluent: " + "; ".join(problems))
    fields["attributes"] = [a.model_dump(by_alias=True) for a in attributes if a is not None]
    return MappedProduct(ref, fields, tuple(c.id for c in product.categories), tuple(notes))


def map_standard(product: ProductProjection, settings: ProductSettings) -> MappedProduct | SkippedProduct:
    ref = standard_ref(product, settings)
    if ref is None:
        return SkippedProduct("the product has no key (without_key: skip)")
    kind = settings.type_by_product_type.get(product.product_type.id, settings.standard_type)
    common = _common(product, product.master_variant, settings, kind)
    if isinstance(common, SkippedProduct):
        return common
    fields, notes = common
    attributes = [
        AttributeInput(name="ctProductId", type="STRING", value=product.id),
        AttributeInput(name="ctProductKey", type="STRING", value=product.key) if product.key else None,
    ]
    return _finish(ref, fields, attributes, product, notes)


def map_variants(
    product: ProductProjection, settings: ProductSettings, scope: PriceScope
) -> list[MappedProduct | SkippedProduct]:
    results: list[MappedProduct | SkippedProduct] = []
    for variant in product.all_variants:
        if not variant.sku:
            results.append(SkippedProduct(f"variant {variant.id} has no SKU, which orders reference it by", variant.id))
            continue
        common = _common(product, variant, settings, settings.variant_type)
        if isinstance(common, SkippedProduct):
            results.append(SkippedProduct(common.reason, variant.id, variant.sku))
            continue
        fields, notes = common
        fields["prices"] = prices(product.prices_of(variant), settings, scope, notes)
        attributes = [
            AttributeInput(name="ctProductId", type="STRING", value=product.id),
            AttributeInput(name="ctVariantId", type="INTEGER", value=variant.id),
            *(attribute_input(name, variant.attribute(name), settings) for name in settings.attributes),
            attribute_input("imageUrls", [image.url for image in variant.images], settings),
        ]
        mapped = _finish(variant.sku, fields, attributes, product, notes)
        if isinstance(mapped, SkippedProduct):
            mapped = SkippedProduct(mapped.reason, variant.id, variant.sku)
        results.append(mapped)
    return results
