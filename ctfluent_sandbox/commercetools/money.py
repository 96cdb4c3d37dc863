"""Money as the API carries it: a ``Money`` draft ``{currencyCode, centAmount}`` becomes ``CentPrecisionMoney``
``{type: "centPrecision", currencyCode, centAmount, fractionDigits}``, where ``centAmount`` counts the currency's
minor unit and ``fractionDigits`` is that unit's ISO 4217 exponent (JPY 0, EUR/USD 2, KWD/BHD 3): 1500 JPY is
``{centAmount: 1500, fractionDigits: 0}``, 15.00 EUR is ``{centAmount: 1500, fractionDigits: 2}``.

Python has no ISO 4217 table, so the currencies whose exponent is not 2 are listed here; any other well-formed code
gets 2. High-precision money (``type: "highPrecision"``) is not emulated.
"""

from __future__ import annotations

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


def cent_precision(draft: Any, field: str) -> dict[str, Any]:
    """A ``Money`` draft as ``CentPrecisionMoney``."""
    if not isinstance(draft, dict):
        raise invalid_json(f"{field}: expected Money")
    if draft.get("type", "centPrecision") != "centPrecision":
        raise invalid_json(f"{field} -> type: only centPrecision money is emulated")
    currency, amount = draft.get("currencyCode"), draft.get("centAmount")
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise invalid_field(f"{field}.currencyCode", currency, f"'{currency}' is not a valid ISO 4217 currency code.")
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise invalid_json(f"{field} -> centAmount: expected an integer")
    return {
        "type": "centPrecision",
        "currencyCode": currency,
        "centAmount": amount,
        "fractionDigits": fraction_digits(currency),
    }
