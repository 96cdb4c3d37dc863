"""Orders and their financial transactions.

``createOrder``, ``createOrderAndCustomer``, ``order(id, ref)``, ``orderById``, ``orders(...)``,
``createFinancialTransaction``, ``financialTransactions(...)`` and ``Order.financialTransactions``; and
:func:`set_status`, the admin control that stands in for the workflows that move an order on in Fluent.

Orders (fact sheet §4.2):

- ``ref`` is unique across the account ("Must be unique"): a duplicate is C0121E.
- ``retailer {id}`` and ``customer {id}`` (the customer's id, not its username) must exist, else C0120E. The
  customer need not be the order retailer's: Fluent documents no such rule, and usernames are account-wide.
- ``createOrderAndCustomer`` creates the customer as ``createCustomer`` does (an existing username is C0121E) and
  then the order, in one request: a failure of either leaves neither.
- Each item's ``productRef`` must be a variant or a standard product of ``productCatalogueRef``, or without one of
  the retailer's compatibility catalogue ``COMPATIBILITY:<retailer id>`` (the schema's default), which the emulator
  does not seed. A missing catalogue or product is C0120E. Item refs are "recommended to be unique": not checked.
- Nothing checks ``type`` (HD, CC and SFS are "currently supported", but "no values are enforced by the platform")
  or the ``pickupLocationRef`` a click & collect order needs (its workflow needs it, not the API, and the emulator
  has no locations). Likewise an item's ``taxType`` (GST, VAT and EXCLTAX are "supported values") and the
  fulfilment choice's ``fulfilmentType`` (CC_PFS, CC_PFDC, HD_PFS, HD_PFDC are the "supported types") are stored
  as sent; ``deliveryInstruction`` over its 250 characters is refused like any string over its limit. Item and
  order attributes (JSON values included) are stored as sent, by name. Money is stored as the Floats it arrives as.
- A new order is ``CREATED`` with ``workflowRef`` ``ORDER::<type>`` and ``workflowVersion`` 1; a new item is
  ``CREATED`` too (the first of the item statuses the schema lists).
- Items, the fulfilment choice and its delivery address live inside the order record, with ids from the store's
  sequence: they are created with the order and nothing here changes them on their own. The record links its
  retailer and customer by id, and each item its product by ``productRef`` + ``productCatalogueRef`` (the
  catalogue filled in when defaulted). ``OrderItem.product`` and ``FulfilmentChoice.deliveryAddress`` are
  interface-typed: their resolvers name the concrete type.
- ``order(id, ref)`` with both finds an order only when both match; with neither it is C0140E (nothing to look
  up by). An unknown order is ``null``. ``orders(customerLink: {ref})`` filters by the customer's ref (username).

Financial transactions (§4.3):

- ``order {id}`` must exist (C0120E). ``amount`` is stored as ``total``, ``paymentProvider`` as
  ``paymentProviderName``. The order itself is not changed (its ``updatedOn`` stays).
- ``ref`` ("the unique transaction reference") is unique per order, C0121E for a second one on the same order; the
  same ref on another order is accepted. The documented check for an existing transaction,
  ``Order.financialTransactions(ref: [...])``, sees one order, so that is the scope a client can rely on.
- A new transaction is ``CREATED`` with ``workflowRef`` ``FINANCIAL_TRANSACTION::<type>`` (the schema's
  ``[EntityName]::[Type]``) and ``workflowVersion`` 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from graphql import GraphQLResolveInfo

from ctfluent_sandbox.fluent import products
from ctfluent_sandbox.fluent.catalogues import ATTRIBUTE_KEY, CATALOGUE_REF, CATALOGUES, REF, WORKFLOW_VERSION
from ctfluent_sandbox.fluent.connections import search
from ctfluent_sandbox.fluent.customers import CUSTOMERS, USERNAME, insert_customer
from ctfluent_sandbox.fluent.engine import RequestContext, ResolverRegistry, request_context
from ctfluent_sandbox.fluent.errors import MISSING_VARIABLES, NOT_FOUND, FluentError
from ctfluent_sandbox.fluent.store import EntityStore, Record, TableSpec, UniqueKey, upsert_by

ORDERS = "orders"
TRANSACTIONS = "financial_transactions"
ORDER_ITEMS = "order_items"  # names Order.items cursors; the items live inside their order
ORDER_REF: UniqueKey = ("order", "ref")
TABLES = (
    TableSpec(ORDERS, "Order", unique=(REF,)),
    TableSpec(TRANSACTIONS, "FinancialTransaction", unique=(ORDER_REF,), grouped_by=("order",)),
)
RESOLVERS = ResolverRegistry()

START_STATUS = "CREATED"


# -- orders --------------------------------------------------------------------------------------


@RESOLVERS.query("orderById")
def order_by_id(_root: None, info: GraphQLResolveInfo, id: str) -> Record | None:
    return request_context(info).store.get(ORDERS, id)


@RESOLVERS.query("order")
def order(_root: None, info: GraphQLResolveInfo, id: str | None = None, ref: str | None = None) -> Record | None:
    store = request_context(info).store
    if id is None and ref is None:
        raise FluentError(MISSING_VARIABLES, "'order' needs an 'id' or a 'ref'")
    found = store.find(ORDERS, REF, (ref,)) if id is None else store.get(ORDERS, id)
    return found if found is not None and ref in (None, found["ref"]) else None


@RESOLVERS.query("orders")
def orders(_root: None, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    store = request_context(info).store
    records = store.records(ORDERS)
    link = args.pop("customerLink", None)
    if link is not None:
        customer = store.find(CUSTOMERS, USERNAME, (link["ref"],))
        records = [record for record in records if customer is not None and record["customer"] == customer["id"]]
    return search(records, ORDERS, args)


@RESOLVERS.mutation("createOrder")
def create_order(_root: None, info: GraphQLResolveInfo, input: dict[str, Any]) -> Record:
    context = request_context(info)
    customer = context.store.require(CUSTOMERS, input["customer"]["id"])
    return _insert_order(context, input, customer)


@RESOLVERS.mutation("createOrderAndCustomer")
def create_order_and_customer(_root: None, info: GraphQLResolveInfo, input: dict[str, Any]) -> Record:
    context = request_context(info)
    return _insert_order(context, input, insert_customer(context, input["customer"]))


@RESOLVERS.field("Order", "retailer")
def order_retailer(source: Record, info: GraphQLResolveInfo) -> Record | None:
    return request_context(info).store.get("retailers", source["retailer"])


@RESOLVERS.field("Order", "customer")
def order_customer(source: Record, info: GraphQLResolveInfo) -> Record | None:
    return request_context(info).store.get(CUSTOMERS, source["customer"])


@RESOLVERS.field("Order", "items")
def order_items(source: Record, _info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    return search(source["items"], ORDER_ITEMS, args)


@RESOLVERS.field("OrderItem", "product")
def order_item_product(source: Record, info: GraphQLResolveInfo) -> Record:
    return _product(request_context(info).store, source["productCatalogueRef"], source["productRef"])


@RESOLVERS.field("FulfilmentChoice", "deliveryAddress")
def delivery_address(source: Record, _info: GraphQLResolveInfo) -> Record | None:
    address: Record | None = source["deliveryAddress"]
    return None if address is None else {**address, "__typename": "CustomerAddress"}


def set_status(store: EntityStore, ref: str, status: str, now: datetime) -> Record | None:
    """Move the order ``ref`` to ``status`` and its ``updatedOn`` to ``now``, as a workflow would (any status, the
    same one too); None when there is no such order."""
    found = store.find(ORDERS, REF, (ref,))
    return None if found is None else store.update(ORDERS, found["id"], {"status": status, "updatedOn": now})


def _insert_order(context: RequestContext, input: Mapping[str, Any], customer: Record) -> Record:
    store = context.store
    retailer = store.require("retailers", input["retailer"]["id"])
    order_id = store.next_id()  # taken first, so an order's id precedes those of its items
    items = [_new_item(context, item, retailer["id"]) for item in input["items"] if item is not None]
    choice = input.get("fulfilmentChoice")
    record = {
        "ref": input["ref"],
        "type": input["type"],
        "status": START_STATUS,
        "workflowRef": f"ORDER::{input['type']}",
        "workflowVersion": WORKFLOW_VERSION,
        "retailer": retailer["id"],
        "customer": customer["id"],
        "totalPrice": input.get("totalPrice"),
        "totalTaxPrice": input.get("totalTaxPrice"),
        "attributes": upsert_by([], input.get("attributes") or (), ATTRIBUTE_KEY),
        "items": items,
        "fulfilmentChoice": None if choice is None else _new_fulfilment_choice(context, choice),
        "createdOn": context.now,
        "updatedOn": context.now,
    }
    return store.insert(ORDERS, record, order_id)


def _new_item(context: RequestContext, input: Mapping[str, Any], retailer_id: str) -> Record:
    catalogue = input.get("productCatalogueRef")
    if catalogue is None:
        catalogue = f"COMPATIBILITY:{retailer_id}"
    _product(context.store, catalogue, input["productRef"])
    return _nested(
        context,
        {
            **input,
            "productCatalogueRef": catalogue,
            "status": START_STATUS,
            "attributes": upsert_by([], input.get("attributes") or (), ATTRIBUTE_KEY),
        },
    )


def _new_fulfilment_choice(context: RequestContext, input: Mapping[str, Any]) -> Record:
    choice = _nested(context, input)
    address = input.get("deliveryAddress")
    choice["deliveryAddress"] = None if address is None else _nested(context, address)
    return choice


def _nested(context: RequestContext, fields: Mapping[str, Any]) -> Record:
    """An entity held inside the order record: the input's fields, an id and the order's timestamps."""
    return {"id": context.store.next_id(), **fields, "createdOn": context.now, "updatedOn": context.now}


def _product(store: EntityStore, catalogue: str, ref: str) -> Record:
    """The variant or standard product ``ref`` of ``catalogue`` (the kinds share one ref namespace, so there is at
    most one), with its GraphQL type for the ``Product`` interface; C0120E when the catalogue or product is
    missing."""
    store.find_required(CATALOGUES, REF, (catalogue,))
    for spec in products.TABLES:
        found = store.find(spec.name, CATALOGUE_REF, (catalogue, ref))
        if found is not None:
            return {**found, "__typename": spec.entity}
    raise FluentError(NOT_FOUND, f"No variant or standard product with ref '{ref}' in catalogue '{catalogue}'")


# -- financial transactions ----------------------------------------------------------------------


@RESOLVERS.query("financialTransactions")
def financial_transactions(_root: None, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    return search(request_context(info).store.records(TRANSACTIONS), TRANSACTIONS, args)


@RESOLVERS.field("Order", "financialTransactions")
def order_financial_transactions(source: Record, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    return search(request_context(info).store.grouped(TRANSACTIONS, "order", source["id"]), TRANSACTIONS, args)


@RESOLVERS.field("FinancialTransaction", "order")
def financial_transaction_order(source: Record, info: GraphQLResolveInfo) -> Record | None:
    return request_context(info).store.get(ORDERS, source["order"])


@RESOLVERS.mutation("createFinancialTransaction")
def create_financial_transaction(_root: None, info: GraphQLResolveInfo, input: dict[str, Any]) -> Record:
    context = request_context(info)
    parent = context.store.require(ORDERS, input["order"]["id"])
    record = {
        "ref": input["ref"],
        "type": input["type"],
        "status": START_STATUS,
        "workflowRef": f"FINANCIAL_TRANSACTION::{input['type']}",
        "workflowVersion": WORKFLOW_VERSION,
        "total": input["amount"],
        "currency": input["currency"],
        "externalTransactionCode": input.get("externalTransactionCode"),
        "externalTransactionId": input.get("externalTransactionId"),
        "cardType": input.get("cardType"),
        "paymentMethod": input["paymentMethod"],
        "paymentProviderName": input.get("paymentProvider"),
        "order": parent["id"],
        "createdOn": context.now,
        "updatedOn": context.now,
    }
    return context.store.insert(TRANSACTIONS, record)
