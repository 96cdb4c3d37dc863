"""Orders and financial transactions on the Fluent emulator, over HTTP: the product's documents (fact sheet §4.2,
§4.3, §4.5), references that must exist, unique refs, lengths, all-or-nothing batches, searches and the admin
status change. Every document is checked against the real schema before it is sent (``CheckedClient``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
import requests
from graphql import GraphQLSchema

from ctfluent_sandbox.clock import parse_iso
from tests.sandbox.fluent_fixtures import (
    CUSTOMER_BY_REF,
    CheckedClient,
    FluentClient,
    customer_input,
    error_codes,
    fluent_fixture,  # noqa: F401 (fixture)
    fluent_server_fixture,  # noqa: F401 (fixture)
    real_schema_fixture,  # noqa: F401 (fixture)
)

MASTER = "PC:MASTER:1"
USERNAME = "1_ada@example.com"

# The product's documents (fact sheet §4.2, §4.3, §4.5).
ORDER_BY_REF = """
query OrderByRef($ref: String!) {
  order(ref: $ref) { id ref status type
    financialTransactions(first: 50) { edges { node { id ref total currency } } } }
}
"""
CREATE_ORDER = """
mutation CreateOrder($input: CreateOrderInput!) { createOrder(input: $input) { id ref status workflowRef } }
"""
CREATE_ORDER_AND_CUSTOMER = """
mutation CreateOrderAndCustomer($input: CreateOrderAndCustomerInput!) {
  createOrderAndCustomer(input: $input) { id ref customer { id username } }
}
"""
CREATE_TRANSACTION = """
mutation CreateFinancialTransaction($input: CreateFinancialTransactionInput!) {
  createFinancialTransaction(input: $input) { id ref type status total currency paymentMethod paymentProviderName }
}
"""
ORDERS_BY_STATUS_SINCE = """
query OrdersByStatusSince($status: [String], $from: DateTime, $first: Int, $after: String) {
  orders(status: $status, updatedOn: {from: $from}, first: $first, after: $after) {
    edges { cursor node { id ref status updatedOn } }
    pageInfo { hasNextPage }
  }
}
"""

PRODUCT_REF = "... on VariantProduct { ref catalogue { ref } } ... on StandardProduct { ref catalogue { ref } }"
ORDER_FIELDS = f"""
id ref type status workflowRef workflowVersion createdOn updatedOn totalPrice totalTaxPrice
attributes {{ name type value }} retailer {{ id }} customer {{ id ref username }}
items(first: 50) {{ edges {{ node {{
  id ref status quantity price paidPrice totalPrice taxPrice totalTaxPrice taxType currency createdOn
  attributes {{ name type value }} product {{ name {PRODUCT_REF} }}
}} }} }}
fulfilmentChoice {{
  id deliveryType fulfilmentType fulfilmentPrice fulfilmentTaxPrice currency deliveryInstruction pickupLocationRef
  deliveryAddress {{
    id ref name companyName street city state postcode region country latitude longitude timeZone createdOn
  }}
}}
financialTransactions(first: 50) {{ edges {{ node {{
  id ref type status workflowRef total currency paymentMethod paymentProviderName externalTransactionId
  externalTransactionCode cardType order {{ ref }}
}} }} }}
"""
ORDER = f"query Order($id: ID, $ref: String) {{ order(id: $id, ref: $ref) {{ {ORDER_FIELDS} }} }}"
ORDER_BY_ID = f"query OrderById($id: ID!) {{ orderById(id: $id) {{ {ORDER_FIELDS} }} }}"
CREATE_ORDER_FULL = f"""
mutation CreateOrderFull($input: CreateOrderInput!) {{ createOrder(input: $input) {{ {ORDER_FIELDS} }} }}
"""
ORDERS = """
query Orders(
  $ref: [String], $type: [String!], $status: [String], $createdOn: DateRange, $updatedOn: DateRange,
  $customer: CustomerLinkInput, $first: Int, $after: String
) {
  orders(
    ref: $ref, type: $type, status: $status, createdOn: $createdOn, updatedOn: $updatedOn, customerLink: $customer,
    first: $first, after: $after
  ) {
    edges { cursor node { ref } }
    pageInfo { hasNextPage hasPreviousPage }
  }
}
"""
TRANSACTIONS = """
query Transactions($ref: [String], $paymentMethod: [String], $providers: [String]) {
  financialTransactions(ref: $ref, paymentMethod: $paymentMethod, paymentProviderName: $providers) {
    edges { node { ref total order { ref } } }
  }
}
"""
ORDER_TRANSACTIONS = """
query OrderTransactions($ref: String!, $refs: [String]) {
  order(ref: $ref) { financialTransactions(ref: $refs) { edges { node { ref total } } pageInfo { hasNextPage } } }
}
"""
CREATE_STANDARD = """
mutation CreateStandardProduct($input: CreateStandardProductInput!) { createStandardProduct(input: $input) { ref } }
"""
CREATE_VARIANT = """
mutation CreateVariantProduct($input: CreateVariantProductInput!) { createVariantProduct(input: $input) { ref } }
"""


def product_input(ref: str, /, catalogue: str = MASTER, **overrides: Any) -> dict[str, Any]:
    fields = {"ref": ref, "catalogue": {"ref": catalogue}, "type": "STANDARD", "gtin": "4006381333931"}
    return {**fields, "name": f"Product {ref}", **overrides}


def item(ref: str, /, product: str = "SHIRT-M", **overrides: Any) -> dict[str, Any]:
    """A CreateOrderItemWithOrderInput."""
    money = {"price": 19.99, "paidPrice": 17.99, "taxPrice": 3.42, "totalPrice": 35.98, "totalTaxPrice": 6.84}
    fields = {"ref": ref, "productRef": product, "productCatalogueRef": MASTER, "quantity": 2, **money}
    return {**fields, "taxType": "VAT", "currency": "EUR", **overrides}


def address(**overrides: Any) -> dict[str, Any]:
    """A CreateCustomerAddressInput."""
    place = {"street": "12 St James's Square", "city": "London", "postcode": "SW1Y 4JH", "region": "Greater London"}
    fields = {"ref": "ADDR-1", "name": "Ada Lovelace", "companyName": "Analytical Engines", **place, "country": "GB"}
    return {**fields, "latitude": 51.507, "longitude": -0.134, "timeZone": "Europe/London", **overrides}


def choice(**overrides: Any) -> dict[str, Any]:
    """A CreateFulfilmentChoiceWithOrderInput for home delivery."""
    fields = {"deliveryType": "STANDARD", "fulfilmentType": "HD_PFDC", "fulfilmentPrice": 4.95}
    fields |= {"fulfilmentTaxPrice": 0.79, "currency": "EUR", "deliveryInstruction": "Leave at the door"}
    return {**fields, "deliveryAddress": address(), **overrides}


def order_input(ref: str, customer_id: str, /, **overrides: Any) -> dict[str, Any]:
    """A CreateOrderInput with a variant and a standard product."""
    fields = {"ref": ref, "type": "HD", "retailer": {"id": "1"}, "customer": {"id": customer_id}}
    totals = {"totalPrice": 58.11, "totalTaxPrice": 9.28}
    attributes = [{"name": "ctOrderId", "type": "STRING", "value": "ct-1"}]
    items = [item("LI-1"), item("LI-2", product="SHIRT", quantity=1)]
    return {**fields, **totals, "attributes": attributes, "fulfilmentChoice": choice(), "items": items, **overrides}


def transaction_input(ref: str, order_id: str, /, **overrides: Any) -> dict[str, Any]:
    """A CreateFinancialTransactionInput."""
    fields = {"ref": ref, "type": "PAYMENT", "amount": 58.11, "currency": "EUR", "paymentMethod": "CREDITCARD"}
    gateway = {"paymentProvider": "STRIPE", "externalTransactionId": "pi_123", "cardType": "VISA"}
    return {**fields, **gateway, "order": {"id": order_id}, **overrides}


def refs(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["ref"] for edge in connection["edges"]]


class Shop(CheckedClient):
    """The schema-checked client on a catalogue with a standard product SHIRT and its variant SHIRT-M, and one
    customer."""

    def __init__(self, fluent: FluentClient, schema: GraphQLSchema) -> None:
        super().__init__(fluent, schema)
        self.product("SHIRT")
        self.product("SHIRT-M", type="VARIANT", product={"ref": "SHIRT", "catalogue": {"ref": MASTER}})
        self.customer_id: str = fluent.create_customer(USERNAME)["id"]

    def product(self, ref: str, /, catalogue: str = MASTER, **overrides: Any) -> None:
        document = CREATE_VARIANT if "product" in overrides else CREATE_STANDARD
        self.ok(document, {"input": product_input(ref, catalogue, **overrides)})

    def order(self, ref: str, /, **overrides: Any) -> dict[str, Any]:
        return self.ok(CREATE_ORDER_FULL, {"input": order_input(ref, self.customer_id, **overrides)})

    def find(self, ref: str) -> dict[str, Any] | None:
        body = self.gql(ORDER, {"ref": ref})
        assert "errors" not in body, body
        found: dict[str, Any] | None = body["data"]["order"]
        return found

    def one(self, ref: str) -> dict[str, Any]:
        found = self.find(ref)
        assert found is not None, ref
        return found

    def transaction(self, ref: str, order_id: str, /, **overrides: Any) -> dict[str, Any]:
        return self.ok(CREATE_TRANSACTION, {"input": transaction_input(ref, order_id, **overrides)})

    def set_status(self, ref: str, status: str) -> requests.Response:
        return requests.post(
            f"{self.fluent.base_url}/_admin/orders/{quote(ref, safe='')}/status", json={"status": status}, timeout=10
        )

    def orders(self, **variables: Any) -> dict[str, Any]:
        return self.ok(ORDERS, variables)


@pytest.fixture
def shop(fluent: FluentClient, real_schema: GraphQLSchema) -> Shop:
    return Shop(fluent, real_schema)


# -- createOrder ---------------------------------------------------------------------------------


def test_the_product_documents_create_and_look_up_an_order(shop: Shop) -> None:
    created = shop.ok(CREATE_ORDER, {"input": order_input("CT-1001", shop.customer_id)})
    assert created["id"].isdigit()
    assert created == {"id": created["id"], "ref": "CT-1001", "status": "CREATED", "workflowRef": "ORDER::HD"}
    found = shop.ok(ORDER_BY_REF, {"ref": "CT-1001"})
    assert found == {
        "id": created["id"],
        "ref": "CT-1001",
        "status": "CREATED",
        "type": "HD",
        "financialTransactions": {"edges": []},
    }


def test_a_new_order_holds_its_items_fulfilment_choice_address_customer_and_totals(shop: Shop) -> None:
    order = shop.order("CT-1001")
    assert order == shop.ok(ORDER_BY_ID, {"id": order["id"]}) == shop.one("CT-1001")
    defaults = (order["type"], order["status"], order["workflowRef"], order["workflowVersion"])
    assert defaults == ("HD", "CREATED", "ORDER::HD", 1)
    assert order["createdOn"] == order["updatedOn"]
    assert (order["totalPrice"], order["totalTaxPrice"]) == (58.11, 9.28)
    assert order["attributes"] == [{"name": "ctOrderId", "type": "STRING", "value": "ct-1"}]
    assert order["retailer"] == {"id": "1"}
    assert order["customer"] == {"id": shop.customer_id, "ref": USERNAME, "username": USERNAME}

    items = [edge["node"] for edge in order["items"]["edges"]]
    assert [(node["ref"], node["quantity"], node["status"], node["product"]) for node in items] == [
        ("LI-1", 2, "CREATED", {"name": "Product SHIRT-M", "ref": "SHIRT-M", "catalogue": {"ref": MASTER}}),
        ("LI-2", 1, "CREATED", {"name": "Product SHIRT", "ref": "SHIRT", "catalogue": {"ref": MASTER}}),
    ]
    money = ("price", "paidPrice", "taxPrice", "totalPrice", "totalTaxPrice", "taxType", "currency")
    assert {name: items[0][name] for name in money} == {name: item("LI-1")[name] for name in money}
    assert items[0]["attributes"] == []
    assert items[0]["createdOn"] == order["createdOn"]

    fulfilment = dict(order["fulfilmentChoice"])
    delivery = fulfilment.pop("deliveryAddress")
    expected_choice = {name: value for name, value in choice().items() if name != "deliveryAddress"}
    assert {name: value for name, value in fulfilment.items() if name != "id"} == {
        **expected_choice,
        "pickupLocationRef": None,
    }
    given_address = {name: value for name, value in delivery.items() if name not in ("id", "createdOn")}
    assert given_address == {**address(), "state": None}
    ids = [order["id"], *(node["id"] for node in items), fulfilment["id"], delivery["id"]]
    assert all(value.isdigit() for value in ids)
    assert sorted(set(ids), key=int) == ids  # distinct; the order's id first, then its own entities'


def test_order_lookups_answer_null_for_an_unknown_order_and_need_a_key(shop: Shop) -> None:
    order = shop.order("CT-1001")
    assert shop.find("CT-9999") is None
    assert shop.gql(ORDER_BY_ID, {"id": "999"}) == {"data": {"orderById": None}}
    assert shop.ok(ORDER, {"id": order["id"], "ref": "CT-1001"})["id"] == order["id"]
    assert shop.ok(ORDER, {"id": int(order["id"])})["ref"] == "CT-1001"
    assert shop.gql(ORDER, {"id": order["id"], "ref": "CT-9999"}) == {"data": {"order": None}}
    body = shop.gql(ORDER, {})
    assert body["data"] == {"order": None}
    assert error_codes(body) == ["C0140E"]


def test_the_order_ref_is_unique(shop: Shop) -> None:
    shop.order("CT-1001")
    assert shop.fails(CREATE_ORDER, {"input": order_input("CT-1001", shop.customer_id)}) == ["C0121E"]


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"customer": {"id": "999"}}, id="unknown customer id"),
        pytest.param({"customer": {"id": USERNAME}}, id="username instead of id"),
        pytest.param({"retailer": {"id": "99"}}, id="unknown retailer"),
        pytest.param({"items": [item("LI-1"), item("LI-2", product="NOPE")]}, id="unknown product"),
        pytest.param({"items": [item("LI-1", productCatalogueRef="PC:NONE")]}, id="unknown catalogue"),
    ],
)
def test_what_an_order_names_must_exist(shop: Shop, overrides: dict[str, Any]) -> None:
    assert shop.fails(CREATE_ORDER, {"input": order_input("CT-1001", shop.customer_id, **overrides)}) == ["C0120E"]


def test_an_item_without_catalogue_is_in_the_retailers_compatibility_catalogue(shop: Shop) -> None:
    legacy = item("LI-1", product="LEGACY")
    del legacy["productCatalogueRef"]
    shop.product("LEGACY")  # in the master catalogue only
    assert shop.fails(CREATE_ORDER, {"input": order_input("CT-1", shop.customer_id, items=[legacy])}) == ["C0120E"]

    response = requests.post(
        f"{shop.fluent.base_url}/_admin/product-catalogues", json={"ref": "COMPATIBILITY:1"}, timeout=10
    )
    assert response.status_code == 201, response.text
    shop.product("LEGACY", catalogue="COMPATIBILITY:1")
    order = shop.order("CT-1", items=[legacy])
    [edge] = order["items"]["edges"]
    assert edge["node"]["product"]["catalogue"] == {"ref": "COMPATIBILITY:1"}
    [stored] = shop.fluent.admin.state()["orders"][0]["items"]
    assert (stored["productRef"], stored["productCatalogueRef"]) == ("LEGACY", "COMPATIBILITY:1")


@pytest.mark.parametrize(("order_type", "pickup"), [("CC", "STORE-7"), ("SFS", None), ("ANYTHING", None)])
def test_the_type_is_not_enforced_and_names_the_workflow(shop: Shop, order_type: str, pickup: str | None) -> None:
    order = shop.order("CT-1", type=order_type, fulfilmentChoice=choice(pickupLocationRef=pickup, deliveryAddress=None))
    assert (order["type"], order["workflowRef"]) == (order_type, f"ORDER::{order_type}")
    assert order["fulfilmentChoice"]["pickupLocationRef"] == pickup
    assert order["fulfilmentChoice"]["deliveryAddress"] is None


def test_an_order_with_only_the_required_fields(shop: Shop) -> None:
    required_item = {"ref": "LI-1", "productRef": "SHIRT-M", "productCatalogueRef": MASTER, "quantity": 1}
    minimal = {"ref": "CT-1", "type": "HD", "retailer": {"id": 1}, "customer": {"id": int(shop.customer_id)}}
    order = shop.ok(CREATE_ORDER_FULL, {"input": {**minimal, "items": [required_item]}})
    assert (order["fulfilmentChoice"], order["totalPrice"], order["attributes"]) == (None, None, [])
    [edge] = order["items"]["edges"]
    assert (edge["node"]["price"], edge["node"]["currency"], edge["node"]["quantity"]) == (None, None, 1)


# -- createOrderAndCustomer ----------------------------------------------------------------------


def order_and_customer_input(ref: str, username: str, /, **overrides: Any) -> dict[str, Any]:
    fields = {name: value for name, value in order_input(ref, "", **overrides).items() if name != "customer"}
    return {**fields, "customer": customer_input(username, primaryEmail="grace@example.com", firstName="Grace")}


def test_create_order_and_customer_creates_both(shop: Shop) -> None:
    created = shop.ok(CREATE_ORDER_AND_CUSTOMER, {"input": order_and_customer_input("CT-1", "1_grace@example.com")})
    customer = shop.ok(CUSTOMER_BY_REF, {"ref": "1_grace@example.com"})
    assert created["customer"] == {"id": customer["id"], "username": "1_grace@example.com"}
    assert (customer["primaryEmail"], customer["status"]) == ("grace@example.com", "ACTIVE")
    order = shop.one("CT-1")
    assert (order["status"], order["customer"]["id"], len(order["items"]["edges"])) == ("CREATED", customer["id"], 2)


@pytest.mark.parametrize(
    ("username", "overrides", "code"),
    [
        pytest.param(USERNAME, {}, "C0121E", id="existing username"),
        pytest.param("1_grace@example.com", {"items": [item("LI-1", product="NOPE")]}, "C0120E", id="bad item"),
        pytest.param("1_grace@example.com", {"ref": "CT-1"}, "C0121E", id="existing order ref"),
        pytest.param("1_grace@example.com", {"retailer": {"id": "99"}}, "C0120E", id="unknown order retailer"),
    ],
)
def test_create_order_and_customer_creates_neither_when_one_fails(
    shop: Shop, username: str, overrides: dict[str, Any], code: str
) -> None:
    shop.order("CT-1")
    variables = {"input": order_and_customer_input("CT-2", username, **overrides)}
    assert shop.fails(CREATE_ORDER_AND_CUSTOMER, variables) == [code]


# -- batches -------------------------------------------------------------------------------------

BATCH = """
mutation Batch(
  $withCustomer: CreateOrderAndCustomerInput!, $order: CreateOrderInput!,
  $payment: CreateFinancialTransactionInput!, $last: CreateOrderInput!
) {
  withCustomer: createOrderAndCustomer(input: $withCustomer) { id }
  order: createOrder(input: $order) { id }
  payment: createFinancialTransaction(input: $payment) { id }
  last: createOrder(input: $last) { id }
}
"""


def batch_variables(shop: Shop, existing_order_id: str, **last: Any) -> dict[str, Any]:
    return {
        "withCustomer": order_and_customer_input("CT-G", "1_grace@example.com"),
        "order": order_input("CT-2", shop.customer_id),
        "payment": transaction_input("PAY-1", existing_order_id),
        "last": order_input("CT-3", shop.customer_id, **last),
    }


@pytest.mark.parametrize(
    ("last", "code"),
    [
        pytest.param({"items": [item("LI-1", product="NOPE")]}, "C0120E", id="unknown product"),
        pytest.param({"ref": "CT-2"}, "C0121E", id="ref taken earlier in the batch"),
        pytest.param({"fulfilmentChoice": choice(deliveryAddress=address(city="L" * 46))}, "C0141E", id="too long"),
    ],
)
def test_an_aliased_batch_with_one_failure_leaves_nothing_behind(shop: Shop, last: dict[str, Any], code: str) -> None:
    existing = shop.order("CT-1")
    before = shop.fluent.admin.state()
    body = shop.gql(BATCH, batch_variables(shop, existing["id"], **last))
    assert body["data"] == dict.fromkeys(("withCustomer", "order", "payment", "last"))
    assert error_codes(body) == [code]
    assert shop.fluent.admin.state() == before
    assert shop.ok(ORDER_BY_REF, {"ref": "CT-1"})["financialTransactions"] == {"edges": []}


def test_an_aliased_batch_applies_when_all_succeed(shop: Shop) -> None:
    existing = shop.order("CT-1")
    body = shop.gql(BATCH, batch_variables(shop, existing["id"]))
    assert "errors" not in body, body
    state = shop.fluent.admin.state()
    assert [order["ref"] for order in state["orders"]] == ["CT-1", "CT-G", "CT-2", "CT-3"]
    assert [customer["username"] for customer in state["customers"]] == [USERNAME, "1_grace@example.com"]
    assert [(payment["ref"], payment["order"]) for payment in state["financial_transactions"]] == [
        ("PAY-1", existing["id"])
    ]


# -- financial transactions ----------------------------------------------------------------------


def test_financial_transactions_of_an_order(shop: Shop) -> None:
    order = shop.order("CT-1")
    created = shop.transaction("PAY-1", order["id"])
    assert created == {
        "id": created["id"],
        "ref": "PAY-1",
        "type": "PAYMENT",
        "status": "CREATED",
        "total": 58.11,
        "currency": "EUR",
        "paymentMethod": "CREDITCARD",
        "paymentProviderName": "STRIPE",
    }
    shop.transaction("REFUND-1", order["id"], type="REFUND", amount=10.5, paymentMethod="PAYPAL", paymentProvider=None)

    [payment, refund] = [edge["node"] for edge in shop.one("CT-1")["financialTransactions"]["edges"]]
    assert payment == {
        **created,
        "workflowRef": "FINANCIAL_TRANSACTION::PAYMENT",
        "externalTransactionId": "pi_123",
        "externalTransactionCode": None,
        "cardType": "VISA",
        "order": {"ref": "CT-1"},
    }
    assert (refund["ref"], refund["total"], refund["paymentProviderName"]) == ("REFUND-1", 10.5, None)

    # The product's check for existing transactions: the order by ref, its transactions by ref.
    found = shop.ok(ORDER_TRANSACTIONS, {"ref": "CT-1", "refs": ["REFUND-1", "PAY-9"]})
    assert found["financialTransactions"] == {
        "edges": [{"node": {"ref": "REFUND-1", "total": 10.5}}],
        "pageInfo": {"hasNextPage": False},
    }
    by_ref = shop.ok(ORDER_BY_REF, {"ref": "CT-1"})["financialTransactions"]
    assert [edge["node"]["ref"] for edge in by_ref["edges"]] == ["PAY-1", "REFUND-1"]
    # A transaction changes nothing on its order.
    assert shop.one("CT-1")["updatedOn"] == order["updatedOn"]


def test_transaction_refs_are_unique_per_order_and_the_order_must_exist(shop: Shop) -> None:
    first, second = shop.order("CT-1"), shop.order("CT-2")
    shop.transaction("PAY-1", first["id"])
    assert shop.fails(CREATE_TRANSACTION, {"input": transaction_input("PAY-1", first["id"])}) == ["C0121E"]
    shop.transaction("PAY-1", second["id"], amount=1.0)
    assert shop.fails(CREATE_TRANSACTION, {"input": transaction_input("PAY-2", "999")}) == ["C0120E"]
    # Another entity's id is no order id.
    assert shop.fails(CREATE_TRANSACTION, {"input": transaction_input("PAY-2", shop.customer_id)}) == ["C0120E"]

    everywhere = shop.ok(TRANSACTIONS, {"ref": ["PAY-1"]})
    assert [(edge["node"]["order"]["ref"], edge["node"]["total"]) for edge in everywhere["edges"]] == [
        ("CT-1", 58.11),
        ("CT-2", 1.0),
    ]
    assert shop.ok(TRANSACTIONS, {"paymentMethod": ["PAYPAL"]})["edges"] == []
    assert len(shop.ok(TRANSACTIONS, {"providers": ["STRIPE"]})["edges"]) == 2


# -- lengths -------------------------------------------------------------------------------------


def order_with(ref: str, customer_id: str, path: str, value: str) -> dict[str, Any]:
    """An order input with ``value`` at ``path`` (dotted; ``items`` means the first item)."""
    fields = order_input(ref, customer_id)
    target = fields
    *parents, name = path.split(".")
    for parent in parents:
        target = target[parent][0] if parent == "items" else target[parent]
    target[name] = value
    return fields


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("fulfilmentChoice.deliveryAddress.companyName", 45),
        ("fulfilmentChoice.deliveryAddress.street", 100),
        ("fulfilmentChoice.deliveryAddress.city", 45),
        ("fulfilmentChoice.deliveryAddress.state", 200),
        ("fulfilmentChoice.deliveryAddress.postcode", 100),
        ("fulfilmentChoice.deliveryAddress.region", 250),
        ("fulfilmentChoice.deliveryAddress.country", 100),
        ("fulfilmentChoice.deliveryAddress.timeZone", 32),
        ("fulfilmentChoice.deliveryAddress.name", 255),
        ("fulfilmentChoice.deliveryInstruction", 250),
        ("fulfilmentChoice.deliveryType", 255),
        ("type", 255),
        ("items.ref", 255),
    ],
)
def test_order_lengths(shop: Shop, path: str, limit: int) -> None:
    assert "errors" not in shop.gql(CREATE_ORDER, {"input": order_with("CT-1", shop.customer_id, path, "x" * limit)})
    variables = {"input": order_with("CT-2", shop.customer_id, path, "y" * (limit + 1))}
    before = shop.fluent.admin.state()
    body = shop.gql(CREATE_ORDER, variables)
    assert body["data"] == {"createOrder": None}
    assert error_codes(body) == ["C0141E"]
    assert f"input.{path.replace('items.', 'items[0].')}" in body["errors"][0]["message"]
    assert str(limit) in body["errors"][0]["message"]
    assert shop.fluent.admin.state() == before


def test_the_order_ref_has_the_default_limit(shop: Shop) -> None:
    shop.order("R" * 255)
    assert shop.fails(CREATE_ORDER, {"input": order_input("S" * 256, shop.customer_id)}) == ["C0141E"]


@pytest.mark.parametrize(("field", "limit"), [("type", 25), ("currency", 3), ("ref", 255), ("paymentMethod", 255)])
def test_transaction_lengths(shop: Shop, field: str, limit: int) -> None:
    order = shop.order("CT-1")
    shop.transaction("PAY-1", order["id"], **{field: "X" * limit})
    longer = transaction_input("PAY-2", order["id"], **{field: "Z" * (limit + 1)})
    assert shop.fails(CREATE_TRANSACTION, {"input": longer}) == ["C0141E"]


def test_the_inline_customer_of_create_order_and_customer_is_length_checked(shop: Shop) -> None:
    variables = {"input": order_and_customer_input("CT-1", "1_grace@example.com")}
    variables["input"]["customer"]["timezone"] = "T" * 33
    assert shop.fails(CREATE_ORDER_AND_CUSTOMER, variables) == ["C0141E"]


# -- status changes and searches -----------------------------------------------------------------


def test_the_admin_status_change_moves_status_and_updated_on(shop: Shop) -> None:
    created = shop.order("CT/1001")  # a ref with a slash travels percent-encoded
    shop.fluent.admin.advance_clock(90)
    response = shop.set_status("CT/1001", "COMPLETE")
    assert response.status_code == 200, response.text
    order = shop.one("CT/1001")
    assert (order["status"], order["createdOn"]) == ("COMPLETE", created["createdOn"])
    moved = parse_iso(order["updatedOn"]) - parse_iso(created["updatedOn"])
    assert moved.total_seconds() == pytest.approx(90, abs=5)
    assert (response.json()["status"], response.json()["updatedOn"]) == ("COMPLETE", order["updatedOn"])

    assert shop.set_status("CT-404", "COMPLETE").status_code == 404
    wrong_body = requests.post(f"{shop.fluent.base_url}/_admin/orders/CT-1/status", json={"state": "X"}, timeout=10)
    assert wrong_body.status_code == 400
    assert shop.one("CT/1001")["status"] == "COMPLETE"


def test_orders_by_status_and_updated_on_window(shop: Shop) -> None:
    """The back-sync's poll (§4.5): status filter, inclusive bounds, at least one bound."""
    for ref in ("CT-1", "CT-2", "CT-3"):
        shop.order(ref)
        shop.fluent.admin.advance_clock(60)
    assert shop.set_status("CT-1", "COMPLETE").status_code == 200
    shop.fluent.admin.advance_clock(60)
    last_change = shop.set_status("CT-3", "COMPLETE").json()["updatedOn"]
    first_change = shop.one("CT-1")["updatedOn"]
    created = [shop.one(ref)["createdOn"] for ref in ("CT-1", "CT-2", "CT-3")]

    def polled(status: list[str] | None, start: str) -> list[str]:
        return refs(shop.ok(ORDERS_BY_STATUS_SINCE, {"status": status, "from": start, "first": 50}))

    assert polled(["COMPLETE"], last_change) == ["CT-3"]  # the bound itself is in the window
    assert polled(["COMPLETE"], first_change) == ["CT-1", "CT-3"]
    assert polled(["CREATED"], created[0]) == ["CT-2"]
    assert polled(None, created[1]) == ["CT-1", "CT-2", "CT-3"]
    assert refs(shop.orders(updatedOn={"to": first_change})) == ["CT-1", "CT-2"]
    assert refs(shop.orders(updatedOn={"from": last_change, "to": last_change})) == ["CT-3"]
    assert refs(shop.orders(createdOn={"from": created[1], "to": created[2]})) == ["CT-2", "CT-3"]

    assert error_codes(shop.gql(ORDERS, {"updatedOn": {}})) == ["C0101E"]
    assert error_codes(shop.gql(ORDERS_BY_STATUS_SINCE, {"status": ["COMPLETE"], "from": None})) == ["C0101E"]
    assert error_codes(shop.gql(ORDERS, {"createdOn": {"from": "last week"}})) == ["C0100E"]


def test_order_searches_filter_and_page_by_10(shop: Shop) -> None:
    made = [shop.order(f"CT-{n:02d}", type="CC" if n % 4 == 0 else "HD")["ref"] for n in range(12)]
    shop.ok(CREATE_ORDER_AND_CUSTOMER, {"input": order_and_customer_input("CT-G", "1_grace@example.com")})

    default = shop.orders()
    assert refs(default) == made[:10]
    assert default["pageInfo"] == {"hasNextPage": True, "hasPreviousPage": False}
    seen: list[str] = []
    after = None
    while True:
        page = shop.orders(first=5, after=after)
        seen += refs(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["edges"][-1]["cursor"]
    assert seen == [*made, "CT-G"]

    assert refs(shop.orders(type=["CC"])) == ["CT-00", "CT-04", "CT-08"]
    assert refs(shop.orders(ref=["CT-03", "CT-G", "CT-99"])) == ["CT-03", "CT-G"]
    assert refs(shop.orders(customer={"ref": "1_grace@example.com"})) == ["CT-G"]
    assert refs(shop.orders(customer={"ref": USERNAME}, first=50)) == made
    assert refs(shop.orders(customer={"ref": "1_nobody@example.com"})) == []


def test_the_items_connection_pages_and_counts_towards_complexity(shop: Shop) -> None:
    shop.order("CT-1", items=[item(f"LI-{n:02d}") for n in range(12)])
    nested = """
    query Items($ref: String!, $after: String) {
      order(ref: $ref) {
        all: items { edges { cursor node { ref } } pageInfo { hasNextPage } }
        rest: items(first: 5, after: $after) { edges { node { ref } } pageInfo { hasNextPage hasPreviousPage } }
      }
    }
    """
    first = shop.ok(nested, {"ref": "CT-1"})
    assert refs(first["all"]) == [f"LI-{n:02d}" for n in range(10)]
    assert first["all"]["pageInfo"] == {"hasNextPage": True}
    rest = shop.ok(nested, {"ref": "CT-1", "after": first["all"]["edges"][-1]["cursor"]})["rest"]
    assert refs(rest) == ["LI-10", "LI-11"]
    assert rest["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": True}

    heavy = """
    query Heavy($orders: Int, $items: Int) {
      orders(first: $orders) { edges { node { ref items(first: $items) { edges { node { ref } } } } } }
    }
    """
    # 1 + 100 * (edges, node, ref, items) + 100 * 20 * (edges, node, ref) = 6401; with 40 items 12401.
    assert "errors" not in shop.gql(heavy, {"orders": 100, "items": 20})
    body = shop.gql(heavy, {"orders": 100, "items": 40})
    assert body["data"] is None
    assert error_codes(body) == ["C0001E"]


def test_state_shows_orders_and_transactions(shop: Shop) -> None:
    order = shop.order("CT-1")
    shop.transaction("PAY-1", order["id"])
    state = shop.fluent.admin.state()
    [stored] = state["orders"]
    assert (stored["ref"], stored["customer"], stored["retailer"], stored["status"]) == (
        "CT-1",
        shop.customer_id,
        "1",
        "CREATED",
    )
    assert [(i["ref"], i["productRef"], i["productCatalogueRef"]) for i in stored["items"]] == [
        ("LI-1", "SHIRT-M", MASTER),
        ("LI-2", "SHIRT", MASTER),
    ]
    assert stored["fulfilmentChoice"]["deliveryAddress"]["city"] == "London"
    assert stored["createdOn"].endswith("Z")
    [payment] = state["financial_transactions"]
    assert (payment["ref"], payment["order"], payment["total"], payment["paymentProviderName"]) == (
        "PAY-1",
        order["id"],
        58.11,
        "STRIPE",
    )
