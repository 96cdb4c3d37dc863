"""Virtual catalogues and their positions: ``virtualCatalogue(ref)``, ``virtualCatalogues(...)``,
``VirtualCatalogue.virtualPositions``, ``virtualPosition(ref, catalogue)``, ``virtualPositions(...)`` and
``VirtualPosition.catalogue``.

In Fluent, inventory updates flow through workflows into virtual positions (what a catalogue offers per product and
location); here the emulator seeds positions (:mod:`ctfluent_sandbox.seed_inventory`) and the admin routes set or
delete them, standing in for those workflows. No mutation, inventory position or quantity is emulated.

- A virtual catalogue's ``ref`` is unique; its ``workflowRef`` is ``VIRTUAL_CATALOGUE::<type>`` and its positions
  share it (a position's workflow is its catalogue's).
- A position is keyed by ``(catalogue, ref)``: the same ref in another catalogue is another position. The admin
  upsert names a position by ``productRef`` and ``groupRef`` (a location ref) and gives it the ref
  ``<productRef>:<groupRef>``; its ``type`` is ``DEFAULT``. A seeded or upserted position is ``ACTIVE`` unless a
  status is given (Fluent's start status ``CREATED`` is what a workflow then moves on).
- Each upsert moves ``updatedOn``, even when the quantity stays: a workflow that recomputed a position writes it.
- ``virtualPositions(catalogue: {ref})`` lists one catalogue's positions; without ``catalogue`` it lists every
  catalogue's. Positions are stored in one table in id order, so a ``first``/``after`` walk pages lazily (see
  :mod:`.connections`).
- Deleting a position (an admin control) has no Fluent counterpart through the API: it stands for a position that
  leaves the catalogue. Its webhook carries ``entityStatus`` ``DELETED``, the emulator's choice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from graphql import GraphQLResolveInfo

from ctfluent_sandbox.fluent.catalogues import CATALOGUE_REF, REF, WORKFLOW_VERSION
from ctfluent_sandbox.fluent.connections import search
from ctfluent_sandbox.fluent.engine import ResolverRegistry, request_context
from ctfluent_sandbox.fluent.locations import LOCATIONS
from ctfluent_sandbox.fluent.store import EntityStore, Record, TableSpec
from ctfluent_sandbox.fluent.webhooks import Subject

VIRTUAL_CATALOGUES = "virtual_catalogues"
POSITIONS = "virtual_positions"
TABLES = (
    TableSpec(VIRTUAL_CATALOGUES, "VirtualCatalogue", unique=(REF,)),
    TableSpec(POSITIONS, "VirtualPosition", unique=(CATALOGUE_REF,)),
)
RESOLVERS = ResolverRegistry()

POSITION_TYPE = "DEFAULT"
POSITION_STATUS = "ACTIVE"
DELETED_STATUS = "DELETED"


# -- queries -------------------------------------------------------------------------------------


@RESOLVERS.query("virtualCatalogue")
def virtual_catalogue(_root: None, info: GraphQLResolveInfo, ref: str) -> Record | None:
    return request_context(info).store.find(VIRTUAL_CATALOGUES, REF, (ref,))


@RESOLVERS.query("virtualCatalogues")
def virtual_catalogues(_root: None, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    return search(request_context(info).store.records(VIRTUAL_CATALOGUES), VIRTUAL_CATALOGUES, args)


@RESOLVERS.query("virtualPosition")
def virtual_position(_root: None, info: GraphQLResolveInfo, ref: str, catalogue: dict[str, Any]) -> Record | None:
    return request_context(info).store.find(POSITIONS, CATALOGUE_REF, (catalogue["ref"], ref))


@RESOLVERS.query("virtualPositions")
def virtual_positions(_root: None, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    return _search_positions(request_context(info).store, args)


@RESOLVERS.field("VirtualCatalogue", "virtualPositions")
def catalogue_positions(source: Record, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    # The nested connection takes a catalogue argument too: given another catalogue's ref, it lists nothing.
    wanted = args.pop("catalogue", None)
    if wanted is not None and wanted["ref"] != source["ref"]:
        return search([], POSITIONS, args)
    return search(request_context(info).store.records(POSITIONS), POSITIONS, {**args, "catalogue": [source["ref"]]})


@RESOLVERS.field("VirtualPosition", "catalogue")
def position_catalogue(source: Record, info: GraphQLResolveInfo) -> Record | None:
    return request_context(info).store.find(VIRTUAL_CATALOGUES, REF, (source["catalogue"],))


def _search_positions(store: EntityStore, args: dict[str, Any]) -> dict[str, Any]:
    """The catalogue key becomes a plain filter on the record's catalogue ref, so paging stays lazy."""
    catalogue = args.pop("catalogue", None)
    if catalogue is not None:
        args["catalogue"] = [catalogue["ref"]]
    return search(store.records(POSITIONS), POSITIONS, args)


# -- records and admin changes -------------------------------------------------------------------


def new_virtual_catalogue(
    ref: str,
    catalogue_type: str,
    name: str,
    *,
    product_catalogue: str | None,
    network_ids: list[str],
    retailer_refs: list[str],
    now: datetime,
) -> dict[str, Any]:
    """An active virtual catalogue, as an account's configuration has it."""
    return {
        "ref": ref,
        "type": catalogue_type,
        "status": "ACTIVE",
        "workflowRef": f"VIRTUAL_CATALOGUE::{catalogue_type}",
        "workflowVersion": WORKFLOW_VERSION,
        "name": name,
        "description": None,
        "attributes": [],
        "inventoryCatalogueRef": None,
        "productCatalogueRef": product_catalogue,
        "networkIds": network_ids,
        "controlGroupRef": None,
        "retailerRefs": retailer_refs,
        "createdOn": now,
        "updatedOn": now,
    }


def position_ref(product_ref: str, group_ref: str) -> str:
    return f"{product_ref}:{group_ref}"


def new_position(
    catalogue: Record, product_ref: str, group_ref: str, quantity: int, status: str, now: datetime
) -> dict[str, Any]:
    return {
        "ref": position_ref(product_ref, group_ref),
        "catalogue": catalogue["ref"],
        "type": POSITION_TYPE,
        "status": status,
        "workflowRef": catalogue["workflowRef"],
        "workflowVersion": catalogue["workflowVersion"],
        "productRef": product_ref,
        "quantity": quantity,
        "groupRef": group_ref,
        "attributes": [],
        "createdOn": now,
        "updatedOn": now,
    }


def insert_positions(store: EntityStore, catalogue: Record, rows: Iterable[tuple[str, str, int]], now: datetime) -> int:
    """Seed ``(productRef, groupRef, quantity)`` rows as new active positions of ``catalogue``; how many."""
    count = 0
    for product_ref, group_ref, quantity in rows:
        store.insert(POSITIONS, new_position(catalogue, product_ref, group_ref, quantity, POSITION_STATUS, now))
        count += 1
    return count


def upsert_position(store: EntityStore, body: Mapping[str, Any], now: datetime) -> tuple[Record, bool]:
    """Create or change the position an admin body ``{catalogue, productRef, groupRef, quantity, status?}`` names;
    the position and whether it is new. ``ValueError`` for a bad body, an unknown catalogue or location."""
    catalogue_ref, product_ref, group_ref = body.get("catalogue"), body.get("productRef"), body.get("groupRef")
    quantity, status = body.get("quantity"), body.get("status")
    if (
        set(body) - {"catalogue", "productRef", "groupRef", "quantity", "status"}
        or not all(isinstance(value, str) and value for value in (catalogue_ref, product_ref, group_ref))
        or not (isinstance(quantity, int) and not isinstance(quantity, bool))
        or not (status is None or (isinstance(status, str) and status))
    ):
        raise ValueError(
            "expected {catalogue: ref, productRef: string, groupRef: location ref, quantity: int, status?}"
        )
    assert isinstance(catalogue_ref, str) and isinstance(product_ref, str) and isinstance(group_ref, str)
    catalogue = store.find(VIRTUAL_CATALOGUES, REF, (catalogue_ref,))
    if catalogue is None:
        raise ValueError(f"no virtual catalogue with ref {catalogue_ref!r}")
    if store.find(LOCATIONS, REF, (group_ref,)) is None:
        raise ValueError(f"groupRef {group_ref!r} is no location ref")
    existing = store.find(POSITIONS, CATALOGUE_REF, (catalogue_ref, position_ref(product_ref, group_ref)))
    if existing is None:
        record = new_position(catalogue, product_ref, group_ref, quantity, status or POSITION_STATUS, now)
        return store.insert(POSITIONS, record), True
    changes = {"quantity": quantity, "status": status or existing["status"], "updatedOn": now}
    return store.update(POSITIONS, existing["id"], changes), False


def delete_position(store: EntityStore, catalogue_ref: str, ref: str) -> Record | None:
    """Remove a position; the removed record, None when there is none."""
    found = store.find(POSITIONS, CATALOGUE_REF, (catalogue_ref, ref))
    return None if found is None else store.delete(POSITIONS, found["id"])


def position_subject(store: EntityStore, position: Record, status: str | None = None) -> Subject:
    """A position's event subject: its root is its virtual catalogue, its retailer the catalogue's first."""
    catalogue = store.find_required(VIRTUAL_CATALOGUES, REF, (position["catalogue"],))
    retailer = catalogue["retailerRefs"][0] if catalogue["retailerRefs"] else None
    return Subject(
        "VIRTUAL_POSITION",
        position["type"],
        position["id"],
        position["ref"],
        position["status"] if status is None else status,
        retailer,
        "VIRTUAL_CATALOGUE",
        catalogue["id"],
        catalogue["ref"],
    )
