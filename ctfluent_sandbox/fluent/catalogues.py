"""Product catalogues, and what every catalogue entity (category, standard product, variant product) shares.

Catalogues are account configuration, not data the sync writes: the emulator seeds them (and
``POST /_admin/product-catalogues`` adds one) and serves ``productCatalogue(ref)``; ``createProductCatalogue`` is
left out of the schema subset. A seeded catalogue is ``ACTIVE``, as a catalogue an account already uses would be.

Catalogue entities are keyed by ``(catalogue, ref)``. A record holds its catalogue as the catalogue's ref, and its
links to other entities (parent category, categories, variants, base product) as their refs as well: refs never
change, and a link never leaves its catalogue, so a ref is as good as an id and keeps the admin state readable.

Rules the entities share, with the codes chosen:

- the catalogue an input names must exist, else C0120E (the emulator's code for every missing reference, as for
  a missing retailer);
- a key to another entity (``CategoryKey``, ``ProductKey``, ``VariantProductKey``) must name one in the same
  catalogue ("must be a part of the same ProductCatalogue"), else C0160E (custom validation); the entity must
  exist, else C0120E;
- a new entity starts ``CREATED``, with ``workflowRef`` ``PRODUCT_CATALOGUE::<catalogue type>`` and
  ``workflowVersion`` 1 (the schema's "<major>.<minor>" cannot be an ``Int``; no workflow runs here anyway);
- an update needs the entity to exist (C0120E), leaves fields given as null unchanged, upserts attributes by name
  and moves ``updatedOn``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from graphql import GraphQLResolveInfo

from ctfluent_sandbox.fluent.connections import search
from ctfluent_sandbox.fluent.engine import ResolverRegistry, request_context
from ctfluent_sandbox.fluent.errors import CUSTOM_VALIDATION, FluentError
from ctfluent_sandbox.fluent.store import EntityStore, Record, TableSpec, UniqueKey, upsert_by

CATALOGUES = "product_catalogues"
REF: UniqueKey = ("ref",)
CATALOGUE_REF: UniqueKey = ("catalogue", "ref")  # the unique key of every catalogue entity
ATTRIBUTE_KEY: UniqueKey = ("name",)
WORKFLOW_VERSION = 1
TABLES = (TableSpec(CATALOGUES, "ProductCatalogue", unique=(REF,)),)
RESOLVERS = ResolverRegistry()

_CATALOGUE_FIELDS = frozenset({"ref", "type", "name", "description", "retailerRefs"})


def new_product_catalogue(fields: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A catalogue record without id from seed or admin fields ``{ref, type?, name?, description?, retailerRefs?}``
    (type defaults to ``MASTER``, name to the ref); raises ValueError for anything else."""
    ref = fields.get("ref")
    catalogue_type = fields.get("type", "MASTER")
    name = fields.get("name", ref)
    description = fields.get("description")
    retailer_refs = fields.get("retailerRefs", [])
    if (
        not set(fields) <= _CATALOGUE_FIELDS
        or not all(isinstance(value, str) and value for value in (ref, catalogue_type, name))
        or not isinstance(description, str | None)
        or not (isinstance(retailer_refs, list) and all(isinstance(item, str) for item in retailer_refs))
    ):
        raise ValueError(
            "expected {ref: string, type?: string, name?: string, description?: string, retailerRefs?: [string]}"
        )
    return {
        "ref": ref,
        "type": catalogue_type,
        "status": "ACTIVE",
        "workflowRef": f"PRODUCT_CATALOGUE::{catalogue_type}",
        "workflowVersion": WORKFLOW_VERSION,
        "name": name,
        "description": description,
        "retailerRefs": list(retailer_refs),
        "attributes": [],
        "createdOn": now,
        "updatedOn": now,
    }


@RESOLVERS.query("productCatalogue")
def product_catalogue(_root: None, info: GraphQLResolveInfo, ref: str) -> Record | None:
    return request_context(info).store.find(CATALOGUES, REF, (ref,))


@RESOLVERS.field("Category", "catalogue")
@RESOLVERS.field("StandardProduct", "catalogue")
@RESOLVERS.field("VariantProduct", "catalogue")
def entity_catalogue(source: Record, info: GraphQLResolveInfo) -> Record:
    return request_context(info).store.find_required(CATALOGUES, REF, (source["catalogue"],))


def new_entity(store: EntityStore, input: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The fields every catalogue entity starts with, from its create input (the catalogue must exist)."""
    catalogue = store.find_required(CATALOGUES, REF, (input["catalogue"]["ref"],))
    return {
        "ref": input["ref"],
        "catalogue": catalogue["ref"],
        "type": input["type"],
        "status": "CREATED",
        "workflowRef": f"PRODUCT_CATALOGUE::{catalogue['type']}",
        "workflowVersion": WORKFLOW_VERSION,
        "name": input["name"],
        "summary": input.get("summary"),
        "attributes": upsert_by([], input.get("attributes") or (), ATTRIBUTE_KEY),
        "createdOn": now,
        "updatedOn": now,
    }


def entity_changes(existing: Record, input: Mapping[str, Any], now: datetime, fields: Iterable[str]) -> dict[str, Any]:
    """An update's changes to the plain ``fields`` given non-null, upserted attributes and ``updatedOn``."""
    changes = {name: input[name] for name in fields if input.get(name) is not None}
    changes["attributes"] = upsert_by(existing["attributes"], input.get("attributes") or (), ATTRIBUTE_KEY)
    changes["updatedOn"] = now
    return changes


def require_entity(store: EntityStore, table: str, key: Mapping[str, Any]) -> Record:
    """The entity a key or update input names by ``{ref, catalogue {ref}}`` (C0120E when there is none)."""
    return store.find_required(table, CATALOGUE_REF, (key["catalogue"]["ref"], key["ref"]))


def require_linked(
    store: EntityStore, table: str, keys: Iterable[Mapping[str, Any] | None] | None, catalogue: str
) -> list[Record]:
    """The entities ``keys`` name for a link from an entity of ``catalogue``, each once, in the order given.

    Null keys are skipped (list items are nullable in the schema). A key into another catalogue is C0160E, a key
    to a missing entity C0120E.
    """
    linked: dict[str, Record] = {}
    for key in keys or ():
        if key is None:
            continue
        if key["catalogue"]["ref"] != catalogue:
            raise FluentError(
                CUSTOM_VALIDATION,
                f"'{key['ref']}' of catalogue '{key['catalogue']['ref']}' cannot be linked from catalogue "
                f"'{catalogue}': linked entities must be part of the same catalogue",
            )
        record = require_entity(store, table, key)
        linked[record["id"]] = record
    return list(linked.values())


def add_refs(existing: Iterable[str], added: Iterable[Record]) -> list[str]:
    """A link list after adding ``added``: Fluent's update inputs only ever add links."""
    return list(dict.fromkeys([*existing, *(record["ref"] for record in added)]))


def in_catalogue(store: EntityStore, table: str, catalogue: str) -> list[Record]:
    """A table's entities of one catalogue, in id order (as connections need them)."""
    return [record for record in store.records(table) if record["catalogue"] == catalogue]


def search_entities(records: Iterable[Record], kind: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`~ctfluent_sandbox.fluent.connections.search` with the ``catalogue: ProductCatalogueKey`` filter that
    every catalogue search has: it names one catalogue by key rather than listing values."""
    catalogue = args.get("catalogue")
    if catalogue is not None:
        records = [record for record in records if record["catalogue"] == catalogue["ref"]]
    return search(records, kind, {name: value for name, value in args.items() if name != "catalogue"})
