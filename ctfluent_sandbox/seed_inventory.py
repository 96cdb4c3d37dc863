"""Deterministic inventory data for the Fluent emulator: a network of locations, an aggregate virtual catalogue and
its positions (one per SKU and location).

* **Network** ``NETWORK:ONLINE`` (type ``BASE``) holding every seeded location.
* **Locations** ``LOC_1`` ... ``LOC_<n>`` in Berlin: real streets, postcodes and coordinates, a distribution centre
  first (type ``WAREHOUSE``) and stores after it (type ``STORE``). Beyond the nine sites the sites repeat with a
  round number in the name and coordinates moved a little north-east. The last ``inactive_locations`` are
  ``INACTIVE``, the others ``ACTIVE``.
* **Virtual catalogue** ``VC:ATS:1`` (type ``AGGREGATE``) over the product catalogue ``PC:MASTER:1``.
* **Positions** ``<sku>:<location ref>`` for every SKU and location (inactive ones too: deactivating a location does
  not remove its stock), quantity 0 to 50, about one in seven 0.

The SKUs are the catalogue's variant refs, which the product sync takes from the commercetools SKUs:
:func:`skus_of` reads them from the commercetools seed's products (resources as that emulator stores them), so a
sandbox can seed Fluent's inventory for the products the sync will create. One ``random.Random`` seeded from
``seed`` draws the quantities in SKU-major order: the same SKUs, locations and seed give the same data.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

DEFAULT_NETWORK = "NETWORK:ONLINE"
DEFAULT_VIRTUAL_CATALOGUE = "VC:ATS:1"
LOCATION_PREFIX = "LOC_"
MAX_QUANTITY = 50
_ZERO_WEIGHT = 8  # drawn from range(-8, 51) and floored at 0: 9 of 59 draws are 0

# (district, type, street, postcode, latitude, longitude): Berlin sites, the distribution centre first.
_SITES = (
    ("Tempelhof", "WAREHOUSE", "Großbeerenstraße 169", "12277", 52.4210, 13.3840),
    ("Mitte", "STORE", "Alexanderplatz 9", "10178", 52.5219, 13.4132),
    ("Kreuzberg", "STORE", "Oranienstraße 40", "10999", 52.5017, 13.4197),
    ("Prenzlauer Berg", "STORE", "Kastanienallee 12", "10435", 52.5389, 13.4098),
    ("Charlottenburg", "STORE", "Kurfürstendamm 26", "10719", 52.5033, 13.3276),
    ("Friedrichshain", "STORE", "Warschauer Straße 60", "10243", 52.5076, 13.4497),
    ("Neukölln", "STORE", "Karl-Marx-Straße 66", "12043", 52.4811, 13.4351),
    ("Schöneberg", "STORE", "Hauptstraße 30", "10827", 52.4862, 13.3544),
    ("Spandau", "STORE", "Carl-Schurz-Straße 12", "13597", 52.5361, 13.2042),
)
_ROUND_OFFSET = 0.002  # degrees per repetition of the sites


@dataclass(frozen=True)
class InventorySeed:
    """What the Fluent emulator seeds besides retailers and product catalogues (and restores on reset)."""

    network: str = DEFAULT_NETWORK
    locations: int = 3
    inactive_locations: int = 0  # the last ones
    catalogue: str = DEFAULT_VIRTUAL_CATALOGUE
    skus: tuple[str, ...] = ()
    seed: int = 1

    def __post_init__(self) -> None:
        if not (isinstance(self.network, str) and self.network and isinstance(self.catalogue, str) and self.catalogue):
            raise ValueError("network and catalogue must be non-empty strings")
        if not _count(self.locations) or not _count(self.inactive_locations):
            raise ValueError("locations and inactive_locations must be integers >= 0")
        if self.inactive_locations > self.locations:
            raise ValueError("inactive_locations must not exceed locations")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError("seed must be an integer")
        if not all(isinstance(sku, str) and sku for sku in self.skus) or len(set(self.skus)) != len(self.skus):
            raise ValueError("skus must be distinct non-empty strings")

    def updated(self, changes: Mapping[str, Any]) -> InventorySeed:
        """This seed with the keys of an admin body (``skus`` as a list); ``ValueError`` names what is wrong."""
        known = {field.name for field in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}; known: {sorted(known)}")
        values = dict(changes)
        if "skus" in values:
            if not isinstance(values["skus"], list):
                raise ValueError("skus must be a list of strings")
            values["skus"] = tuple(values["skus"])
        return replace(self, **values)

    def to_json(self) -> dict[str, Any]:
        """The settings, with the number of SKUs rather than the (possibly long) list."""
        return {
            "network": self.network,
            "locations": self.locations,
            "inactive_locations": self.inactive_locations,
            "catalogue": self.catalogue,
            "sku_count": len(self.skus),
            "seed": self.seed,
        }

    def location_refs(self) -> list[str]:
        return [location_ref(n) for n in range(1, self.locations + 1)]


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def location_ref(n: int) -> str:
    return f"{LOCATION_PREFIX}{n}"


def locations(seed: InventorySeed) -> list[dict[str, Any]]:
    """The seeded locations' fields (``ref``, ``name``, ``type``, ``status``, ``supportPhoneNumber``, ``address``)."""
    return [_location(n, n > seed.locations - seed.inactive_locations) for n in range(1, seed.locations + 1)]


def _location(n: int, inactive: bool) -> dict[str, Any]:
    district, kind, street, postcode, latitude, longitude = _SITES[(n - 1) % len(_SITES)]
    repetition = (n - 1) // len(_SITES)
    label = "DC" if kind == "WAREHOUSE" else "Store"
    name = f"ctfluent {label} Berlin {district}" + (f" {repetition + 1}" if repetition else "")
    offset = repetition * _ROUND_OFFSET
    return {
        "ref": location_ref(n),
        "name": name,
        "type": kind,
        "status": "INACTIVE" if inactive else "ACTIVE",
        "supportPhoneNumber": f"+49 30 5550{n:04d}",
        "address": {
            "ref": f"{location_ref(n)}:ADDRESS",
            "companyName": "ctfluent GmbH",
            "name": name,
            "street": street,
            "city": "Berlin",
            "state": "Berlin",
            "postcode": postcode,
            "region": None,
            "country": "DE",
            "latitude": round(latitude + offset, 6),
            "longitude": round(longitude + offset, 6),
            "timeZone": "Europe/Berlin",
        },
    }


def quantities(skus: Iterable[str], location_refs: list[str], seed: int) -> Iterator[tuple[str, str, int]]:
    """``(sku, location ref, quantity)`` for every SKU and location, SKU-major."""
    draw = random.Random(f"inventory/{seed}").randrange
    for sku in skus:
        for ref in location_refs:
            yield sku, ref, max(draw(-_ZERO_WEIGHT, MAX_QUANTITY + 1), 0)


def skus_of(products: Iterable[Mapping[str, Any]]) -> list[str]:
    """The SKUs of the published variants of commercetools products (as the commercetools emulator stores them),
    each once, in the products' order: the refs the product sync gives Fluent's variant products."""
    skus: dict[str, None] = {}
    for product in products:
        data = product["masterData"]
        if not data["published"]:
            continue
        current = data["current"]
        for variant in (current["masterVariant"], *current["variants"]):
            if variant.get("sku"):
                skus[variant["sku"]] = None
    return list(skus)
