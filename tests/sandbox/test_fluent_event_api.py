"""The Fluent emulator's Event API (``POST /api/v4.1/event/sync`` and ``/async``), over HTTP: bearer
authentication, the answers of both modes, refused events, events for entities that do not exist, the configurable
cancel rule with its ``updatedOn`` and ORDER webhook, the record of events, and fault injection on the event paths.
The GraphQL documents are checked against the real schema before they are sent (``CheckedClient``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests
from graphql import GraphQLSchema

from ctfluent_sandbox.clock import parse_iso
from tests.sandbox.fluent_fixtures import (
    CheckedClient,
    FluentClient,
    WebhookReceiver,
    fluent_fixture,  # noqa: F401 (fixture)
    fluent_server_fixture,  # noqa: F401 (fixture)
    real_schema_fixture,  # noqa: F401 (fixture)
    webhook_receiver_fixture,  # noqa: F401 (fixture)
)

SYNC, ASYNC = "sync", "async"
MASTER = {"ref": "PC:MASTER:1"}
CREATE_STANDARD = """
mutation CreateStandardProduct($input: CreateStandardProductInput!) { createStandardProduct(input: $input) { ref } }
"""
CREATE_ORDER = """
mutation CreateOrderAndCustomer($input: CreateOrderAndCustomerInput!) {
  createOrderAndCustomer(input: $input) { id ref status updatedOn }
}
"""
ORDER = "query OrderByRef($ref: String!) { order(ref: $ref) { id ref status updatedOn } }"
LOCATION = "query Location($ref: String) { location(ref: $ref) { id } }"


@pytest.fixture
def api(fluent: FluentClient, real_schema: GraphQLSchema) -> CheckedClient:
    checked = CheckedClient(fluent, real_schema)
    product = {"ref": "SHIRT", "catalogue": MASTER, "type": "STANDARD", "gtin": "4006381333931", "name": "Shirt"}
    checked.ok(CREATE_STANDARD, {"input": product})
    return checked


def place_order(api: CheckedClient, ref: str = "HD-1") -> dict[str, Any]:
    customer = {
        "username": f"1_{ref.lower()}@example.com",
        "firstName": "Ada",
        "primaryEmail": "ada@example.com",
        "timezone": "Europe/Berlin",
        "promotionOptIn": False,
        "retailer": {"id": "1"},
    }
    item = {"ref": "LI-1", "productRef": "SHIRT", "productCatalogueRef": MASTER["ref"], "quantity": 1}
    order = {"ref": ref, "type": "HD", "retailer": {"id": "1"}, "customer": customer, "items": [item]}
    return api.ok(CREATE_ORDER, {"input": order})


def order_event(ref: str = "HD-1", name: str = "CancelOrder", **fields: Any) -> dict[str, Any]:
    """An event as the project sends it for an order."""
    return {
        "name": name,
        "retailerId": "1",
        "entityType": "ORDER",
        "entityRef": ref,
        "entitySubtype": "HD",
        "rootEntityType": "ORDER",
        "rootEntityRef": ref,
        "attributes": {},
        **fields,
    }


def post_event(fluent: FluentClient, mode: str, body: Any, *, token: str | None = "valid") -> requests.Response:
    if token == "valid":
        if fluent.token is None:
            fluent.login()
        token = fluent.token
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return fluent.session.post(f"{fluent.base_url}/api/v4.1/event/{mode}", json=body, headers=headers, timeout=10)


def events(fluent: FluentClient) -> list[dict[str, Any]]:
    recorded: list[dict[str, Any]] = fluent.admin.call("GET", "/events")
    return recorded


def status_of(api: CheckedClient, ref: str = "HD-1") -> str:
    status: str = api.ok(ORDER, {"ref": ref})["status"]
    return status


# -- authentication and answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [SYNC, ASYNC])
def test_the_event_api_needs_a_valid_token(fluent: FluentClient, api: CheckedClient, mode: str) -> None:
    place_order(api)
    for token in (None, "not-a-token"):
        response = post_event(fluent, mode, order_event(), token=token)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
        assert response.json()["error"] == "invalid_token"
    assert status_of(api) == "CREATED"
    assert events(fluent) == []


def test_a_sync_event_is_applied_recorded_and_answered(fluent: FluentClient, api: CheckedClient) -> None:
    order = place_order(api)
    body = order_event(name="OrderNote", attributes={"note": "gift wrap"})
    response = post_event(fluent, SYNC, body)
    assert response.status_code == 200
    answer = response.json()
    assert answer == {"eventId": answer["eventId"], "entityId": order["id"], "eventStatus": "COMPLETE"}
    assert status_of(api) == "CREATED"  # no rule for this name
    [recorded] = events(fluent)
    assert {k: v for k, v in recorded.items() if k != "receivedOn"} == {
        "id": answer["eventId"],
        "mode": "sync",
        "eventStatus": "COMPLETE",
        "entityId": order["id"],
        "error": None,
        "effect": None,
        "event": body,
    }
    # The entity's id may come along, as a string or a number, when it is the entity's.
    for entity_id in (order["id"], int(order["id"])):
        assert post_event(fluent, SYNC, {**body, "entityId": entity_id}).status_code == 200
    assert len(events(fluent)) == 3
    fluent.admin.call("DELETE", "/events")
    assert events(fluent) == []


def test_a_cancel_event_cancels_the_order_and_announces_it(
    fluent: FluentClient, api: CheckedClient, webhook_receiver: WebhookReceiver
) -> None:
    order = place_order(api)
    fluent.fast_webhooks(webhook_receiver.url)
    fluent.admin.advance_clock(30)
    answer = post_event(fluent, SYNC, order_event()).json()
    assert answer["eventStatus"] == "COMPLETE" and answer["entityId"] == order["id"]
    cancelled = api.ok(ORDER, {"ref": "HD-1"})
    assert cancelled["status"] == "CANCELLED"
    assert parse_iso(cancelled["updatedOn"]) >= parse_iso(order["updatedOn"]) + timedelta(seconds=30)
    [event] = webhook_receiver.wait(1)
    assert {k: event[k] for k in ("entityType", "entityId", "entityRef", "entityStatus", "rootEntityRef")} == {
        "entityType": "ORDER",
        "entityId": order["id"],
        "entityRef": "HD-1",
        "entityStatus": "CANCELLED",
        "rootEntityRef": "HD-1",
    }
    assert events(fluent)[0]["effect"] == "order status CANCELLED"


# -- refused events -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [SYNC, ASYNC])
@pytest.mark.parametrize(
    "body",
    [
        pytest.param({k: v for k, v in order_event().items() if k != "name"}, id="no name"),
        pytest.param({k: v for k, v in order_event().items() if k != "entityRef"}, id="no entityRef"),
        pytest.param({k: v for k, v in order_event().items() if k != "entityType"}, id="no entityType"),
        pytest.param(order_event(name=""), id="empty name"),
        pytest.param(order_event(entityId=True), id="entityId not an id"),
        pytest.param(order_event(attributes="gift"), id="attributes not an object"),
        pytest.param(order_event(rootEntityRef=7), id="rootEntityRef not a string"),
        pytest.param([order_event()], id="not an object"),
    ],
)
def test_a_body_that_is_no_event_is_refused_in_both_modes(
    fluent: FluentClient, api: CheckedClient, mode: str, body: Any
) -> None:
    place_order(api)
    response = post_event(fluent, mode, body)
    assert response.status_code == 400
    assert response.json()["status"] == 400 and response.json()["message"]
    assert status_of(api) == "CREATED"
    [recorded] = events(fluent)
    assert (recorded["mode"], recorded["eventStatus"], recorded["event"]) == (mode, "REJECTED", body)


def test_a_body_that_is_not_json_is_refused(fluent: FluentClient) -> None:
    fluent.login()
    response = fluent.session.post(
        f"{fluent.base_url}/api/v4.1/event/sync",
        data=b"{not json",
        headers={"Authorization": f"Bearer {fluent.token}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("body", "named"),
    [
        pytest.param(order_event("HD-404"), "No ORDER with ref 'HD-404'", id="no such order"),
        pytest.param(order_event(entityId="99999"), "has id", id="another entity's id"),
        pytest.param({**order_event(), "entityType": "WIDGET"}, "'WIDGET' is not emulated", id="unknown type"),
        pytest.param(
            {"name": "Adjust", "entityType": "VIRTUAL_POSITION", "entityRef": "SKU-1:LOC_1"},
            "needs rootEntityRef",
            id="position without its catalogue",
        ),
    ],
)
def test_a_sync_event_for_a_missing_entity_is_refused_naming_it(
    fluent: FluentClient, api: CheckedClient, body: dict[str, Any], named: str
) -> None:
    place_order(api)
    response = post_event(fluent, SYNC, body)
    assert response.status_code == 400
    assert response.json() == {"error": "Bad Request", "status": 400, "message": response.json()["message"]}
    assert named in response.json()["message"]
    assert status_of(api) == "CREATED"
    [recorded] = events(fluent)
    assert recorded["eventStatus"] == "REJECTED" and named in recorded["error"]


def test_an_async_event_is_accepted_applied_and_its_failures_are_only_recorded(
    fluent: FluentClient, api: CheckedClient
) -> None:
    place_order(api)
    accepted = post_event(fluent, ASYNC, order_event())
    assert accepted.status_code == 202 and set(accepted.json()) == {"id"}
    assert status_of(api) == "CANCELLED"
    missing = post_event(fluent, ASYNC, order_event("HD-404"))
    assert missing.status_code == 202  # "async failures are invisible to the caller"
    first, second = events(fluent)
    assert (first["id"], first["mode"], first["eventStatus"]) == (accepted.json()["id"], "async", "COMPLETE")
    assert (second["id"], second["eventStatus"]) == (missing.json()["id"], "FAILED")
    assert "HD-404" in second["error"]


# -- rules and other entities ---------------------------------------------------------------------------------


def test_the_cancel_rule_is_configurable_and_reset(fluent: FluentClient, api: CheckedClient) -> None:
    assert fluent.admin.call("GET", "/event-rules") == {"cancel": ["CancelOrder"]}
    place_order(api, "HD-1")
    place_order(api, "HD-2")
    assert fluent.admin.call("PUT", "/event-rules", {"cancel": ["OrderCancelled", "VoidOrder"]}) == {
        "cancel": ["OrderCancelled", "VoidOrder"]
    }
    assert post_event(fluent, SYNC, order_event("HD-1", "CancelOrder")).status_code == 200
    assert status_of(api, "HD-1") == "CREATED"
    assert post_event(fluent, SYNC, order_event("HD-2", "VoidOrder")).status_code == 200
    assert status_of(api, "HD-2") == "CANCELLED"
    # The rule is for orders: a location event of that name cancels nothing.
    location = {"name": "VoidOrder", "entityType": "LOCATION", "entityRef": "LOC_1", "rootEntityType": "LOCATION"}
    assert post_event(fluent, SYNC, location).json()["entityId"] == api.ok(LOCATION, {"ref": "LOC_1"})["id"]
    assert status_of(api, "HD-1") == "CREATED"
    for bad in ({"cancel": "CancelOrder"}, {"cancel": [""]}, {"refund": []}):
        response = fluent.admin_request("PUT", "/event-rules", bad)
        assert response.status_code == 400, bad
    fluent.admin.reset()
    assert fluent.admin.call("GET", "/event-rules") == {"cancel": ["CancelOrder"]}
    assert events(fluent) == []


def test_events_name_other_entities_by_ref_or_within_their_root(fluent: FluentClient, api: CheckedClient) -> None:
    order = place_order(api)
    created = fluent.admin_ok(
        "POST", "/orders/HD-1/fulfilments", {"items": [{"orderItemRef": "LI-1", "quantity": 1}]}, 201
    )
    position = fluent.admin_ok(
        "POST", "/positions", {"catalogue": "VC:ATS:1", "productRef": "SHIRT", "groupRef": "LOC_2", "quantity": 4}, 201
    )
    named = [
        (
            {"entityType": "FULFILMENT", "entityRef": "HD-1-F1", "rootEntityType": "ORDER", "rootEntityRef": "HD-1"},
            created,
        ),
        ({"entityType": "VIRTUAL_POSITION", "entityRef": "SHIRT:LOC_2", "rootEntityRef": "VC:ATS:1"}, position),
        ({"entityType": "CUSTOMER", "entityRef": "1_hd-1@example.com"}, None),
        ({"entityType": "PRODUCT", "entityRef": "SHIRT", "rootEntityRef": "PC:MASTER:1"}, None),
    ]
    for fields, entity in named:
        answer = post_event(fluent, SYNC, {"name": "Touch", **fields})
        assert answer.status_code == 200, answer.text
        if entity is not None:
            assert answer.json()["entityId"] == entity["id"]
    elsewhere = {"name": "Touch", "entityType": "VIRTUAL_POSITION", "entityRef": "SHIRT:LOC_2", "rootEntityRef": "VC:X"}
    assert "in 'VC:X'" in post_event(fluent, SYNC, elsewhere).json()["message"]
    assert status_of(api) == "CREATED" and order["status"] == "CREATED"


# -- faults ----------------------------------------------------------------------------------------------------


def test_faults_apply_to_the_event_paths(fluent: FluentClient, api: CheckedClient) -> None:
    place_order(api, "HD-1")
    place_order(api, "HD-2")
    fluent.login()
    fluent.admin.clear_request_counts()
    fluent.admin.add_fault(match="POST /api/v4.1/event/sync", status=500, times=1)
    refused = post_event(fluent, SYNC, order_event("HD-1"))
    assert refused.status_code == 500 and refused.json() == {"error": "Internal Server Error", "status": 500}
    assert status_of(api, "HD-1") == "CREATED" and events(fluent) == []  # the event never arrived
    assert post_event(fluent, SYNC, order_event("HD-1")).status_code == 200  # the retry goes through
    assert status_of(api, "HD-1") == "CANCELLED"

    # Dropped after the event was applied: the answer is lost, the cancellation is not.
    fluent.admin.add_fault(match="POST /api/v4.1/event/*", drop="after", times=1)
    with pytest.raises(requests.ConnectionError):
        post_event(fluent, ASYNC, order_event("HD-2"))
    assert status_of(api, "HD-2") == "CANCELLED"
    assert [e["eventStatus"] for e in events(fluent)] == ["COMPLETE", "COMPLETE"]

    fluent.admin.add_fault(match="POST /api/v4.1/event/async", status=503, retry_after=3, times=1)
    unavailable = post_event(fluent, ASYNC, order_event("HD-2"))
    assert unavailable.status_code == 503 and unavailable.headers["Retry-After"] == "3"
    counts = fluent.admin.request_counts()["by_target"]
    assert counts["POST /api/v4.1/event/sync"] == 2 and counts["POST /api/v4.1/event/async"] == 2
