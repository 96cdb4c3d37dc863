"""A Fluent location -> a commercetools channel (and store): pure functions, table-tested.

* key: the location ref (as a commercetools key: :func:`~ctfluent_dagster.sync.commercetools_entity.
  commercetools_key`);
* roles: ``locations.channel_roles``; a closed location (``closed_statuses``) keeps them or has none
  (``closed_location``);
* name: the location's name in ``locations.locale``;
* address: the primary address (street, postcode, city, state, company), when its country is an ISO 3166-1 alpha-2
  code (commercetools requires one; otherwise no address, with a note);
* geoLocation: a GeoJSON point ``[longitude, latitude]`` from the primary address, when it has both.

A channel's update actions are only those that change it: an unchanged location writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ctfluent_dagster.entities.locations.models import FluentAddress, FluentLocation
from ctfluent_dagster.entities.locations.settings import LocationSettings
from ctfluent_dagster.sync.commercetools_entity import Action, commercetools_key

_COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class MappedChannel:
    key: str
    roles: tuple[str, ...]
    name: dict[str, str]
    address: dict[str, str] | None
    geo_location: dict[str, Any] | None
    notes: tuple[str, ...] = ()

    def draft(self) -> dict[str, Any]:
        draft: dict[str, Any] = {"key": self.key, "roles": list(self.roles), "name": self.name}
        if self.address is not None:
            draft["address"] = self.address
        if self.geo_location is not None:
            draft["geoLocation"] = self.geo_location
        return draft


def is_closed(location: FluentLocation, settings: LocationSettings) -> bool:
    return (location.status or "") in settings.closed_statuses


def channel_address(address: FluentAddress | None, notes: list[str]) -> dict[str, str] | None:
    if address is None:
        return None
    country = (address.country or "").strip().upper()
    if not _COUNTRY.match(country):
        notes.append(f"address left out: country {address.country!r} is not an ISO 3166-1 alpha-2 code")
        return None
    fields = {"streetName": address.street, "postalCode": address.postcode, "city": address.city,
              "state": address.state, "company": address.company_name}  # fmt: skip
    return {"country": country, **{name: value.strip() for name, value in fields.items() if value and value.strip()}}


def geo_location(address: FluentAddress | None) -> dict[str, Any] | None:
    if address is None or address.latitude is None or address.longitude is None:
        return None
    return {"type": "Point", "coordinates": [address.longitude, address.latitude]}


def map_channel(location: FluentLocation, settings: LocationSettings) -> MappedChannel:
    notes: list[str] = []
    closed = is_closed(location, settings)
    roles = () if closed and settings.closed_location == "remove_roles" else tuple(settings.channel_roles)
    return MappedChannel(
        key=commercetools_key(location.ref),
        roles=roles,
        name={settings.locale: (location.name or location.ref).strip()},
        address=channel_address(location.primary_address, notes),
        geo_location=geo_location(location.primary_address),
        notes=tuple(notes),
    )


def channel_actions(current: Mapping[str, Any], wanted: MappedChannel) -> list[Action]:
    """The update actions that bring the channel ``current`` to ``wanted``: none when it is there already."""
    actions: list[Action] = []
    if sorted(current.get("roles") or []) != sorted(wanted.roles):
        actions.append({"action": "setRoles", "roles": list(wanted.roles)})
    if (current.get("name") or {}) != wanted.name:
        actions.append({"action": "changeName", "name": wanted.name})
    if wanted.address is not None and _address_of(current.get("address")) != wanted.address:
        actions.append({"action": "setAddress", "address": wanted.address})
    if wanted.geo_location is not None and current.get("geoLocation") != wanted.geo_location:
        actions.append({"action": "setGeoLocation", "geoLocation": wanted.geo_location})
    return actions


def _address_of(address: Mapping[str, Any] | None) -> dict[str, Any]:
    """A channel's address as the mapping writes it (commercetools adds an id)."""
    return {name: value for name, value in (address or {}).items() if name not in ("id", "key")}


def store_draft(channel: MappedChannel, channel_roles: tuple[str, ...]) -> dict[str, Any]:
    """The store of a location: its channel as supply channel (InventorySupply) and distribution channel
    (ProductDistribution), by key."""
    reference = [{"typeId": "channel", "key": channel.key}]
    return {
        "key": channel.key,
        "name": channel.name,
        "supplyChannels": reference if "InventorySupply" in channel_roles else [],
        "distributionChannels": reference if "ProductDistribution" in channel_roles else [],
    }


def store_actions(current: Mapping[str, Any], wanted: Mapping[str, Any], channel_id: str | None) -> list[Action]:
    """The update actions that bring the store ``current`` to ``wanted`` (its channels compared by id, as
    commercetools answers references; ``channel_id``: the id of the location's channel)."""
    actions: list[Action] = []
    if (current.get("name") or {}) != wanted["name"]:
        actions.append({"action": "setName", "name": wanted["name"]})
    for field, action in (("supplyChannels", "setSupplyChannels"), ("distributionChannels", "setDistributionChannels")):
        have = sorted(str(r.get("id")) for r in current.get(field) or [])
        want = sorted(channel_id or "" for _ in wanted[field])
        if have != want:
            actions.append({"action": action, field: wanted[field]})
    return actions
