"""Networks and locations: ``network(id, ref)``, ``networks(...)``, ``location(id, ref)``, ``locationById``,
``locations(...)``, ``Network.locations`` and ``Location.networks``, ``Location.primaryAddress`` (a ``StoreAddress``)
and ``Location.retailer``.

Locations are account configuration that the project reads, never writes: the emulator seeds them (see
:mod:`ctfluent_sandbox.seed_inventory`) and the admin routes add or change them, as an administrator would in the
Fluent console; no mutation is emulated.

- ``ref`` is unique per table for both (the schema only "recommends" a unique network ref; a location ref is the
  store id the retailer gives): the emulator looks both up by ref, as the event API does.
- ``network(id, ref)`` and ``location(id, ref)`` with both find an entity only when both match; with neither it is
  C0140E, as for ``order``. An unknown one is ``null``.
- A location's ``status`` is ``ACTIVE`` or ``INACTIVE`` (the two values the schema names); its ``workflowRef`` is
  ``LOCATION::<type>``. A network holds locations, a location may be in several networks: the location record lists
  its networks' ids.
- The primary address lives inside the location record, with an id of its own; a change to it moves the address's
  ``updatedOn`` and the location's.
- Nothing here reads ``defaultCarrier``/``defaultCarrierName``, storage areas, opening hours or manifests: they are
  ``null`` or left out of the schema subset.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from graphql import GraphQLResolveInfo

from ctfluent_sandbox.fluent.catalogues import REF, WORKFLOW_VERSION
from ctfluent_sandbox.fluent.connections import search
from ctfluent_sandbox.fluent.engine import ResolverRegistry, request_context
from ctfluent_sandbox.fluent.errors import MISSING_VARIABLES, FluentError
from ctfluent_sandbox.fluent.store import EntityStore, Record, TableSpec
from ctfluent_sandbox.fluent.webhooks import Subject

NETWORKS = "networks"
LOCATIONS = "locations"
TABLES = (TableSpec(NETWORKS, "Network", unique=(REF,)), TableSpec(LOCATIONS, "Location", unique=(REF,)))
RESOLVERS = ResolverRegistry()

LOCATION_STATUSES = ("ACTIVE", "INACTIVE")
ADDRESS_FIELDS = ("ref", "companyName", "name", "street", "city", "state", "postcode", "region", "country", "timeZone")
COORDINATES = ("latitude", "longitude")
_LOCATION_FIELDS = frozenset({"ref", "name", "type", "status", "supportPhoneNumber", "network", "address", "retailer"})
_LOCATION_CHANGES = frozenset({"name", "type", "status", "supportPhoneNumber", "address"})


def find_by_id_or_ref(store: EntityStore, table: str, field: str, id: str | None, ref: str | None) -> Record | None:
    """``<field>(id, ref)``: the record with that id and/or ref (both must match when both are given)."""
    if id is None and ref is None:
        raise FluentError(MISSING_VARIABLES, f"'{field}' needs an 'id' or a 'ref'")
    found = store.find(table, REF, (ref,)) if id is None else store.get(table, id)
    return found if found is not None and ref in (None, found["ref"]) else None


# -- queries -------------------------------------------------------------------------------------


@RESOLVERS.query("network")
def network(_root: None, info: GraphQLResolveInfo, id: str | None = None, ref: str | None = None) -> Record | None:
    return find_by_id_or_ref(request_context(info).store, NETWORKS, "network", id, ref)


@RESOLVERS.query("networks")
def networks(_root: None, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    return search(request_context(info).store.records(NETWORKS), NETWORKS, args)


@RESOLVERS.query("location")
def location(_root: None, info: GraphQLResolveInfo, id: str | None = None, ref: str | None = None) -> Record | None:
    return find_by_id_or_ref(request_context(info).store, LOCATIONS, "location", id, ref)


@RESOLVERS.query("locationById")
def location_by_id(_root: None, info: GraphQLResolveInfo, id: str) -> Record | None:
    return request_context(info).store.get(LOCATIONS, id)


@RESOLVERS.query("locations")
def locations(_root: None, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    return search(request_context(info).store.records(LOCATIONS), LOCATIONS, args)


@RESOLVERS.field("Network", "locations")
def network_locations(source: Record, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    members = [
        record for record in request_context(info).store.records(LOCATIONS) if source["id"] in record["networks"]
    ]
    return search(members, LOCATIONS, args)


@RESOLVERS.field("Location", "networks")
def location_networks(source: Record, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    store = request_context(info).store
    found = (store.get(NETWORKS, network_id) for network_id in sorted(source["networks"], key=int))
    return search([record for record in found if record is not None], NETWORKS, args)


@RESOLVERS.field("Location", "primaryAddress")
def primary_address(source: Record, _info: GraphQLResolveInfo) -> Record | None:
    return store_address(source)


@RESOLVERS.field("Location", "retailer")
def location_retailer(source: Record, info: GraphQLResolveInfo) -> Record | None:
    return request_context(info).store.get("retailers", source["retailer"])


@RESOLVERS.field("StoreAddress", "location")
def address_location(source: Record, info: GraphQLResolveInfo) -> Record | None:
    return request_context(info).store.get(LOCATIONS, source["location"])


def store_address(location: Record) -> Record | None:
    """A location's primary address as the ``Address`` interface's concrete type."""
    address: Record | None = location["primaryAddress"]
    return None if address is None else {**address, "__typename": "StoreAddress"}


# -- records and admin changes -------------------------------------------------------------------


def new_network(ref: str, network_type: str, now: datetime) -> dict[str, Any]:
    return {"ref": ref, "type": network_type, "status": "ACTIVE", "attributes": [], "createdOn": now, "updatedOn": now}


def insert_location(store: EntityStore, fields: Mapping[str, Any], retailer_id: str, now: datetime) -> Record:
    """Create a location from an admin body ``{ref, name, type?, status?, supportPhoneNumber?, network?, address?,
    retailer?}`` (``network``: a network ref or a list of them). ``ValueError`` for a bad body or an unknown network or
    retailer; ``FluentError`` (C0121E) for a ref that is taken."""
    unknown = set(fields) - _LOCATION_FIELDS
    ref, name = fields.get("ref"), fields.get("name")
    if unknown or not _text(ref) or not _text(name):
        raise ValueError(
            "expected {ref: string, name: string, type?, status?, supportPhoneNumber?, network?: ref or [ref], "
            f"address?: {{{', '.join(ADDRESS_FIELDS + COORDINATES)}}}, retailer?: id}}"
            + (f"; unknown keys {sorted(unknown)}" if unknown else "")
        )
    refs = fields.get("network", [])
    refs = [refs] if isinstance(refs, str) else refs
    if not isinstance(refs, list) or not all(isinstance(item, str) for item in refs):
        raise ValueError("network must be a network ref or a list of them")
    network_ids = []
    for network_ref in refs:
        found = store.find(NETWORKS, REF, (network_ref,))
        if found is None:
            raise ValueError(f"no network with ref {network_ref!r}")
        network_ids.append(found["id"])
    retailer = str(fields.get("retailer", retailer_id))
    if store.get("retailers", retailer) is None:
        raise ValueError(f"no retailer with id {retailer!r}")
    location_type = fields.get("type", "STORE")
    status = fields.get("status", "ACTIVE")
    phone = fields.get("supportPhoneNumber")
    _check_plain(location_type, status, phone)
    location_id = store.next_id()  # taken first, so a location's id precedes its address's
    address = fields.get("address")
    record = {
        "ref": ref,
        "type": location_type,
        "status": status,
        "workflowRef": f"LOCATION::{location_type}",
        "workflowVersion": WORKFLOW_VERSION,
        "name": name,
        "supportPhoneNumber": phone,
        "defaultCarrier": None,
        "defaultCarrierName": None,
        "attributes": [],
        "retailer": retailer,
        "networks": network_ids,
        "primaryAddress": None if address is None else _new_address(store, address, location_id, now),
        "createdOn": now,
        "updatedOn": now,
    }
    return store.insert(LOCATIONS, record, location_id)


def update_location(store: EntityStore, ref: str, changes: Mapping[str, Any], now: datetime) -> Record | None:
    """Apply an admin body ``{name?, type?, status?, supportPhoneNumber?, address?}`` (an address merges into the
    existing one, or becomes the first) and move ``updatedOn``; None when there is no such location."""
    unknown = set(changes) - _LOCATION_CHANGES
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}; known: {sorted(_LOCATION_CHANGES)}")
    found = store.find(LOCATIONS, REF, (ref,))
    if found is None:
        return None
    name = changes.get("name", found["name"])
    if not _text(name):
        raise ValueError("name must be a non-empty string")
    location_type = changes.get("type", found["type"])
    status = changes.get("status", found["status"])
    phone = changes.get("supportPhoneNumber", found["supportPhoneNumber"])
    _check_plain(location_type, status, phone)
    update: dict[str, Any] = {
        "name": name,
        "type": location_type,
        "workflowRef": f"LOCATION::{location_type}",
        "status": status,
        "supportPhoneNumber": phone,
        "updatedOn": now,
    }
    if "address" in changes:
        address = found["primaryAddress"]
        if address is None:
            update["primaryAddress"] = _new_address(store, changes["address"], found["id"], now)
        else:
            update["primaryAddress"] = {**address, **_address_fields(changes["address"]), "updatedOn": now}
    return store.update(LOCATIONS, found["id"], update)


def location_subject(location: Record) -> Subject:
    return Subject.root("LOCATION", location, location["retailer"])


def _new_address(store: EntityStore, fields: Any, location_id: str, now: datetime) -> Record:
    return {
        "id": store.next_id(),
        **dict.fromkeys(ADDRESS_FIELDS + COORDINATES),
        **_address_fields(fields),
        "location": location_id,
        "createdOn": now,
        "updatedOn": now,
    }


def _address_fields(fields: Any) -> dict[str, Any]:
    if not isinstance(fields, dict) or set(fields) - set(ADDRESS_FIELDS + COORDINATES):
        raise ValueError(f"address must be an object with any of {', '.join(ADDRESS_FIELDS + COORDINATES)}")
    for name, value in fields.items():
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not (value is None or (number if name in COORDINATES else isinstance(value, str))):
            raise ValueError(f"address.{name} must be {'a number' if name in COORDINATES else 'a string'} or null")
    return dict(fields)


def _check_plain(location_type: Any, status: Any, phone: Any) -> None:
    if not _text(location_type) or status not in LOCATION_STATUSES or not (phone is None or isinstance(phone, str)):
        raise ValueError(
            f"type must be a non-empty string, status one of {LOCATION_STATUSES}, supportPhoneNumber a string"
        )


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)
