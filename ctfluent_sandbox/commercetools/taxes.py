"""Taxes of orders. The emulator has no Tax Categories API: one built-in tax category, ``standard``, holds a rate
per country the sandbox sells to, and checkouts, shipping methods and the seed use it.

* Rates: VAT included in the price in Germany, France, the UK, Japan and Australia (and 0 % in Kuwait, where
  imported marketplace orders ship), sales tax added on top in the US (``includedInPrice: false``). A checkout to
  another country fails with ``MissingTaxRateForCountry``, as a cart in platform tax mode does.
* :func:`taxed` is the ``TaxedItemPrice`` of one line total: with the tax included, net = gross / (1 + rate), else
  tax = net x rate, rounded half to even (the project's ``taxRoundingMode``) to the currency's minor unit, item by
  item (``taxCalculationMode: LineItemLevel``). :func:`summed` adds items up to an order's ``TaxedPrice``, one tax
  portion per rate.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

from ctfluent_sandbox.commercetools.errors import CtError, invalid_json
from ctfluent_sandbox.commercetools.money import cent_precision, divide, money
from ctfluent_sandbox.commercetools.resources import derived_id, optional_str, required_str

TAX_CATEGORY_KEY = "standard"
TAX_CATEGORY_ID = derived_id(f"tax-categories/{TAX_CATEGORY_KEY}")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
# country -> (name, rate, included in the price)
_RATES = {
    "DE": ("MwSt. 19%", 0.19, True),
    "FR": ("TVA 20%", 0.2, True),
    "GB": ("VAT 20%", 0.2, True),
    "JP": ("消費税 10%", 0.1, True),
    "AU": ("GST 10%", 0.1, True),
    "KW": ("VAT 0%", 0.0, True),
    "US": ("Sales tax 7.25%", 0.0725, False),
}
# The rates as orders carry them (TaxRate); shared by every order, never changed.
_TAX_RATES = {
    country: {
        "id": derived_id(f"tax-categories/{TAX_CATEGORY_KEY}/{country}")[:8],
        "name": name,
        "amount": amount,
        "includedInPrice": included,
        "country": country,
        "subRates": [],
    }
    for country, (name, amount, included) in _RATES.items()
}


def tax_category() -> dict[str, str]:
    return {"typeId": "tax-category", "id": TAX_CATEGORY_ID}


def rate_for(country: str) -> dict[str, Any]:
    """The ``TaxRate`` of the built-in tax category for ``country``; 400 ``MissingTaxRateForCountry`` if none."""
    found = _TAX_RATES.get(country)
    if found is None:
        raise CtError(
            400,
            "MissingTaxRateForCountry",
            f"Tax category '{TAX_CATEGORY_ID}' is missing a tax rate for country '{country}'.",
            taxCategoryId=TAX_CATEGORY_ID,
            country=country,
        )
    return found


def tax_rate(draft: Any, field: str) -> dict[str, Any]:
    """A ``TaxRate`` given in a draft (an order import): name, amount (0 to 1), includedInPrice and country."""
    if not isinstance(draft, dict):
        raise invalid_json(f"{field}: expected a TaxRate")
    amount, included, country = draft.get("amount"), draft.get("includedInPrice"), draft.get("country")
    if isinstance(amount, bool) or not isinstance(amount, int | float) or not 0 <= amount <= 1:
        raise invalid_json(f"{field} -> amount: expected a number between 0 and 1")
    if not isinstance(included, bool):
        raise invalid_json(f"{field} -> includedInPrice: Missing required value")
    if not isinstance(country, str) or not _COUNTRY.match(country):
        raise invalid_json(f"{field} -> country: expected a country code")
    rate: dict[str, Any] = {"name": required_str(draft, "name"), "amount": amount, "includedInPrice": included}
    rate["country"] = country
    for name in ("id", "key", "state"):
        value = optional_str(draft, name)
        if value is not None:
            rate[name] = value
    rate["subRates"] = list(draft.get("subRates") or [])
    return rate


@functools.lru_cache(maxsize=256)
def _ratio(amount: float) -> tuple[int, int]:
    """A rate as an exact fraction (0.19 -> 19/100), as its decimal digits say."""
    exact = Fraction(str(amount))
    return exact.numerator, exact.denominator


def taxed(total: Mapping[str, Any], rate: Mapping[str, Any]) -> dict[str, Any]:
    """The ``TaxedItemPrice`` of a line total (``CentPrecisionMoney``) at ``rate`` (a ``TaxRate``): one shared
    document per total and rate, like :func:`~ctfluent_sandbox.commercetools.money.money`."""
    return _taxed(total["currencyCode"], total["centAmount"], rate["name"], rate["amount"], rate["includedInPrice"])


@functools.lru_cache(maxsize=65_536)
def _taxed(currency: str, cents: int, name: str, amount: float, included: bool) -> dict[str, Any]:
    numerator, denominator = _ratio(amount)
    if included:  # net = gross / (1 + rate)
        gross = cents
        net = divide(gross * denominator, denominator + numerator)
    else:
        net = cents
        gross = net + divide(net * numerator, denominator)
    return {
        "totalNet": money(currency, net),
        "totalGross": money(currency, gross),
        "totalTax": money(currency, gross - net),
        "taxPortions": [{"name": name, "rate": amount, "amount": money(currency, gross - net)}],
    }


def summed(parts: Iterable[Mapping[str, Any]], currency: str) -> dict[str, Any]:
    """The ``TaxedPrice`` of an order: its items' ``TaxedItemPrice`` s added up, one tax portion per rate."""
    net = gross = 0
    portions: dict[tuple[str | None, float], int] = {}
    for part in parts:
        net += part["totalNet"]["centAmount"]
        gross += part["totalGross"]["centAmount"]
        for portion in part["taxPortions"]:
            scope = (portion.get("name"), portion["rate"])
            portions[scope] = portions.get(scope, 0) + portion["amount"]["centAmount"]
    return {
        "totalNet": money(currency, net),
        "totalGross": money(currency, gross),
        "totalTax": money(currency, gross - net),
        "taxPortions": [
            {**({} if name is None else {"name": name}), "rate": rate, "amount": money(currency, amount)}
            for (name, rate), amount in portions.items()
        ],
    }


def taxed_price(draft: Any, field: str) -> dict[str, Any]:
    """A ``TaxedPriceDraft`` (or a line's given taxed price) as stored: as sent, not checked for consistency (the
    import documents this); ``totalTax`` defaults to gross minus net."""
    if not isinstance(draft, dict):
        raise invalid_json(f"{field}: expected a TaxedPriceDraft")
    net = cent_precision(draft.get("totalNet"), f"{field}.totalNet")
    gross = cent_precision(draft.get("totalGross"), f"{field}.totalGross")
    portions = []
    for position, raw in enumerate(draft.get("taxPortions") or []):
        if (
            not isinstance(raw, dict)
            or isinstance(raw.get("rate"), bool)
            or not isinstance(raw.get("rate"), int | float)
        ):
            raise invalid_json(f"{field} -> taxPortions -> [{position}]: expected a TaxPortionDraft")
        portion: dict[str, Any] = {} if raw.get("name") is None else {"name": required_str(raw, "name")}
        portion.update(rate=raw["rate"], amount=cent_precision(raw.get("amount"), f"{field}.taxPortions.amount"))
        portions.append(portion)
    if draft.get("totalTax") is not None:
        tax = cent_precision(draft["totalTax"], f"{field}.totalTax")
    else:
        tax = money(gross["currencyCode"], gross["centAmount"] - net["centAmount"])
    return {"totalNet": net, "totalGross": gross, "totalTax": tax, "taxPortions": portions}
