"""Fulfilments with their items and articles, consignments and carriers: ``fulfilmentById``, ``fulfilments(...)``,
``Order.fulfilments``, ``articleById``, ``articles(...)``, ``consignmentById``, ``consignments(...)`` and the links
between them (``Fulfilment.order``/``items``/``articles``/``fromLocation``/``fromAddress``/``toAddress``,
``FulfilmentItem.orderItem``, ``Article.consignmentArticles``, ``Consignment.consignmentArticles``/``carrier``).

In Fluent, an order's workflow creates fulfilments (sourcing picks a location), a store fills them (articles are
the parcels) and a carrier booking makes consignments. None of that orchestration is emulated: the admin routes
create fulfilments and consignments and move their statuses, as those workflows would, and the project reads them.
No mutation is emulated.

Fulfilments (admin ``POST /_admin/orders/{ref}/fulfilments``):

- Each item names an order item by ``orderItemRef``, or by ``productRef`` (the first of the order's items for that
  product with enough quantity left), and a ``quantity`` (the ``requestedQuantity``); ``filledQuantity`` defaults to
  all of it and the rest is ``rejectedQuantity``. A partial fulfilment is some of the order's items, or less than
  their quantity. An order item cannot be requested beyond its quantity: what other fulfilments requested and did
  not reject counts against it (the emulator's rule, so that the fulfilments of an order add up).
- The filled quantities go into one article (the parcel), unless nothing was filled. Its dimensions are 0 unless
  the body gives ``article {height, length, weight, width, name?, type?}``.
- Defaults: ``ref`` ``<order ref>-F<n>``, status ``CREATED`` (items and article too), ``type`` the order's
  ``fulfilmentChoice.fulfilmentType`` or ``<order type>_PFS`` (``HD_PFS``, ``CC_PFS``), ``deliveryType`` the
  choice's or ``STANDARD``, ``fromLocation`` a click & collect order's pickup location when it is a location, else
  the first active location. ``workflowRef`` is ``FULFILMENT::<type>`` (the schema's ``[EntityName]::[Type]``).
- ``toAddress`` is read from the order: the pickup location's address for a click & collect order whose
  ``pickupLocationRef`` names a location, else the order's delivery address (a ``CustomerAddress``).
- Fulfilment, article and consignment refs are unique across the account (the schema only "recommends" it): the
  admin routes and the event API name them by ref.

Consignments (admin ``POST /_admin/fulfilments/{ref}/consignments``) book all of a fulfilment's articles with a
carrier, created on first use by ``ref`` (a later ``name`` renames it). Defaults: ``ref`` ``<fulfilment ref>-C<n>``,
status ``CREATED``, ``workflowRef`` ``CONSIGNMENT::DEFAULT`` (a consignment has no type: ``DEFAULT`` stands in, and
is the webhook's ``entitySubtype``); the retailer is the order's. Creating a consignment changes neither the
fulfilment nor its articles (their ``updatedOn`` stays).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from graphql import GraphQLResolveInfo

from ctfluent_sandbox.fluent.catalogues import REF, WORKFLOW_VERSION
from ctfluent_sandbox.fluent.connections import search
from ctfluent_sandbox.fluent.engine import ResolverRegistry, request_context
from ctfluent_sandbox.fluent.locations import LOCATIONS, store_address
from ctfluent_sandbox.fluent.orders import ORDERS
from ctfluent_sandbox.fluent.store import EntityStore, Record, TableSpec
from ctfluent_sandbox.fluent.webhooks import Subject

FULFILMENTS = "fulfilments"
FULFILMENT_ITEMS = "fulfilment_items"  # names Fulfilment.items cursors; the items live inside their fulfilment
ARTICLES = "articles"
CARRIERS = "carriers"
CONSIGNMENTS = "consignments"
CONSIGNMENT_ARTICLES = "consignment_articles"
TABLES = (
    TableSpec(FULFILMENTS, "Fulfilment", unique=(REF,), grouped_by=("order",)),
    TableSpec(ARTICLES, "Article", unique=(REF,), grouped_by=("fulfilment",)),
    TableSpec(CARRIERS, "Carrier", unique=(REF,)),
    TableSpec(CONSIGNMENTS, "Consignment", unique=(REF,)),
    TableSpec(
        CONSIGNMENT_ARTICLES,
        "ConsignmentArticle",
        unique=(("article", "consignment"),),
        grouped_by=("article", "consignment"),
    ),
)
RESOLVERS = ResolverRegistry()

START_STATUS = "CREATED"
DEFAULT_TYPE = "DEFAULT"
DIMENSIONS = ("height", "length", "weight", "width")
_FULFILMENT_FIELDS = frozenset({"ref", "items", "fromLocation", "status", "type", "deliveryType", "article"})
_CONSIGNMENT_FIELDS = frozenset({"ref", "carrier", "consignmentReference", "trackingLabel", "labelUrl", "status"})


# -- fulfilments ---------------------------------------------------------------------------------


@RESOLVERS.query("fulfilmentById")
def fulfilment_by_id(_root: None, info: GraphQLResolveInfo, id: str) -> Record | None:
    return request_context(info).store.get(FULFILMENTS, id)


@RESOLVERS.query("fulfilments")
def fulfilments(_root: None, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    return _search_fulfilments(request_context(info).store.records(FULFILMENTS), args)


@RESOLVERS.field("Order", "fulfilments")
def order_fulfilments(source: Record, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    return _search_fulfilments(request_context(info).store.grouped(FULFILMENTS, "order", source["id"]), args)


@RESOLVERS.field("Article", "fulfilments")
def article_fulfilments(source: Record, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    found = request_context(info).store.get(FULFILMENTS, source["fulfilment"])
    return _search_fulfilments([] if found is None else [found], args)


@RESOLVERS.field("Fulfilment", "order")
def fulfilment_order(source: Record, info: GraphQLResolveInfo) -> Record | None:
    return request_context(info).store.get(ORDERS, source["order"])


@RESOLVERS.field("Fulfilment", "fromLocation")
def from_location(source: Record, _info: GraphQLResolveInfo) -> dict[str, Any]:
    return {"ref": source["fromLocation"]}


@RESOLVERS.field("Fulfilment", "fromAddress")
def from_address(source: Record, info: GraphQLResolveInfo) -> Record | None:
    location = request_context(info).store.find(LOCATIONS, REF, (source["fromLocation"],))
    return None if location is None else store_address(location)


@RESOLVERS.field("Fulfilment", "toAddress")
def to_address(source: Record, info: GraphQLResolveInfo) -> Record | None:
    store = request_context(info).store
    if source["toLocation"] is not None:
        location = store.find(LOCATIONS, REF, (source["toLocation"],))
        return None if location is None else store_address(location)
    order = store.get(ORDERS, source["order"])
    choice = None if order is None else order["fulfilmentChoice"]
    address = None if choice is None else choice["deliveryAddress"]
    return None if address is None else {**address, "__typename": "CustomerAddress"}


@RESOLVERS.field("Fulfilment", "items")
def fulfilment_items(source: Record, _info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    return search(source["items"], FULFILMENT_ITEMS, args)


@RESOLVERS.field("Fulfilment", "articles")
def fulfilment_articles(source: Record, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    return search(request_context(info).store.grouped(ARTICLES, "fulfilment", source["id"]), ARTICLES, args)


@RESOLVERS.field("FulfilmentItem", "orderItem")
def fulfilment_order_item(source: Record, info: GraphQLResolveInfo) -> Record | None:
    order = request_context(info).store.get(ORDERS, source["order"])
    items = [] if order is None else order["items"]
    return next((item for item in items if item["id"] == source["orderItem"]), None)


@RESOLVERS.field("FulfilmentItem", "fulfilment")
def item_fulfilment(source: Record, info: GraphQLResolveInfo) -> Record | None:
    return request_context(info).store.get(FULFILMENTS, source["fulfilment"])


def _search_fulfilments(records: list[Record], args: dict[str, Any]) -> dict[str, Any]:
    """``fromLocation: {ref}`` names one location by key rather than listing values."""
    link = args.pop("fromLocation", None)
    if link is not None:
        records = [record for record in records if record["fromLocation"] == link["ref"]]
    return search(records, FULFILMENTS, args)


# -- articles and consignments -------------------------------------------------------------------


@RESOLVERS.query("articleById")
def article_by_id(_root: None, info: GraphQLResolveInfo, id: str) -> Record | None:
    return request_context(info).store.get(ARTICLES, id)


@RESOLVERS.query("articles")
def articles(_root: None, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    return search(request_context(info).store.records(ARTICLES), ARTICLES, args)


@RESOLVERS.field("Article", "consignmentArticles")
def article_consignments(source: Record, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    links = request_context(info).store.grouped(CONSIGNMENT_ARTICLES, "article", source["id"])
    return search(links, CONSIGNMENT_ARTICLES, args)


@RESOLVERS.query("consignmentById")
def consignment_by_id(_root: None, info: GraphQLResolveInfo, id: str) -> Record | None:
    return request_context(info).store.get(CONSIGNMENTS, id)


@RESOLVERS.query("consignments")
def consignments(_root: None, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    return search(request_context(info).store.records(CONSIGNMENTS), CONSIGNMENTS, args)


@RESOLVERS.field("Consignment", "consignmentArticles")
def consignment_articles(source: Record, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    links = request_context(info).store.grouped(CONSIGNMENT_ARTICLES, "consignment", source["id"])
    return search(links, CONSIGNMENT_ARTICLES, args)


@RESOLVERS.field("Consignment", "carrier")
def consignment_carrier(source: Record, info: GraphQLResolveInfo) -> Record | None:
    return request_context(info).store.get(CARRIERS, source["carrier"])


@RESOLVERS.field("Consignment", "retailer")
@RESOLVERS.field("Carrier", "retailer")
def consignment_retailer(source: Record, info: GraphQLResolveInfo) -> Record | None:
    return request_context(info).store.get("retailers", source["retailer"])


@RESOLVERS.field("ConsignmentArticle", "article")
def link_article(source: Record, info: GraphQLResolveInfo) -> Record | None:
    return request_context(info).store.get(ARTICLES, source["article"])


@RESOLVERS.field("ConsignmentArticle", "consignment")
def link_consignment(source: Record, info: GraphQLResolveInfo) -> Record | None:
    return request_context(info).store.get(CONSIGNMENTS, source["consignment"])


# -- admin changes -------------------------------------------------------------------------------


def create_fulfilment(store: EntityStore, order_ref: str, body: Mapping[str, Any], now: datetime) -> Record | None:
    """A fulfilment of ``order_ref`` from an admin body (see the module docstring) with its article; None when there
    is no such order. ``ValueError`` for a bad body; ``FluentError`` (C0121E) for a ref that is taken."""
    order = store.find(ORDERS, REF, (order_ref,))
    if order is None:
        return None
    unknown = set(body) - _FULFILMENT_FIELDS
    items = body.get("items")
    if unknown or not isinstance(items, list) or not items:
        raise ValueError(
            "expected {ref?, items: [{orderItemRef or productRef, quantity, filledQuantity?}], fromLocation?, "
            "status?, type?, deliveryType?, article?: {height, length, weight, width, name?, type?}}"
            + (f"; unknown keys {sorted(unknown)}" if unknown else "")
        )
    for name in ("ref", "fromLocation", "status", "type", "deliveryType"):
        if name in body and not _text(body[name]):
            raise ValueError(f"{name} must be a non-empty string")
    choice = order["fulfilmentChoice"] or {}
    pickup = choice.get("pickupLocationRef")
    pickup_location = pickup if pickup and store.find(LOCATIONS, REF, (pickup,)) else None
    location = body.get("fromLocation") or pickup_location or _first_active_location(store)
    if location is None or store.find(LOCATIONS, REF, (location,)) is None:
        raise ValueError(
            f"no location {location!r} to fulfil from" if location else "no active location to fulfil from"
        )
    fulfilment_type = body.get("type") or choice.get("fulfilmentType") or f"{order['type']}_PFS"
    status = body.get("status", START_STATUS)
    fulfilment_id = store.next_id()  # taken first, so a fulfilment's id precedes those of its items
    records = _items(store, order, items, fulfilment_id, now)
    record = {
        "ref": body.get("ref") or _free_ref(store, FULFILMENTS, f"{order['ref']}-F"),
        "type": fulfilment_type,
        "status": status,
        "workflowRef": f"FULFILMENT::{fulfilment_type}",
        "workflowVersion": WORKFLOW_VERSION,
        "deliveryType": body.get("deliveryType") or choice.get("deliveryType") or "STANDARD",
        "eta": None,
        "expiryTime": None,
        "attributes": [],
        "order": order["id"],
        "fromLocation": location,
        "toLocation": pickup_location if order["type"] == "CC" else None,
        "items": records,
        "createdOn": now,
        "updatedOn": now,
    }
    created = store.insert(FULFILMENTS, record, fulfilment_id)
    filled = sum(item["filledQuantity"] for item in records)
    if filled:
        store.insert(ARTICLES, _article(created, body.get("article") or {}, filled, now))
    return created


def create_consignment(
    store: EntityStore, fulfilment_ref: str, body: Mapping[str, Any], now: datetime
) -> Record | None:
    """A consignment of all the articles of ``fulfilment_ref`` from an admin body (see the module docstring); None
    when there is no such fulfilment. ``ValueError`` for a bad body or a fulfilment without articles."""
    fulfilment = store.find(FULFILMENTS, REF, (fulfilment_ref,))
    if fulfilment is None:
        return None
    carrier = body.get("carrier")
    reference = body.get("consignmentReference")
    if (
        set(body) - _CONSIGNMENT_FIELDS
        or not isinstance(carrier, dict)
        or set(carrier) - {"ref", "name"}
        or not _text(carrier.get("ref"))
        or not (carrier.get("name") is None or _text(carrier["name"]))
        or not _text(reference)
        or not all(
            body.get(name) is None or _text(body[name]) for name in ("ref", "trackingLabel", "labelUrl", "status")
        )
    ):
        raise ValueError(
            "expected {ref?, carrier: {ref, name?}, consignmentReference: string (the tracking id), trackingLabel?, "
            "labelUrl?, status?}"
        )
    parcels = store.grouped(ARTICLES, "fulfilment", fulfilment["id"])
    if not parcels:
        raise ValueError(f"fulfilment {fulfilment_ref!r} has no articles (nothing was filled)")
    order = store.require(ORDERS, fulfilment["order"])
    record = {
        "ref": body.get("ref") or _free_ref(store, CONSIGNMENTS, f"{fulfilment_ref}-C"),
        "type": DEFAULT_TYPE,
        "status": body.get("status") or START_STATUS,
        "consignmentReference": reference,
        "trackingLabel": body.get("trackingLabel"),
        "labelUrl": body.get("labelUrl"),
        "orderSummaryUrl": None,
        "carrier": _carrier(store, carrier, order["retailer"], now)["id"],
        "retailer": order["retailer"],
        "workflowRef": f"CONSIGNMENT::{DEFAULT_TYPE}",
        "workflowVersion": WORKFLOW_VERSION,
        "createdOn": now,
        "updatedOn": now,
    }
    created = store.insert(CONSIGNMENTS, record)
    for parcel in parcels:
        store.insert(CONSIGNMENT_ARTICLES, {"article": parcel["id"], "consignment": created["id"]})
    return created


def set_status(store: EntityStore, table: str, ref: str, status: str, now: datetime) -> Record | None:
    """Move a fulfilment's or consignment's status and ``updatedOn`` (any status, the same one too); None when there
    is no such entity."""
    found = store.find(table, REF, (ref,))
    return None if found is None else store.update(table, found["id"], {"status": status, "updatedOn": now})


def fulfilment_subject(store: EntityStore, fulfilment: Record) -> Subject:
    order = store.require(ORDERS, fulfilment["order"])
    return Subject(
        "FULFILMENT",
        fulfilment["type"],
        fulfilment["id"],
        fulfilment["ref"],
        fulfilment["status"],
        str(order["retailer"]),
        "ORDER",
        order["id"],
        order["ref"],
    )


def consignment_subject(consignment: Record) -> Subject:
    return Subject.root("CONSIGNMENT", consignment, str(consignment["retailer"]))


def _items(store: EntityStore, order: Record, wanted: list[Any], fulfilment_id: str, now: datetime) -> list[Record]:
    """The fulfilment items ``wanted`` names, within what the order's items have left."""
    left = {item["id"]: item["quantity"] for item in order["items"]}
    for other in store.grouped(FULFILMENTS, "order", order["id"]):
        for item in other["items"]:
            left[item["orderItem"]] -= item["requestedQuantity"] - item["rejectedQuantity"]
    records = []
    for entry in wanted:
        if not isinstance(entry, dict) or set(entry) - {"orderItemRef", "productRef", "quantity", "filledQuantity"}:
            raise ValueError("an item is {orderItemRef or productRef, quantity, filledQuantity?}")
        quantity: Any = entry.get("quantity")
        filled: Any = entry.get("filledQuantity", quantity)
        if not (_count(quantity) and quantity > 0 and _count(filled) and filled <= quantity):
            raise ValueError("an item's quantity must be an integer > 0, its filledQuantity 0 to quantity")
        order_item = _order_item(order, entry, quantity, left)
        left[order_item["id"]] -= quantity
        records.append(
            {
                "id": store.next_id(),
                "ref": order_item["ref"],
                "status": START_STATUS,
                "requestedQuantity": quantity,
                "filledQuantity": filled,
                "rejectedQuantity": quantity - filled,
                "orderItem": order_item["id"],
                "order": order["id"],
                "fulfilment": fulfilment_id,
                "createdOn": now,
                "updatedOn": now,
            }
        )
    return records


def _order_item(order: Record, entry: Mapping[str, Any], quantity: int, left: Mapping[str, int]) -> Record:
    by_ref, by_product = entry.get("orderItemRef"), entry.get("productRef")
    if (by_ref is None) == (by_product is None):
        raise ValueError("an item names its order item by orderItemRef or by productRef (one of them)")
    if by_ref is not None:
        candidates = [item for item in order["items"] if item["ref"] == by_ref]
        named = f"order item {by_ref!r}"
    else:
        candidates = [item for item in order["items"] if item["productRef"] == by_product]
        named = f"an order item for product {by_product!r}"
    if not candidates:
        raise ValueError(f"order {order['ref']!r} has no {named}")
    for item in candidates:
        if left[item["id"]] >= quantity:
            return item
    remaining = max(left[item["id"]] for item in candidates)
    raise ValueError(f"{named} has {remaining} left to fulfil, not {quantity}")


def _article(fulfilment: Record, fields: Any, quantity: int, now: datetime) -> dict[str, Any]:
    if (
        not isinstance(fields, dict)
        or set(fields) - {*DIMENSIONS, "name", "type"}
        or not all(_number(fields.get(name, 0.0)) for name in DIMENSIONS)
        or not all(fields.get(name) is None or _text(fields[name]) for name in ("name", "type"))
    ):
        raise ValueError("article must be {height?, length?, weight?, width?: numbers, name?, type?}")
    article_type = fields.get("type") or DEFAULT_TYPE
    return {
        "ref": f"{fulfilment['ref']}-A1",
        "type": article_type,
        "status": START_STATUS,
        "workflowRef": f"ARTICLE::{article_type}",
        "workflowVersion": WORKFLOW_VERSION,
        "name": fields.get("name") or f"Parcel of {fulfilment['ref']}",
        "description": None,
        "quantity": quantity,
        **{name: float(fields.get(name, 0.0)) for name in DIMENSIONS},
        "attributes": [],
        "fulfilment": fulfilment["id"],
        "createdOn": now,
        "updatedOn": now,
    }


def _carrier(store: EntityStore, fields: Mapping[str, Any], retailer_id: str, now: datetime) -> Record:
    """The carrier ``fields`` names by ref, created on first use; a different ``name`` renames it."""
    found = store.find(CARRIERS, REF, (fields["ref"],))
    name = fields.get("name")
    if found is None:
        return store.insert(
            CARRIERS,
            {
                "ref": fields["ref"],
                "name": name or fields["ref"],
                "type": DEFAULT_TYPE,
                "status": "ACTIVE",
                "workflowRef": f"CARRIER::{DEFAULT_TYPE}",
                "workflowVersion": WORKFLOW_VERSION,
                "attributes": [],
                "retailer": retailer_id,
                "createdOn": now,
                "updatedOn": now,
            },
        )
    if name is not None and name != found["name"]:
        return store.update(CARRIERS, found["id"], {"name": name, "updatedOn": now})
    return found


def _first_active_location(store: EntityStore) -> str | None:
    return next((record["ref"] for record in store.records(LOCATIONS) if record["status"] == "ACTIVE"), None)


def _free_ref(store: EntityStore, table: str, prefix: str) -> str:
    n = 1
    while store.find(table, REF, (f"{prefix}{n}",)) is not None:
        n += 1
    return f"{prefix}{n}"


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
