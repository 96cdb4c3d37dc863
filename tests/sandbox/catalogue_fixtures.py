"""Helpers for the catalogue tests (categories, product types, products) against a running commercetools emulator:
drafts to start from and update calls by path. Plain helpers, like :mod:`tests.sandbox.ct_fixtures`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import requests

from tests.sandbox.ct_fixtures import CtSandbox


def names(en: str, **others: str) -> dict[str, str]:
    return {"en": en, **others}


SHIRT_TYPE: dict[str, Any] = {
    "key": "shirt",
    "name": "Shirt",
    "description": "Shirts",
    "attributes": [
        {"name": "gtin", "label": names("GTIN"), "isRequired": False, "type": {"name": "text"}},
        {
            "name": "color",
            "label": names("Color"),
            "isRequired": False,
            "type": {
                "name": "lenum",
                "values": [
                    {"key": "red", "label": names("Red", de="Rot")},
                    {"key": "blue", "label": names("Blue", de="Blau")},
                ],
            },
        },
        {
            "name": "size",
            "label": names("Size"),
            "isRequired": False,
            "type": {"name": "enum", "values": [{"key": "M", "label": "Medium"}, {"key": "L", "label": "Large"}]},
        },
        {"name": "material", "label": names("Material"), "isRequired": False, "type": {"name": "ltext"}},
        {"name": "organic", "label": names("Organic"), "isRequired": False, "type": {"name": "boolean"}},
        {"name": "weight", "label": names("Weight"), "isRequired": False, "type": {"name": "number"}},
        {
            "name": "care",
            "label": names("Care"),
            "isRequired": False,
            "type": {"name": "set", "elementType": {"name": "text"}},
        },
    ],
}


def price(currency: str, cents: int, **extra: Any) -> dict[str, Any]:
    return {"value": {"currencyCode": currency, "centAmount": cents}, **extra}


def image(url: str) -> dict[str, Any]:
    return {"url": url, "dimensions": {"w": 800, "h": 600}}


def create(ct: CtSandbox, path: str, draft: dict[str, Any]) -> dict[str, Any]:
    response = ct.post(path, draft)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def create_category(ct: CtSandbox, slug: str, **draft: Any) -> dict[str, Any]:
    return create(ct, "/categories", {"name": names(slug.title()), "slug": names(slug), **draft})


def create_product(ct: CtSandbox, slug: str, **draft: Any) -> dict[str, Any]:
    """A product of the ``shirt`` type (which must exist) with one master variant unless given."""
    base: dict[str, Any] = {
        "productType": {"typeId": "product-type", "key": "shirt"},
        "name": names(slug.title()),
        "slug": names(slug),
        "masterVariant": {
            "sku": f"{slug}-1",
            "prices": [price("EUR", 1999)],
            "attributes": [{"name": "color", "value": "red"}],
            "images": [image(f"https://img.example/{slug}/1.jpg")],
        },
    }
    return create(ct, "/products", {**base, **draft})


def update(ct: CtSandbox, path: str, resource: dict[str, Any], *actions: dict[str, Any]) -> requests.Response:
    return ct.post(f"{path}/{resource['id']}", {"version": resource["version"], "actions": list(actions)})


def updated(ct: CtSandbox, path: str, resource: dict[str, Any], *actions: dict[str, Any]) -> dict[str, Any]:
    response = update(ct, path, resource, *actions)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def delete(ct: CtSandbox, path: str, resource: dict[str, Any]) -> requests.Response:
    return ct.request("DELETE", f"{path}/{resource['id']}", {"version": str(resource["version"])})


def messages_of(ct: CtSandbox, resource: dict[str, Any]) -> list[dict[str, Any]]:
    """One resource's messages in sequence."""
    where = "resource(id = :id)"
    return ct.messages(where=where, sort="sequenceNumber asc", **{"var.id": resource["id"]})


def selected_prices(prices: list[dict[str, Any]], countries: Mapping[str, str] | None = None) -> dict[str, Decimal]:
    """The price per currency a cart of ``countries[currency]`` (else of no country) gets today, for the seed's
    scopes (a country or none; no channel, no customer group): its country's beats none, a dated one valid now beats
    an undated one, one not valid now does not count."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    best: dict[str, tuple[tuple[bool, bool], Decimal]] = {}
    for price in prices:
        value = price["value"]
        currency = value["currencyCode"]
        if price.get("country") not in (None, (countries or {}).get(currency)):
            continue
        if not price.get("validFrom", now) <= now < price.get("validUntil", "\uffff"):
            continue
        rank = ("country" in price, "validFrom" in price or "validUntil" in price)
        if currency not in best or rank > best[currency][0]:
            best[currency] = (rank, Decimal(value["centAmount"]).scaleb(-value["fractionDigits"]))
    return {currency: amount for currency, (_, amount) in best.items()}
