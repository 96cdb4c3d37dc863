"""One Fluent customer per person: a registered customer's orders link to the Fluent customer the ledger holds for that
commercetools customer (whatever the order's email says now); a customer created at order time is the customers' own
record, made through the customers' own sync and hooks; an email change moves ``primaryEmail``, never the username."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from dagster import AssetsDefinition, ExecuteInProcessResult

from ctfluent_dagster.assets import ENTITY_DEFINITIONS
from ctfluent_dagster.assets.keys import target_key
from ctfluent_dagster.commercetools.models import CtModel
from ctfluent_dagster.entities.orders.declaration import ENTITY as ORDER_ENTITY
from ctfluent_dagster.entities.shared import fluent_username
from ctfluent_dagster.ledger.store import Ledger
from ctfluent_dagster.records import LedgerEntry
from tests.harness import Sandbox
from tests.support import materialization_metadata, today

CUSTOMERS = [a for a in ENTITY_DEFINITIONS["customers"].assets if a.partitions_def is not None]
ORDERS = [a for a in ENTITY_DEFINITIONS["orders"].assets if a.partitions_def is not None]
CATALOGUE = [a for name in ("categories", "products") for a in ENTITY_DEFINITIONS[name].assets]
ADDRESS = {"country": "DE", "firstName": "Ida", "lastName": "Neu", "streetName": "Weg", "streetNumber": "1",
           "postalCode": "10115", "city": "Berlin"}  # fmt: skip
HOOKS = "tests.test_customer_identity"
ORDER_TARGET = ORDER_ENTITY.targets[0]  # the orders (the other: their cancellations)


def mark_source(payload: dict[str, Any], record: CtModel) -> dict[str, Any]:
    """A payload hook (configured by the tests below): which commercetools record the customer was made from."""
    marker = {"name": "madeFrom", "type": "STRING", "value": type(record).__name__}
    return {**payload, "attributes": [*payload.get("attributes", []), marker]}


def all_days(sandbox: Sandbox) -> tuple[str, str]:
    state = sandbox.ct.state()
    stamps = [r[field][:10] for kind in ("categories", "products", "customers", "orders")
              for r in state[kind] for field in ("createdAt", "lastModifiedAt")]  # fmt: skip
    return min(stamps), max(stamps)


def sync(sandbox: Sandbox, assets: list[AssetsDefinition], ids: list[str] | None = None) -> ExecuteInProcessResult:
    if ids:
        return sandbox.sync(today(sandbox), assets=assets, ids=ids)
    return sandbox.sync(all_days(sandbox), assets=assets)


def customer_rows(sandbox: Sandbox, customer_id: str) -> list[LedgerEntry]:
    store = Ledger(sandbox.ledger_url)
    try:
        return store.entries("customer", source_ids=[customer_id])
    finally:
        store.engine.dispose()


def fluent_customers_of(sandbox: Sandbox, customer_id: str) -> list[dict[str, Any]]:
    """The Fluent customers that carry this commercetools customer's id."""

    def carries(customer: dict[str, Any]) -> bool:
        return any(a["name"] == "ctCustomerId" and a["value"] == customer_id for a in customer.get("attributes") or [])

    return [c for c in sandbox.fluent.state()["customers"] if carries(c)]


def fluent_order(sandbox: Sandbox, number: str) -> dict[str, Any]:
    (order,) = [o for o in sandbox.fluent.state()["orders"] if o["ref"] == number]
    return order


def place_order(sandbox: Sandbox, customer_id: str, number: str) -> dict[str, Any]:
    store = Ledger(sandbox.ledger_url)
    sku = next(e.fluent_ref for e in store.entries("variant_product", status="synced"))
    store.engine.dispose()
    return sandbox.ct.checkout({"currency": "EUR", "customerId": customer_id, "orderNumber": number,
                                "shippingAddress": ADDRESS, "lineItems": [{"sku": sku, "quantity": 1}]})  # fmt: skip


@pytest.fixture
def loaded(shop: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """The shop's catalogue and customers in Fluent (every variant sendable)."""
    monkeypatch.setenv("CTFLUENT_PRODUCTS__MISSING_GTIN", "sku")
    assert sync(shop, [*CATALOGUE, *CUSTOMERS]).success
    return shop


def test_after_an_email_change_the_orders_of_a_customer_stay_with_their_one_fluent_customer(loaded: Sandbox) -> None:
    customer = next(c for c in loaded.ct_customers() if not c.get("stores"))
    (row,) = customer_rows(loaded, customer["id"])
    assert row.fluent_ref == fluent_username("1", customer["email"])
    loaded.ct_update(customer["id"], {"action": "changeEmail", "email": "Moved.Away@Example.org"})

    # The order comes before the customer sync has seen the change: it names the new email.
    first = place_order(loaded, customer["id"], "MOVED-1")
    assert first["customerEmail"] == "Moved.Away@Example.org"
    assert sync(loaded, ORDERS, ids=[first["id"]]).success
    assert fluent_order(loaded, "MOVED-1")["customer"] == row.fluent_id
    # The customer sync: the same Fluent customer takes the new email; its username (Fluent's key) stays.
    assert sync(loaded, CUSTOMERS, ids=[customer["id"]]).success
    second = place_order(loaded, customer["id"], "MOVED-2")
    assert sync(loaded, ORDERS, ids=[second["id"]]).success

    (in_fluent,) = fluent_customers_of(loaded, customer["id"])  # exactly one
    assert (in_fluent["id"], in_fluent["username"]) == (row.fluent_id, row.fluent_ref)
    assert in_fluent["primaryEmail"] == "Moved.Away@Example.org"
    assert fluent_order(loaded, "MOVED-2")["customer"] == row.fluent_id
    usernames = {c["username"] for c in loaded.fluent.state()["customers"]}
    assert fluent_username("1", "Moved.Away@Example.org") not in usernames


def test_a_customer_created_at_order_time_is_the_customers_own_record(
    loaded: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTFLUENT_CUSTOMERS__HOOKS__PAYLOAD", f'["{HOOKS}:mark_source"]')
    monkeypatch.setenv("CTFLUENT_CUSTOMERS__HOOKS__QUERY_VARIABLES",
                       '["ctfluent_dagster.examples.customer_hooks:tag_integration"]')  # fmt: skip
    fresh = loaded.storefront.create("Fresh.Buyer@Example.org", first_name="Fresh")
    order = place_order(loaded, fresh["id"], "FRESH-1")
    sku = order["lineItems"][0]["variant"]["sku"]
    guest = loaded.ct.checkout({"currency": "EUR", "customerEmail": "only.a.guest@example.org",
                                "orderNumber": "GUEST-1", "shippingAddress": ADDRESS,
                                "lineItems": [{"sku": sku, "quantity": 1}]})  # fmt: skip
    creates_before = loaded.fluent_admin.request_counts()["by_target"].get("createCustomer", 0)
    result = sync(loaded, ORDERS, ids=[order["id"], guest["id"]])  # the customer sync has not run
    assert materialization_metadata(result, target_key(ORDER_ENTITY, ORDER_TARGET))["customer_on_demand"] == 1

    (row,) = customer_rows(loaded, fresh["id"])
    assert (row.status, row.fluent_ref) == ("synced", fluent_username("1", fresh["email"]))
    (in_fluent,) = fluent_customers_of(loaded, fresh["id"])
    assert fluent_order(loaded, "FRESH-1")["customer"] == in_fluent["id"] == row.fluent_id
    # Through the customers' own sync and hooks: mapped from the customer (payload hook), tagged at send time
    # (variables hook); the guest's customer, made from the order, gets the same hooks.
    attributes = {a["name"]: a["value"] for a in in_fluent["attributes"]}
    assert (attributes["madeFrom"], attributes["syncedBy"], in_fluent["firstName"]) == ("Customer", "ctfluent", "Fresh")
    (guest_customer,) = [c for c in loaded.fluent.state()["customers"]
                         if c["username"] == fluent_username("1", "only.a.guest@example.org")]  # fmt: skip
    guest_attributes = {a["name"]: a["value"] for a in guest_customer["attributes"]}
    assert (guest_attributes["madeFrom"], guest_attributes["syncedBy"]) == ("Order", "ctfluent")

    # The customers' own run finds it settled: no second customer, no update.
    result = sync(loaded, CUSTOMERS, ids=[fresh["id"]])
    metadata = materialization_metadata(result)
    assert (metadata["created"], metadata["updated"], metadata["unchanged"]) == (0, 0, 1)
    creates = loaded.fluent_admin.request_counts()["by_target"].get("createCustomer", 0) - creates_before
    assert creates == 2  # the registered customer and the guest, once each
    assert len(fluent_customers_of(loaded, fresh["id"])) == 1


def test_an_order_whose_customer_fails_on_demand_fails_with_its_reason_then_both_heal(loaded: Sandbox) -> None:
    fresh = loaded.storefront.create("Refused.Buyer@Example.org")
    orders = [place_order(loaded, fresh["id"], f"REFUSED-{n}") for n in (1, 2)]
    loaded.fluent_admin.add_fault(match="createCustomer", error_code="C0160E")
    result = sync(loaded, ORDERS, ids=[o["id"] for o in orders])
    assert result.success  # the tests' runs do not fail for failed records (fail_runs_with_failed_records)

    (customer,) = customer_rows(loaded, fresh["id"])
    assert (customer.status, customer.error_code, customer.attempts) == ("failed", "C0160E", 1)  # tried once
    store = Ledger(loaded.ledger_url)
    failed = store.entries("order", source_ids=[o["id"] for o in orders])
    assert {(e.status, e.error_code) for e in failed} == {("failed", "C0160E")}
    assert all("(the order's customer) did not reach Fluent" in (e.error_message or "") for e in failed)
    assert Counter(a.operation for a in store.attempts(fresh["id"])) == Counter({"failed": 1})
    store.engine.dispose()

    loaded.fluent_admin.clear_faults()
    assert sync(loaded, ORDERS, ids=[o["id"] for o in orders]).success
    (customer,) = customer_rows(loaded, fresh["id"])
    assert customer.status == "synced"
    assert {fluent_order(loaded, f"REFUSED-{n}")["customer"] for n in (1, 2)} == {customer.fluent_id}
