"""Shipping methods, read-only: the seed creates three, and orders reference them. A ``ShippingMethodDraft`` needs
a tax category and zones, which the emulator has no APIs for, so there is nothing to create them from.

* ``standard`` (the default), ``express`` and ``click-collect`` (Click & Collect: free, picked up in a shop; not
  offered in Oceania), all in the built-in ``standard`` tax category (:mod:`taxes`) and for every store.
* Zones (no Zones API either: referenced by derived ids): Europe (DE, FR, GB; EUR), North America (US; USD), Japan
  (JP; JPY) and Oceania (AU; EUR). A zone rate holds one ``ShippingRate`` in the zone's currency, some free above an
  amount; :func:`shipping_rate` finds the rate of a method for a country and currency, as a cart does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctfluent_sandbox.commercetools import taxes
from ctfluent_sandbox.commercetools.money import money
from ctfluent_sandbox.commercetools.predicates import ANY_SCHEMA, Schema
from ctfluent_sandbox.commercetools.projections import MONEY_SCHEMA
from ctfluent_sandbox.commercetools.resources import (
    BASE_RESOURCE_FIELDS,
    CUSTOM_FIELDS_SCHEMA,
    REFERENCE_SCHEMA,
    WriteContext,
    derived_id,
    new_resource_fields,
    reference,
)
from ctfluent_sandbox.commercetools.store import Collection, Resource

CLICK_AND_COLLECT = "click-collect"
SHIPPING_METHOD_SCHEMA = Schema(
    {
        **BASE_RESOURCE_FIELDS,
        "key": "string",
        "name": "string",
        "localizedName": ANY_SCHEMA,
        "description": "string",
        "localizedDescription": ANY_SCHEMA,
        "taxCategory": REFERENCE_SCHEMA,
        "zoneRates": Schema(
            {
                "zone": REFERENCE_SCHEMA,
                "shippingRates": Schema({"price": MONEY_SCHEMA, "freeAbove": MONEY_SCHEMA, "tiers": ANY_SCHEMA}),
            }
        ),
        "active": "boolean",
        "isDefault": "boolean",
        "predicate": "string",
        "custom": CUSTOM_FIELDS_SCHEMA,
        "stores": Schema({"typeId": "string", "key": "string"}),
        "carrier": "string",
    }
)
# zone key -> its countries and the currency its rates are in
_ZONES = {
    "europe": (("DE", "FR", "GB"), "EUR"),
    "north-america": (("US",), "USD"),
    "japan": (("JP",), "JPY"),
    "oceania": (("AU",), "EUR"),
}
_ZONE_IDS = {key: derived_id(f"zones/{key}") for key in _ZONES}
_ZONE_COUNTRIES = {_ZONE_IDS[key]: countries for key, (countries, _) in _ZONES.items()}
# key -> name, localised names, whether it is the default, zone key -> (price, free above) in the zone's currency
_METHODS: tuple[tuple[str, str, dict[str, str], bool, dict[str, tuple[int, int | None]]], ...] = (
    (
        "standard",
        "Standard delivery",
        {"en": "Standard delivery", "de": "Standardversand", "ja": "通常配送"},
        True,
        {"europe": (495, 5000), "north-america": (599, 7500), "japan": (600, 8000), "oceania": (1495, None)},
    ),
    (
        "express",
        "Express delivery",
        {"en": "Express delivery", "de": "Expressversand", "ja": "お急ぎ便"},
        False,
        {"europe": (995, None), "north-america": (1499, None), "japan": (1200, None), "oceania": (2995, None)},
    ),
    (
        CLICK_AND_COLLECT,
        "Click & Collect",
        {"en": "Click & Collect", "de": "Abholung im Geschäft", "ja": "店舗受取"},
        False,
        {"europe": (0, None), "north-america": (0, None), "japan": (0, None)},
    ),
)


def new_collection() -> Collection:
    return Collection(SHIPPING_METHOD_SCHEMA, indexed=("lastModifiedAt",), unique={"key": lambda m: m.get("key")})


def seeded(ctx: WriteContext) -> list[Resource]:
    """The three shipping methods, as created at ``ctx.moment``."""
    made = []
    for key, name, names, default, rates in _METHODS:
        zone_rates = []
        for zone, (price, free_above) in rates.items():
            currency = _ZONES[zone][1]
            rate: dict[str, Any] = {"price": money(currency, price)}
            if free_above is not None:
                rate["freeAbove"] = money(currency, free_above)
            rate["tiers"] = []
            zone_rates.append({"zone": reference("zone", _ZONE_IDS[zone]), "shippingRates": [rate]})
        made.append(
            {
                **new_resource_fields(ctx),
                "key": key,
                "name": name,
                "localizedName": names,
                "taxCategory": taxes.tax_category(),
                "zoneRates": zone_rates,
                "active": True,
                "isDefault": default,
                "stores": [],
            }
        )
    return made


def shipping_rate(method: Mapping[str, Any], country: str, currency: str) -> dict[str, Any] | None:
    """The ``ShippingRate`` of ``method`` for a cart shipping to ``country`` in ``currency``, if it has one."""
    for zone_rate in method["zoneRates"]:
        if country in _ZONE_COUNTRIES.get(zone_rate["zone"]["id"], ()):
            for rate in zone_rate["shippingRates"]:
                if rate["price"]["currencyCode"] == currency:
                    found: dict[str, Any] = rate
                    return found
    return None
