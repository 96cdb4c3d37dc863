"""Orders, payments and shipping methods over real HTTP: import and checkout with their messages, order number
lookups, a payment's order by predicate, update actions with versions, 409 and atomic action lists, enum spellings,
transaction messages, scopes, paging, and the seeded orders (hard cases, determinism, size)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import pytest

from ctfluent_sandbox.commercetools.projections import variants
from ctfluent_sandbox.seed_orders import HARD_CASES
from tests.sandbox.catalogue_fixtures import delete, messages_of, price, update, updated
from tests.sandbox.ct_fixtures import PROJECT, CtSandbox, error_code, running
from tests.sandbox.order_fixtures import (
    DE_VAT,
    checked_out,
    checkout,
    create_payment,
    import_draft,
    money,
    seeded_skus,
)


@pytest.fixture(scope="module")
def ct() -> Iterator[CtSandbox]:
    """Seeded stores, shipping methods, customers and catalogue (no orders); messages on."""
    with running(messages_enabled=True) as sandbox:
        sandbox.emulator.seed(customers=40, days=20, seed=6, products=40)
        yield sandbox


def change(action: str, name: str, value: str) -> dict[str, str]:
    return {"action": action, name: value}


# -- creation: import and checkout -----------------------------------------------------------------------------


def test_import_and_checkout_have_their_own_messages(ct: CtSandbox) -> None:
    skus = seeded_skus(ct, 2)
    response = ct.post("/orders/import", import_draft(skus, orderNumber="IMP-1"))
    assert response.status_code == 201, response.text
    imported = response.json()
    assert imported == ct.ok(f"/orders/{imported['id']}") == ct.ok("/orders/order-number=IMP-1")
    assert (imported["version"], imported["orderState"], imported["origin"]) == (1, "Open", "Customer")
    assert "customerId" not in imported and imported["customerEmail"] == "imported@example.com"
    (message,) = messages_of(ct, imported)
    assert message["type"] == "OrderImported" and message["order"] == imported
    assert (message["sequenceNumber"], message["resourceVersion"]) == (1, 1)
    assert message["resourceUserProvidedIdentifiers"] == {"orderNumber": "IMP-1"}

    customer = next(iter(ct.emulator.customers.collection))
    created = checked_out(ct, customerId=customer["id"], customerEmail=None, lineItems=[{"sku": skus[0]}])
    assert created["customerId"] == customer["id"] and created["customerEmail"] == customer["email"]
    (message,) = messages_of(ct, created)
    assert message["type"] == "OrderCreated" and message["order"] == created == ct.ok(f"/orders/{created['id']}")
    assert "resourceUserProvidedIdentifiers" not in message  # no order number


def test_post_orders_needs_a_cart_the_emulator_cannot_have(ct: CtSandbox) -> None:
    response = ct.post("/orders", {"cart": {"typeId": "cart", "id": "c-1"}, "version": 1})
    assert response.status_code == 400 and error_code(response) == "ReferencedResourceNotFound"
    assert response.json()["errors"][0]["typeId"] == "cart"


def test_a_line_item_is_a_snapshot_of_the_variant(ct: CtSandbox) -> None:
    product = next(p for p in ct.emulator.products.collection if p["masterData"]["published"] and "key" in p)
    variant = product["masterData"]["current"]["masterVariant"]
    order = checked_out(ct, lineItems=[{"sku": variant["sku"], "quantity": 2}])
    (line,) = order["lineItems"]
    assert (line["productId"], line["productKey"], line["quantity"]) == (product["id"], product["key"], 2)
    assert line["variant"] == variant and line["name"] == product["masterData"]["current"]["name"]
    assert line["productType"] == product["productType"]
    assert line["state"][0]["quantity"] == 2 and line["discountedPricePerQuantity"] == []
    imported = ct.post(
        "/orders/import",
        import_draft(
            [],
            lineItems=[
                {
                    "name": {"en": "Renamed"},
                    "productId": product["id"],
                    "variant": {"id": 1, "prices": [price("EUR", 5)], "images": []},
                    "quantity": 3,
                    "price": price("EUR", 1000),
                    "taxRate": DE_VAT,
                    "taxedPrice": {"totalNet": money("EUR", 1), "totalGross": money("EUR", 3000), "taxPortions": []},
                }
            ],
            totalPrice=money("EUR", 3000),
        ),
    ).json()
    (line,) = imported["lineItems"]
    assert line["variant"]["sku"] == variant["sku"] and line["variant"]["attributes"] == variant["attributes"]
    assert [p["value"]["centAmount"] for p in line["variant"]["prices"]] == [5] and line["variant"]["images"] == []
    assert (line["name"], line["totalPrice"]["centAmount"]) == ({"en": "Renamed"}, 3000)
    assert line["taxedPrice"]["totalNet"]["centAmount"] == 1  # stored as sent, not checked
    assert line["taxedPrice"]["totalTax"]["centAmount"] == 2999


def test_checkout_prices_discounts_taxes_and_shipping(ct: CtSandbox) -> None:
    products = [p for p in ct.emulator.products.collection if p["masterData"]["published"]]
    german = next(
        p for p in products if any("country" in q and q["value"]["currencyCode"] == "EUR" for q in _prices(p))
    )
    plain = next(  # only the one EUR price, for any country and at any time
        p
        for p in products
        if [q.keys() for q in _prices(p) if q["value"]["currencyCode"] == "EUR"] == [{"id", "value"}]
    )
    de_price = next(q for q in _prices(german) if q.get("country") == "DE")
    base = next(q for q in _prices(plain) if q["value"]["currencyCode"] == "EUR" and "validFrom" not in q)
    order = checked_out(
        ct,
        lineItems=[{"sku": _sku(german), "quantity": 2}, {"sku": _sku(plain), "quantity": 1, "discount": "loyalty"}],
        customLineItems=[{"name": {"en": "Gift wrap"}, "slug": "gift-wrap", "quantity": 1, "money": money("EUR", 350)}],
        shippingMethod={"typeId": "shipping-method", "key": "express"},
    )
    first, second = order["lineItems"]
    assert first["price"] == de_price and first["totalPrice"]["centAmount"] == 2 * de_price["value"]["centAmount"]
    unit = base["value"]["centAmount"]
    off = round(Fraction(unit * 15, 100))  # half to even, as the project rounds
    (discounted,) = second["discountedPricePerQuantity"]
    assert discounted["quantity"] == 1 and discounted["discountedPrice"]["value"]["centAmount"] == unit - off
    assert discounted["discountedPrice"]["includedDiscounts"][0]["discount"]["typeId"] == "cart-discount"
    assert second["totalPrice"]["centAmount"] == unit - off
    for line in (first, second, order["customLineItems"][0]):
        taxed = line["taxedPrice"]
        assert taxed["totalGross"] == line["totalPrice"]  # German VAT is in the price
        assert taxed["totalNet"]["centAmount"] == round(Fraction(line["totalPrice"]["centAmount"] * 100, 119))
        assert line["taxRate"]["amount"] == 0.19 and line["taxRate"]["includedInPrice"] is True
    shipping = order["shippingInfo"]
    assert shipping["shippingMethodName"] == "Express delivery" and shipping["price"]["centAmount"] == 995
    assert shipping["shippingMethod"]["id"] == ct.ok("/shipping-methods/key=express")["id"]
    lines = [*order["lineItems"], *order["customLineItems"]]
    assert order["totalPrice"]["centAmount"] == sum(line["totalPrice"]["centAmount"] for line in lines) + 995
    taxed = order["taxedPrice"]
    parts = [line["taxedPrice"] for line in lines] + [shipping["taxedPrice"]]
    assert taxed["totalNet"]["centAmount"] == sum(p["totalNet"]["centAmount"] for p in parts)
    assert taxed["totalGross"] == order["totalPrice"]
    assert taxed["totalTax"]["centAmount"] == taxed["totalGross"]["centAmount"] - taxed["totalNet"]["centAmount"]
    assert order["taxedShippingPrice"] == shipping["taxedPrice"]


def test_checkout_in_other_currencies(ct: CtSandbox) -> None:
    sku = seeded_skus(ct, 1)[0]
    new_york = {"firstName": "Grace", "city": "New York", "state": "NY", "country": "US"}
    us = checked_out(ct, currency="USD", shippingAddress=new_york, store={"key": "us-store"}, lineItems=[{"sku": sku}])
    (line,) = us["lineItems"]
    assert line["price"]["value"]["currencyCode"] == "USD" and line["price"]["country"] == "US"
    assert line["taxRate"]["includedInPrice"] is False  # US sales tax comes on top
    assert line["taxedPrice"]["totalNet"] == line["totalPrice"]
    assert us["taxedPrice"]["totalGross"]["centAmount"] > us["totalPrice"]["centAmount"]
    tokyo = {"lastName": "山田", "city": "渋谷区", "region": "東京都", "country": "JP"}
    jp = checked_out(ct, currency="JPY", shippingAddress=tokyo, store=None, lineItems=[{"sku": sku, "quantity": 3}])
    assert "store" not in jp
    assert {m["fractionDigits"] for m in (jp["totalPrice"], jp["lineItems"][0]["price"]["value"])} == {0}
    assert jp["totalPrice"]["currencyCode"] == "JPY"
    kwd = ct.post(
        "/orders/import",
        import_draft(
            [sku],
            lineItems=[{"name": {"en": "X"}, "variant": {"sku": sku}, "quantity": 2, "price": price("KWD", 6597)}],
            totalPrice=money("KWD", 13194),
            shippingAddress={"country": "KW"},
            country="KW",
        ),
    ).json()
    assert kwd["totalPrice"]["fractionDigits"] == 3 and kwd["lineItems"][0]["totalPrice"]["centAmount"] == 13194
    assert "taxedPrice" not in kwd["lineItems"][0]  # no tax rate given, none derived


@pytest.mark.parametrize(
    ("draft", "code"),
    [
        ({"shippingAddress": {"country": "US"}}, "CountryNotConfiguredInStore"),
        ({"currency": "GBP"}, "MatchingPriceNotFound"),
        ({"shippingAddress": {"country": "CH"}, "store": None}, "MissingTaxRateForCountry"),
        (
            {"shippingAddress": {"country": "AU"}, "store": None, "shippingMethod": {"key": "click-collect"}},
            "ShippingMethodDoesNotMatchCart",
        ),
        ({"lineItems": [{"sku": "no-such-sku"}]}, "InvalidOperation"),
        ({"lineItems": [{"discount": "free-lunch"}]}, "ReferencedResourceNotFound"),
        ({"customerId": "nobody"}, "ReferencedResourceNotFound"),
        ({"orderState": "Canceled"}, "InvalidJsonInput"),
    ],
)
def test_checkout_refusals(ct: CtSandbox, draft: dict[str, Any], code: str) -> None:
    sku = seeded_skus(ct, 1)[0]
    lines = [{"sku": sku, **line} for line in draft.pop("lineItems", [{}])]
    response = checkout(ct, lineItems=lines, **draft)
    assert response.status_code == 400 and error_code(response) == code, response.text


def test_import_refusals(ct: CtSandbox) -> None:
    sku = seeded_skus(ct, 1)[0]
    cases = [
        ({k: v for k, v in import_draft([sku]).items() if k != "totalPrice"}, "InvalidJsonInput"),
        (import_draft(["no-such-sku"]), "InvalidOperation"),
        (import_draft([sku], customerId="nobody"), "ReferencedResourceNotFound"),
        (import_draft([sku], shipmentState="Cancelled"), "InvalidJsonInput"),
        (
            import_draft([sku], paymentInfo={"payments": [{"typeId": "payment", "id": "nope"}]}),
            "ReferencedResourceNotFound",
        ),
    ]
    for draft, code in cases:
        response = ct.post("/orders/import", draft)
        assert response.status_code == 400 and error_code(response) == code, (draft, response.text)


def _prices(product: dict[str, Any]) -> list[dict[str, Any]]:
    prices: list[dict[str, Any]] = product["masterData"]["current"]["masterVariant"]["prices"]
    return prices


def _sku(product: dict[str, Any]) -> str:
    sku: str = product["masterData"]["current"]["masterVariant"]["sku"]
    return sku


# -- order numbers ---------------------------------------------------------------------------------------------


def test_orders_by_order_number(ct: CtSandbox) -> None:
    sku = seeded_skus(ct, 1)[0]
    order = checked_out(ct, orderNumber="ON-1", lineItems=[{"sku": sku}])
    assert ct.ok("/orders/order-number=ON-1")["id"] == order["id"]
    assert ct.request("HEAD", "/orders/order-number=ON-1").status_code == 200
    missing = ct.get("/orders/order-number=ON-404")
    assert missing.status_code == 404 and error_code(missing) == "ResourceNotFound"
    assert ct.request("HEAD", "/orders/order-number=ON-404").status_code == 404
    taken = checkout(ct, orderNumber="ON-1", lineItems=[{"sku": sku}])
    assert taken.status_code == 400 and error_code(taken) == "DuplicateField"
    assert taken.json()["errors"][0]["field"] == "orderNumber"
    body = {"version": 1, "actions": [change("changeOrderState", "orderState", "Confirmed")]}
    confirmed = ct.post("/orders/order-number=ON-1", body)
    assert confirmed.status_code == 200 and confirmed.json()["orderState"] == "Confirmed"

    unnumbered = checked_out(ct, lineItems=[{"sku": sku}])
    numbered = updated(ct, "/orders", unnumbered, change("setOrderNumber", "orderNumber", "ON-2"))
    assert numbered["version"] == 2 and ct.ok("/orders/order-number=ON-2")["id"] == unnumbered["id"]
    again = update(ct, "/orders", numbered, change("setOrderNumber", "orderNumber", "ON-3"))
    assert again.status_code == 400 and error_code(again) == "InvalidOperation"
    assert [m["type"] for m in messages_of(ct, numbered)] == ["OrderCreated"]  # setOrderNumber has no message
    deleted = ct.request("DELETE", "/orders/order-number=ON-2", {"version": "2"})
    assert deleted.status_code == 200 and ct.get(f"/orders/{unnumbered['id']}").status_code == 404
    assert messages_of(ct, numbered)[-1]["type"] == "OrderDeleted"


# -- payments and their orders ---------------------------------------------------------------------------------


def test_a_payments_order_is_found_by_predicate(ct: CtSandbox) -> None:
    sku = seeded_skus(ct, 1)[0]
    payment = create_payment(ct, key="pay-find")
    other = create_payment(ct)
    where = {"where": "paymentInfo(payments(id = :id))", "var.id": payment["id"]}
    assert ct.query_ids("/orders", **where) == []  # a payment may exist before its order has it
    order = checked_out(ct, lineItems=[{"sku": sku}])
    order = updated(ct, "/orders", order, {"action": "addPayment", "payment": {"typeId": "payment", "key": "pay-find"}})
    assert order["paymentInfo"] == {"payments": [{"typeId": "payment", "id": payment["id"]}]}
    assert ct.query_ids("/orders", **where) == [order["id"]]
    literal = f'paymentInfo(payments(id = "{payment["id"]}" or id = "{other["id"]}"))'
    assert ct.query_ids("/orders", where=literal) == [order["id"]]
    with_cart_payment = checked_out(ct, lineItems=[{"sku": sku}], payments=[{"typeId": "payment", "id": other["id"]}])
    assert ct.query_ids("/orders", **{**where, "var.id": other["id"]}) == [with_cart_payment["id"]]
    assert [m["type"] for m in messages_of(ct, with_cart_payment)] == ["OrderCreated"]  # it came with the order
    added = messages_of(ct, order)[-1]
    assert added["type"] == "OrderPaymentAdded" and added["paymentRef"] == {"typeId": "payment", "id": payment["id"]}
    twice = update(ct, "/orders", order, {"action": "addPayment", "payment": {"id": payment["id"]}})
    assert twice.status_code == 400 and error_code(twice) == "InvalidOperation"
    unknown = update(ct, "/orders", order, {"action": "addPayment", "payment": {"id": "nope"}})
    assert unknown.status_code == 400 and error_code(unknown) == "ReferencedResourceNotFound"


def test_payment_transactions_and_their_messages(ct: CtSandbox) -> None:
    authorization = {"type": "Authorization", "amount": money("EUR", 1999), "interactionId": "psp-1"}
    payment = create_payment(ct, key="pay-tx", interfaceId="psp-payment-1", transactions=[authorization])
    (transaction,) = payment["transactions"]
    assert transaction["state"] == "Initial" and transaction["amount"]["fractionDigits"] == 2
    assert "timestamp" not in transaction and payment["paymentStatus"] == {}
    charge = {
        "type": "Charge",
        "amount": money("EUR", 1999),
        "state": "Pending",
        "timestamp": "2026-01-02T03:04:05.000Z",
    }
    payment = updated(
        ct,
        "/payments",
        payment,
        {"action": "changeTransactionState", "transactionId": transaction["id"], "state": "Success"},
        {"action": "addTransaction", "transaction": charge},
    )
    added = payment["transactions"][1]
    payment = updated(
        ct,
        "/payments",
        payment,
        {"action": "changeTransactionInteractionId", "transactionId": added["id"], "interactionId": "psp-2"},
        {"action": "changeTransactionState", "transactionId": added["id"], "state": "Failure"},
    )
    assert [(t["type"], t["state"]) for t in payment["transactions"]] == [
        ("Authorization", "Success"),
        ("Charge", "Failure"),
    ]
    assert payment["transactions"][1]["interactionId"] == "psp-2" and payment["version"] == 3
    created, authorized, charge_added, failed = messages_of(ct, payment)
    assert created["type"] == "PaymentCreated" and created["payment"]["transactions"][0]["state"] == "Initial"
    assert created["resourceUserProvidedIdentifiers"] == {"key": "pay-tx"}
    assert authorized["type"] == "PaymentTransactionStateChanged"
    assert (authorized["transactionId"], authorized["state"]) == (transaction["id"], "Success")
    assert charge_added["type"] == "PaymentTransactionAdded" and charge_added["transaction"]["id"] == added["id"]
    assert charge_added["transaction"]["state"] == "Pending"  # as added, not as changed later
    assert (failed["type"], failed["state"], failed["resourceVersion"]) == (
        "PaymentTransactionStateChanged",
        "Failure",
        3,
    )
    assert ct.ok("/payments/key=pay-tx")["id"] == payment["id"]
    found = ct.query_ids("/payments", where='transactions(type = "Charge" and state = "Failure")')
    assert found == [payment["id"]]
    refusals = [
        {"action": "changeTransactionState", "transactionId": added["id"], "state": "Succeeded"},
        {"action": "changeTransactionState", "transactionId": "nope", "state": "Success"},
        {"action": "addTransaction", "transaction": {"type": "Payout", "amount": money("EUR", 1)}},
    ]
    for action in refusals:
        assert update(ct, "/payments", payment, action).status_code == 400, action
    assert delete(ct, "/payments", payment).status_code == 200
    assert len(messages_of(ct, payment)) == 4  # the spec has no PaymentDeleted


# -- update actions --------------------------------------------------------------------------------------------


def test_state_changes_need_the_current_version(ct: CtSandbox) -> None:
    order = checked_out(ct, lineItems=[{"sku": seeded_skus(ct, 1)[0]}])
    stale = ct.post(
        f"/orders/{order['id']}", {"version": 5, "actions": [change("changeOrderState", "orderState", "Complete")]}
    )
    assert stale.status_code == 409 and error_code(stale) == "ConcurrentModification"
    assert stale.json()["errors"][0]["currentVersion"] == 1
    no_version = ct.post(f"/orders/{order['id']}", {"actions": [change("changeOrderState", "orderState", "Complete")]})
    assert no_version.status_code == 400 and error_code(no_version) == "InvalidJsonInput"
    done = updated(ct, "/orders", order, change("changeOrderState", "orderState", "Complete"))
    assert (done["version"], done["orderState"]) == (2, "Complete")
    assert done["lastModifiedAt"] >= order["lastModifiedAt"] and done["createdAt"] == order["createdAt"]
    changed = messages_of(ct, order)[-1]
    assert changed["type"] == "OrderStateChanged"
    assert (changed["orderState"], changed["oldOrderState"], changed["resourceVersion"]) == ("Complete", "Open", 2)
    assert update(ct, "/orders", order, change("changeOrderState", "orderState", "Cancelled")).status_code == 409


def test_several_actions_apply_atomically(ct: CtSandbox) -> None:
    order = checked_out(ct, lineItems=[{"sku": seeded_skus(ct, 1)[0]}], paymentState="Pending")
    failing = update(
        ct,
        "/orders",
        order,
        change("changeOrderState", "orderState", "Complete"),
        change("changeShipmentState", "shipmentState", "Delivered"),
        change("changePaymentState", "paymentState", "Payed"),
    )
    assert failing.status_code == 400 and error_code(failing) == "InvalidJsonInput"
    assert ct.ok(f"/orders/{order['id']}") == order  # nothing of it applied
    assert len(messages_of(ct, order)) == 1
    done = updated(
        ct,
        "/orders",
        order,
        change("changeOrderState", "orderState", "Complete"),
        change("changeShipmentState", "shipmentState", "Delivered"),
        change("changePaymentState", "paymentState", "Paid"),
    )
    assert (done["version"], done["orderState"], done["shipmentState"], done["paymentState"]) == (
        2,
        "Complete",
        "Delivered",
        "Paid",
    )
    _, state, shipment, payment = messages_of(ct, order)
    assert [m["sequenceNumber"] for m in (state, shipment, payment)] == [2, 3, 4]
    assert {m["resourceVersion"] for m in (state, shipment, payment)} == {2}
    assert (shipment["type"], shipment["shipmentState"]) == ("OrderShipmentStateChanged", "Delivered")
    assert "oldShipmentState" not in shipment  # the order had none
    assert (payment["type"], payment["paymentState"], payment["oldPaymentState"]) == (
        "OrderPaymentStateChanged",
        "Paid",
        "Pending",
    )


@pytest.mark.parametrize(
    ("action", "ok"),
    [
        (change("changeOrderState", "orderState", "Cancelled"), True),
        (change("changeOrderState", "orderState", "Canceled"), False),
        (change("changeShipmentState", "shipmentState", "Canceled"), True),
        (change("changeShipmentState", "shipmentState", "Cancelled"), False),
        (change("changeOrderState", "orderState", "complete"), False),
        (change("changePaymentState", "paymentState", "CreditOwed"), True),
        ({"action": "changeOrderState"}, False),
        ({"action": "transitionLineItemState"}, False),
    ],
)
def test_enum_values_are_checked(ct: CtSandbox, action: dict[str, str], ok: bool) -> None:
    order = checked_out(ct, lineItems=[{"sku": seeded_skus(ct, 1)[0]}])
    response = update(ct, "/orders", order, action)
    assert response.status_code == (200 if ok else 400), response.text
    if not ok:
        assert error_code(response) == "InvalidJsonInput"


def test_messages_expand_to_the_current_order_and_payment(ct: CtSandbox) -> None:
    payment = create_payment(ct)
    order = checked_out(ct, lineItems=[{"sku": seeded_skus(ct, 1)[0]}])
    order = updated(ct, "/orders", order, {"action": "addPayment", "payment": {"id": payment["id"]}})
    order = updated(ct, "/orders", order, change("changeOrderState", "orderState", "Confirmed"))
    where = {"where": "resource(id in :ids)", "var.ids": [order["id"], payment["id"]], "expand": "resource"}
    expanded = ct.messages(**where)
    assert {m["type"] for m in expanded} == {"PaymentCreated", "OrderCreated", "OrderPaymentAdded", "OrderStateChanged"}
    for message in expanded:
        assert message["resource"]["obj"] == (order if message["resource"]["typeId"] == "order" else payment)


def test_scopes(ct: CtSandbox) -> None:
    order = checked_out(ct, lineItems=[{"sku": seeded_skus(ct, 1)[0]}])

    def call(scope: str, method: str, path: str, body: Any = None) -> int:
        token = ct.token(scope=f"{scope}:{PROJECT}").json()["access_token"]
        url = f"{ct.url}/{PROJECT}{path}"
        headers = {"Authorization": f"Bearer {token}"}
        return ct.session.request(method, url, json=body, headers=headers, timeout=10).status_code

    confirm = {"version": order["version"], "actions": [change("changeOrderState", "orderState", "Confirmed")]}
    assert call("view_orders", "GET", "/orders") == 200
    assert call("view_orders", "GET", f"/orders/{order['id']}") == 200
    assert call("view_orders", "GET", "/shipping-methods") == 200
    assert call("view_orders", "POST", f"/orders/{order['id']}", confirm) == 403
    assert call("view_customers", "GET", "/orders") == 403
    assert call("view_payments", "GET", "/payments") == 200
    assert call("view_orders", "GET", "/payments") == 403
    assert call("view_payments", "POST", "/payments", {"amountPlanned": money("EUR", 1)}) == 403
    assert call("manage_payments", "POST", "/payments", {"amountPlanned": money("EUR", 1)}) == 201
    assert call("view_orders", "POST", "/orders/import", import_draft([])) == 403
    assert call("manage_orders", "POST", f"/orders/{order['id']}", confirm) == 200


def test_shipping_methods_are_seeded_and_read_only(ct: CtSandbox) -> None:
    methods = ct.ok("/shipping-methods", sort="key asc")["results"]
    assert [m["key"] for m in methods] == ["click-collect", "express", "standard"]
    assert [m["isDefault"] for m in methods] == [False, False, True]
    click_and_collect = ct.ok("/shipping-methods/key=click-collect")
    assert click_and_collect["name"] == "Click & Collect"
    assert {rate["price"]["centAmount"] for z in click_and_collect["zoneRates"] for rate in z["shippingRates"]} == {0}
    assert ct.query_ids("/shipping-methods", where="isDefault = true") == [methods[2]["id"]]
    assert ct.post("/shipping-methods", {"name": "x"}).status_code == 405
    assert ct.get("/shipping-methods/key=none").status_code == 404


# -- the seeded orders -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sales() -> Iterator[CtSandbox]:
    with running() as sandbox:
        sandbox.admin.call("POST", "/seed", {"customers": 200, "days": 30, "seed": 4, "products": 150, "orders": 400})
        yield sandbox


def test_seeded_orders_have_every_hard_case(sales: CtSandbox) -> None:
    state = sales.admin.state()
    orders, payments = state["orders"], state["payments"]
    assert len(orders) == 400 and len(payments) == 404  # one each, and abandoned checkouts
    _assert_hard_cases(state)
    methods = Counter(_shipping_method(state, o) for o in orders)
    assert methods["standard"] > methods["express"] > 0 and methods["click-collect"] > 0
    assert 0 < sum("orderNumber" not in o for o in orders) < len(orders) / 5
    assert Counter(o["orderState"] for o in orders).most_common(1)[0][0] == "Open"
    attached = {i for o in orders for i in _payment_ids(o)}
    assert len(attached) == len(orders) and attached <= {p["id"] for p in payments}
    abandoned = [p for p in payments if p["id"] not in attached]
    assert len(abandoned) == 4 and not any(t["state"] == "Success" for p in abandoned for t in p["transactions"])


def test_hard_cases_are_in_the_first_orders_of_any_seed() -> None:
    with running() as small:
        seed = {"customers": 30, "days": 5, "seed": 9, "products": 20, "orders": HARD_CASES}
        answer = small.admin.call("POST", "/seed", seed)
        assert answer["orders"] == HARD_CASES and answer["shipping_methods"] == 3
        _assert_hard_cases(small.admin.state())


def _assert_hard_cases(state: dict[str, Any]) -> None:
    orders, payments = state["orders"], state["payments"]
    emails = {c["email"] for c in state["customers"]}
    guests = [o for o in orders if "customerId" not in o]
    assert guests and all(o["customerEmail"] for o in guests)
    assert any(o["customerEmail"] in emails for o in guests)  # a registered customer who did not log in
    lower_case = {e.lower() for e in emails}
    assert any(o["customerEmail"] not in emails and o["customerEmail"].lower() in lower_case for o in guests)
    assert {o.get("store", {}).get("key") for o in orders} == {"eu-store", "us-store", "au-store", None}
    assert {_shipping_method(state, o) for o in orders} >= {"standard", "express", "click-collect"}
    for order in orders:
        if _shipping_method(state, order) == "click-collect":
            assert order["custom"]["fields"]["pickupLocation"].startswith("STORE-")
            assert order["shippingAddress"]["company"].startswith("ctfluent Store")
    currencies = {(o["totalPrice"]["currencyCode"], o["totalPrice"]["fractionDigits"]) for o in orders}
    assert currencies == {("EUR", 2), ("USD", 2), ("JPY", 0), ("KWD", 3)}
    assert any(line["discountedPricePerQuantity"] for o in orders for line in o["lineItems"])
    assert any(o["customLineItems"] for o in orders)
    assert any("orderNumber" not in o for o in orders)
    assert {o["orderState"] for o in orders} == {"Open", "Confirmed", "Complete", "Cancelled"}
    assert {o.get("shipmentState") for o in orders if o["orderState"] == "Cancelled"} == {"Canceled"}
    assert {o["origin"] for o in orders} == {"Customer", "Merchant"}  # the marketplace's was imported
    kinds = {(t["type"], t["state"]) for p in payments for t in p["transactions"]}
    states = ("Initial", "Pending", "Success", "Failure")
    assert {(kind, s) for kind in ("Authorization", "Charge", "Refund") for s in states} <= kinds
    assert ("CancelAuthorization", "Success") in kinds
    by_id = {p["id"]: p for p in payments}
    assert all(by_id[i]["createdAt"] < o["createdAt"] for o in orders for i in _payment_ids(o))


def _shipping_method(state: dict[str, Any], order: dict[str, Any]) -> str | None:
    keys = {m["id"]: m["key"] for m in state["shipping_methods"]}
    return keys.get(order["shippingInfo"].get("shippingMethod", {}).get("id"))


def test_seeded_orders_are_consistent(sales: CtSandbox) -> None:
    state = sales.admin.state()
    customers = {c["id"]: c for c in state["customers"]}
    products = {p["id"]: p for p in state["products"]}
    for order in state["orders"]:
        assert order["createdAt"] <= order["lastModifiedAt"] and (order["version"] == 1) == (
            order["createdAt"] == order["lastModifiedAt"]
        )
        if "customerId" in order:
            assert customers[order["customerId"]]["createdAt"] <= order["createdAt"]
        for line in order["lineItems"]:
            product = products[line["productId"]]
            assert product["createdAt"] <= order["createdAt"]
            assert line["variant"]["sku"] in {v.get("sku") for v in variants(product["masterData"]["current"])}
        lines = [*order["lineItems"], *order["customLineItems"]]
        shipping = order["shippingInfo"]["price"]["centAmount"]
        assert order["totalPrice"]["centAmount"] == sum(line["totalPrice"]["centAmount"] for line in lines) + shipping
        taxed = order["taxedPrice"]
        assert taxed["totalGross"]["centAmount"] - taxed["totalNet"]["centAmount"] == taxed["totalTax"]["centAmount"]
    payments = {p["id"]: p for p in state["payments"]}
    for order in state["orders"]:
        (payment,) = (payments[i] for i in _payment_ids(order))
        assert payment["amountPlanned"] == order["taxedPrice"]["totalGross"]
        assert all(t["amount"] == payment["amountPlanned"] for t in payment["transactions"])
        assert payment.get("customer", {}).get("id") == order.get("customerId")


def _payment_ids(order: dict[str, Any]) -> list[str]:
    return [ref["id"] for ref in order.get("paymentInfo", {}).get("payments", [])]


def test_the_order_seed_is_deterministic(sales: CtSandbox) -> None:
    with running() as other:
        other.admin.call("POST", "/seed", {"customers": 200, "days": 30, "seed": 4, "products": 150, "orders": 400})
        mine, theirs = (
            [(o["id"], o.get("orderNumber"), o["totalPrice"], o["version"]) for o in s.admin.state()["orders"]]
            for s in (sales, other)
        )
        assert mine == theirs
        other.admin.call("POST", "/seed", {"customers": 200, "days": 30, "seed": 5, "products": 150, "orders": 400})
        assert [o["id"] for o in other.admin.state()["orders"]] != [order_id for order_id, *_ in mine]


def test_seed_options_and_defaults() -> None:
    with running() as sandbox:
        answer = sandbox.admin.call("POST", "/seed", {"customers": 5, "days": 2})
        assert (answer["orders"], answer["payments"]) == (0, 0)
        sized = sandbox.admin.call("POST", "/seed", {"customers": 5, "products": 10, "orders": 20, "order_items": 2})
        assert all(len(o["lineItems"]) == 2 for o in sandbox.admin.state()["orders"])
        assert sized["orders"] == 20
        for bad in ({"orders": 5}, {"products": 5, "orders": -1}, {"products": 5, "orders": 5, "order_items": 0}):
            assert sandbox.admin.session.post(f"{sandbox.url}/_admin/seed", json=bad, timeout=30).status_code == 400


# -- queries ---------------------------------------------------------------------------------------------------


def test_order_predicates_match_the_documents(sales: CtSandbox) -> None:
    orders = sales.admin.state()["orders"]
    some = next(o for o in orders if "customerId" in o and "orderNumber" in o)
    stamps = sorted(o["createdAt"] for o in orders)
    sku = some["lineItems"][0]["variant"]["sku"]
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"where": f'id = "{some["id"]}"'}, {some["id"]}),
        ({"where": "orderNumber = :n", "var.n": some["orderNumber"]}, {some["id"]}),
        (
            {"where": "customerId = :c", "var.c": some["customerId"]},
            {o["id"] for o in orders if o.get("customerId") == some["customerId"]},
        ),
        (
            {"where": "customerEmail = :e", "var.e": some["customerEmail"]},
            {o["id"] for o in orders if o["customerEmail"] == some["customerEmail"]},
        ),
        ({"where": "customerId is not defined"}, {o["id"] for o in orders if "customerId" not in o}),
        (
            {"where": 'orderState in ("Complete", "Cancelled")'},
            {o["id"] for o in orders if o["orderState"] in ("Complete", "Cancelled")},
        ),
        (
            {"where": 'store(key = "us-store")'},
            {o["id"] for o in orders if o.get("store", {}).get("key") == "us-store"},
        ),
        ({"where": "store is not defined"}, {o["id"] for o in orders if "store" not in o}),
        (
            {"where": f'createdAt >= "{stamps[100]}" and createdAt < "{stamps[200]}"'},
            {o["id"] for o in orders if stamps[100] <= o["createdAt"] < stamps[200]},
        ),
        (
            {"where": f'lastModifiedAt > "{stamps[300]}"'},
            {o["id"] for o in orders if o["lastModifiedAt"] > stamps[300]},
        ),
        (
            {"where": "lineItems(variant(sku = :s))", "var.s": sku},
            {o["id"] for o in orders if sku in {li["variant"].get("sku") for li in o["lineItems"]}},
        ),
        (
            {"where": 'totalPrice(currencyCode = "JPY")'},
            {o["id"] for o in orders if o["totalPrice"]["currencyCode"] == "JPY"},
        ),
        ({"where": 'shipmentState = "Canceled"'}, {o["id"] for o in orders if o.get("shipmentState") == "Canceled"}),
    ]
    for params, expected in cases:
        assert set(sales.query_ids("/orders", limit="500", **params)) == expected, params
    assert sales.get("/orders", where="nope = 1").status_code == 400


def test_a_payments_order_is_an_index_lookup(sales: CtSandbox) -> None:
    orders = sales.emulator.orders.collection
    order = next(o for o in orders if len(_payment_ids(o)) == 1)
    orders.evaluations = 0
    found = sales.query_ids("/orders", where="paymentInfo(payments(id = :id))", **{"var.id": _payment_ids(order)[0]})
    assert found == [order["id"]] and orders.evaluations == 1


def test_id_cursor_paging_returns_each_order_once(sales: CtSandbox) -> None:
    orders = sales.admin.state()["orders"]
    stamps = sorted(o["lastModifiedAt"] for o in orders)
    start, end = stamps[50], stamps[350]
    expected = sorted(o["id"] for o in orders if start <= o["lastModifiedAt"] < end)
    seen: list[str] = []
    while True:
        where = f'lastModifiedAt >= "{start}" and lastModifiedAt < "{end}"' + (
            f' and id > "{seen[-1]}"' if seen else ""
        )
        page = sales.ok("/orders", where=where, sort="id asc", limit="40", withTotal="false")
        assert "total" not in page and page["count"] == len(page["results"])
        seen += [o["id"] for o in page["results"]]
        if page["count"] < 40:
            break
    assert seen == expected
    payments = sales.ok("/payments", sort="id asc", limit="500")
    assert payments["total"] == 404 and [p["id"] for p in payments["results"]] == sorted(
        p["id"] for p in payments["results"]
    )


def test_fifty_thousand_orders_seed_in_seconds() -> None:
    """The benchmark's size: 50,000 orders of 3 items, a payment each."""
    with running() as sandbox:
        answer = sandbox.emulator.seed(customers=5000, days=30, seed=8, products=1000, orders=50_000, order_items=3)
        assert (answer["orders"], answer["payments"]) == (50_000, 50_500)
        assert answer["seconds"] < 60  # about 15 s on one busy core; generous for a busier machine
        page = sandbox.ok("/orders", limit="500", withTotal="false", sort="createdAt desc")
        assert all(len(o["lineItems"]) == 3 for o in page["results"])
