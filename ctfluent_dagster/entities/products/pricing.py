"""What price selection reads from commercetools beside the product projections: the ids of the selection's channel
and customer group when the settings name them by key, and the Standalone Prices of products in that price mode.

* The products Source's ``enrich`` step (one query per 100 SKUs of a page, as payments find their orders) adds to each
  projection whose ``priceMode`` is ``Standalone`` the active Standalone Prices of its variants' SKUs (commercetools
  selects from those, not the embedded prices, for such a product). A page without such products costs no request, so
  the scope ``view_standalone_prices`` is needed only by projects that use them.
* Standalone Prices change without a new product version, while the engine skips a staged record whose version the
  ledger holds as settled before mapping it. So such a projection is staged without ``version`` (kept under
  ``PRODUCT_VERSION`` for the mapping and the ledger): it is mapped whenever it is read, and the payload hash still
  keeps unchanged prices from Fluent.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ctfluent_dagster.commercetools.client import IDS_PER_QUERY, CommercetoolsClient
from ctfluent_dagster.entities.products.models import PRODUCT_VERSION, STANDALONE, STANDALONE_PRICES
from ctfluent_dagster.entities.products.settings import PriceSelection, ResourceRef
from ctfluent_dagster.transport import ApiError

# What the mapping reads of a Standalone Price (its tiers, discounts, staged value and custom fields are not sent).
_STANDALONE_FIELDS = ("sku", "value", "country", "channel", "customerGroup", "validFrom", "validUntil", "active")


def with_standalone_prices(client: CommercetoolsClient, page: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The page, each projection in the Standalone price mode with its variants' Standalone Prices."""
    skus = sorted({variant["sku"] for product in page if product.get("priceMode") == STANDALONE
                   for variant in _variants(product) if variant.get("sku")})  # fmt: skip
    if not skus:
        return page
    by_sku: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for start in range(0, len(skus), IDS_PER_QUERY):  # a page of SKUs in one URL would be too long for the API
        chunk = skus[start : start + IDS_PER_QUERY]
        for prices in client.iterate_by_id("standalone-prices", where="sku in :skus", variables={"skus": chunk}):
            for price in prices:
                by_sku[price["sku"]].append({name: price[name] for name in _STANDALONE_FIELDS if name in price})
    return [_priced(product, by_sku) if product.get("priceMode") == STANDALONE else product for product in page]


def _variants(product: dict[str, Any]) -> list[dict[str, Any]]:
    return [product["masterVariant"], *product.get("variants", [])]


def _priced(product: dict[str, Any], by_sku: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    staged = {name: value for name, value in product.items() if name != "version"}
    staged[PRODUCT_VERSION] = product["version"]
    staged[STANDALONE_PRICES] = [price for v in _variants(product) for price in by_sku.get(v.get("sku") or "", [])]
    return staged


def resolved_ids(client: CommercetoolsClient | None, selection: PriceSelection) -> tuple[str | None, str | None]:
    """The selection's channel and customer group ids, keys looked up; raises ValueError, saying what to change, for
    a key that names none or that the client may not look up."""
    return (
        _resolved(client, "channels", "products.prices.channel", "view_channels", selection.channel),
        _resolved(client, "customer-groups", "products.prices.customer_group", "view_customer_groups",
                  selection.customer_group),
    )  # fmt: skip


def _resolved(
    client: CommercetoolsClient | None, resource: str, setting: str, scope: str, ref: ResourceRef | None
) -> str | None:
    if ref is None or ref.id is not None:
        return None if ref is None else ref.id
    if client is None:
        raise ValueError(f"{setting} names a key: looking it up needs the commercetools client")
    try:
        found = client.get(resource, f"key={ref.key}")
    except ApiError as exc:
        if exc.status != 403:
            raise
        raise ValueError(f"{setting} names a key, which the client may not look up ({exc}): add {scope} to "
                         "CTP_SCOPES, or give the id instead") from exc  # fmt: skip
    if found is None:
        raise ValueError(f"{setting}: commercetools has no {resource} with key {ref.key!r}")
    return str(found["id"])
