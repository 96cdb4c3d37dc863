"""commercetools orders and payments -> Fluent orders (with their customer) and financial transactions: the mapping
rules, as tables. Inputs are shaped like commercetools API records; expected money is worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from ctfluent_dagster.commercetools.models import Address
from ctfluent_dagster.entities.customers.mapping import MappedCustomer, fluent_username, map_customer
from ctfluent_dagster.entities.customers.models import Customer
from ctfluent_dagster.entities.customers.settings import CustomerMappingSettings
from ctfluent_dagster.entities.orders.mapping import (
    NO_CUSTOMER,
    NO_PICKUP_LOCATION,
    NO_RETAILER,
    NO_SKU,
    TOO_LONG,
    MappedOrder,
    SkippedOrder,
    billing_address,
    click_and_collect_location,
    created_from,
    delivery_address,
    delivery_instruction,
    fulfilment_type,
    full_name,
    map_order,
    order_customer,
    order_ref,
    order_retailer,
    street,
)
from ctfluent_dagster.entities.orders.models import Order
from ctfluent_dagster.entities.orders.settings import OrderSettings
from ctfluent_dagster.entities.payments.mapping import (
    MappedTransaction,
    SkippedTransaction,
    card_type,
    map_transactions,
    payment_method,
)
from ctfluent_dagster.entities.payments.models import Payment
from ctfluent_dagster.entities.payments.settings import PaymentSettings

DIGITS = {"EUR": 2, "USD": 2, "AUD": 2, "JPY": 0, "KWD": 3}
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
CATALOGUE = "PC:MASTER:2"
ORDERS = OrderSettings()
CUSTOMERS = CustomerMappingSettings(store_retailers={"eu-store": "2"})
PAYMENTS = PaymentSettings()


def money(currency: str, cents: int) -> dict[str, Any]:
    return {"type": "centPrecision", "currencyCode": currency, "centAmount": cents, "fractionDigits": DIGITS[currency]}


def taxed(currency: str, net: int, gross: int, tax: int | None) -> dict[str, Any]:
    value: dict[str, Any] = {"totalNet": money(currency, net), "totalGross": money(currency, gross), "taxPortions": []}
    if tax is not None:
        value["totalTax"] = money(currency, tax)
    return value


def tax_rate(country: str, amount: float, included: bool) -> dict[str, Any]:
    return {"id": f"rate-{country}", "name": f"{amount:.2%}", "amount": amount, "includedInPrice": included,
            "country": country, "subRates": []}  # fmt: skip


VAT_DE = tax_rate("DE", 0.19, True)


def line(
    line_id: str,
    sku: str | None,
    unit: dict[str, Any],
    quantity: int,
    total: dict[str, Any],
    tax: dict[str, Any] | None,
    rate: dict[str, Any] | None = None,  # none: as staged before the rate was kept
    name: dict[str, str] | None = None,
) -> dict[str, Any]:
    variant: dict[str, Any] = {"id": 1, "attributes": []} | ({"sku": sku} if sku is not None else {})
    item: dict[str, Any] = {
        "id": line_id, "productId": "p-1", "productKey": "runner", "name": name or {"en": "Runner"},
        "variant": variant, "price": {"id": f"price-{line_id}", "value": unit}, "quantity": quantity,
        "totalPrice": total, "lineItemMode": "Standard", "priceMode": "Platform",
    }  # fmt: skip
    return item | ({"taxedPrice": tax} if tax is not None else {}) | ({"taxRate": rate} if rate is not None else {})


def custom_line(
    slug: str, unit: dict[str, Any], quantity: int, total: dict[str, Any], tax: dict[str, Any]
) -> dict[str, Any]:
    return {"id": f"cli-{slug}", "name": {"en": slug.title()}, "slug": slug, "quantity": quantity, "money": unit,
            "totalPrice": total, "taxedPrice": tax, "taxRate": VAT_DE, "priceMode": "Standard"}  # fmt: skip


def shipping(method_key: str | None, price: dict[str, Any], tax: dict[str, Any] | None) -> dict[str, Any]:
    info: dict[str, Any] = {
        "shippingMethodName": method_key or "Custom",
        "price": price,
        "shippingMethodState": "MatchesCart",
    }
    if method_key is not None:
        info["shippingMethod"] = {"typeId": "shipping-method", "id": f"sm-{method_key}",
                                  "obj": {"id": f"sm-{method_key}", "key": method_key, "name": method_key}}  # fmt: skip
    return info | ({"taxedPrice": tax} if tax is not None else {})


def custom(**fields: Any) -> dict[str, Any]:
    return {"type": {"typeId": "type", "id": "t-order"}, "fields": fields}


SHIPPING_ADDRESS: dict[str, Any] = {
    "id": "addr-ship", "firstName": "Jane", "lastName": "Doe", "streetName": "Hauptstraße", "streetNumber": "5",
    "additionalStreetInfo": "Hinterhaus", "postalCode": "10115", "city": "Berlin", "region": "Brandenburg",
    "state": "BE", "country": "DE", "company": "Acme GmbH", "phone": "+49 30 1234", "email": "ship@example.com",
}  # fmt: skip
BILLING_ADDRESS: dict[str, Any] = {
    "id": "addr-bill", "firstName": "Janet", "lastName": "Doe-Bill", "streetName": "Rechnungsweg",
    "streetNumber": "1", "postalCode": "1010", "city": "Wien", "country": "AT", "mobile": "+43 660 1234",
    "email": "bill@example.com",
}  # fmt: skip


def order_json(**fields: Any) -> dict[str, Any]:
    """An EUR order in store eu-store: 2 x RUN-1 at 49.99 (gross, 19 % VAT included: 99.98, tax 15.97), standard
    shipping 4.99."""
    base: dict[str, Any] = {
        "id": "ord-1", "version": 4, "createdAt": "2026-03-01T10:00:00.000Z",
        "lastModifiedAt": "2026-03-01T10:05:00.000Z", "orderNumber": "10001", "customerId": "c-1",
        "customerEmail": "Jane.Doe@Example.com", "store": {"typeId": "store", "key": "eu-store"},
        "lineItems": [line("li-1", "RUN-1", money("EUR", 4999), 2, money("EUR", 9998), taxed("EUR", 8401, 9998, 1597),
                           VAT_DE)],
        "customLineItems": [], "totalPrice": money("EUR", 10497), "taxedPrice": taxed("EUR", 8820, 10497, 1677),
        "shippingAddress": SHIPPING_ADDRESS, "billingAddress": BILLING_ADDRESS,
        "shippingInfo": shipping("standard", money("EUR", 499), taxed("EUR", 419, 499, 80)),
        "paymentInfo": {"payments": [{"typeId": "payment", "id": "pay-1"}]}, "orderState": "Open",
        "shipmentState": "Pending", "paymentState": "Paid", "locale": "de-DE", "country": "DE", "taxMode": "Platform",
        "custom": custom(giftMessage="Happy birthday"),
    }  # fmt: skip
    return base | fields


def ct_order(**fields: Any) -> Order:
    return Order.model_validate(order_json(**fields))


def run(
    order: Order,
    settings: OrderSettings = ORDERS,
    customers: CustomerMappingSettings = CUSTOMERS,
    default_retailer: str | None = "1",
) -> MappedOrder | SkippedOrder:
    return map_order(order, settings, customers, default_retailer, CATALOGUE, NOW)


def mapped(
    order: Order, settings: OrderSettings = ORDERS, customers: CustomerMappingSettings = CUSTOMERS
) -> MappedOrder:
    result = run(order, settings, customers)
    assert isinstance(result, MappedOrder), result
    return result


def skipped(
    order: Order,
    settings: OrderSettings = ORDERS,
    customers: CustomerMappingSettings = CUSTOMERS,
    default_retailer: str | None = "1",
) -> SkippedOrder:
    result = run(order, settings, customers, default_retailer)
    assert isinstance(result, SkippedOrder), result
    return result


# -- ref, retailer, cut-off ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "settings", "expected"),
    [
        ({}, ORDERS, "10001"),
        ({"orderNumber": " 10002 "}, ORDERS, "10002"),
        ({"orderNumber": None}, ORDERS, "CT_ord-1"),
        ({"orderNumber": "   "}, ORDERS, "CT_ord-1"),
        ({"orderNumber": None}, OrderSettings(ref_prefix="SHOP-"), "SHOP-ord-1"),
        ({"orderNumber": None}, OrderSettings(ref_prefix=""), "ord-1"),
    ],
)
def test_ref_is_the_order_number_else_prefix_and_id(
    fields: dict[str, Any], settings: OrderSettings, expected: str
) -> None:
    assert order_ref(ct_order(**fields), settings) == expected
    assert mapped(ct_order(**fields), settings).order.ref == expected


@pytest.mark.parametrize(
    ("store", "customers", "default", "expected"),
    [
        ({"typeId": "store", "key": "eu-store"}, CUSTOMERS, "1", "2"),
        ({"typeId": "store", "key": "eu-store"}, CUSTOMERS, None, "2"),
        ({"typeId": "store", "key": "us-store"}, CUSTOMERS, "1", "1"),  # unmapped store: the default
        (None, CUSTOMERS, "1", "1"),
        # the customers' own default retailer comes before FLUENT_RETAILER_ID
        ({"typeId": "store", "key": "us-store"}, CustomerMappingSettings(default_retailer_id="9"), "1", "9"),
        (None, CustomerMappingSettings(default_retailer_id="9"), None, "9"),
        ({"typeId": "store", "key": "us-store"}, CUSTOMERS, None, None),
        (None, CustomerMappingSettings(), None, None),
    ],
)
def test_retailer_from_store_map_else_defaults(
    store: dict[str, str] | None, customers: CustomerMappingSettings, default: str | None, expected: str | None
) -> None:
    order = ct_order(store=store)
    assert order_retailer(order, customers, default) == expected
    result = run(order, ORDERS, customers, default)
    if expected is None:
        assert isinstance(result, SkippedOrder) and result.failure_code == NO_RETAILER
        assert f"store {store['key'] if store else 'none'} is unmapped and no default is set" in result.reason
    else:
        assert isinstance(result, MappedOrder)
        assert (result.retailer_id, result.order.retailer.id, result.customer.retailer.id) == (expected,) * 3
        assert result.customer.username == f"{expected}_jane.doe@example.com"


@pytest.mark.parametrize(
    ("settings", "now", "expected"),
    [
        (OrderSettings(), NOW, datetime(2026, 2, 8, 12, 0, tzinfo=UTC)),  # 30 days
        (OrderSettings(max_age_days=1), NOW, datetime(2026, 3, 9, 12, 0, tzinfo=UTC)),
        (OrderSettings(max_age_days=0), NOW, None),  # any age
        (OrderSettings(created_from=date(2025, 12, 24)), NOW, datetime(2025, 12, 24, tzinfo=UTC)),
        # a fixed day wins over the rolling window
        (OrderSettings(created_from=date(2026, 3, 5), max_age_days=0), NOW, datetime(2026, 3, 5, tzinfo=UTC)),
    ],
)
def test_created_from_cutoff(settings: OrderSettings, now: datetime, expected: datetime | None) -> None:
    assert created_from(settings, now) == expected


@pytest.mark.parametrize(
    ("fields", "settings", "reason"),
    [
        ({"createdAt": "2026-02-08T11:59:59.999Z"}, ORDERS, "created 2026-02-08, before 2026-02-08"),
        ({"createdAt": "2025-01-01T00:00:00.000Z"}, OrderSettings(max_age_days=365), "before 2025-03-10"),
        ({"createdAt": "2026-03-04T23:59:59.000Z"}, OrderSettings(created_from=date(2026, 3, 5)),
         "created 2026-03-04, before 2026-03-05"),
        # history is checked before the state, and both are choices even for a broken order
        ({"createdAt": "2020-01-01T00:00:00.000Z", "store": None}, OrderSettings(max_age_days=10), "before 2026-02-28"),
        ({"orderState": "Complete"}, ORDERS, "the order is Complete in commercetools (orders.skip_order_states)"),
        ({"orderState": "Cancelled", "lineItems": []}, ORDERS, "the order is Cancelled"),
        ({"orderState": "Confirmed"}, OrderSettings(skip_order_states=("Confirmed",)), "the order is Confirmed"),
    ],
)  # fmt: skip
def test_history_and_finished_orders_are_skipped_by_choice(
    fields: dict[str, Any], settings: OrderSettings, reason: str
) -> None:
    result = skipped(ct_order(**fields), settings, default_retailer=None)
    assert result.failure_code is None
    assert reason in result.reason


@pytest.mark.parametrize(
    ("fields", "settings"),
    [
        ({"createdAt": "2026-02-08T12:00:00.000Z"}, ORDERS),  # exactly at the cut-off
        ({"createdAt": "2020-01-01T00:00:00.000Z"}, OrderSettings(max_age_days=0)),
        ({"createdAt": "2026-03-05T00:00:00.000Z"}, OrderSettings(created_from=date(2026, 3, 5))),
        ({"createdAt": "2026-01-01T00:00:00.000Z"}, OrderSettings(created_from=date(2025, 12, 31), max_age_days=1)),
        ({"orderState": "Confirmed"}, ORDERS),
        ({"orderState": "Complete"}, OrderSettings(skip_order_states=())),
    ],
)
def test_recent_open_orders_are_sent(fields: dict[str, Any], settings: OrderSettings) -> None:
    assert mapped(ct_order(**fields), settings).order.ref == "10001"


# -- the customer at order time ------------------------------------------------------------------

CUSTOMER_DEFAULT: dict[str, Any] = {
    "username": "2_jane.doe@example.com", "firstName": "Janet", "lastName": "Doe-Bill",
    "primaryEmail": "Jane.Doe@Example.com", "primaryPhone": "+43 660 1234", "country": "AT", "timezone": "UTC",
    "promotionOptIn": False, "retailer": {"id": "2"},
    "attributes": [{"name": "ctCustomerId", "type": "STRING", "value": "c-1"}],
}  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "customers", "changes", "notes"),
    [
        ({}, CUSTOMERS, {}, []),
        # a guest: no customerId, the same username rule, no ctCustomerId attribute
        ({"customerId": None}, CUSTOMERS, {"attributes": []}, []),
        ({"customerEmail": "  JOHN@Example.COM "}, CUSTOMERS,
         {"username": "2_john@example.com", "primaryEmail": "JOHN@Example.COM"}, []),
        ({"customerEmail": "Jane.Doe@Example.com"},
         CustomerMappingSettings(store_retailers={"eu-store": "2"}, keep_email_case=True),
         {"username": "2_Jane.Doe@Example.com"}, []),
        # no order email: the contact address's (billing, else shipping)
        ({"customerEmail": None}, CUSTOMERS,
         {"username": "2_bill@example.com", "primaryEmail": "bill@example.com"}, []),
        ({"customerEmail": None, "billingAddress": None}, CUSTOMERS,
         {"username": "2_ship@example.com", "primaryEmail": "ship@example.com", "firstName": "Jane",
          "lastName": "Doe", "primaryPhone": "+49 30 1234", "country": "DE"}, []),
        # names and phone: billing, else shipping; phone before mobile
        ({"billingAddress": {"country": "AT"}}, CUSTOMERS,
         {"firstName": "Jane", "lastName": "Doe", "primaryPhone": "+49 30 1234"}, []),
        ({"billingAddress": BILLING_ADDRESS | {"phone": "+43 1 999"}}, CUSTOMERS, {"primaryPhone": "+43 1 999"}, []),
        ({"billingAddress": {"country": "AT"}, "shippingAddress": {"country": "DE"}}, CUSTOMERS,
         {"firstName": "Customer", "lastName": None, "primaryPhone": None}, []),
        ({"billingAddress": None, "shippingAddress": None}, CustomerMappingSettings(first_name_fallback="N/A"),
         {"username": "1_jane.doe@example.com", "retailer": {"id": "1"}, "firstName": "N/A", "lastName": None,
          "primaryPhone": None, "country": "DE"}, []),
        ({}, CUSTOMERS.model_copy(update={"timezone_by_country": {"AT": "Europe/Vienna"}}),
         {"timezone": "Europe/Vienna"}, []),
        ({}, CUSTOMERS.model_copy(update={"default_timezone": "Europe/Berlin"}), {"timezone": "Europe/Berlin"}, []),
        # too long: names are cut and the phone left out, with notes; the order is not held back
        ({"billingAddress": BILLING_ADDRESS | {"firstName": "F" * 60, "lastName": "L" * 51}}, CUSTOMERS,
         {"firstName": "F" * 50, "lastName": "L" * 50},
         ["customer firstName cut from 60 to 50 characters", "customer lastName cut from 51 to 50 characters"]),
        ({"billingAddress": BILLING_ADDRESS | {"mobile": "+43 (0) 660 123 45 67"}, "shippingAddress": None}, CUSTOMERS,
         {"primaryPhone": None}, ["customer primaryPhone left out (21 characters, max 20)"]),
        # a phone that fits (the shipping address's) is taken instead of one that does not
        ({"billingAddress": BILLING_ADDRESS | {"mobile": "+43 (0) 660 123 45 67"}}, CUSTOMERS,
         {"primaryPhone": "+49 30 1234"}, []),
        ({"billingAddress": BILLING_ADDRESS | {"mobile": "+43 (0) 660 12 34 56"}}, CUSTOMERS,
         {"primaryPhone": "+43 (0) 660 12 34 56"}, []),  # 20: fits
    ],
)  # fmt: skip
def test_order_customer(
    fields: dict[str, Any], customers: CustomerMappingSettings, changes: dict[str, Any], notes: list[str]
) -> None:
    order = ct_order(**fields)
    retailer = order_retailer(order, customers, "1")
    assert retailer is not None
    expected = {name: value for name, value in (CUSTOMER_DEFAULT | changes).items() if value is not None}
    found: list[str] = []
    customer = order_customer(order, retailer, customers, found)
    assert not isinstance(customer, SkippedOrder), customer
    assert customer.create_input() == expected
    assert found == notes
    result = mapped(order, ORDERS, customers)
    assert result.customer == customer and list(result.notes) == notes


def test_an_order_finds_the_customer_the_customer_sync_created() -> None:
    email = "  Jane.Doe@Example.COM "
    for keep_case in (False, True):
        customers = CUSTOMERS.model_copy(update={"keep_email_case": keep_case})
        synced = map_customer(
            Customer.model_validate({"id": "c-1", "version": 1, "createdAt": "2026-01-01T00:00:00Z",
                                     "lastModifiedAt": "2026-01-01T00:00:00Z", "email": email,
                                     "stores": [{"typeId": "store", "key": "eu-store"}]}),
            customers, "1",
        )  # fmt: skip
        assert isinstance(synced[0], MappedCustomer)
        guest = mapped(ct_order(customerId=None, customerEmail=email), ORDERS, customers)
        assert guest.customer.username == synced[0].payload.username == fluent_username("2", email, keep_case)
    assert guest.customer.username == "2_Jane.Doe@Example.COM"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"customerEmail": None, "billingAddress": None, "shippingAddress": SHIPPING_ADDRESS | {"email": None}},
         "the order has no email"),
        ({"customerEmail": "   ", "billingAddress": BILLING_ADDRESS | {"email": " "},
          "shippingAddress": SHIPPING_ADDRESS | {"email": None}}, "the order has no email"),
        ({"customerEmail": "a" * 240 + "@example.com"},
         "its customer is too long for Fluent: username is 254 characters (max 250); primaryEmail is 252 characters"),
    ],
)  # fmt: skip
def test_an_order_without_a_usable_email_has_no_customer(fields: dict[str, Any], reason: str) -> None:
    result = skipped(ct_order(**fields))
    assert result.failure_code == NO_CUSTOMER and reason in result.reason


# -- items, SKUs, custom line items --------------------------------------------------------------


@pytest.mark.parametrize(
    ("sku", "skus"),
    [(None, None), ("", None), ("   ", None), (" RUN-2 ", ("RUN-1", "RUN-2"))],
)
def test_every_line_item_needs_a_sku(sku: str | None, skus: tuple[str, ...] | None) -> None:
    lines = [
        line("li-1", "RUN-1", money("EUR", 4999), 2, money("EUR", 9998), None),
        line("li-2", sku, money("EUR", 100), 1, money("EUR", 100), None),
        line("li-3", "RUN-1", money("EUR", 4999), 1, money("EUR", 4999), None),
    ]
    result = run(ct_order(lineItems=lines))
    if skus is None:
        assert isinstance(result, SkippedOrder) and result.failure_code == NO_SKU
        assert result.reason == "line item(s) li-2 have no SKU, which Fluent needs (productRef)"
    else:
        assert isinstance(result, MappedOrder) and result.skus == skus
        assert [(i.ref, i.product_ref, i.product_catalogue_ref, i.quantity) for i in result.order.items] == [
            ("li-1", "RUN-1", CATALOGUE, 2), ("li-2", "RUN-2", CATALOGUE, 1), ("li-3", "RUN-1", CATALOGUE, 1)
        ]  # fmt: skip


GIFT_WRAP = custom_line("gift-wrap", money("EUR", 350), 1, money("EUR", 350), taxed("EUR", 294, 350, 56))
FEE = custom_line("fee", money("EUR", 125), 2, money("EUR", 250), taxed("EUR", 210, 250, 40))


@pytest.mark.parametrize(
    ("settings", "items", "noted", "notes"),
    [
        (ORDERS, [], [{"slug": "gift-wrap", "quantity": 1, "totalPrice": "3.50"},
                      {"slug": "fee", "quantity": 2, "totalPrice": "2.50"}],
         ["custom line item gift-wrap (3.50 EUR) recorded as an attribute, not an item",
          "custom line item fee (2.50 EUR) recorded as an attribute, not an item"]),
        # configured products only apply with custom_line_items = item
        (OrderSettings(custom_line_item_products={"gift-wrap": "GIFT"}), [],
         [{"slug": "gift-wrap", "quantity": 1, "totalPrice": "3.50"},
          {"slug": "fee", "quantity": 2, "totalPrice": "2.50"}],
         ["custom line item gift-wrap (3.50 EUR) recorded as an attribute, not an item",
          "custom line item fee (2.50 EUR) recorded as an attribute, not an item"]),
        (OrderSettings(custom_line_items="item", custom_line_item_products={"gift-wrap": "GIFT", "fee": "FEE"}),
         [("cli-gift-wrap", "GIFT", 1, "2.94", "2.94", "0.56", "3.50", "0.56"),
          ("cli-fee", "FEE", 2, "1.05", "1.05", "0.20", "2.50", "0.40")], [], []),
        (OrderSettings(custom_line_items="item", custom_line_item_products={"gift-wrap": "GIFT"}),
         [("cli-gift-wrap", "GIFT", 1, "2.94", "2.94", "0.56", "3.50", "0.56")],
         [{"slug": "fee", "quantity": 2, "totalPrice": "2.50"}],
         ["custom line item fee (2.50 EUR) recorded as an attribute, not an item"]),
    ],
)  # fmt: skip
def test_custom_line_items_as_notes_or_items(
    settings: OrderSettings, items: list[tuple[Any, ...]], noted: list[dict[str, Any]], notes: list[str]
) -> None:
    result = mapped(ct_order(customLineItems=[GIFT_WRAP, FEE]), settings)
    extra = [(i.ref, i.product_ref, i.quantity, str(i.price), str(i.paid_price), str(i.tax_price), str(i.total_price),
              str(i.total_tax_price)) for i in result.order.items[1:]]  # fmt: skip
    assert extra == items
    assert all(i.product_catalogue_ref == CATALOGUE and i.currency == "EUR" for i in result.order.items)
    attributes = {a.name: a for a in result.order.attributes}
    if noted:
        assert (attributes["ctCustomLineItems"].type, attributes["ctCustomLineItems"].value) == ("JSON", noted)
    else:
        assert "ctCustomLineItems" not in attributes
    assert list(result.notes) == notes
    assert result.skus == ("RUN-1",)


def test_an_order_of_noted_custom_line_items_only_has_nothing_to_fulfil() -> None:
    result = skipped(ct_order(lineItems=[], customLineItems=[GIFT_WRAP]))
    assert (result.reason, result.failure_code) == ("the order has no line items to fulfil", None)


# -- money ---------------------------------------------------------------------------------------

MONEY_FIELDS = ("currency", "price", "paidPrice", "taxPrice", "totalPrice", "totalTaxPrice",
                "order.totalPrice", "order.totalTaxPrice", "fulfilmentPrice", "fulfilmentTaxPrice")  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # EUR, gross prices: 84.01 / 2 = 42.005 -> 42.00 and 15.97 / 2 = 7.985 -> 7.98 (half even); the net list
        # price 49.99 x 84.01 / 99.98 = 42.0049 -> 42.00, as paid: no discount
        pytest.param({}, ("EUR", "42.00", "42.00", "7.98", "99.98", "15.97", "104.97", "16.77", "4.99", "0.80"),
                     id="EUR"),
        # a discounted line: 49.99 x 75.61 / 89.98 = 42.0065 -> 42.01; 75.61 / 2 = 37.805 -> 37.80, 14.37 / 2 =
        # 7.185 -> 7.18
        pytest.param(
            {"lineItems": [line("li-1", "RUN-1", money("EUR", 4999), 2, money("EUR", 8998),
                                taxed("EUR", 7561, 8998, 1437), VAT_DE)],
             "totalPrice": money("EUR", 9497), "taxedPrice": taxed("EUR", 7980, 9497, 1517)},
            ("EUR", "42.01", "37.80", "7.18", "89.98", "14.37", "94.97", "15.17", "4.99", "0.80"), id="EUR-discount"),
        # three units: 25.21 / 3 = 8.4033.. -> 8.40, 4.79 / 3 = 1.5966.. -> 1.60
        pytest.param(
            {"lineItems": [line("li-1", "RUN-1", money("EUR", 1000), 3, money("EUR", 3000),
                                taxed("EUR", 2521, 3000, 479), VAT_DE)],
             "totalPrice": money("EUR", 3499), "taxedPrice": taxed("EUR", 2940, 3499, 559)},
            ("EUR", "8.40", "8.40", "1.60", "30.00", "4.79", "34.99", "5.59", "4.99", "0.80"), id="EUR-thirds"),
        # JPY, no minor unit: 2727 / 2 = 1363.5 -> 1364 and 273 / 2 = 136.5 -> 136 (half even, both ways)
        pytest.param(
            {"lineItems": [line("li-1", "RUN-1", money("JPY", 1500), 2, money("JPY", 3000),
                                taxed("JPY", 2727, 3000, 273), tax_rate("JP", 0.1, True))],
             "totalPrice": money("JPY", 3500), "taxedPrice": taxed("JPY", 3182, 3500, 318),
             "shippingInfo": shipping("standard", money("JPY", 500), taxed("JPY", 455, 500, 45))},
            ("JPY", "1364", "1364", "136", "3000", "273", "3500", "318", "500", "45"), id="JPY"),
        # KWD, net prices (totalPrice is net): the totals are the gross ones; 1.233 / 2 = 0.6165 -> 0.616
        pytest.param(
            {"lineItems": [line("li-1", "RUN-1", money("KWD", 12345), 2, money("KWD", 24690),
                                taxed("KWD", 24690, 25923, 1233), tax_rate("KW", 0.05, False))],
             "totalPrice": money("KWD", 26690), "taxedPrice": taxed("KWD", 26690, 28023, 1333),
             "shippingInfo": shipping("standard", money("KWD", 2000), taxed("KWD", 2000, 2100, 100))},
            ("KWD", "12.345", "12.345", "0.616", "25.923", "1.233", "28.023", "1.333", "2.100", "0.100"), id="KWD"),
        # without taxedPrice: the prices as they are, tax zero with the currency's digits
        pytest.param(
            {"lineItems": [line("li-1", "RUN-1", money("EUR", 4999), 2, money("EUR", 9998), None)],
             "taxedPrice": None, "shippingInfo": shipping("standard", money("EUR", 499), None)},
            ("EUR", "49.99", "49.99", "0.00", "99.98", "0.00", "104.97", "0.00", "4.99", "0.00"), id="EUR-untaxed"),
        pytest.param(
            {"lineItems": [line("li-1", "RUN-1", money("JPY", 1500), 3, money("JPY", 4500), None)],
             "totalPrice": money("JPY", 5000), "taxedPrice": None,
             "shippingInfo": shipping("standard", money("JPY", 500), None)},
            ("JPY", "1500", "1500", "0", "4500", "0", "5000", "0", "500", "0"), id="JPY-untaxed"),
        pytest.param(
            {"lineItems": [line("li-1", "RUN-1", money("KWD", 1005), 2, money("KWD", 2010), None)],
             "totalPrice": money("KWD", 2010), "taxedPrice": None, "shippingInfo": None},
            ("KWD", "1.005", "1.005", "0.000", "2.010", "0.000", "2.010", "0.000", None, None), id="KWD-untaxed"),
        # taxedPrice without totalTax: tax zero
        pytest.param(
            {"lineItems": [line("li-1", "RUN-1", money("EUR", 4999), 2, money("EUR", 9998),
                                taxed("EUR", 9998, 9998, None))],
             "taxedPrice": taxed("EUR", 10497, 10497, None)},
            ("EUR", "49.99", "49.99", "0.00", "99.98", "0.00", "104.97", "0.00", "4.99", "0.80"), id="EUR-no-totalTax"),
    ],
)  # fmt: skip
def test_money_is_exact_with_the_currencys_digits(fields: dict[str, Any], expected: tuple[str | None, ...]) -> None:
    result = mapped(ct_order(**fields))
    (item,) = result.order.items
    choice = result.order.fulfilment_choice
    assert choice is not None
    values = (item.currency, item.price, item.paid_price, item.tax_price, item.total_price, item.total_tax_price,
              result.order.total_price, result.order.total_tax_price, choice.fulfilment_price,
              choice.fulfilment_tax_price)  # fmt: skip
    assert all(isinstance(v, Decimal) for v in values[1:8])
    assert dict(zip(MONEY_FIELDS, [None if v is None else str(v) for v in values], strict=True)) == dict(
        zip(MONEY_FIELDS, expected, strict=True)
    )
    assert choice.currency == expected[0]


# -- click & collect, delivery type --------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "settings", "expected"),
    [
        ({}, ORDERS, ("HD", "STANDARD", None)),
        ({"shippingInfo": shipping("express", money("EUR", 999), None)}, ORDERS, ("HD", "EXPRESS", None)),
        ({"shippingInfo": None}, ORDERS, ("HD", "STANDARD", None)),
        ({"shippingInfo": shipping(None, money("EUR", 0), None)}, ORDERS, ("HD", "STANDARD", None)),
        ({"shippingInfo": shipping("overnight", money("EUR", 999), None)},
         OrderSettings(delivery_types={"overnight": "OVERNIGHT"}, default_delivery_type="ECONOMY"),
         ("HD", "OVERNIGHT", None)),
        ({}, OrderSettings(delivery_types={"overnight": "OVERNIGHT"}, default_delivery_type="ECONOMY"),
         ("HD", "ECONOMY", None)),
        # click & collect by shipping method with the pickup field, or by the pickup field alone
        ({"shippingInfo": shipping("click-collect", money("EUR", 0), None), "custom": custom(pickupLocation="BER-1")},
         ORDERS, ("CC", "STANDARD", "BER-1")),
        ({"custom": custom(pickupLocation=" BER-1 ")}, ORDERS, ("CC", "STANDARD", "BER-1")),
        ({"custom": custom(pickupLocation="BER-1")}, OrderSettings(pickup_locations={"BER-1": "LOC_BERLIN_01"}),
         ("CC", "STANDARD", "LOC_BERLIN_01")),
        ({"custom": custom(store="MUC-2")}, OrderSettings(pickup_location_field="store"), ("CC", "STANDARD", "MUC-2")),
        ({"shippingInfo": shipping("pickup", money("EUR", 0), None), "custom": custom(pickupLocation="BER-1")},
         OrderSettings(click_and_collect_shipping_methods=("pickup",), delivery_types={"pickup": "PICKUP"}),
         ("CC", "PICKUP", "BER-1")),
        # an empty or non-text pickup field, or none configured, is no pickup
        ({"custom": custom(pickupLocation="  ")}, ORDERS, ("HD", "STANDARD", None)),
        ({"custom": custom(pickupLocation={"typeId": "channel", "id": "ch-1"})}, ORDERS, ("HD", "STANDARD", None)),
        ({"custom": custom(pickupLocation="BER-1")}, OrderSettings(pickup_location_field=None),
         ("HD", "STANDARD", None)),
        ({"custom": None}, ORDERS, ("HD", "STANDARD", None)),
    ],
)  # fmt: skip
def test_order_type_pickup_location_and_delivery_type(
    fields: dict[str, Any], settings: OrderSettings, expected: tuple[str, str, str | None]
) -> None:
    order = ct_order(**fields)
    kind, _, pickup = expected
    assert click_and_collect_location(order, settings) == (kind == "CC", pickup)
    result = mapped(order, settings)
    choice = result.order.fulfilment_choice
    assert choice is not None
    assert (result.order.type, choice.delivery_type, choice.pickup_location_ref) == expected


@pytest.mark.parametrize(
    ("fields", "settings", "reason"),
    [
        ({"shippingInfo": shipping("click-collect", money("EUR", 0), None)}, ORDERS,
         "a click & collect order without a pickup location (custom field pickupLocation)"),
        ({"shippingInfo": shipping("click-collect", money("EUR", 0), None), "custom": custom(pickupLocation=" ")},
         ORDERS, "without a pickup location"),
        ({"shippingInfo": shipping("pickup", money("EUR", 0), None), "custom": custom(pickupLocation="BER-1")},
         OrderSettings(click_and_collect_shipping_methods=("pickup",), pickup_location_field="store"),
         "without a pickup location (custom field store)"),
    ],
)  # fmt: skip
def test_click_and_collect_without_a_location_is_a_failure(
    fields: dict[str, Any], settings: OrderSettings, reason: str
) -> None:
    result = skipped(ct_order(**fields), settings)
    assert result.failure_code == NO_PICKUP_LOCATION and reason in result.reason


# -- delivery address ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"streetName": "Hauptstraße", "streetNumber": "5", "additionalStreetInfo": "Hinterhaus"},
         "Hauptstraße 5, Hinterhaus"),
        ({"streetName": " Hauptstraße ", "streetNumber": " 5a "}, "Hauptstraße 5a"),
        ({"streetName": "Hauptstraße"}, "Hauptstraße"),
        ({"streetNumber": "5", "additionalStreetInfo": "c/o Müller"}, "5, c/o Müller"),
        ({"additionalStreetInfo": "c/o Müller"}, "c/o Müller"),
        ({"streetName": " ", "streetNumber": "", "additionalStreetInfo": "  "}, None),
        ({}, None),
    ],
)  # fmt: skip
def test_street_is_the_whole_street(fields: dict[str, Any], expected: str | None) -> None:
    assert street(Address.model_validate({"country": "DE"} | fields)) == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"firstName": "Jane", "lastName": "Doe"}, "Jane Doe"),
        ({"firstName": " Jane ", "lastName": " van der Berg "}, "Jane van der Berg"),
        ({"firstName": "Jane"}, "Jane"),
        ({"lastName": "Doe", "firstName": "  "}, "Doe"),
        ({}, None),
    ],
)
def test_full_name_with_a_space(fields: dict[str, Any], expected: str | None) -> None:
    assert full_name(Address.model_validate({"country": "DE"} | fields)) == expected


BILLING_DEFAULT: dict[str, Any] = {
    "ref": "addr-bill", "name": "Janet Doe-Bill", "street": "Rechnungsweg 1", "city": "Wien", "postcode": "1010",
    "country": "AT", "email": "bill@example.com", "phone": "+43 660 1234",
}  # fmt: skip
ADDRESS_DEFAULT: dict[str, Any] = {
    "ref": "addr-ship", "name": "Jane Doe", "companyName": "Acme GmbH", "street": "Hauptstraße 5, Hinterhaus",
    "city": "Berlin", "state": "BE", "postcode": "10115", "region": "Brandenburg", "country": "DE",
}  # fmt: skip


@pytest.mark.parametrize(
    ("shipping_address", "changes", "notes"),
    [
        (SHIPPING_ADDRESS, {}, []),
        (SHIPPING_ADDRESS | {"id": None, "key": "home"}, {"ref": "home"}, []),
        (SHIPPING_ADDRESS | {"id": None}, {"ref": "ord-1-shipping"}, []),
        ({"country": "FR"}, {"ref": "ord-1-shipping", "name": None, "companyName": None, "street": None, "city": None,
                             "state": None, "postcode": None, "region": None, "country": "FR"}, []),
        # cut at Fluent's limits, each cut noted
        (SHIPPING_ADDRESS | {"company": "C" * 46, "city": "B" * 46, "streetName": "S" * 95, "streetNumber": "12345"},
         {"companyName": "C" * 45, "city": "B" * 45, "street": ("S" * 95 + " 12345, Hinterhaus")[:100]},
         ["deliveryAddress.companyName cut from 46 to 45 characters",
          "deliveryAddress.street cut from 113 to 100 characters",
          "deliveryAddress.city cut from 46 to 45 characters"]),
        (SHIPPING_ADDRESS | {"streetName": "S" * 93, "streetNumber": "1", "additionalStreetInfo": "A" * 3},
         {"street": "S" * 93 + " 1, AAA"}, []),  # 100: fits
        (SHIPPING_ADDRESS | {"firstName": "N" * 200, "lastName": "M" * 100, "state": "T" * 201, "postalCode": "P" * 101,
                             "region": "R" * 251},
         {"name": ("N" * 200 + " " + "M" * 100)[:255], "state": "T" * 200, "postcode": "P" * 100, "region": "R" * 250},
         ["deliveryAddress.name cut from 301 to 255 characters", "deliveryAddress.state cut from 201 to 200 characters",
          "deliveryAddress.postcode cut from 101 to 100 characters",
          "deliveryAddress.region cut from 251 to 250 characters"]),
    ],
)  # fmt: skip
def test_delivery_address(shipping_address: dict[str, Any], changes: dict[str, Any], notes: list[str]) -> None:
    order = ct_order(shippingAddress=shipping_address)
    found: list[str] = []
    address = delivery_address(order, found)
    assert address is not None
    expected = {name: value for name, value in (ADDRESS_DEFAULT | changes).items() if value is not None}
    assert address.model_dump(by_alias=True, exclude_none=True) == expected
    assert found == notes
    result = mapped(order)
    assert result.order.fulfilment_choice is not None and result.order.fulfilment_choice.delivery_address == address
    assert list(result.notes) == notes


def test_no_shipping_address_no_delivery_address() -> None:
    order = ct_order(shippingAddress=None)
    assert delivery_address(order, []) is None
    choice = mapped(order).order.fulfilment_choice
    assert choice is not None and choice.delivery_address is None


# -- attributes, the whole order -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "settings", "expected"),
    [
        ({}, ORDERS, [("ctOrderId", "STRING", "ord-1"), ("ctOrderNumber", "STRING", "10001"),
                      ("ctCustomerId", "STRING", "c-1"), ("ctStoreKey", "STRING", "eu-store"),
                      ("ctLocale", "STRING", "de-DE"), ("billingAddress", "JSON", BILLING_DEFAULT),
                      ("giftMessage", "STRING", "Happy birthday")]),
        ({"orderNumber": None, "customerId": None, "store": None, "locale": None, "custom": None,
          "billingAddress": None}, ORDERS, [("ctOrderId", "STRING", "ord-1")]),
        ({"custom": custom(giftMessage="Hi", channel="web", priority=2, tags=["a", "b"], ignored="x")},
         OrderSettings(custom_field_attributes={"channel": "salesChannel", "priority": "ctPriority", "tags": "tags",
                                                "missing": "nothing"}, billing_address_attribute=None),
         [("ctOrderId", "STRING", "ord-1"), ("ctOrderNumber", "STRING", "10001"), ("ctCustomerId", "STRING", "c-1"),
          ("ctStoreKey", "STRING", "eu-store"), ("ctLocale", "STRING", "de-DE"), ("salesChannel", "STRING", "web"),
          ("ctPriority", "JSON", 2), ("tags", "JSON", ["a", "b"])]),
    ],
)  # fmt: skip
def test_attributes(fields: dict[str, Any], settings: OrderSettings, expected: list[tuple[str, str, Any]]) -> None:
    result = mapped(ct_order(**fields), settings)
    assert [(a.name, a.type, a.value) for a in result.order.attributes] == expected


def test_the_whole_create_input() -> None:
    result = mapped(ct_order())
    assert result.order.create_input() == {
        "ref": "10001", "type": "HD", "retailer": {"id": "2"},
        "items": [{"ref": "li-1", "productRef": "RUN-1", "productCatalogueRef": CATALOGUE, "quantity": 2,
                   "currency": "EUR", "price": Decimal("42.00"), "paidPrice": Decimal("42.00"),
                   "taxPrice": Decimal("7.98"), "taxType": "VAT", "totalPrice": Decimal("99.98"),
                   "totalTaxPrice": Decimal("15.97"),
                   "attributes": [{"name": "ctName", "type": "STRING", "value": "Runner"}]}],
        "totalPrice": Decimal("104.97"), "totalTaxPrice": Decimal("16.77"),
        "fulfilmentChoice": {"deliveryType": "STANDARD", "fulfilmentType": "HD_PFS", "currency": "EUR",
                             "fulfilmentPrice": Decimal("4.99"), "fulfilmentTaxPrice": Decimal("0.80"),
                             "deliveryAddress": ADDRESS_DEFAULT},
        "attributes": [{"name": "ctOrderId", "type": "STRING", "value": "ord-1"},
                       {"name": "ctOrderNumber", "type": "STRING", "value": "10001"},
                       {"name": "ctCustomerId", "type": "STRING", "value": "c-1"},
                       {"name": "ctStoreKey", "type": "STRING", "value": "eu-store"},
                       {"name": "ctLocale", "type": "STRING", "value": "de-DE"},
                       {"name": "billingAddress", "type": "JSON", "value": BILLING_DEFAULT},
                       {"name": "giftMessage", "type": "STRING", "value": "Happy birthday"}],
    }  # fmt: skip
    assert (result.retailer_id, result.skus, result.notes) == ("2", ("RUN-1",), ())


def test_a_ref_too_long_for_fluent_is_a_failure() -> None:
    result = skipped(ct_order(orderNumber="N" * 256))
    assert result.failure_code == TOO_LONG and result.reason == "too long for Fluent: ref is 256 characters (max 255)"
    assert isinstance(run(ct_order(orderNumber="N" * 255)), MappedOrder)


@pytest.mark.parametrize(
    ("rate", "total", "tax", "expected"),
    [
        (tax_rate("US", 0.0725, False), 2469, taxed("EUR", 2469, 2648, 179), "12.3456"),  # net already: as it is
        (VAT_DE, 2469, taxed("EUR", 2075, 2469, 394), "10.38"),  # 12.3456 x 20.75 / 24.69 = 10.3756: to the cent
    ],
)
def test_a_high_precision_unit_price(rate: dict[str, Any], total: int, tax: dict[str, Any], expected: str) -> None:
    unit = {"type": "highPrecision", "currencyCode": "EUR", "centAmount": 1235, "preciseAmount": 123456,
            "fractionDigits": 4}  # fmt: skip
    lines = [line("li-1", "RUN-1", unit, 2, money("EUR", total), tax, rate)]
    (item,) = mapped(ct_order(lineItems=lines)).order.items
    assert item.price == Decimal(expected)


# -- net prices and tax types -------------------------------------------------------------------

ITEM_FIELDS = ("price", "paidPrice", "taxPrice", "taxType", "totalPrice", "totalTaxPrice")


@pytest.mark.parametrize(
    ("line_item", "country", "expected"),
    [
        # the issue's case: 11.90 with 19 % VAT included is 10.00 net, as paid; no discount reads as none
        pytest.param(line("li-1", "RUN-1", money("EUR", 1190), 1, money("EUR", 1190), taxed("EUR", 1000, 1190, 190),
                          VAT_DE), "DE", ("10.00", "10.00", "1.90", "VAT", "11.90", "1.90"), id="vat-included"),
        # discounted to 9.99 gross: list 11.90 x 8.39 / 9.99 = 9.9942 -> 9.99 net, paid 8.39 net
        pytest.param(line("li-1", "RUN-1", money("EUR", 1190), 1, money("EUR", 999), taxed("EUR", 839, 999, 160),
                          VAT_DE), "DE", ("9.99", "8.39", "1.60", "VAT", "9.99", "1.60"), id="vat-discounted"),
        # an undiscounted line whose net total rounds apart from the unit's: 3 x 0.99 gross = 2.97 -> 2.50 net;
        # 0.99 x 2.50 / 2.97 = 0.8333 -> 0.83 = paid 2.50 / 3 (0.99 / 1.19 = 0.8319 -> 0.83 too)
        pytest.param(line("li-1", "RUN-1", money("EUR", 99), 3, money("EUR", 297), taxed("EUR", 250, 297, 47),
                          VAT_DE), "DE", ("0.83", "0.83", "0.16", "VAT", "2.97", "0.47"), id="vat-thirds"),
        # a free line (100 % off): no gross to take the ratio of, so list / (1 + rate): 11.90 / 1.19 = 10.00
        pytest.param(line("li-1", "RUN-1", money("EUR", 1190), 1, money("EUR", 0), taxed("EUR", 0, 0, 0), VAT_DE),
                     "DE", ("10.00", "0.00", "0.00", "VAT", "0.00", "0.00"), id="vat-free-line"),
        # US sales tax on top: the list price is net already; 1.45 / 2 = 0.725 -> 0.72
        pytest.param(line("li-1", "RUN-1", money("USD", 1000), 2, money("USD", 2000), taxed("USD", 2000, 2145, 145),
                          tax_rate("US", 0.0725, False)), "US",
                     ("10.00", "10.00", "0.72", "EXCLTAX", "21.45", "1.45"), id="us-sales-tax"),
        # GST by the rate's country (Australia), wherever the order ships
        pytest.param(line("li-1", "RUN-1", money("AUD", 1100), 1, money("AUD", 1100), taxed("AUD", 1000, 1100, 100),
                          tax_rate("AU", 0.1, True)), "DE", ("10.00", "10.00", "1.00", "GST", "11.00", "1.00"),
                     id="au-gst"),
        # 0 % VAT included (Kuwait): nothing to take out
        pytest.param(line("li-1", "RUN-1", money("KWD", 12345), 1, money("KWD", 12345),
                          taxed("KWD", 12345, 12345, 0), tax_rate("KW", 0.0, True)), "KW",
                     ("12.345", "12.345", "0.000", "VAT", "12.345", "0.000"), id="kw-zero-vat"),
        # staged before the rate was kept: a total equal to the gross includes the tax, one equal to the net does
        # not; the order's country names the GST country
        pytest.param(line("li-1", "RUN-1", money("EUR", 1190), 1, money("EUR", 1190), taxed("EUR", 1000, 1190, 190)),
                     "DE", ("10.00", "10.00", "1.90", "VAT", "11.90", "1.90"), id="no-rate-included"),
        pytest.param(line("li-1", "RUN-1", money("USD", 1000), 1, money("USD", 1000), taxed("USD", 1000, 1073, 73)),
                     "US", ("10.00", "10.00", "0.73", "EXCLTAX", "10.73", "0.73"), id="no-rate-on-top"),
        pytest.param(line("li-1", "RUN-1", money("EUR", 1100), 1, money("EUR", 1100), taxed("EUR", 1000, 1100, 100)),
                     "NZ", ("10.00", "10.00", "1.00", "GST", "11.00", "1.00"), id="no-rate-nz-gst"),
        # no tax at all: the prices as they are
        pytest.param(line("li-1", "RUN-1", money("EUR", 1190), 1, money("EUR", 1190), None), "DE",
                     ("11.90", "11.90", "0.00", "EXCLTAX", "11.90", "0.00"), id="untaxed"),
    ],
)  # fmt: skip
def test_price_excludes_tax_like_paid_price_and_the_tax_type_says_which_tax(
    line_item: dict[str, Any], country: str, expected: tuple[str, ...]
) -> None:
    currency = line_item["totalPrice"]["currencyCode"]
    order = ct_order(lineItems=[line_item], country=country, totalPrice=line_item["totalPrice"], taxedPrice=None,
                     shippingInfo=None)  # fmt: skip
    assert order.total_price.currency_code == currency
    (item,) = mapped(order).order.items
    values = item.model_dump(by_alias=True)
    assert tuple(str(values[name]) for name in ITEM_FIELDS) == expected


@pytest.mark.parametrize(
    ("rate", "country", "settings", "expected"),
    [
        (VAT_DE, "DE", ORDERS, "VAT"),
        (tax_rate("US", 0.0725, False), "US", ORDERS, "EXCLTAX"),
        (tax_rate("AU", 0.1, True), "AU", ORDERS, "GST"),
        (tax_rate("NZ", 0.15, True), "NZ", ORDERS, "GST"),
        ({**VAT_DE, "country": None}, "AU", ORDERS, "GST"),  # a rate without country: the order's
        (VAT_DE, "DE", OrderSettings(included_tax_type="GST"), "GST"),
        (tax_rate("US", 0.0725, False), "US", OrderSettings(excluded_tax_type="VAT"), "VAT"),
        # the country map wins over inclusion, and replaces the default map
        (tax_rate("CA", 0.05, False), "CA", OrderSettings(tax_types_by_country={"CA": "GST"}), "GST"),
        (tax_rate("AU", 0.1, True), "AU", OrderSettings(tax_types_by_country={"CA": "GST"}), "VAT"),
        (VAT_DE, "DE", OrderSettings(tax_types_by_country={"DE": "EXCLTAX"}), "EXCLTAX"),
    ],
)  # fmt: skip
def test_tax_type_by_country_else_by_inclusion(
    rate: dict[str, Any], country: str, settings: OrderSettings, expected: str
) -> None:
    lines = [line("li-1", "RUN-1", money("EUR", 4999), 2, money("EUR", 9998), taxed("EUR", 8401, 9998, 1597), rate)]
    (item,) = mapped(ct_order(lineItems=lines, country=country), settings).order.items
    assert item.tax_type == expected


def test_tax_types_are_the_ones_fluent_supports() -> None:
    with pytest.raises(ValidationError, match="GST"):
        OrderSettings.model_validate({"included_tax_type": "SALES"})
    with pytest.raises(ValidationError, match="EXCLTAX"):
        OrderSettings.model_validate({"tax_types_by_country": {"US": "SALES_TAX"}})


# -- fulfilment type, delivery instruction --------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "settings", "expected"),
    [
        ({}, ORDERS, "HD_PFS"),
        ({"shippingInfo": shipping("express", money("EUR", 999), None)}, ORDERS, "HD_PFS"),
        ({"shippingInfo": None}, ORDERS, "HD_PFS"),
        ({"custom": custom(pickupLocation="BER-1")}, ORDERS, "CC_PFS"),
        ({"shippingInfo": shipping("click-collect", money("EUR", 0), None), "custom": custom(pickupLocation="B")},
         ORDERS, "CC_PFS"),
        # by shipping method first, then by order type
        ({"shippingInfo": shipping("warehouse", money("EUR", 499), None)},
         OrderSettings(fulfilment_types={"warehouse": "HD_PFDC"}), "HD_PFDC"),
        ({}, OrderSettings(fulfilment_types={"warehouse": "HD_PFDC"}), "HD_PFS"),
        ({"custom": custom(pickupLocation="BER-1")}, OrderSettings(default_fulfilment_types={"CC": "CC_PFDC"}),
         "CC_PFDC"),
        ({}, OrderSettings(default_fulfilment_types={"CC": "CC_PFDC"}), None),  # no HD default: none sent
        ({}, OrderSettings(default_fulfilment_types={}), None),
    ],
)  # fmt: skip
def test_fulfilment_type_by_shipping_method_else_by_order_type(
    fields: dict[str, Any], settings: OrderSettings, expected: str | None
) -> None:
    order = ct_order(**fields)
    assert fulfilment_type(order, "CC" if click_and_collect_location(order, settings)[0] else "HD", settings) == (
        expected
    )
    choice = mapped(order, settings).order.create_input()["fulfilmentChoice"]
    assert choice.get("fulfilmentType") == expected


@pytest.mark.parametrize(
    ("fields", "settings", "expected", "notes"),
    [
        ({}, ORDERS, None, []),
        ({"shippingAddress": SHIPPING_ADDRESS | {"additionalAddressInfo": "Ring twice"}}, ORDERS, "Ring twice", []),
        ({"shippingAddress": SHIPPING_ADDRESS | {"additionalAddressInfo": "  Leave at the door\n"}}, ORDERS,
         "Leave at the door", []),
        ({"shippingAddress": SHIPPING_ADDRESS | {"additionalAddressInfo": "   "}}, ORDERS, None, []),
        ({"shippingAddress": SHIPPING_ADDRESS | {"additionalAddressInfo": "x" * 250}}, ORDERS, "x" * 250, []),
        ({"shippingAddress": SHIPPING_ADDRESS | {"additionalAddressInfo": "y" * 251}}, ORDERS, "y" * 250,
         ["fulfilmentChoice.deliveryInstruction cut from 251 to 250 characters"]),
        ({"shippingAddress": SHIPPING_ADDRESS | {"additionalAddressInfo": "Ring twice"}},
         OrderSettings(delivery_instruction_from_address=False), None, []),
        ({"shippingAddress": None}, ORDERS, None, []),
        # a configured custom field first, else the address's
        ({"shippingAddress": SHIPPING_ADDRESS | {"additionalAddressInfo": "Ring twice"},
          "custom": custom(deliveryNote=" Back door ")}, OrderSettings(delivery_instruction_field="deliveryNote"),
         "Back door", []),
        ({"shippingAddress": SHIPPING_ADDRESS | {"additionalAddressInfo": "Ring twice"},
          "custom": custom(deliveryNote="  ")}, OrderSettings(delivery_instruction_field="deliveryNote"),
         "Ring twice", []),
        ({"shippingAddress": SHIPPING_ADDRESS | {"additionalAddressInfo": "Ring twice"},
          "custom": custom(deliveryNote={"key": "door"})}, OrderSettings(delivery_instruction_field="deliveryNote"),
         "Ring twice", []),
        ({"custom": custom(deliveryNote="Back door")},
         OrderSettings(delivery_instruction_field="deliveryNote", delivery_instruction_from_address=False),
         "Back door", []),
        ({"custom": None}, OrderSettings(delivery_instruction_field="deliveryNote"), None, []),
    ],
)  # fmt: skip
def test_delivery_instruction_from_the_custom_field_else_the_shipping_address(
    fields: dict[str, Any], settings: OrderSettings, expected: str | None, notes: list[str]
) -> None:
    order = ct_order(**fields)
    found: list[str] = []
    assert delivery_instruction(order, settings, found) == expected
    assert found == notes
    result = mapped(order, settings)
    assert result.order.create_input()["fulfilmentChoice"].get("deliveryInstruction") == expected
    assert list(result.notes) == notes


# -- billing address, item names ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("billing", "expected"),
    [
        (BILLING_ADDRESS, BILLING_DEFAULT),
        (None, None),
        # a phone before the mobile; no id: the key, else the order's; blank fields left out; nothing is cut
        (BILLING_ADDRESS | {"phone": "+43 1 999"}, BILLING_DEFAULT | {"phone": "+43 1 999"}),
        ({"key": "invoice", "country": "AT", "company": "C" * 300, "email": " "},
         {"ref": "invoice", "companyName": "C" * 300, "country": "AT"}),
        ({"country": "AT", "firstName": "Ann", "streetName": "Weg", "additionalStreetInfo": "Stiege 2"},
         {"ref": "ord-1-billing", "name": "Ann", "street": "Weg, Stiege 2", "country": "AT"}),
    ],
)  # fmt: skip
def test_the_billing_address_as_fluent_names_address_fields(
    billing: dict[str, Any] | None, expected: dict[str, str] | None
) -> None:
    order = ct_order(billingAddress=billing)
    assert billing_address(order) == expected
    result = mapped(order)
    assert [(a.name, a.value) for a in result.order.attributes if a.type == "JSON"] == (
        [] if expected is None else [("billingAddress", expected)]
    )
    assert result.notes == ()  # personal data never goes to a run's notes


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (ORDERS, ["billingAddress"]),
        (OrderSettings(billing_address_attribute="invoiceAddress"), ["invoiceAddress"]),
        (OrderSettings(billing_address_attribute=None), []),
    ],
)
def test_the_billing_address_attribute_is_named_by_configuration(settings: OrderSettings, expected: list[str]) -> None:
    attributes = mapped(ct_order(), settings).order.attributes
    assert [a.name for a in attributes if a.type == "JSON"] == expected
    assert all(a.value == BILLING_DEFAULT for a in attributes if a.type == "JSON")


@pytest.mark.parametrize(
    ("name", "settings", "expected"),
    [
        ({"en": "Runner"}, ORDERS, [("ctName", "STRING", "Runner")]),
        ({"de": "Läufer", "en-US": "Runner"}, ORDERS, [("ctName", "STRING", "Runner")]),  # en matches en-US
        ({"de": "Läufer", "fr": "Coureur"}, ORDERS, [("ctName", "STRING", "Läufer")]),
        ({"it": "Corridore", "fr": "Coureur"}, ORDERS, [("ctName", "STRING", "Coureur")]),  # any: alphabetically
        ({"it": "Corridore", "fr": "Coureur"}, OrderSettings(any_locale=False), []),
        ({"de": "Läufer", "en": "Runner"}, OrderSettings(locales=("de",)), [("ctName", "STRING", "Läufer")]),
        ({"en": "Runner"}, OrderSettings(line_item_name_attribute="productName"),
         [("productName", "STRING", "Runner")]),
        ({"en": "Runner"}, OrderSettings(line_item_name_attribute=None), []),
        ({"en": ""}, ORDERS, []),
    ],
)  # fmt: skip
def test_line_item_names_are_item_attributes_in_the_locale_chain(
    name: dict[str, str], settings: OrderSettings, expected: list[tuple[str, str, str]]
) -> None:
    lines = [line("li-1", "RUN-1", money("EUR", 4999), 2, money("EUR", 9998), taxed("EUR", 8401, 9998, 1597), VAT_DE,
                  name)]  # fmt: skip
    (item,) = mapped(ct_order(lineItems=lines), settings).order.items
    assert [(a.name, a.type, a.value) for a in item.attributes] == expected


def test_a_line_item_staged_without_its_name_has_no_name_attribute() -> None:
    nameless = {k: v for k, v in order_json()["lineItems"][0].items() if k != "name"}
    (item,) = mapped(ct_order(lineItems=[nameless])).order.items
    assert item.attributes == []


def test_custom_line_items_sent_as_items_carry_their_name() -> None:
    settings = OrderSettings(custom_line_items="item", custom_line_item_products={"gift-wrap": "GIFT"})
    _, gift = mapped(ct_order(customLineItems=[GIFT_WRAP]), settings).order.items
    assert ([(a.name, a.value) for a in gift.attributes], gift.tax_type) == ([("ctName", "Gift-Wrap")], "VAT")


# -- payments ------------------------------------------------------------------------------------


def transaction(tx_id: str, kind: str, state: str, amount: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"id": tx_id, "timestamp": "2026-03-01T10:01:00.000Z", "type": kind, "amount": amount, "state": state,
            "interactionId": f"psp-{tx_id}"} | fields  # fmt: skip


def ct_payment(**fields: Any) -> Payment:
    base: dict[str, Any] = {
        "id": "pay-1", "version": 3, "key": "pay-key", "createdAt": "2026-03-01T10:00:00.000Z",
        "lastModifiedAt": "2026-03-01T10:02:00.000Z", "amountPlanned": money("EUR", 10497),
        "paymentMethodInfo": {"paymentInterface": "adyen", "method": "creditCard", "name": {"en": "Credit card"}},
        "paymentStatus": {}, "transactions": [transaction("tx-1", "Charge", "Success", money("EUR", 10497))],
        "interfaceInteractions": [], "custom": {"type": {"typeId": "type", "id": "t-pay"}, "fields": {"brand": "visa"}},
        "ctfluentOrder": {"id": "ord-1", "orderNumber": "10001"},
    }  # fmt: skip
    return Payment.model_validate(base | fields)


@pytest.mark.parametrize(
    ("transactions", "settings", "expected"),
    [
        ([transaction("tx-1", "Charge", "Success", money("EUR", 12999))], PAYMENTS, [("tx-1", "PAYMENT")]),
        ([transaction("tx-1", "Charge", "Pending", money("EUR", 12999))], PAYMENTS,
         [("tx-1", "the Charge is Pending: only successful transactions are sent")]),
        ([transaction("tx-1", "Authorization", "Initial", money("EUR", 12999))], PAYMENTS,
         [("tx-1", "the Authorization is Initial: only successful transactions are sent")]),
        ([transaction("tx-1", "Refund", "Failure", money("EUR", 12999))], PAYMENTS,
         [("tx-1", "the Refund is Failure: only successful transactions are sent")]),
        ([transaction("tx-1", "CancelAuthorization", "Pending", money("EUR", 12999))], PAYMENTS,
         [("tx-1", "the CancelAuthorization is Pending: only successful transactions are sent")]),
        # the type map, in order, one result per transaction: every commercetools type has a Fluent type
        ([transaction("tx-1", "Authorization", "Success", money("EUR", 12999)),
          transaction("tx-2", "Charge", "Success", money("EUR", 12999)),
          transaction("tx-3", "Refund", "Success", money("EUR", 2000)),
          transaction("tx-4", "Chargeback", "Success", money("EUR", 500)),
          transaction("tx-5", "Charge", "Failure", money("EUR", 1)),
          transaction("tx-6", "CancelAuthorization", "Success", money("EUR", 12999))], PAYMENTS,
         [("tx-1", "AUTHORISATION"), ("tx-2", "PAYMENT"), ("tx-3", "REFUND"), ("tx-4", "CHARGEBACK"),
          ("tx-5", "the Charge is Failure: only successful transactions are sent"),
          ("tx-6", "AUTHORISATION_REVERSAL")]),
        ([transaction("tx-1", "CancelAuthorization", "Success", money("EUR", 12999))],
         PaymentSettings(transaction_types={"CancelAuthorization": "VOID"}), [("tx-1", "VOID")]),
        ([transaction("tx-1", "CancelAuthorization", "Success", money("EUR", 12999))],
         PaymentSettings(transaction_types={"Charge": "PAYMENT"}),
         [("tx-1", "transaction type CancelAuthorization is not mapped (payments.transaction_types)")]),
        ([transaction("tx-1", "Charge", "Success", money("EUR", 1)),
          transaction("tx-2", "Refund", "Success", money("EUR", 1))],
         PaymentSettings(transaction_types={"Charge": "SALE"}),
         [("tx-1", "SALE"), ("tx-2", "transaction type Refund is not mapped (payments.transaction_types)")]),
        ([transaction("tx-1", "Charge", "Success", money("EUR", 1))],
         PaymentSettings(transaction_types={"Charge": "P" * 26}),
         [("tx-1", "too long for Fluent: type is 26 characters (max 25)")]),
        ([], PAYMENTS, []),
    ],
)  # fmt: skip
def test_only_successful_mapped_transactions_are_sent(
    transactions: list[dict[str, Any]], settings: PaymentSettings, expected: list[tuple[str, str]]
) -> None:
    results = map_transactions(ct_payment(transactions=transactions), settings)
    assert [(r.transaction.id, r.fluent.type if isinstance(r, MappedTransaction) else r.reason) for r in results] == (
        expected
    )
    assert all(isinstance(r, SkippedTransaction) for r in results if " " in dict(expected)[r.transaction.id])


def test_every_commercetools_transaction_type_has_a_fluent_type_by_default() -> None:
    # TransactionType in the commercetools API: Authorization, CancelAuthorization, Charge, Refund, Chargeback
    kinds = ("Authorization", "CancelAuthorization", "Charge", "Refund", "Chargeback")
    payment = ct_payment(transactions=[transaction(f"tx-{k}", k, "Success", money("EUR", 100)) for k in kinds])
    results = map_transactions(payment, PAYMENTS)
    assert all(isinstance(r, MappedTransaction) for r in results)
    assert {r.transaction.type: r.fluent.type for r in results if isinstance(r, MappedTransaction)} == {
        "Authorization": "AUTHORISATION", "CancelAuthorization": "AUTHORISATION_REVERSAL", "Charge": "PAYMENT",
        "Refund": "REFUND", "Chargeback": "CHARGEBACK",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (money("EUR", 12999), ("129.99", "EUR")),
        (money("EUR", 5), ("0.05", "EUR")),
        (money("JPY", 1500), ("1500", "JPY")),
        (money("KWD", 12345), ("12.345", "KWD")),
        (money("KWD", 2000), ("2.000", "KWD")),
    ],
)
def test_transaction_fields_and_amounts(amount: dict[str, Any], expected: tuple[str, str]) -> None:
    payment = ct_payment(transactions=[transaction("tx-9", "Charge", "Success", amount, interactionId="8835")])
    (result,) = map_transactions(payment, PaymentSettings(card_type_field="brand"))
    assert isinstance(result, MappedTransaction)
    assert isinstance(result.fluent.amount, Decimal) and (str(result.fluent.amount), result.fluent.currency) == expected
    assert result.fluent.create_input() == {
        "ref": "tx-9", "type": "PAYMENT", "amount": Decimal(expected[0]), "currency": expected[1],
        "paymentMethod": "CREDITCARD", "paymentProvider": "adyen", "externalTransactionId": "8835", "cardType": "VISA",
    }  # fmt: skip


def test_optional_transaction_fields_are_left_out() -> None:
    refund = transaction("tx-1", "Refund", "Success", money("JPY", 300), interactionId=None)
    payment = ct_payment(paymentMethodInfo={}, custom=None, transactions=[refund])
    (result,) = map_transactions(payment, PAYMENTS)
    assert isinstance(result, MappedTransaction)
    assert result.fluent.create_input() == {
        "ref": "tx-1",
        "type": "REFUND",
        "amount": Decimal(300),
        "currency": "JPY",
        "paymentMethod": "OTHER",
    }


@pytest.mark.parametrize(
    ("method", "settings", "expected"),
    [
        ("creditCard", PAYMENTS, "CREDITCARD"),
        ("card", PAYMENTS, "CREDITCARD"),
        ("paypal", PAYMENTS, "PAYPAL"),
        (" giftCard ", PAYMENTS, "GIFTVOUCHER"),
        ("cash", PAYMENTS, "CASH"),
        ("afterpay", PAYMENTS, "AFTERPAY"),
        ("PayPal", PAYMENTS, "OTHER"),  # keys are exact
        ("ideal", PAYMENTS, "OTHER"),
        (None, PAYMENTS, "OTHER"),
        ("ideal", PaymentSettings(payment_method_fallback="UNKNOWN"), "UNKNOWN"),
        ("ideal", PaymentSettings(payment_methods={"ideal": "IDEAL"}), "IDEAL"),
        ("paypal", PaymentSettings(payment_methods={"ideal": "IDEAL"}), "OTHER"),  # the map replaces the defaults
    ],
)
def test_payment_method_map_with_fallback(method: str | None, settings: PaymentSettings, expected: str) -> None:
    payment = ct_payment(paymentMethodInfo={"paymentInterface": "stripe", "method": method})
    assert payment_method(payment, settings) == expected
    (result,) = map_transactions(payment, settings)
    assert isinstance(result, MappedTransaction)
    assert (result.fluent.payment_method, result.fluent.payment_provider) == (expected, "stripe")


@pytest.mark.parametrize(
    ("custom_fields", "field", "expected"),
    [
        ({"brand": "visa"}, "brand", "VISA"),
        ({"brand": " MasterCard "}, "brand", "MASTERCARD"),
        ({"brand": "visa"}, None, None),  # not configured
        ({"brand": "visa"}, "cardType", None),
        ({"brand": "  "}, "brand", None),
        ({"brand": {"key": "visa"}}, "brand", None),
        (None, "brand", None),
    ],
)
def test_card_type_from_the_configured_custom_field(
    custom_fields: dict[str, Any] | None, field: str | None, expected: str | None
) -> None:
    fields = {
        "custom": None if custom_fields is None else {"type": {"typeId": "type", "id": "t"}, "fields": custom_fields}
    }
    payment = ct_payment(**fields)
    settings = PaymentSettings(card_type_field=field)
    assert card_type(payment, settings) == expected
    (result,) = map_transactions(payment, settings)
    assert isinstance(result, MappedTransaction) and result.fluent.card_type == expected
