"""Orders and payments end to end against the sandbox: one backfill loads the catalogue, customers, orders and
financial transactions in dependency order; customers at order time (guests by email); money to the cent; waits,
failures with their reasons, re-drive; changes after creation recorded, not pushed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetsDefinition, ExecuteInProcessResult, SensorResult, build_sensor_context

from ctfluent_dagster.assets import ENTITY_DEFINITIONS
from ctfluent_dagster.commercetools.models import localized
from ctfluent_dagster.entities.orders.declaration import ENTITY as ORDERS
from ctfluent_dagster.entities.payments.declaration import ENTITY as PAYMENTS
from ctfluent_dagster.entities.payments.declaration import with_orders
from ctfluent_dagster.entities.shared import fluent_username
from ctfluent_dagster.ledger.schema import sync_state
from ctfluent_dagster.ledger.store import Ledger
from ctfluent_dagster.messages.poller import PollCursor
from ctfluent_dagster.sensors.messages import build_messages_sensor
from ctfluent_dagster.settings import MessagesSettings
from tests.harness import Sandbox
from tests.support import serve_sandbox


def partitioned(*entities: str) -> list[AssetsDefinition]:
    """The entities' forward assets (the order status back-sync's is not partitioned: it writes what it is given)."""
    return [a for name in entities for a in ENTITY_DEFINITIONS[name].assets if a.partitions_def is not None]


CATALOGUE = partitioned("categories", "products")
CUSTOMERS = partitioned("customers")
ORDER_ASSETS = partitioned("orders", "payments")
EVERYTHING = [*CATALOGUE, *CUSTOMERS, *ORDER_ASSETS]
CREATES = ("createOrder", "createFinancialTransaction", "createCustomer", "createVariantProduct")


def all_days(sandbox: Sandbox) -> tuple[str, str]:
    state = sandbox.ct.state()
    stamps = [r[field][:10] for kind in ("categories", "products", "customers", "orders", "payments")
              for r in state[kind] for field in ("createdAt", "lastModifiedAt")]  # fmt: skip
    return min(stamps), max(stamps)


def sync(sandbox: Sandbox, assets: list[AssetsDefinition] = EVERYTHING, **kwargs: Any) -> ExecuteInProcessResult:
    return sandbox.sync(all_days(sandbox), assets=assets, **kwargs)


def ledger(sandbox: Sandbox) -> Ledger:
    store = Ledger(sandbox.ledger_url)
    store.migrate()
    return store


def money(value: dict[str, Any]) -> Decimal:
    return Decimal(value["centAmount"]).scaleb(-value["fractionDigits"])


def creates(sandbox: Sandbox) -> Counter[str]:
    counts = sandbox.fluent_admin.request_counts()["by_target"]
    return Counter({name: counts.get(name, 0) for name in CREATES})


def fluent_orders(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    orders = sandbox.fluent.state()["orders"]
    by_ref = {order["ref"]: order for order in orders}
    assert len(by_ref) == len(orders), "an order ref twice in Fluent"
    return by_ref


def assert_orders_match(sandbox: Sandbox) -> int:
    """Every order the ledger holds as synced is in Fluent once, with the right customer, items and totals (to the
    cent); returns how many."""
    state = sandbox.fluent.state()
    in_fluent = fluent_orders(sandbox)
    customers_by_id = {c["id"]: c for c in state["customers"]}
    ct_orders = {o["id"]: o for o in sandbox.ct.state()["orders"]}
    synced = ledger(sandbox).entries("order", status="synced")
    for entry in synced:
        order = ct_orders[entry.key.source_id]
        fluent = in_fluent[entry.fluent_ref or ""]
        assert fluent["id"] == entry.fluent_id
        assert fluent["ref"] == (order.get("orderNumber") or f"CT_{order['id']}")
        email = order["customerEmail"]
        assert customers_by_id[fluent["customer"]]["username"] == fluent_username("1", email)
        items = {item["ref"]: item for item in fluent["items"]}
        assert set(items) == {line["id"] for line in order["lineItems"]}
        for line in order["lineItems"]:
            item = items[line["id"]]
            assert (item["productRef"], item["quantity"]) == (line["variant"]["sku"], line["quantity"])
            gross = money(line["taxedPrice"]["totalGross"]) if "taxedPrice" in line else money(line["totalPrice"])
            assert Decimal(str(item["totalPrice"])) == gross
        total = money(order["taxedPrice"]["totalGross"]) if "taxedPrice" in order else money(order["totalPrice"])
        assert Decimal(str(fluent["totalPrice"])) == total
        assert Decimal(str(fluent["totalTaxPrice"])) == money(order["taxedPrice"]["totalTax"])
    return len(synced)


def assert_transactions_match(sandbox: Sandbox) -> int:
    """Every successful transaction of a payment whose order is in Fluent is a financial transaction on that order,
    once, with its amount; no other transaction is; returns how many."""
    state = sandbox.fluent.state()
    by_ref: dict[str, list[dict[str, Any]]] = {}
    for transaction in state["financial_transactions"]:
        by_ref.setdefault(transaction["ref"], []).append(transaction)
    orders = {e.key.source_id: e.fluent_id for e in ledger(sandbox).entries("order", status="synced")}
    owner = {
        p["id"]: o["id"] for o in sandbox.ct.state()["orders"] for p in o.get("paymentInfo", {}).get("payments", [])
    }
    expected = 0
    for payment in sandbox.ct.state()["payments"]:
        order_id = orders.get(owner.get(payment["id"], ""))
        for transaction in payment["transactions"]:
            sent = by_ref.get(transaction["id"], [])
            if transaction["state"] != "Success" or order_id is None:
                assert sent == []
                continue
            expected += 1
            (fluent,) = sent  # exactly once
            assert fluent["order"] == order_id
            assert Decimal(str(fluent["total"])) == money(transaction["amount"])
            assert fluent["currency"] == transaction["amount"]["currencyCode"]
    assert expected == len(state["financial_transactions"])
    return expected


def test_one_backfill_loads_everything_in_dependency_order_and_a_rerun_changes_nothing(shop: Sandbox) -> None:
    result = sync(shop)
    assert result.success
    pushed = [
        e.asset_key.path[-1] for e in result.get_asset_materialization_events() if e.asset_key.path[0] == "fluent"
    ]
    order_of = {name: pushed.index(name) for name in set(pushed)}
    assert order_of["variant_products"] < order_of["orders"] and order_of["customers"] < order_of["orders"]
    assert order_of["orders"] < order_of["financial_transactions"]
    assert assert_orders_match(shop) > 60
    assert assert_transactions_match(shop) > 40

    before, state = creates(shop), shop.fluent.state()
    assert sync(shop).success
    assert creates(shop) == before  # nothing created twice, nothing retried
    assert {k: len(v) for k, v in shop.fluent.state().items() if isinstance(v, list)} == {
        k: len(v) for k, v in state.items() if isinstance(v, list)
    }


def test_guests_and_registered_customers_with_one_email_share_one_fluent_customer(shop: Sandbox) -> None:
    assert sync(shop).success
    in_fluent = fluent_orders(shop)
    store = ledger(shop)
    refs = {e.key.source_id: e.fluent_ref for e in store.entries("order", status="synced")}
    by_email: dict[str, set[str]] = {}
    kinds: dict[str, set[bool]] = {}
    for order in shop.ct.state()["orders"]:
        if order["id"] in refs:
            email = order["customerEmail"].lower()
            by_email.setdefault(email, set()).add(in_fluent[refs[order["id"]] or ""]["customer"])
            kinds.setdefault(email, set()).add("customerId" in order)
    shared = [email for email, guest_or_not in kinds.items() if guest_or_not == {True, False}]
    assert shared, "the seed has guests who are registered customers"
    assert all(len(by_email[email]) == 1 for email in by_email)  # one Fluent customer per email (and retailer)
    customers = {c["username"]: c for c in shop.fluent.state()["customers"]}
    guest_only = [email for email, guest_or_not in kinds.items() if guest_or_not == {False}]
    assert guest_only and all(fluent_username("1", email) in customers for email in guest_only)


@pytest.fixture
def busy_shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger_url: str) -> Iterator[Sandbox]:
    """A hundred orders a day, many of them guests'."""
    with serve_sandbox(tmp_path, monkeypatch, ledger_url, customers=20, days=2, seed=13, products=30,
                       orders=240) as running:  # fmt: skip
        yield running


def test_the_customers_created_at_order_time_go_in_full_batches_per_day_not_per_batch_of_orders(
    busy_shop: Sandbox,
) -> None:
    shop = busy_shop
    assert sync(shop, [*CATALOGUE, *CUSTOMERS]).success
    before = {c["username"] for c in shop.fluent.state()["customers"]}
    shop.fluent_admin.clear_request_counts()
    assert sync(shop, partitioned("orders")).success
    created = {c["username"] for c in shop.fluent.state()["customers"]} - before
    days = {order["createdAt"][:10] for order in shop.ct.state()["orders"]}
    requests = shop.fluent_admin.request_counts()["by_target"].get("createCustomer", 0)
    # The new customers of a chunk of orders (a day's page) go together, ten to a request (the batch size): full
    # requests, and at most one partial request per chunk (created with each batch of ten orders: twice as many).
    assert len(created) > 4 * len(days) and requests <= -(-len(created) // 10) + len(days)
    assert assert_orders_match(shop) > 100


def test_money_in_every_currency_is_exact_and_click_and_collect_names_its_pickup_location(
    shop: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTFLUENT_PRODUCTS__MISSING_GTIN", "sku")  # every product, so that every kind of order goes
    assert sync(shop).success
    in_fluent = fluent_orders(shop)
    refs = {e.key.source_id: e.fluent_ref for e in ledger(shop).entries("order", status="synced")}
    seen: set[str] = set()
    click_and_collect = 0
    for order in shop.ct.state()["orders"]:
        fluent = in_fluent.get(refs.get(order["id"]) or "")
        if fluent is None:
            continue
        currency = order["totalPrice"]["currencyCode"]
        seen.add(currency)
        digits = order["totalPrice"]["fractionDigits"]
        unit = Decimal(1).scaleb(-digits)
        per_unit = ("price", "paidPrice", "taxPrice")
        amounts = [fluent["totalPrice"], fluent["totalTaxPrice"],
                   *(item[name] for item in fluent["items"] for name in per_unit)]  # fmt: skip
        assert all(Decimal(str(a)) == Decimal(str(a)).quantize(unit) for a in amounts)  # to the currency's digits
        assert Decimal(str(fluent["totalPrice"])) == money(order["taxedPrice"]["totalGross"])
        pickup = order.get("custom", {}).get("fields", {}).get("pickupLocation")
        assert fluent["type"] == ("CC" if pickup else "HD")
        assert fluent["fulfilmentChoice"].get("pickupLocationRef") == pickup
        click_and_collect += bool(pickup)
        address = order["shippingAddress"]
        delivery = fluent["fulfilmentChoice"]["deliveryAddress"]
        assert delivery["name"] == f"{address['firstName']} {address['lastName']}"
        assert delivery["street"].startswith(f"{address['streetName']} {address.get('streetNumber', '')}".strip())
    assert {"EUR", "USD", "JPY", "KWD"} <= seen and click_and_collect > 0


def test_orders_wait_for_their_products_and_go_once_the_catalogue_has_synced(shop: Sandbox) -> None:
    assert sync(shop, [*CUSTOMERS, *ORDER_ASSETS]).success  # no catalogue in Fluent yet
    store = ledger(shop)
    waiting = store.entries("order", status="waiting")
    assert len(waiting) > 60 and store.entries("order", status="synced") == []
    assert all(d.entity_type == "variant_product" for e in waiting for d in e.waiting_for)
    assert "waiting for variant_product" in (waiting[0].error_message or "")
    transactions = store.entries("financial_transaction", status="waiting")
    assert transactions and all("order" in (e.error_message or "") for e in transactions)

    assert sync(shop, CATALOGUE).success
    assert sync(shop, ORDER_ASSETS).success  # the waiting orders, then their transactions
    assert store.entries("order", status="waiting") == []
    assert assert_orders_match(shop) > 60 and assert_transactions_match(shop) > 40


def test_an_order_of_an_unsendable_product_fails_with_the_reason_and_a_redrive_sends_it_once_fixed(
    shop: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = sync(shop)
    check = next(e for e in result.get_asset_check_evaluations()
                 if e.asset_key.path == ["fluent", "orders"] and e.check_name == "no_outstanding_failures")  # fmt: skip
    assert not check.passed
    failed = ledger(shop).entries("order", status="failed")
    unavailable = [e for e in failed if e.error_code == "REFERENCE_UNAVAILABLE"]
    assert unavailable and all("no gtin" in (e.error_message or "") for e in unavailable)
    assert all(e.run_id == result.run_id and e.label for e in unavailable)

    monkeypatch.setenv("CTFLUENT_PRODUCTS__MISSING_GTIN", "sku")  # the fix: send products without GTIN
    assert sync(shop, CATALOGUE).success
    first, _ = all_days(shop)
    redrive = shop.run_job(ORDERS.redrive_job, first)
    assert redrive.success
    left = {e.key.source_id for e in ledger(shop).entries("order", status="failed")}
    assert not left & {e.key.source_id for e in unavailable}
    assert assert_orders_match(shop) > 60


def test_an_order_already_in_fluent_is_linked_never_created_twice(shop: Sandbox) -> None:
    assert sync(shop).success
    count = len(fluent_orders(shop))
    with ledger(shop).engine.begin() as conn:  # the ledger is lost: Fluent is the truth
        conn.execute(sync_state.delete())
    assert sync(shop).success
    assert len(fluent_orders(shop)) == count
    assert len(shop.fluent.state()["financial_transactions"]) == assert_transactions_match(shop)
    assert assert_orders_match(shop) == count


def test_changes_after_creation_are_recorded_not_pushed(shop: Sandbox) -> None:
    assert sync(shop).success
    store = ledger(shop)
    entry = store.entries("order", status="synced")[0]
    before = fluent_orders(shop)[entry.fluent_ref or ""]
    changed = shop.storefront.order_action(
        entry.key.source_id, {"action": "changeOrderState", "orderState": "Complete"}
    )
    calls = shop.fluent_admin.request_counts()["by_target"]
    assert sync(shop, ORDER_ASSETS).success
    (after,) = store.entries("order", source_ids=[entry.key.source_id])
    assert (after.status, after.source_version, after.fluent_id) == ("synced", changed["version"], entry.fluent_id)
    assert fluent_orders(shop)[entry.fluent_ref or ""] == before  # Fluent's workflows own the order now
    now = shop.fluent_admin.request_counts()["by_target"]
    assert not any(now.get(name, 0) > calls.get(name, 0) for name in ("createOrder", "updateOrder"))


def orders_sensor_tick(sandbox: Sandbox, cursor: str) -> SensorResult:
    jobs = [ENTITY_DEFINITIONS["orders"].jobs[0], ENTITY_DEFINITIONS["payments"].jobs[0]]
    sensor = build_messages_sensor(MessagesSettings(), [ORDERS, PAYMENTS], jobs=jobs)
    with build_sensor_context(cursor=cursor, resources=sandbox.resources()) as context:
        result = sensor(context)
    assert isinstance(result, SensorResult)
    return result


def test_a_new_order_and_its_payments_reach_fluent_through_the_messages_sensor(
    shop: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTFLUENT_MESSAGES__SETTLE_SECONDS", "0")
    assert sync(shop).success
    cursor = PollCursor(created_at=shop.ct.clock.now() - timedelta(seconds=1)).encode()
    sku = next(e.fluent_ref for e in ledger(shop).entries("variant_product", status="synced"))
    charge = {"type": "Charge", "state": "Success", "interactionId": "psp-1",
              "amount": {"currencyCode": "EUR", "centAmount": 1000}}  # fmt: skip
    paid = shop.storefront.create_payment({"amountPlanned": {"currencyCode": "EUR", "centAmount": 1000},
                                           "paymentMethodInfo": {"method": "creditCard", "paymentInterface": "adyen"},
                                           "transactions": [charge]})  # fmt: skip
    order = shop.ct.checkout({
        "currency": "EUR", "customerEmail": "New.Shopper@Example.org", "orderNumber": "SENSED-1",
        "shippingAddress": {"country": "DE", "firstName": "Nina", "lastName": "Neu", "streetName": "Weg",
                            "streetNumber": "1", "postalCode": "10115", "city": "Berlin"},
        "lineItems": [{"sku": sku, "quantity": 2}], "payments": [{"typeId": "payment", "id": paid["id"]}],
    })  # fmt: skip
    later = shop.storefront.create_payment({"amountPlanned": {"currencyCode": "EUR", "centAmount": 500},
                                            "paymentMethodInfo": {"method": "paypal"},
                                            "transactions": [{**charge, "amount": {"currencyCode": "EUR",
                                                                                   "centAmount": 500}}]})  # fmt: skip
    shop.storefront.order_action(order["id"], {"action": "addPayment", "payment": {"typeId": "payment",
                                                                                   "id": later["id"]}})  # fmt: skip

    result = orders_sensor_tick(shop, cursor)
    requests = result.run_requests or []
    by_job: dict[str, set[str]] = {}
    for request in requests:
        assert request.job_name is not None
        ids = request.run_config["ops"][
            f"fluent__{'orders' if 'orders' in request.job_name else 'financial_transactions'}"
        ]["config"]["ids"]
        by_job.setdefault(request.job_name, set()).update(ids)
    assert by_job == {"orders_sync": {order["id"]}, "payments_sync": {paid["id"], later["id"]}}
    for job in ("orders_sync", "payments_sync"):  # as the daemon would, orders first
        for request in [r for r in requests if r.job_name == job]:
            assert shop.run_request(request).success
    fluent = fluent_orders(shop)["SENSED-1"]
    assert fluent["customer"] == next(
        c["id"] for c in shop.fluent.state()["customers"] if c["username"] == "1_new.shopper@example.org"
    )
    totals = sorted(t["total"] for t in shop.fluent.state()["financial_transactions"] if t["order"] == fluent["id"])
    assert totals == [5.0, 10.0]


class RecordingOrders:
    """A commercetools client that answers the payments' order lookup, remembering each query's ids."""

    def __init__(self) -> None:
        self.queries: list[list[str]] = []

    def iterate_by_id(self, resource: str, *, where: str, variables: dict[str, list[str]]) -> Any:
        assert (resource, where) == ("orders", "paymentInfo(payments(id in :ids))")
        self.queries.append(variables["ids"])
        yield [{"id": f"order-{i}", "orderNumber": f"N-{i}", "paymentInfo": {"payments": [{"id": i}]}}
               for i in variables["ids"] if i != "p-7"]  # fmt: skip


def test_a_page_of_payments_finds_its_orders_in_queries_of_at_most_100_ids() -> None:
    client = RecordingOrders()
    page = [{"id": f"p-{i}"} for i in range(250)]
    enriched = with_orders(client, page)  # type: ignore[arg-type]
    assert [len(ids) for ids in client.queries] == [100, 100, 50]  # one URL with 250 ids would be too long
    assert enriched[3]["ctfluentOrder"] == {"id": "order-p-3", "orderNumber": "N-p-3"}
    assert enriched[7]["ctfluentOrder"] is None  # no order references it yet


def net_share(line: dict[str, Any]) -> Decimal | None:
    """The net share of a line's gross list price when its tax rate is included in it (the README's rule)."""
    if not line["taxRate"]["includedInPrice"]:
        return None
    taxed = line["taxedPrice"]
    return money(taxed["totalNet"]) / money(taxed["totalGross"])


def test_orders_reach_fluent_with_net_prices_tax_types_fulfilment_types_instructions_billing_and_names(
    shop: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTFLUENT_PRODUCTS__MISSING_GTIN", "sku")  # every product, so that every kind of order goes
    assert sync(shop).success
    sku = next(e.fluent_ref for e in ledger(shop).entries("variant_product", status="synced"))
    note = "Bitte beim Nachbarn klingeln, " + "sehr freundlich " * 20  # longer than Fluent's 250
    shop.ct.checkout({
        "currency": "EUR", "customerEmail": "instructed@example.org", "orderNumber": "INSTRUCTED-1",
        "shippingAddress": {"country": "DE", "firstName": "Ida", "lastName": "Weg", "streetName": "Lieferweg",
                            "streetNumber": "3", "postalCode": "10115", "city": "Berlin",
                            "additionalAddressInfo": note},
        "billingAddress": {"country": "DE", "firstName": "Ida", "lastName": "Weg", "streetName": "Rechnungsgasse",
                           "streetNumber": "77", "postalCode": "80331", "city": "München",
                           "email": "invoices@example.org"},
        "shippingMethod": {"typeId": "shipping-method", "key": "express"}, "lineItems": [{"sku": sku, "quantity": 2}],
    })  # fmt: skip
    # imported, with a line taxed at Australia's GST and no order country: only the line's kept rate tells GST
    answer = shop.storefront.session.post(f"{shop.storefront.base}/orders/import", json={
        "orderNumber": "IMPORTED-AU-1", "customerEmail": "importer@example.org",
        "lineItems": [{"variant": {"sku": sku}, "name": {"en": "Imported runner"}, "quantity": 1,
                       "price": {"value": {"currencyCode": "AUD", "centAmount": 1100}},
                       "taxRate": {"name": "GST 10%", "amount": 0.1, "includedInPrice": True, "country": "AU"}}],
        "totalPrice": {"currencyCode": "AUD", "centAmount": 1100},
        "taxedPrice": {"totalNet": {"currencyCode": "AUD", "centAmount": 1000},
                       "totalGross": {"currencyCode": "AUD", "centAmount": 1100}},
        "shippingAddress": {"country": "AU", "firstName": "Ada", "lastName": "Import", "city": "Sydney"},
    }, timeout=10)  # fmt: skip
    answer.raise_for_status()
    result = sync(shop, ORDER_ASSETS)
    assert result.success

    in_fluent = fluent_orders(shop)
    refs = {e.key.source_id: e.fluent_ref for e in ledger(shop).entries("order", status="synced")}
    checked, undiscounted, kinds = 0, 0, Counter[str]()
    for order in shop.ct.state()["orders"]:
        fluent = in_fluent.get(refs.get(order["id"]) or "")
        if fluent is None or order.get("orderNumber") == "IMPORTED-AU-1":
            continue
        digits = order["totalPrice"]["fractionDigits"]
        items = {item["ref"]: item for item in fluent["items"]}
        for line in order["lineItems"]:
            item, unit, share = items[line["id"]], money(line["price"]["value"]), net_share(line)
            net = unit if share is None else (unit * share).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_EVEN)
            assert Decimal(str(item["price"])) == net  # net, as paidPrice is
            if money(line["totalPrice"]) == unit * line["quantity"]:  # no discount: none reads as one
                undiscounted += 1
                assert item["price"] == item["paidPrice"]
            expected_type = "GST" if line["taxRate"]["country"] in ("AU", "NZ") else "VAT" if share else "EXCLTAX"
            assert item["taxType"] == expected_type
            kinds[expected_type] += 1
            assert item["attributes"] == [{"name": "ctName", "type": "STRING",
                                           "value": localized(line["name"], ("en", "de"))}]  # fmt: skip
        choice = fluent["fulfilmentChoice"]
        assert choice["fulfilmentType"] == {"HD": "HD_PFS", "CC": "CC_PFS"}[fluent["type"]]
        billing = {a["name"]: a for a in fluent["attributes"]}.get("billingAddress")
        if "billingAddress" in order:
            assert billing is not None and billing["type"] == "JSON"
            assert billing["value"]["country"] == order["billingAddress"]["country"]
        else:
            assert billing is None
        checked += 1
    assert checked > 60 and undiscounted > 20 and kinds["VAT"] and kinds["EXCLTAX"] and kinds["GST"]

    instructed = in_fluent["INSTRUCTED-1"]
    assert instructed["fulfilmentChoice"]["deliveryInstruction"] == note[:250]
    assert instructed["fulfilmentChoice"]["fulfilmentType"] == "HD_PFS"
    (billing,) = [a["value"] for a in instructed["attributes"] if a["name"] == "billingAddress"]
    assert billing == {"ref": billing["ref"], "name": "Ida Weg", "street": "Rechnungsgasse 77", "city": "München",
                       "postcode": "80331", "country": "DE", "email": "invoices@example.org"}  # fmt: skip
    (item,) = in_fluent["IMPORTED-AU-1"]["items"]
    assert (item["taxType"], item["price"], item["paidPrice"], item["taxPrice"]) == ("GST", 10.0, 10.0, 1.0)
    # the billing address goes to Fluent, never to a run's logs or metadata (the cut instruction is noted by size)
    logged = repr([(event.message, event.event_specific_data) for event in result.all_events])
    assert "Rechnungsgasse" not in logged and "invoices@example.org" not in logged and "Nachbarn" not in logged
    assert "fulfilmentChoice.deliveryInstruction cut from" in logged


def test_a_cancelled_authorisation_reaches_fluent_as_an_authorisation_reversal(shop: Sandbox) -> None:
    assert sync(shop).success
    sku = next(e.fluent_ref for e in ledger(shop).entries("variant_product", status="synced"))
    amount = {"currencyCode": "EUR", "centAmount": 2500}
    authorised = shop.storefront.create_payment({
        "amountPlanned": amount, "paymentMethodInfo": {"method": "creditCard", "paymentInterface": "adyen"},
        "transactions": [{"type": "Authorization", "state": "Success", "interactionId": "psp-auth", "amount": amount}],
    })  # fmt: skip
    shop.ct.checkout({
        "currency": "EUR", "customerEmail": "voided@example.org", "orderNumber": "VOIDED-1",
        "shippingAddress": {"country": "DE", "firstName": "Vera", "lastName": "Void", "city": "Berlin"},
        "lineItems": [{"sku": sku}], "payments": [{"typeId": "payment", "id": authorised["id"]}],
    })  # fmt: skip
    assert sync(shop, ORDER_ASSETS).success
    shop.storefront.payment_action(authorised["id"], {"action": "addTransaction", "transaction": {
        "type": "CancelAuthorization", "state": "Success", "interactionId": "psp-void", "amount": amount}})  # fmt: skip
    assert sync(shop, ORDER_ASSETS).success

    order_id = fluent_orders(shop)["VOIDED-1"]["id"]
    sent = sorted((t["type"], t["total"], t["externalTransactionId"])
                  for t in shop.fluent.state()["financial_transactions"] if t["order"] == order_id)  # fmt: skip
    assert sent == [("AUTHORISATION", 25.0, "psp-auth"), ("AUTHORISATION_REVERSAL", 25.0, "psp-void")]
    assert assert_transactions_match(shop) > 40
