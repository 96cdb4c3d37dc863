"""Customers: ``customer(ref)``, ``customerById``, ``customers(...)``, ``createCustomer``, ``updateCustomer``.

``ref`` is the username (unique across the account). A new customer is ``ACTIVE``: Customer is not an
orchestrated entity, so the ``CREATED`` start status of orders and products does not apply. ``customer(ref:)``
answers ``null`` for an unknown username; whether Fluent answers null or C0120E is unconfirmed, and a client
has to handle both. In ``updateCustomer`` a field given as ``null`` is left unchanged, like an omitted one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import GraphQLResolveInfo

from ctfluent_sandbox.fluent.connections import search
from ctfluent_sandbox.fluent.engine import RequestContext, ResolverRegistry, request_context
from ctfluent_sandbox.fluent.store import Record, TableSpec, upsert_by

CUSTOMERS = "customers"
USERNAME = ("username",)
TABLES = (TableSpec(CUSTOMERS, "Customer", unique=(USERNAME,)),)
RESOLVERS = ResolverRegistry()


@RESOLVERS.query("customer")
def customer(_root: None, info: GraphQLResolveInfo, ref: str) -> Record | None:
    return request_context(info).store.find(CUSTOMERS, USERNAME, (ref,))


@RESOLVERS.query("customerById")
def customer_by_id(_root: None, info: GraphQLResolveInfo, id: str) -> Record | None:
    return request_context(info).store.get(CUSTOMERS, id)


@RESOLVERS.query("customers")
def customers(_root: None, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    return search(request_context(info).store.records(CUSTOMERS), CUSTOMERS, args)


@RESOLVERS.mutation("createCustomer")
def create_customer(_root: None, info: GraphQLResolveInfo, input: dict[str, Any]) -> Record:
    return insert_customer(request_context(info), input)


def insert_customer(context: RequestContext, input: Mapping[str, Any]) -> Record:
    """Create a customer from a ``CreateCustomerInput`` (also inline in ``createOrderAndCustomer``): the retailer
    must exist (C0120E), the username must be new (C0121E)."""
    context.store.require("retailers", input["retailer"]["id"])
    record = {
        **input,
        "ref": input["username"],
        "status": "ACTIVE",
        "attributes": upsert_by([], input.get("attributes") or (), ("name",)),
        "createdOn": context.now,
        "updatedOn": context.now,
    }
    return context.store.insert(CUSTOMERS, record)


@RESOLVERS.mutation("updateCustomer")
def update_customer(_root: None, info: GraphQLResolveInfo, input: dict[str, Any]) -> Record:
    context = request_context(info)
    existing = context.store.find_required(CUSTOMERS, USERNAME, (input["username"],))
    changes = {name: value for name, value in input.items() if value is not None and name != "attributes"}
    if input.get("attributes") is not None:
        changes["attributes"] = upsert_by(existing["attributes"], input["attributes"], ("name",))
    changes["updatedOn"] = context.now
    return context.store.update(CUSTOMERS, existing["id"], changes)


@RESOLVERS.field("Customer", "retailer")
def customer_retailer(source: Record, info: GraphQLResolveInfo) -> Record | None:
    return request_context(info).store.get("retailers", source["retailer"]["id"])
