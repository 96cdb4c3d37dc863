"""Money as the API carries it: a ``Money`` draft ``{currencyCode, centAmount}`` becomes ``CentPrecisionMoney``
``{type: "centPrecision", currencyCode, centAmount, fractionDigits}``, where ``centAmount`` counts the currency's
minor unit and ``fractionDigits`` is that unit's ISO 4217 exponent (JPY 0, EUR/USD 2, KWD/BHD 3): 1500 JPY is
``{centAmount: 1500, fractionDigits: 0}``, 15.00 EUR is ``{centAmount: 1500, fractionDigits: 2}``.

Python has no ISO 4217 table, so the currencies whose exponent is not 2 are listed here; any other well-formed code
gets 2. High-precision money (``type: "highPrecision"``) is not emulated.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from ctfluent_sandbox.commercetools.errors import invalid_field, invalid_json

# ISO 4217 currencies with a minor-unit exponent other than 2.
_EXPONENTS = {
    "BHD": 3,
    "BIF": 0,
    "CLF": 4,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "IQD": 3,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "PYG": 0,
    "RWF": 0,
    "TND": 3,
    "UGX": 0,
    "UYI": 0,
    "UYW": 4,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
}
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def fraction_digits(currency_code: str) -> int:
    return _EXPONENTS.get(currency_code, 2)


def divide(dividend: int, divisor: int) -> int:
    """``dividend / divisor`` rounded half to even (the project's price and tax rounding mode), in integers."""
    quotient, remainder = divmod(dividend, divisor)
    twice = 2 * remainder
    return quotient + 1 if twice > divisor or (twice == divisor and quotient % 2) else quotient


def currency_code(value: Any, field: str) -> str:
    """A currency code given in a draft, checked."""
    if not isinstance(value, str) or not _CURRENCY.match(value):
        raise invalid_field(field, value, f"'{value}' is not a valid ISO 4217 currency code.")
    return value


@functools.lru_cache(maxsize=65_536)
def money(currency: str, cent_amount: int) -> dict[str, Any]:
    """``CentPrecisionMoney`` of an amount. One shared document per amount (stored documents are never changed in
    place): seeded orders repeat the same prices, totals and taxes many times over."""
    return {
        "type": "centPrecision",
        "currencyCode": currency,
        "centAmount": cent_amount,
        "fractionDigits": fraction_digits(currency),
    }


def cent_precision(draft: Any, field: str) -> dict[str, Any]:
    """A ``Money`` draft as ``CentPrecisionMoney``."""
    if not isinstance(draft, dict):
        raise invalid_json(f"{field}: expected Money")
    if draft.get("type", "centPrecision") != "centPrecision":
        raise invalid_json(f"{field} -> type: only centPrecision money is emulated")
    currency, amount = currency_code(draft.get("currencyCode"), f"{field}.currencyCode"), draft.get("centAmount")
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise invalid_json(f"{field} -> centAmount: expected an integer")
    return money(currency, amount)
