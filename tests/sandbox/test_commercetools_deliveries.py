"""Deliveries and parcels of orders: each update action, the order's version (one bump per request), the documented
rules (a delivery needs the order's shipping info; quantities are not checked against the order's), the emulator's
choices where the API's answer is undocumented, the messages, faults; every order and message validated against
the OpenAPI spec."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.sandbox.catalogue_fixtures import messages_of, update, updated
from tests.sandbox.ct_fixtures import PROJECT, CtSandbox, openapi_spec, running
from tests.sandbox.order_fixtures import BERLIN, checked_out, import_draft, money, seeded_skus
from tests.sandbox.test_commercetools_openapi import Spec

TRACKING = {"trackingId": "JJD000390007", "carrier": "DHL", "provider": "dhl-de", "isReturn": False}
BOX = {"heightInMillimeter": 200, "lengthInMillimeter": 300, "widthInMillimeter": 150, "weightInGram": 1200}


@pytest.fixture(scope="module")
def spec(shared_dir: Path) -> Spec:
    return openapi_spec(shared_dir)


@pytest.fixture(scope="module")
def ct() -> Iterator[CtSandbox]:
    with running(messages_enabled=True) as sandbox:
        sandbox.emulator.seed(customers=20, days=5, seed=3, products=12)
        yield sandbox


def new_order(ct: CtSandbox) -> dict[str, Any]:
    """A checked-out order (with shipping info) of two lines and a custom line: 2 units, 1 unit, 1 unit."""
    first, second = seeded_skus(ct, 2)
    custom = {"name": {"en": "Gift wrap"}, "slug": "gift-wrap", "quantity": 1, "money": money("EUR", 300)}
    return checked_out(ct, lineItems=[{"sku": first, "quantity": 2}, {"sku": second}], customLineItems=[custom])


def lines(order: dict[str, Any]) -> list[str]:
    return [line["id"] for line in (*order["lineItems"], *order["customLineItems"])]


def deliveries(order: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = order["shippingInfo"]["deliveries"]
    return found


def check_error(spec: Spec, response: requests.Response, code: str, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    spec.check(body, "ErrorResponse")
    error: dict[str, Any] = body["errors"][0]
    assert error["code"] == code, body
    spec.check(error, f"{code}Error")
    return error


def new_messages(ct: CtSandbox, order: dict[str, Any], seen: int, spec: Spec) -> list[dict[str, Any]]:
    """The order's messages after the first ``seen``, each validated against its own schema."""
    found = messages_of(ct, order)[seen:]
    for message in found:
        spec.check(message, f"{message['type']}Message")
    return found


def test_add_delivery_with_parcels(spec: Spec, ct: CtSandbox) -> None:
    order = new_order(ct)
    line, other, custom = lines(order)
    seen = len(messages_of(ct, order))
    action = {
        "action": "addDelivery",
        "deliveryKey": "d-1",
        "items": [{"id": line, "quantity": 2}, {"id": custom, "quantity": 1}],
        "address": {**BERLIN, "key": "drop-off"},
        "parcels": [
            {"key": "p-1", "measurements": BOX, "trackingData": TRACKING, "items": [{"id": line, "quantity": 2}]},
            {"key": "p-2", "items": [{"id": custom, "quantity": 1}]},
        ],
    }
    result = updated(ct, "/orders", order, action)
    spec.check(result, "Order")
    assert result["version"] == order["version"] + 1
    (delivery,) = deliveries(result)
    assert delivery["key"] == "d-1" and delivery["createdAt"] == result["lastModifiedAt"]
    assert delivery["items"] == action["items"] and delivery["address"] == action["address"]
    first, second = delivery["parcels"]
    assert (first["key"], first["measurements"], first["trackingData"]) == ("p-1", BOX, TRACKING)
    assert (first["items"], second["items"]) == ([{"id": line, "quantity": 2}], [{"id": custom, "quantity": 1}])
    assert len({delivery["id"], first["id"], second["id"]}) == 3
    assert ct.ok(f"/orders/{order['id']}") == result
    added, parcel_1, parcel_2 = new_messages(ct, order, seen, spec)
    assert added["type"] == "DeliveryAdded"
    assert added["delivery"] == {**delivery, "parcels": []}  # as documented: the parcels come in messages of their own
    assert [parcel_1["type"], parcel_2["type"]] == ["ParcelAddedToDelivery"] * 2
    assert (parcel_1["parcel"], parcel_2["parcel"]) == (first, second)
    assert parcel_1["delivery"]["parcels"] == [first] and parcel_2["delivery"] == delivery
    assert {m["resourceVersion"] for m in (added, parcel_1, parcel_2)} == {result["version"]}
    assert other not in {item["id"] for item in delivery["items"]}
    by_key = ct.query_ids("/orders", where='shippingInfo(deliveries(key = "d-1"))')
    assert by_key == [order["id"]]
    tracked = ct.query_ids(
        "/orders", where=f'shippingInfo(deliveries(parcels(trackingData(trackingId = "{TRACKING["trackingId"]}"))))'
    )
    assert order["id"] in tracked


def test_every_delivery_and_parcel_action_with_its_message(spec: Spec, ct: CtSandbox) -> None:
    order = new_order(ct)
    line, other, _ = lines(order)
    order = updated(
        ct, "/orders", order, {"action": "addDelivery", "deliveryKey": "main", "items": [{"id": line, "quantity": 1}]}
    )
    delivery_id = deliveries(order)[0]["id"]
    seen = len(messages_of(ct, order))
    steps: list[tuple[dict[str, Any], str, dict[str, Any]]] = [
        ({"action": "addParcelToDelivery", "deliveryKey": "main", "parcelKey": "box-1", "measurements": BOX,
          "items": [{"id": line, "quantity": 1}]}, "ParcelAddedToDelivery", {}),
        ({"action": "setParcelTrackingData", "parcelKey": "box-1", "trackingData": TRACKING},
         "ParcelTrackingDataUpdated", {"deliveryId": delivery_id, "trackingData": TRACKING}),
        ({"action": "setParcelMeasurements", "parcelKey": "box-1", "measurements": {"weightInGram": 900}},
         "ParcelMeasurementsUpdated", {"deliveryId": delivery_id, "measurements": {"weightInGram": 900}}),
        ({"action": "setParcelItems", "parcelKey": "box-1", "items": [{"id": other, "quantity": 1}]},
         "ParcelItemsUpdated", {"deliveryId": delivery_id, "items": [{"id": other, "quantity": 1}],
                                "oldItems": [{"id": line, "quantity": 1}]}),
        ({"action": "setDeliveryItems", "deliveryId": delivery_id, "items": [{"id": other, "quantity": 1}]},
         "DeliveryItemsUpdated", {"deliveryId": delivery_id, "items": [{"id": other, "quantity": 1}],
                                  "oldItems": [{"id": line, "quantity": 1}]}),
        ({"action": "setDeliveryAddress", "deliveryKey": "main", "address": BERLIN},
         "DeliveryAddressSet", {"deliveryId": delivery_id, "address": BERLIN}),
        ({"action": "setDeliveryAddress", "deliveryKey": "main", "address": {**BERLIN, "city": "Potsdam"}},
         "DeliveryAddressSet", {"deliveryId": delivery_id, "address": {**BERLIN, "city": "Potsdam"},
                                "oldAddress": BERLIN}),
        ({"action": "setParcelTrackingData", "parcelKey": "box-1"}, "ParcelTrackingDataUpdated",
         {"deliveryId": delivery_id}),
        ({"action": "removeParcelFromDelivery", "parcelKey": "box-1"}, "ParcelRemovedFromDelivery",
         {"deliveryId": delivery_id}),
        ({"action": "changeShipmentState", "shipmentState": "Shipped"}, "OrderShipmentStateChanged",
         {"shipmentState": "Shipped"}),
        ({"action": "removeDelivery", "deliveryKey": "main"}, "DeliveryRemoved", {}),
    ]  # fmt: skip
    for action, message_type, fields in steps:
        before = order
        order = updated(ct, "/orders", order, action)
        spec.check(order, "Order")
        assert order["version"] == before["version"] + 1
        (message,) = new_messages(ct, order, seen, spec)
        seen += 1
        assert message["type"] == message_type and message["resourceVersion"] == order["version"]
        assert {name: message.get(name) for name in (*fields, *_OPTIONAL[message_type])} == {
            **dict.fromkeys(_OPTIONAL[message_type]),
            **fields,
        }, action
        parcels = [p for d in deliveries(order) for p in d["parcels"]]
        if message_type == "ParcelAddedToDelivery":
            assert message["parcel"] == parcels[0] and message["parcel"]["key"] == "box-1"
            assert message["delivery"] == deliveries(order)[0]
        if message_type == "ParcelRemovedFromDelivery":
            assert message["parcel"]["key"] == "box-1" and parcels == []
        if message_type == "DeliveryRemoved":
            assert message["delivery"]["key"] == "main" and deliveries(order) == []
    assert order["shipmentState"] == "Shipped"


# The optional payload fields that must be absent (None) unless a step names them.
_OPTIONAL: dict[str, tuple[str, ...]] = {
    "ParcelAddedToDelivery": ("shippingKey",),
    "ParcelTrackingDataUpdated": ("trackingData", "shippingKey"),
    "ParcelMeasurementsUpdated": ("measurements",),
    "ParcelItemsUpdated": (),
    "DeliveryItemsUpdated": (),
    "DeliveryAddressSet": ("address", "oldAddress"),
    "ParcelRemovedFromDelivery": (),
    "OrderShipmentStateChanged": ("oldShipmentState",),
    "DeliveryRemoved": (),
}


def test_several_delivery_actions_are_one_version_and_a_failing_one_changes_nothing(spec: Spec, ct: CtSandbox) -> None:
    order = new_order(ct)
    line, other, _ = lines(order)
    seen = len(messages_of(ct, order))
    both = [
        {"action": "addDelivery", "deliveryKey": "first", "items": [{"id": line, "quantity": 1}]},
        {
            "action": "addDelivery",
            "deliveryKey": "second",
            "items": [{"id": line, "quantity": 1}, {"id": other, "quantity": 1}],
        },
        {"action": "changeShipmentState", "shipmentState": "Partial"},
    ]
    result = updated(ct, "/orders", order, *both)
    assert result["version"] == order["version"] + 1
    assert [d["key"] for d in deliveries(result)] == ["first", "second"]
    assert [m["type"] for m in new_messages(ct, order, seen, spec)] == [
        "DeliveryAdded",
        "DeliveryAdded",
        "OrderShipmentStateChanged",
    ]
    failing = [
        {"action": "addDelivery", "deliveryKey": "third", "items": [{"id": line, "quantity": 1}]},
        {"action": "setDeliveryItems", "deliveryKey": "no-such-delivery", "items": []},
    ]
    check_error(spec, update(ct, "/orders", result, *failing), "InvalidOperation")
    stale = update(ct, "/orders", order, {"action": "removeDelivery", "deliveryKey": "first"})
    assert check_error(spec, stale, "ConcurrentModification", 409)["currentVersion"] == result["version"]
    assert ct.ok(f"/orders/{order['id']}") == result
    assert len(messages_of(ct, order)) == seen + 3


def test_deliveries_are_not_checked_against_the_ordered_quantities(ct: CtSandbox) -> None:
    """As documented: split and partial shipments, so the API does not validate the quantities across deliveries."""
    order = new_order(ct)
    line = lines(order)[0]  # 2 units ordered
    result = updated(ct, "/orders", order,
                     {"action": "addDelivery", "items": [{"id": line, "quantity": 5}]},
                     {"action": "addDelivery", "items": [{"id": line, "quantity": 2}]})  # fmt: skip
    assert [d["items"][0]["quantity"] for d in deliveries(result)] == [5, 2]
    assert all("key" not in d for d in deliveries(result))


@pytest.mark.parametrize(
    ("make_action", "code"),
    [
        (lambda ids: {"action": "addDelivery", "items": [{"id": "not-a-line", "quantity": 1}]}, "InvalidOperation"),
        (lambda ids: {"action": "addDelivery", "items": [{"id": ids[0], "quantity": 0}]}, "InvalidField"),
        (lambda ids: {"action": "addDelivery", "items": [{"id": ids[0], "quantity": "1"}]}, "InvalidJsonInput"),
        (lambda ids: {"action": "addDelivery", "items": [{"quantity": 1}]}, "InvalidJsonInput"),
        (lambda ids: {"action": "addDelivery", "deliveryKey": "bad key"}, "InvalidField"),
        (lambda ids: {"action": "addDelivery", "shippingKey": "standard"}, "InvalidOperation"),  # single shipping
        (lambda ids: {"action": "addDelivery", "address": {"city": "Berlin"}}, "InvalidJsonInput"),
        (
            lambda ids: {"action": "addDelivery", "parcels": [{"measurements": {"weightInGram": "1kg"}}]},
            "InvalidJsonInput",
        ),
        (lambda ids: {"action": "addDelivery", "parcels": [{"trackingData": {"isReturn": "no"}}]}, "InvalidJsonInput"),
        (lambda ids: {"action": "addDelivery", "parcels": [{"key": "twice"}, {"key": "twice"}]}, "DuplicateField"),
        (lambda ids: {"action": "addParcelToDelivery", "parcelKey": "x"}, "InvalidJsonInput"),  # which delivery?
        (lambda ids: {"action": "addParcelToDelivery", "deliveryId": "nope"}, "InvalidOperation"),
        (lambda ids: {"action": "setParcelTrackingData", "parcelId": "nope"}, "InvalidOperation"),
        (lambda ids: {"action": "setParcelItems", "parcelKey": "x"}, "InvalidOperation"),
        (lambda ids: {"action": "removeParcelFromDelivery"}, "InvalidJsonInput"),
        (lambda ids: {"action": "removeDelivery", "deliveryKey": "nope"}, "InvalidOperation"),
        (lambda ids: {"action": "setDeliveryItems", "deliveryKey": "kept"}, "InvalidJsonInput"),  # items required
    ],
)
def test_refused_delivery_actions(spec: Spec, ct: CtSandbox, make_action: Any, code: str) -> None:
    order = new_order(ct)
    order = updated(ct, "/orders", order, {"action": "addDelivery", "deliveryKey": "kept"})
    refused = update(ct, "/orders", order, make_action(lines(order)))
    check_error(spec, refused, code)
    assert ct.ok(f"/orders/{order['id']}") == order


def test_delivery_and_parcel_keys_are_unique_within_the_order(spec: Spec, ct: CtSandbox) -> None:
    order = new_order(ct)
    order = updated(ct, "/orders", order, {"action": "addDelivery", "deliveryKey": "once", "parcels": [{"key": "box"}]})
    error = check_error(
        spec, update(ct, "/orders", order, {"action": "addDelivery", "deliveryKey": "once"}), "DuplicateField"
    )
    assert (error["field"], error["duplicateValue"]) == ("deliveryKey", "once")
    again = {"action": "addParcelToDelivery", "deliveryKey": "once", "parcelKey": "box"}
    error = check_error(spec, update(ct, "/orders", order, again), "DuplicateField")
    assert (error["field"], error["duplicateValue"]) == ("parcelKey", "box")
    other = updated(ct, "/orders", new_order(ct), {"action": "addDelivery", "deliveryKey": "once"})  # another order
    assert deliveries(other)[0]["key"] == "once"


def test_a_delivery_needs_the_orders_shipping_info(spec: Spec, ct: CtSandbox) -> None:
    imported = ct.post("/orders/import", import_draft(seeded_skus(ct, 1), orderNumber="NO-SHIPPING-1"))
    assert imported.status_code == 201 and "shippingInfo" not in imported.json()
    refused = update(ct, "/orders", imported.json(), {"action": "addDelivery", "deliveryKey": "d"})
    check_error(spec, refused, "InvalidOperation")
    assert ct.ok("/orders/order-number=NO-SHIPPING-1") == imported.json()


def test_a_lost_answer_and_its_replay_by_delivery_key(ct: CtSandbox) -> None:
    """The write happened, its answer was lost: the replay with the same key is refused as a duplicate, as the
    sync's idempotent writes rely on, and the order has the delivery once."""
    order = new_order(ct)
    action = {"action": "addDelivery", "deliveryKey": "lost-answer", "items": [{"id": lines(order)[0], "quantity": 1}]}
    ct.admin.add_fault(match=f"POST /{PROJECT}/orders/{order['id']}", drop="after", times=1)
    with pytest.raises(requests.ConnectionError):
        update(ct, "/orders", order, action)
    current = ct.ok(f"/orders/{order['id']}")
    assert current["version"] == order["version"] + 1 and [d["key"] for d in deliveries(current)] == ["lost-answer"]
    assert update(ct, "/orders", current, action).json()["errors"][0]["code"] == "DuplicateField"
    ct.admin.add_fault(
        match=f"POST /{PROJECT}/orders/{order['id']}", status=503, error_code="PendingOperation", times=1
    )
    busy = update(ct, "/orders", current, {"action": "removeDelivery", "deliveryKey": "lost-answer"})
    assert (busy.status_code, busy.json()["errors"][0]["code"]) == (503, "PendingOperation")
    assert ct.ok(f"/orders/{order['id']}") == current
