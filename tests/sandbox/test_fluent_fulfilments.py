"""Fulfilments, articles and consignments on the Fluent emulator, over HTTP: partial fulfilments of an order made
through the admin routes, their items (with the order items and products they fulfil), articles and consignments,
the searches and connections that read them, status changes with their ``updatedOn`` and the ``FULFILMENT`` and
``CONSIGNMENT`` webhooks. Every document is checked against the real schema before it is sent (``CheckedClient``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from graphql import GraphQLSchema

from ctfluent_sandbox.clock import parse_iso
from tests.sandbox.fluent_fixtures import (
    CheckedClient,
    FluentClient,
    WebhookReceiver,
    error_codes,
    fluent_fixture,  # noqa: F401 (fixture)
    fluent_server_fixture,  # noqa: F401 (fixture)
    real_schema_fixture,  # noqa: F401 (fixture)
    webhook_receiver_fixture,  # noqa: F401 (fixture)
)

MASTER = {"ref": "PC:MASTER:1"}
CREATE_STANDARD = """
mutation CreateStandardProduct($input: CreateStandardProductInput!) { createStandardProduct(input: $input) { ref } }
"""
CREATE_VARIANT = """
mutation CreateVariantProduct($input: CreateVariantProductInput!) { createVariantProduct(input: $input) { ref } }
"""
CREATE_ORDER = """
mutation CreateOrderAndCustomer($input: CreateOrderAndCustomerInput!) {
  createOrderAndCustomer(input: $input) { id ref updatedOn }
}
"""
PRODUCT_REF = "... on VariantProduct { ref } ... on StandardProduct { ref }"
FULFILMENT_FIELDS = f"""
id ref status type deliveryType workflowRef workflowVersion createdOn updatedOn eta expiryTime attributes {{ name }}
order {{ ref }}
fromLocation {{ ref }}
fromAddress {{ ref city ... on StoreAddress {{ location {{ ref }} }} }}
toAddress {{
  ref name street city postcode country
  ... on CustomerAddress {{ companyName }}
  ... on StoreAddress {{ location {{ ref }} }}
}}
items(first: 20) {{ edges {{ node {{
  ref status requestedQuantity filledQuantity rejectedQuantity fulfilment {{ ref }}
  orderItem {{ id ref quantity product {{ {PRODUCT_REF} }} }}
}} }} }}
articles(first: 5) {{ edges {{ node {{
  ref type status name quantity height length weight width createdOn updatedOn
  consignmentArticles(first: 5) {{ edges {{ node {{ consignment {{ ref consignmentReference }} }} }} }}
}} }} }}
"""
FULFILMENT_BY_ID = f"query FulfilmentById($id: ID!) {{ fulfilmentById(id: $id) {{ {FULFILMENT_FIELDS} }} }}"
FULFILMENTS = """
query Fulfilments(
  $ref: [String], $status: [String], $type: [String!], $deliveryType: [String], $fromLocation: LocationLinkInput,
  $createdOn: DateRange, $updatedOn: DateRange, $first: Int, $after: String
) {
  fulfilments(
    ref: $ref, status: $status, type: $type, deliveryType: $deliveryType, fromLocation: $fromLocation,
    createdOn: $createdOn, updatedOn: $updatedOn, first: $first, after: $after
  ) {
    edges { cursor node { id ref status updatedOn fromLocation { ref } } }
    pageInfo { hasNextPage hasPreviousPage }
  }
}
"""
ORDER_FULFILMENTS = """
query OrderFulfilments($ref: String!, $status: [String]) {
  order(ref: $ref) { ref updatedOn fulfilments(status: $status, first: 50) { edges { node { ref status } } } }
}
"""
CONSIGNMENT_FIELDS = """
id ref status consignmentReference trackingLabel labelUrl orderSummaryUrl workflowRef workflowVersion
createdOn updatedOn
carrier { id ref name type status }
retailer { id }
consignmentArticles(first: 10) { edges { node {
  article { ref quantity fulfilments(first: 1) { edges { node { ref } } } }
  consignment { ref }
} } }
"""
CONSIGNMENT_BY_ID = f"query ConsignmentById($id: ID!) {{ consignmentById(id: $id) {{ {CONSIGNMENT_FIELDS} }} }}"
CONSIGNMENTS = """
query Consignments($ref: [String], $status: [String], $reference: [String!], $updatedOn: DateRange) {
  consignments(ref: $ref, status: $status, consignmentReference: $reference, updatedOn: $updatedOn) {
    edges { node { ref status } }
  }
}
"""
ARTICLES = """
query Articles($ref: [String], $status: [String], $quantity: [Int], $updatedOn: DateRange) {
  articles(ref: $ref, status: $status, quantity: $quantity, updatedOn: $updatedOn) {
    edges { node { id ref quantity } }
  }
}
"""
ARTICLE_BY_ID = "query ArticleById($id: ID!) { articleById(id: $id) { ref quantity } }"
DELIVERY_ADDRESS = {
    "ref": "ADDR-1",
    "name": "Ada Lovelace",
    "companyName": "Analytical Engines",
    "street": "Unter den Linden 1",
    "city": "Berlin",
    "postcode": "10117",
    "country": "DE",
}
DHL = {"ref": "DHL", "name": "DHL Paket"}


@pytest.fixture
def api(fluent: FluentClient, real_schema: GraphQLSchema) -> CheckedClient:
    base = {"catalogue": MASTER, "type": "STANDARD", "gtin": "4006381333931", "name": "Shirt"}
    checked = CheckedClient(fluent, real_schema)
    checked.ok(CREATE_STANDARD, {"input": {**base, "ref": "SHIRT"}})
    for ref in ("SHIRT-S", "SHIRT-M"):
        variant = {**base, "ref": ref, "type": "VARIANT", "product": {"ref": "SHIRT", "catalogue": MASTER}}
        checked.ok(CREATE_VARIANT, {"input": variant})
    return checked


def place_order(
    api: CheckedClient, ref: str = "HD-1", items: tuple[tuple[str, str, int], ...] = (), **choice: Any
) -> dict[str, Any]:
    """An order (with a new customer) of ``items`` ``(item ref, product ref, quantity)``: by default LI-1, three
    SHIRT-S, and LI-2, one SHIRT-M, delivered to ``DELIVERY_ADDRESS``."""
    lines = items or (("LI-1", "SHIRT-S", 3), ("LI-2", "SHIRT-M", 1))
    customer = {
        "username": f"1_{ref.lower()}@example.com",
        "firstName": "Ada",
        "primaryEmail": "ada@example.com",
        "timezone": "Europe/Berlin",
        "promotionOptIn": False,
        "retailer": {"id": "1"},
    }
    fulfilment_choice = {"deliveryType": "EXPRESS", "fulfilmentType": "HD_PFS", "deliveryAddress": DELIVERY_ADDRESS}
    order = {
        "ref": ref,
        "type": choice.pop("type", "HD"),
        "retailer": {"id": "1"},
        "customer": customer,
        "fulfilmentChoice": {**fulfilment_choice, **choice},
        "items": [
            {"ref": item, "productRef": product, "productCatalogueRef": MASTER["ref"], "quantity": quantity}
            for item, product, quantity in lines
        ],
    }
    return api.ok(CREATE_ORDER, {"input": order})


def fulfil(fluent: FluentClient, order: str, expect: int = 201, **body: Any) -> dict[str, Any]:
    created: dict[str, Any] = fluent.admin_ok("POST", f"/orders/{order}/fulfilments", body, status=expect)
    return created


def consign(fluent: FluentClient, fulfilment: str, expect: int = 201, **body: Any) -> dict[str, Any]:
    created: dict[str, Any] = fluent.admin_ok("POST", f"/fulfilments/{fulfilment}/consignments", body, status=expect)
    return created


def refs(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["ref"] for edge in connection["edges"]]


def nodes(connection: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in connection["edges"]]


# -- fulfilments ------------------------------------------------------------------------------------------------


def test_a_partial_fulfilment_of_an_order(fluent: FluentClient, api: CheckedClient) -> None:
    order = place_order(api)
    created = fulfil(fluent, "HD-1", items=[{"orderItemRef": "LI-1", "quantity": 2}])
    assert created["ref"] == "HD-1-F1" and [a["quantity"] for a in created["articles"]] == [2]

    fulfilment = api.ok(FULFILMENT_BY_ID, {"id": created["id"]})
    stamps = {"id", "createdOn", "updatedOn", "items", "articles"}
    assert {k: v for k, v in fulfilment.items() if k not in stamps} == {
        "ref": "HD-1-F1",
        "status": "CREATED",
        "type": "HD_PFS",  # the order's fulfilment choice
        "deliveryType": "EXPRESS",
        "workflowRef": "FULFILMENT::HD_PFS",
        "workflowVersion": 1,
        "eta": None,
        "expiryTime": None,
        "attributes": [],
        "order": {"ref": "HD-1"},
        "fromLocation": {"ref": "LOC_1"},  # the first active location
        "fromAddress": {"ref": "LOC_1:ADDRESS", "city": "Berlin", "location": {"ref": "LOC_1"}},
        "toAddress": {k: DELIVERY_ADDRESS[k] for k in ("ref", "name", "street", "city", "postcode", "country")}
        | {"companyName": "Analytical Engines"},
    }
    [item] = nodes(fulfilment["items"])
    assert {k: v for k, v in item.items() if k != "orderItem"} == {
        "ref": "LI-1",
        "status": "CREATED",
        "requestedQuantity": 2,
        "filledQuantity": 2,
        "rejectedQuantity": 0,
        "fulfilment": {"ref": "HD-1-F1"},
    }
    assert {k: item["orderItem"][k] for k in ("ref", "quantity", "product")} == {
        "ref": "LI-1",
        "quantity": 3,
        "product": {"ref": "SHIRT-S"},
    }
    [article] = nodes(fulfilment["articles"])
    assert {k: v for k, v in article.items() if k not in ("createdOn", "updatedOn")} == {
        "ref": "HD-1-F1-A1",
        "type": "DEFAULT",
        "status": "CREATED",
        "name": "Parcel of HD-1-F1",
        "quantity": 2,
        "height": 0.0,
        "length": 0.0,
        "weight": 0.0,
        "width": 0.0,
        "consignmentArticles": {"edges": []},
    }

    # The rest of the order: SHIRT-S by product, LI-2 rejected at the store.
    second = fulfil(
        fluent,
        "HD-1",
        items=[{"productRef": "SHIRT-S", "quantity": 1}, {"orderItemRef": "LI-2", "quantity": 1, "filledQuantity": 0}],
        fromLocation="LOC_2",
        article={"height": 10, "length": 30, "weight": 0.4, "width": 20.5},
    )
    second_items = nodes(api.ok(FULFILMENT_BY_ID, {"id": second["id"]})["items"])
    assert [(i["ref"], i["filledQuantity"], i["rejectedQuantity"]) for i in second_items] == [
        ("LI-1", 1, 0),
        ("LI-2", 0, 1),
    ]
    [parcel] = second["articles"]
    assert (parcel["quantity"], parcel["height"], parcel["width"]) == (1, 10.0, 20.5)
    listed = api.ok(ORDER_FULFILMENTS, {"ref": "HD-1"})
    assert refs(listed["fulfilments"]) == ["HD-1-F1", "HD-1-F2"]
    assert listed["updatedOn"] == order["updatedOn"]  # fulfilling changes nothing on the order itself

    # LI-1 is fully requested; the rejected LI-2 can go to another location.
    too_many = fluent.admin_request(
        "POST", "/orders/HD-1/fulfilments", {"items": [{"orderItemRef": "LI-1", "quantity": 1}]}
    )
    assert too_many.status_code == 400 and "0 left" in too_many.json()["error"]
    assert (
        fulfil(fluent, "HD-1", items=[{"orderItemRef": "LI-2", "quantity": 1}], ref="HD-1-RETRY")["ref"] == "HD-1-RETRY"
    )


def test_a_refused_fulfilment_changes_nothing(fluent: FluentClient, api: CheckedClient) -> None:
    place_order(api)
    fulfil(fluent, "HD-1", items=[{"orderItemRef": "LI-2", "quantity": 1}], ref="F-TAKEN")
    state, sent = fluent.admin.state(), fluent.webhooks_sent()
    one = [{"orderItemRef": "LI-1", "quantity": 1}]
    for body, status in (
        ({}, 400),
        ({"items": []}, 400),
        ({"items": [{"orderItemRef": "LI-1", "quantity": 0}]}, 400),
        ({"items": [{"orderItemRef": "LI-1", "quantity": 4}]}, 400),
        ({"items": [{"orderItemRef": "LI-1", "quantity": 2, "filledQuantity": 3}]}, 400),
        ({"items": [{"orderItemRef": "LI-9", "quantity": 1}]}, 400),
        ({"items": [{"productRef": "SHIRT-X", "quantity": 1}]}, 400),
        ({"items": [{"orderItemRef": "LI-1", "productRef": "SHIRT-S", "quantity": 1}]}, 400),
        ({"items": [{"orderItemRef": "LI-1", "quantity": 2}, {"orderItemRef": "LI-1", "quantity": 2}]}, 400),
        ({"items": one, "fromLocation": "LOC_9"}, 400),
        ({"items": one, "article": {"height": -1}}, 400),
        ({"items": one, "colour": "red"}, 400),
        ({"items": one, "ref": "F-TAKEN"}, 409),
    ):
        response = fluent.admin_request("POST", "/orders/HD-1/fulfilments", body)
        assert response.status_code == status, (body, response.text)
    assert fluent.admin_request("POST", "/orders/HD-404/fulfilments", {"items": one}).status_code == 404
    assert fluent.admin.state() == state
    assert fluent.webhooks_sent() == sent


def test_fulfilments_filter_and_page(fluent: FluentClient, api: CheckedClient) -> None:
    place_order(api, "HD-12", items=(("LI-1", "SHIRT-S", 12),))
    for n in range(12):
        location = "LOC_2" if n % 3 == 0 else "LOC_1"
        fulfil(fluent, "HD-12", items=[{"orderItemRef": "LI-1", "quantity": 1}], fromLocation=location)
    everything = [f"HD-12-F{n}" for n in range(1, 13)]
    default = api.ok(FULFILMENTS)
    assert refs(default) == everything[:10] and default["pageInfo"]["hasNextPage"] is True

    seen: list[str] = []
    stamps: list[str] = []
    after = None
    while True:
        page = api.ok(FULFILMENTS, {"first": 5, "after": after})
        seen += refs(page)
        stamps += [node["updatedOn"] for node in nodes(page)]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["edges"][-1]["cursor"]
    assert seen == everything

    from_store = api.ok(FULFILMENTS, {"fromLocation": {"ref": "LOC_2"}, "first": 20})
    assert refs(from_store) == ["HD-12-F1", "HD-12-F4", "HD-12-F7", "HD-12-F10"]
    assert {node["fromLocation"]["ref"] for node in nodes(from_store)} == {"LOC_2"}
    assert refs(api.ok(FULFILMENTS, {"ref": ["HD-12-F3", "HD-12-F99"]})) == ["HD-12-F3"]
    assert refs(api.ok(FULFILMENTS, {"type": ["HD_PFS"], "deliveryType": ["EXPRESS"], "first": 20})) == everything
    assert refs(api.ok(FULFILMENTS, {"type": ["CC_PFS"]})) == []
    # LocationLinkInput.ref is limited to 8 characters in the real schema.
    assert error_codes(api.gql(FULFILMENTS, {"fromLocation": {"ref": "LOC_12345"}})) == ["C0141E"]
    assert error_codes(api.gql(FULFILMENTS, {"updatedOn": {}})) == ["C0101E"]

    fluent.admin.advance_clock(10)
    changed = fluent.admin_ok("POST", "/fulfilments/HD-12-F5/status", {"status": "PICKED"})
    assert refs(api.ok(FULFILMENTS, {"status": ["PICKED"]})) == ["HD-12-F5"]
    assert refs(api.ok(FULFILMENTS, {"updatedOn": {"from": changed["updatedOn"]}})) == ["HD-12-F5"]
    last_created = max(stamps, key=parse_iso)
    assert refs(api.ok(FULFILMENTS, {"updatedOn": {"to": last_created}, "first": 20})) == [
        ref for ref in everything if ref != "HD-12-F5"
    ]
    assert refs(api.ok(ORDER_FULFILMENTS, {"ref": "HD-12", "status": ["PICKED"]})["fulfilments"]) == ["HD-12-F5"]


def test_fulfilment_status_changes_move_updated_on_and_send_fulfilment_webhooks(
    fluent: FluentClient, api: CheckedClient, webhook_receiver: WebhookReceiver
) -> None:
    order = place_order(api)
    fluent.fast_webhooks(webhook_receiver.url)
    created = fulfil(fluent, "HD-1", items=[{"orderItemRef": "LI-1", "quantity": 3}])
    fluent.admin.advance_clock(20)
    changed = fluent.admin_ok("POST", "/fulfilments/HD-1-F1/status", {"status": "FULFILLED"})
    assert changed["createdOn"] == created["createdOn"]
    assert parse_iso(changed["updatedOn"]) >= parse_iso(created["updatedOn"]) + timedelta(seconds=20)
    assert api.ok(FULFILMENT_BY_ID, {"id": created["id"]})["status"] == "FULFILLED"
    first, second = webhook_receiver.wait(2)
    assert second == {
        "id": second["id"],
        "name": "OrderStatus",
        "accountId": "CTFLUENT",
        "retailerId": "1",
        "entityType": "FULFILMENT",
        "entitySubtype": "HD_PFS",
        "entityId": created["id"],
        "entityRef": "HD-1-F1",
        "entityStatus": "FULFILLED",
        "rootEntityType": "ORDER",
        "rootEntityId": order["id"],
        "rootEntityRef": "HD-1",
        "type": "NORMAL",
        "attributes": {},
        "meta": {},
        "trailLogs": [],
        "errorLogs": [],
    }
    assert (first["entityType"], first["entityStatus"], first["id"] != second["id"]) == ("FULFILMENT", "CREATED", True)
    assert fluent.admin_request("POST", "/fulfilments/HD-1-F9/status", {"status": "X"}).status_code == 404
    assert fluent.admin_request("POST", "/fulfilments/HD-1-F1/status", {"status": ""}).status_code == 400
    assert fluent.webhooks_sent() == 2


def test_a_click_and_collect_fulfilment_is_picked_at_the_pickup_location(
    fluent: FluentClient, api: CheckedClient
) -> None:
    place_order(api, "CC-1", type="CC", fulfilmentType="CC_PFS", pickupLocationRef="LOC_3", deliveryType="STANDARD")
    created = fulfil(fluent, "CC-1", items=[{"orderItemRef": "LI-2", "quantity": 1}])
    fulfilment = api.ok(FULFILMENT_BY_ID, {"id": created["id"]})
    assert (fulfilment["type"], fulfilment["deliveryType"], fulfilment["fromLocation"]) == (
        "CC_PFS",
        "STANDARD",
        {"ref": "LOC_3"},
    )
    to = fulfilment["toAddress"]
    assert (to["ref"], to["location"]) == ("LOC_3:ADDRESS", {"ref": "LOC_3"})  # the store, not the customer


# -- articles and consignments ----------------------------------------------------------------------------------


def test_a_consignment_books_the_articles_with_a_carrier(
    fluent: FluentClient, api: CheckedClient, webhook_receiver: WebhookReceiver
) -> None:
    place_order(api)
    first = fulfil(fluent, "HD-1", items=[{"orderItemRef": "LI-1", "quantity": 3}])
    fluent.fast_webhooks(webhook_receiver.url)
    created = consign(
        fluent,
        "HD-1-F1",
        carrier=DHL,
        consignmentReference="JD014600006281230701",
        trackingLabel="https://track.example.com/JD014600006281230701",
        labelUrl="https://labels.example.com/JD014600006281230701.pdf",
    )
    assert created["ref"] == "HD-1-F1-C1" and [a["ref"] for a in created["articles"]] == ["HD-1-F1-A1"]
    consignment = api.ok(CONSIGNMENT_BY_ID, {"id": created["id"]})
    assert {k: v for k, v in consignment.items() if k not in ("id", "createdOn", "updatedOn", "carrier")} == {
        "ref": "HD-1-F1-C1",
        "status": "CREATED",
        "consignmentReference": "JD014600006281230701",
        "trackingLabel": "https://track.example.com/JD014600006281230701",
        "labelUrl": "https://labels.example.com/JD014600006281230701.pdf",
        "orderSummaryUrl": None,
        "workflowRef": "CONSIGNMENT::DEFAULT",
        "workflowVersion": 1,
        "retailer": {"id": "1"},
        "consignmentArticles": {
            "edges": [
                {
                    "node": {
                        "article": {
                            "ref": "HD-1-F1-A1",
                            "quantity": 3,
                            "fulfilments": {"edges": [{"node": {"ref": "HD-1-F1"}}]},
                        },
                        "consignment": {"ref": "HD-1-F1-C1"},
                    }
                }
            ]
        },
    }
    assert {k: consignment["carrier"][k] for k in ("ref", "name", "type", "status")} == {
        "ref": "DHL",
        "name": "DHL Paket",
        "type": "DEFAULT",
        "status": "ACTIVE",
    }
    [article] = nodes(api.ok(FULFILMENT_BY_ID, {"id": first["id"]})["articles"])
    assert nodes(article["consignmentArticles"]) == [
        {"consignment": {"ref": "HD-1-F1-C1", "consignmentReference": "JD014600006281230701"}}
    ]
    assert api.ok(FULFILMENT_BY_ID, {"id": first["id"]})["updatedOn"] == first["updatedOn"]  # unchanged

    [event] = webhook_receiver.wait(1)
    assert {k: event[k] for k in ("entityType", "entitySubtype", "entityRef", "entityStatus", "retailerId")} == {
        "entityType": "CONSIGNMENT",
        "entitySubtype": "DEFAULT",
        "entityRef": "HD-1-F1-C1",
        "entityStatus": "CREATED",
        "retailerId": "1",
    }
    assert (event["rootEntityType"], event["rootEntityRef"], event["rootEntityId"]) == (
        "CONSIGNMENT",
        "HD-1-F1-C1",
        created["id"],
    )

    fluent.admin.advance_clock(15)
    shipped = fluent.admin_ok("POST", "/consignments/HD-1-F1-C1/status", {"status": "SHIPPED"})
    assert parse_iso(shipped["updatedOn"]) >= parse_iso(created["updatedOn"]) + timedelta(seconds=15)
    assert [e["entityStatus"] for e in webhook_receiver.wait(2)] == ["CREATED", "SHIPPED"]
    assert refs(api.ok(CONSIGNMENTS, {"status": ["SHIPPED"]})) == ["HD-1-F1-C1"]
    assert refs(api.ok(CONSIGNMENTS, {"reference": ["JD014600006281230701"]})) == ["HD-1-F1-C1"]
    assert refs(api.ok(CONSIGNMENTS, {"updatedOn": {"from": shipped["updatedOn"]}})) == ["HD-1-F1-C1"]
    assert refs(api.ok(CONSIGNMENTS, {"updatedOn": {"to": created["updatedOn"]}})) == []
    assert error_codes(api.gql(CONSIGNMENTS, {"updatedOn": {}})) == ["C0101E"]

    # A second booking with the same carrier (renamed) gets the next ref.
    again = consign(fluent, "HD-1-F1", carrier={"ref": "DHL", "name": "DHL Express"}, consignmentReference="JD2")
    assert again["ref"] == "HD-1-F1-C2"
    assert api.ok(CONSIGNMENT_BY_ID, {"id": again["id"]})["carrier"]["name"] == "DHL Express"
    assert api.ok(CONSIGNMENT_BY_ID, {"id": created["id"]})["carrier"]["id"] == consignment["carrier"]["id"]
    assert fluent.admin_request("POST", "/consignments/C-404/status", {"status": "X"}).status_code == 404


def test_a_refused_consignment_changes_nothing(fluent: FluentClient, api: CheckedClient) -> None:
    place_order(api)
    fulfil(fluent, "HD-1", items=[{"orderItemRef": "LI-1", "quantity": 1}])
    fulfil(fluent, "HD-1", items=[{"orderItemRef": "LI-2", "quantity": 1, "filledQuantity": 0}])  # no article
    state = fluent.admin.state()
    booking = {"carrier": DHL, "consignmentReference": "JD1"}
    for fulfilment, body, status in (
        ("HD-1-F2", booking, 400),  # nothing was filled: no article to book
        ("HD-1-F1", {"consignmentReference": "JD1"}, 400),
        ("HD-1-F1", {"carrier": {"name": "DHL"}, "consignmentReference": "JD1"}, 400),
        ("HD-1-F1", {"carrier": DHL}, 400),
        ("HD-1-F1", {**booking, "colour": "red"}, 400),
        ("HD-1-F9", booking, 404),
    ):
        response = fluent.admin_request("POST", f"/fulfilments/{fulfilment}/consignments", body)
        assert response.status_code == status, (body, response.text)
    assert fluent.admin.state() == state


def test_articles_are_found_by_id_and_filters(fluent: FluentClient, api: CheckedClient) -> None:
    place_order(api)
    first = fulfil(fluent, "HD-1", items=[{"orderItemRef": "LI-1", "quantity": 2}])
    fulfil(fluent, "HD-1", items=[{"orderItemRef": "LI-1", "quantity": 1}, {"orderItemRef": "LI-2", "quantity": 1}])
    assert refs(api.ok(ARTICLES)) == ["HD-1-F1-A1", "HD-1-F2-A1"]
    assert refs(api.ok(ARTICLES, {"quantity": [2]})) == ["HD-1-F1-A1", "HD-1-F2-A1"]
    assert refs(api.ok(ARTICLES, {"ref": ["HD-1-F2-A1"], "status": ["CREATED"]})) == ["HD-1-F2-A1"]
    assert refs(api.ok(ARTICLES, {"status": ["SHIPPED"]})) == []
    [article] = first["articles"]
    assert api.ok(ARTICLE_BY_ID, {"id": article["id"]}) == {"ref": "HD-1-F1-A1", "quantity": 2}
    assert api.gql(ARTICLE_BY_ID, {"id": "99999"}) == {"data": {"articleById": None}}
    assert error_codes(api.gql(ARTICLES, {"updatedOn": {}})) == ["C0101E"]
