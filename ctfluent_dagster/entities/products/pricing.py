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
* A Standalone Price's messages name the price, not its product: the products' route for them resolves each to the
  published product of its SKU (``products_of_standalone_prices``), so the sensor requests a run of that product.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from ctfluent_dagster.commercetools.client import IDS_PER_QUERY, CommercetoolsClient
from ctfluent_dagster.commercetools.models import Message
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
    for price in _read(client, "standalone-prices", "sku in :values", skus):
        by_sku[price["sku"]].append({name: price[name] for name in _STANDALONE_FIELDS if name in price})
    return [_priced(product, by_sku) if product.get("priceMode") == STANDALONE else product for product in page]


def products_of_standalone_prices(client: CommercetoolsClient, messages: Sequence[Message]) -> dict[str, list[str]]:
    """The published product each Standalone Price message concerns, by message id: the product with the price's SKU
    (given in the payload of ``StandalonePriceCreated`` and ``StandalonePriceDeleted``, else the price's, read by
    id). A price of a SKU no published product has concerns none."""
    sku_of = {message.id: sku for message in messages if (sku := _payload_sku(message))}
    unnamed = sorted({message.resource.id for message in messages if message.id not in sku_of})
    price_skus = {price["id"]: price["sku"] for price in _read(client, "standalone-prices", "id in :values", unnamed)}
    sku_of |= {m.id: price_skus[m.resource.id] for m in messages if m.id not in sku_of and m.resource.id in price_skus}
    wanted = sorted(set(sku_of.values()))
    either = "masterVariant(sku in :values) or variants(sku in :values)"
    products = _read(client, "product-projections", either, wanted, page_size=100, extra=(("staged", "false"),))
    product_of_sku = {v["sku"]: p["id"] for p in products for v in _variants(p) if v.get("sku") in wanted}
    return {message_id: [product_of_sku[sku]] for message_id, sku in sku_of.items() if sku in product_of_sku}


def _payload_sku(message: Message) -> str | None:
    payload = message.model_extra or {}
    sku = payload.get("sku") or (payload.get("standalonePrice") or {}).get("sku")
    return sku if isinstance(sku, str) else None


def _read(
    client: CommercetoolsClient, resource: str, where: str, values: Sequence[str], **options: Any
) -> Iterator[dict[str, Any]]:
    """The records matching ``where`` for ``values`` (its ``:values``), 100 values per query: a page of them in one
    URL would be too long for the API."""
    for start in range(0, len(values), IDS_PER_QUERY):
        chunk = list(values[start : start + IDS_PER_QUERY])
        for page in client.iterate_by_id(resource, where=where, variables={"values": chunk}, **options):
            yield from page


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
