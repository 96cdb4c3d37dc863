"""The Messages API: which writes produce which messages, numbering, enabling, retention, late visibility."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.sandbox.ct_fixtures import PROJECT, CtSandbox, error_code, running

PREFERENCES = {"typeId": "type", "key": "customer-preferences"}


@pytest.fixture
def ct() -> Iterator[CtSandbox]:
    with running(messages_enabled=True) as sandbox:
        assert sandbox.post("/stores", {"key": "eu-store"}).status_code == 201
        assert sandbox.post("/stores", {"key": "us-store"}).status_code == 201
        yield sandbox


def messages_of(ct: CtSandbox, resource_id: str) -> list[dict[str, Any]]:
    """One customer's messages in sequence (the messages of one request share their createdAt)."""
    where = 'resource(typeId = "customer" and id = :id)'
    return ct.messages(where=where, sort="sequenceNumber asc", **{"var.id": resource_id})


def test_customer_created_message(ct: CtSandbox) -> None:
    customer = ct.create_customer(email="m@example.com", key="k-1", customerNumber="C-1", externalId="E-1")
    (message,) = messages_of(ct, customer["id"])
    assert message["type"] == "CustomerCreated"
    assert message["customer"] == customer
    assert message["version"] == 1
    assert message["createdAt"] == message["lastModifiedAt"] == customer["createdAt"]
    assert message["sequenceNumber"] == 1
    assert message["resourceVersion"] == 1
    assert message["resource"] == {"typeId": "customer", "id": customer["id"]}
    assert message["resourceUserProvidedIdentifiers"] == {"key": "k-1", "customerNumber": "C-1", "externalId": "E-1"}
    assert message["createdBy"]["clientId"] == "ctfluent-sandbox"


ACTION_MESSAGES: list[tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]] = [
    ({"action": "setFirstName", "firstName": "Fi"}, [("CustomerFirstNameSet", {"firstName": "Fi"})]),
    ({"action": "setFirstName"}, [("CustomerFirstNameSet", {})]),
    ({"action": "setLastName", "lastName": "La"}, [("CustomerLastNameSet", {"lastName": "La"})]),
    ({"action": "setTitle", "title": "Dr"}, [("CustomerTitleSet", {"title": "Dr"})]),
    ({"action": "setCompanyName", "companyName": "Co"}, [("CustomerCompanyNameSet", {"companyName": "Co"})]),
    (
        {"action": "setDateOfBirth", "dateOfBirth": "2000-01-31"},
        [("CustomerDateOfBirthSet", {"dateOfBirth": "2000-01-31"})],
    ),
    ({"action": "setExternalId", "externalId": "X"}, [("CustomerExternalIdSet", {"externalId": "X"})]),
    (
        {"action": "changeEmail", "email": "new@example.com"},
        [("CustomerEmailChanged", {"email": "new@example.com", "oldEmail": "base@example.com"})],
    ),
    ({"action": "setMiddleName", "middleName": "Mi"}, []),
    ({"action": "setSalutation", "salutation": "Sa"}, []),
    ({"action": "setLocale", "locale": "de"}, []),
    ({"action": "setKey", "key": "new-key"}, []),
    ({"action": "setCustomerNumber", "customerNumber": "N"}, []),
    ({"action": "setVatId", "vatId": "V"}, []),
    ({"action": "addStore", "store": {"typeId": "store", "key": "us-store"}}, []),
    ({"action": "removeStore", "store": {"typeId": "store", "key": "eu-store"}}, []),
    (
        {"action": "setStores", "stores": [{"typeId": "store", "key": "us-store"}]},
        [
            (
                "CustomerStoresSet",
                {
                    "stores": [{"typeId": "store", "key": "us-store"}],
                    "oldStores": [{"typeId": "store", "key": "eu-store"}],
                },
            )
        ],
    ),
    (
        {"action": "addAddress", "address": {"country": "FR", "city": "Lyon"}},
        [("CustomerAddressAdded", {"address": {"country": "FR", "city": "Lyon"}})],
    ),
    (
        {"action": "changeAddress", "addressKey": "home", "address": {"country": "DE", "city": "Kiel"}},
        [("CustomerAddressChanged", {"address": {"country": "DE", "city": "Kiel"}, "addressRoles": ["Shipping"]})],
    ),
    (
        {"action": "removeAddress", "addressKey": "home"},
        [("CustomerAddressRemoved", {"address": {"country": "DE", "key": "home"}, "addressRoles": ["Shipping"]})],
    ),
    (
        {"action": "setDefaultShippingAddress", "addressKey": "home"},
        [("CustomerDefaultShippingAddressSet", {"address": {"country": "DE", "key": "home"}})],
    ),
    ({"action": "setDefaultBillingAddress"}, [("CustomerDefaultBillingAddressSet", {})]),
    (
        {"action": "addBillingAddressId", "addressKey": "home"},
        [("CustomerBillingAddressAdded", {"address": {"country": "DE", "key": "home"}})],
    ),
    (
        {"action": "removeShippingAddressId", "addressKey": "home"},
        [("CustomerShippingAddressRemoved", {"address": {"country": "DE", "key": "home"}})],
    ),
    (
        {"action": "setCustomType", "type": PREFERENCES, "fields": {"newsletter": True}},
        [("CustomerCustomTypeSet", {"customFields": {"fields": {"newsletter": True}}})],
    ),
    ({"action": "setCustomType"}, [("CustomerCustomTypeRemoved", {})]),
    (
        {"action": "setCustomField", "name": "newsletter", "value": True},
        [("CustomerCustomFieldChanged", {"name": "newsletter", "value": True, "previousValue": False})],
    ),
    (
        {"action": "setCustomField", "name": "tier", "value": "gold"},
        [("CustomerCustomFieldAdded", {"name": "tier", "value": "gold"})],
    ),
    (
        {"action": "setCustomField", "name": "newsletter", "value": None},
        [("CustomerCustomFieldRemoved", {"name": "newsletter"})],
    ),
    ({"action": "setCustomField", "name": "never-set"}, []),
]


def contains(actual: Any, expected: Any) -> bool:
    """``expected`` is a sub-structure of ``actual`` (dicts compared key by key)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and contains(actual[k], v) for k, v in expected.items())
    return bool(actual == expected)


@pytest.mark.parametrize(("action", "expected"), ACTION_MESSAGES, ids=lambda v: str(v)[:60])
def test_each_action_produces_exactly_its_messages(
    ct: CtSandbox, action: dict[str, Any], expected: list[tuple[str, dict[str, Any]]]
) -> None:
    customer = ct.create_customer(
        email="base@example.com",
        firstName="Base",
        addresses=[{"country": "DE", "key": "home"}],
        shippingAddresses=[0],
        stores=[{"typeId": "store", "key": "eu-store"}],
        custom={"type": PREFERENCES, "fields": {"newsletter": False}},
    )
    updated = ct.updated(customer, action)
    new = messages_of(ct, customer["id"])[1:]
    assert [m["type"] for m in new] == [t for t, _ in expected]
    for message, (_, payload) in zip(new, expected, strict=True):
        assert contains(message, payload), message
        assert message["resourceVersion"] == updated["version"] == 2
        assert message["sequenceNumber"] == 2
        assert message["createdAt"] == message["lastModifiedAt"] == updated["lastModifiedAt"]
    if action["action"] == "setFirstName" and "firstName" not in action:
        assert "firstName" not in new[0]


def test_numbering_is_per_resource_and_several_actions_share_a_version(ct: CtSandbox) -> None:
    first = ct.create_customer(email="one@example.com")
    second = ct.create_customer(email="two@example.com")
    first = ct.updated(
        first,
        {"action": "setFirstName", "firstName": "A"},
        {"action": "setLastName", "lastName": "B"},
        {"action": "setMiddleName", "middleName": "no message"},
    )
    second = ct.updated(second, {"action": "setTitle", "title": "Dr"})
    first = ct.updated(first, {"action": "setCompanyName", "companyName": "C"})
    numbered = [(m["type"], m["sequenceNumber"], m["resourceVersion"]) for m in messages_of(ct, first["id"])]
    assert numbered == [
        ("CustomerCreated", 1, 1),
        ("CustomerFirstNameSet", 2, 2),
        ("CustomerLastNameSet", 3, 2),
        ("CustomerCompanyNameSet", 4, 3),
    ]
    assert [(m["sequenceNumber"], m["resourceVersion"]) for m in messages_of(ct, second["id"])] == [(1, 1), (2, 2)]
    deleted = ct.request("DELETE", f"/customers/{first['id']}", {"version": str(first["version"])})
    assert deleted.status_code == 200
    last = messages_of(ct, first["id"])[-1]
    assert (last["type"], last["sequenceNumber"], last["resourceVersion"]) == ("CustomerDeleted", 5, 4)
    assert last["email"] == "one@example.com"


def test_identifiers_are_as_at_the_resource_version(ct: CtSandbox) -> None:
    customer = ct.create_customer(email="ids@example.com", key="old-key")
    customer = ct.updated(
        customer, {"action": "setKey", "key": "new-key"}, {"action": "setExternalId", "externalId": "E"}
    )
    ct.updated(customer, {"action": "setKey"}, {"action": "setFirstName", "firstName": "F"})
    identifiers = [m.get("resourceUserProvidedIdentifiers") for m in messages_of(ct, customer["id"])]
    assert identifiers == [{"key": "old-key"}, {"key": "new-key", "externalId": "E"}, {"externalId": "E"}]


def test_a_failed_update_produces_no_message(ct: CtSandbox) -> None:
    customer = ct.create_customer(email="fail@example.com")
    response = ct.update(customer, {"action": "setFirstName", "firstName": "X"}, {"action": "removeAddress"})
    assert response.status_code == 400
    assert [m["type"] for m in messages_of(ct, customer["id"])] == ["CustomerCreated"]
    assert ct.update(customer, {"action": "setTitle", "title": "T"}).status_code == 200
    assert [m["sequenceNumber"] for m in messages_of(ct, customer["id"])] == [1, 2]


def test_store_creation_is_a_message_too(ct: CtSandbox) -> None:
    created = ct.messages(where='type = "StoreCreated"')
    assert {m["resourceUserProvidedIdentifiers"]["key"] for m in created} == {"eu-store", "us-store"}


def test_message_by_id_head_and_expand(ct: CtSandbox) -> None:
    customer = ct.create_customer(email="exp@example.com")
    customer = ct.updated(customer, {"action": "setFirstName", "firstName": "Now"})
    created = messages_of(ct, customer["id"])[0]
    assert ct.ok(f"/messages/{created['id']}") == created
    assert ct.request("HEAD", f"/messages/{created['id']}").status_code == 200
    assert ct.get("/messages/unknown").status_code == 404
    expanded = ct.ok(f"/messages/{created['id']}", expand="resource")
    assert expanded["resource"]["obj"] == customer  # the current state, not the one at creation
    page = ct.ok("/messages", expand="resource", where='type = "CustomerCreated"')
    assert all("obj" in m["resource"] for m in page["results"])
    assert ct.request("HEAD", "/messages", {"where": 'type = "CustomerDeleted"'}).status_code == 404


def test_messages_disabled_are_refused_and_not_recorded() -> None:
    with running() as ct:
        refused = ct.get("/messages")
        assert refused.status_code == 400
        assert error_code(refused) == "InvalidOperation"
        assert "changeMessagesConfiguration" in refused.json()["message"]
        ct.configure_messages(disabled_status=403)
        assert ct.get("/messages").status_code == 403
        assert ct.get("/messages/any-id").status_code == 403
        customer = ct.create_customer(email="quiet@example.com")  # its CustomerCreated is not stored
        project = ct.ok("")
        assert project["messages"] == {"enabled": False, "deleteDaysAfterCreation": 15}
        enable = {
            "version": project["version"],
            "actions": [
                {
                    "action": "changeMessagesConfiguration",
                    "messagesConfiguration": {"enabled": True, "deleteDaysAfterCreation": 30},
                }
            ],
        }
        enabled = ct.post("", enable).json()
        assert enabled["messages"] == {"enabled": True, "deleteDaysAfterCreation": 30}
        assert enabled["version"] == project["version"] + 1
        assert ct.messages() == []
        ct.updated(customer, {"action": "setFirstName", "firstName": "Loud"})
        (message,) = ct.messages()
        assert (message["type"], message["sequenceNumber"]) == ("CustomerFirstNameSet", 2)  # 1 was not stored


def test_retention_purges_old_messages(ct: CtSandbox) -> None:
    project = ct.ok("")
    config = {"enabled": True, "deleteDaysAfterCreation": 1}
    change = {"action": "changeMessagesConfiguration", "messagesConfiguration": config}
    assert ct.post("", {"version": project["version"], "actions": [change]}).status_code == 200
    old = ct.create_customer(email="old@example.com")
    old_message = messages_of(ct, old["id"])[0]
    ct.admin.advance_clock(12 * 3600)
    young = ct.create_customer(email="young@example.com")
    ct.admin.advance_clock(12 * 3600 + 1)
    assert messages_of(ct, old["id"]) == []
    assert ct.get(f"/messages/{old_message['id']}").status_code == 404
    assert len(messages_of(ct, young["id"])) == 1
    assert ct.ok(f"/customers/{old['id']}")["id"] == old["id"]  # only the message is gone


@pytest.mark.parametrize("days", [0, 91, "15", None])
def test_retention_must_be_1_to_90_days(ct: CtSandbox, days: Any) -> None:
    config = {"enabled": True, "deleteDaysAfterCreation": days}
    body = {
        "version": ct.ok("")["version"],
        "actions": [{"action": "changeMessagesConfiguration", "messagesConfiguration": config}],
    }
    assert ct.post("", body).status_code == 400


def test_a_late_message_appears_after_later_ones_with_its_earlier_created_at(ct: CtSandbox) -> None:
    ct.configure_messages(visibility_delay_seconds=60)
    late = ct.create_customer(email="late@example.com")
    ct.configure_messages(visibility_delay_seconds=0)
    ct.admin.advance_clock(10)
    prompt = ct.create_customer(email="prompt@example.com")
    window = {"where": 'resource(typeId = "customer")'}
    first_poll = ct.messages(**window)
    assert [m["resource"]["id"] for m in first_poll] == [prompt["id"]]
    high_water = first_poll[-1]["createdAt"]
    ct.admin.advance_clock(51)
    second_poll = ct.messages(**window)
    assert [m["resource"]["id"] for m in second_poll] == [late["id"], prompt["id"]]
    arrived = second_poll[0]
    assert arrived["createdAt"] == late["createdAt"] < high_water
    assert ct.ok(f"/messages/{arrived['id']}")["id"] == arrived["id"]


def test_visibility_delay_per_message_type(ct: CtSandbox) -> None:
    settings = ct.configure_messages(visibility_delay_by_type={"CustomerFirstNameSet": 30})
    assert settings["visibility_delay_by_type"] == {"CustomerFirstNameSet": 30.0}
    customer = ct.create_customer(email="typed@example.com")
    ct.updated(customer, {"action": "setFirstName", "firstName": "Slow"}, {"action": "setTitle", "title": "Fast"})
    assert [m["type"] for m in messages_of(ct, customer["id"])] == ["CustomerCreated", "CustomerTitleSet"]
    ct.admin.advance_clock(30)
    assert [m["type"] for m in messages_of(ct, customer["id"])] == [
        "CustomerCreated",
        "CustomerFirstNameSet",
        "CustomerTitleSet",
    ]


def test_admin_switches_messages_and_retention(ct: CtSandbox) -> None:
    version = ct.ok("")["version"]
    answer = ct.configure_messages(enabled=False, delete_days_after_creation=7)
    assert answer["messages"] == {"enabled": False, "deleteDaysAfterCreation": 7}
    assert ct.ok("")["version"] == version + 1
    assert ct.get("/messages").status_code == 400
    bad = ct.admin.session.put(f"{ct.url}/_admin/messages", json={"delete_days_after_creation": 0}, timeout=5)
    assert bad.status_code == 400


def test_keyset_polling_of_messages_is_an_index_range_scan(ct: CtSandbox) -> None:
    for n in range(300):
        ct.create_customer(email=f"poll{n}@example.com")
        ct.clock.advance(1)
    collection = ct.emulator.messages.collection
    stamps = sorted(m["createdAt"] for m in collection)
    start, end = stamps[100], stamps[299]
    collection.evaluations = 0
    page = ct.ok(
        "/messages",
        where=f'createdAt >= "{start}" and createdAt <= "{end}"',
        sort=["createdAt asc", "id asc"],
        limit="50",
        withTotal="false",
    )
    assert [m["createdAt"] for m in page["results"]] == stamps[100:150]
    assert collection.evaluations <= 51
    last = page["results"][-1]
    collection.evaluations = 0
    following = ct.ok(
        "/messages",
        where=[f'createdAt <= "{end}"', "createdAt > :t or (createdAt = :t and id > :id)"],
        sort=["createdAt asc", "id asc"],
        limit="50",
        withTotal="false",
        **{"var.t": last["createdAt"], "var.id": last["id"]},
    )
    assert [m["createdAt"] for m in following["results"]] == stamps[150:200]
    assert collection.evaluations <= 52


def test_project_key_in_messages_scope(ct: CtSandbox) -> None:
    token = ct.token(scope=f"view_customers:{PROJECT}").json()["access_token"]
    response = ct.session.get(f"{ct.url}/{PROJECT}/messages", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert response.status_code == 403
