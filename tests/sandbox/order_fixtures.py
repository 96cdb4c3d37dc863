"""Helpers for the order and payment tests against a running commercetools emulator: drafts to start from, the
checkout through the admin API and the SKUs of the seeded catalogue. Plain helpers, like
:mod:`tests.sandbox.catalogue_fixtures`."""

from __future__ import annotations

from typing import Any

import requests

from ctfluent_sandbox.commercetools.projections import variants
from tests.sandbox.catalogue_fixtures import create, price
from tests.sandbox.ct_fixtures import CtSandbox

DE_VAT = {"name": "MwSt. 19%", "amount": 0.19, "includedInPrice": True, "country": "DE"}
BERLIN = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "streetName": "Unter den Linden",
    "streetNumber": "1",
    "postalCode": "10117",
    "city": "Berlin",
    "country": "DE",
}


def money(currency: str, cents: int) -> dict[str, Any]:
    return {"currencyCode": currency, "centAmount": cents}


def seeded_skus(ct: CtSandbox, count: int) -> list[str]:
    """SKUs of published variants of the seeded catalogue, one per product."""
    skus = []
    for product in ct.emulator.products.collection:
        if product["masterData"]["published"]:
            skus += [v["sku"] for v in variants(product["masterData"]["current"]) if "sku" in v][:1]
    return skus[:count]


def import_draft(skus: list[str], **extra: Any) -> dict[str, Any]:
    """An ``OrderImportDraft`` of one unit of each SKU at 19.99 EUR, German VAT, with its total."""
    lines = [
        {"name": {"en": f"Item {sku}"}, "variant": {"sku": sku}, "quantity": 1, "price": price("EUR", 1999)}
        | {"taxRate": DE_VAT}
        for sku in skus
    ]
    draft = {
        "customerEmail": "imported@example.com",
        "lineItems": lines,
        "totalPrice": money("EUR", 1999 * len(skus)),
        "shippingAddress": BERLIN,
        "country": "DE",
    }
    return draft | extra


def checkout(ct: CtSandbox, **draft: Any) -> requests.Response:
    """``POST /_admin/checkout`` with a draft to Berlin in EUR in the eu-store, standard delivery, unless given."""
    base = {
        "currency": "EUR",
        "shippingAddress": BERLIN,
        "customerEmail": "ada@example.com",
        "store": {"typeId": "store", "key": "eu-store"},
        "shippingMethod": {"typeId": "shipping-method", "key": "standard"},
    }
    return ct.admin.session.post(f"{ct.url}/_admin/checkout", json=base | draft, timeout=30)


def checked_out(ct: CtSandbox, **draft: Any) -> dict[str, Any]:
    response = checkout(ct, **draft)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


def create_payment(ct: CtSandbox, **draft: Any) -> dict[str, Any]:
    base = {
        "amountPlanned": money("EUR", 1999),
        "paymentMethodInfo": {"paymentInterface": "adyen", "method": "creditCard", "name": {"en": "Credit card"}},
    }
    return create(ct, "/payments", base | draft)
