"""Customer writes: drafts, update actions, versions, atomicity, uniqueness, deletion."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.sandbox.ct_fixtures import CtSandbox, error_code, running


@pytest.fixture
def ct() -> Iterator[CtSandbox]:
    with running() as sandbox:
        for key in ("eu-store", "us-store"):
            assert sandbox.post("/stores", {"key": key}).status_code == 201
        yield sandbox


def test_create_returns_a_sign_in_result_with_a_complete_customer(ct: CtSandbox) -> None:
    response = ct.post(
        "/customers",
        {
            "email": "New@Example.com",
            "password": "p",
            "firstName": "New",
            "key": "new-customer",
            "addresses": [{"country": "DE", "city": "Berlin"}, {"country": "FR", "key": "paris"}],
            "defaultShippingAddress": 0,
            "billingAddresses": [1],
            "stores": [{"typeId": "store", "key": "eu-store"}],
        },
    )
    assert response.status_code == 201
    customer = response.json()["customer"]
    first, second = (a["id"] for a in customer["addresses"])
    assert len(first) == 8 and first != second
    assert customer["version"] == 1
    assert customer["createdAt"] == customer["lastModifiedAt"]
    assert customer["createdAt"].endswith("Z") and len(customer["createdAt"]) == 24
    assert customer["defaultShippingAddressId"] == first
    assert customer["shippingAddressIds"] == [first]
    assert customer["billingAddressIds"] == [second]
    assert "defaultBillingAddressId" not in customer
    assert customer["stores"] == [{"typeId": "store", "key": "eu-store"}]
    assert customer["password"].startswith("****") and customer["password"] != "p"
    assert customer["isEmailVerified"] is False
    assert customer["authenticationMode"] == "Password"
    assert "lowerCaseEmail" not in customer
    assert ct.ok(f"/customers/{customer['id']}") == customer


@pytest.mark.parametrize(
    ("draft", "status", "code"),
    [
        ({"password": "p"}, 400, "InvalidJsonInput"),
        ({"email": "a@example.com"}, 400, "InvalidOperation"),  # Password mode needs a password
        ({"email": "a@example.com", "password": "p", "key": "x"}, 400, "InvalidField"),
        ({"email": "a@example.com", "password": "p", "addresses": [{"city": "x"}]}, 400, "InvalidJsonInput"),
        ({"email": "a@example.com", "password": "p", "defaultShippingAddress": 0}, 400, "InvalidInput"),
        ({"email": "a@example.com", "password": "p", "stores": [{"key": "nope"}]}, 400, "ReferencedResourceNotFound"),
        ({"email": "a@example.com", "password": "p", "dateOfBirth": "1.2.1990"}, 400, "InvalidJsonInput"),
        ({"email": "a@example.com", "password": "p", "dateOfBirth": "19900102"}, 400, "InvalidJsonInput"),
        ({"email": "a@example.com", "password": "p", "shippingAddresses": 0}, 400, "InvalidJsonInput"),
        ({"email": "a@example.com", "password": "p", "authenticationMode": "Magic"}, 400, "InvalidJsonInput"),
    ],
)
def test_invalid_drafts(ct: CtSandbox, draft: dict[str, Any], status: int, code: str) -> None:
    response = ct.post("/customers", draft)
    assert response.status_code == status
    assert error_code(response) == code


def test_external_auth_customers_need_no_password(ct: CtSandbox) -> None:
    customer = ct.create_customer(email="sso@example.com", authenticationMode="ExternalAuth", password=None)
    assert "password" not in customer


def test_email_key_and_customer_number_are_unique(ct: CtSandbox) -> None:
    ct.create_customer(email="taken@example.com", key="taken", customerNumber="C1")
    for draft in (
        {"email": "TAKEN@example.com"},  # case-insensitively
        {"email": "other@example.com", "key": "taken"},
        {"email": "other2@example.com", "customerNumber": "C1"},
    ):
        response = ct.post("/customers", {"password": "p", **draft})
        assert response.status_code == 400
        assert error_code(response) == "DuplicateField"
        assert response.json()["errors"][0]["field"] in {"email", "key", "customerNumber"}
    other = ct.create_customer(email="free@example.com")
    clash = ct.update(other, {"action": "changeEmail", "email": "Taken@Example.com"})
    assert error_code(clash) == "DuplicateField"


def test_update_bumps_version_once_per_request_and_lastmodifiedat(ct: CtSandbox) -> None:
    customer = ct.create_customer(email="v@example.com")
    ct.clock.advance(5)
    updated = ct.updated(
        customer,
        {"action": "setFirstName", "firstName": "Vera"},
        {"action": "setLastName", "lastName": "Vogel"},
        {"action": "setMiddleName", "middleName": "M"},
    )
    assert updated["version"] == 2
    assert updated["lastModifiedAt"] > customer["lastModifiedAt"]
    assert updated["createdAt"] == customer["createdAt"]
    assert (updated["firstName"], updated["lastName"], updated["middleName"]) == ("Vera", "Vogel", "M")
    unset = ct.updated(updated, {"action": "setFirstName"})
    assert "firstName" not in unset and unset["version"] == 3
    assert ct.updated(unset)["version"] == 3  # no actions, no change


def test_stale_version_is_409_with_the_current_version(ct: CtSandbox) -> None:
    customer = ct.create_customer(email="c@example.com")
    ct.updated(customer, {"action": "setFirstName", "firstName": "A"})
    response = ct.update(customer, {"action": "setFirstName", "firstName": "B"})
    assert response.status_code == 409
    error = response.json()["errors"][0]
    assert error["code"] == "ConcurrentModification"
    assert error["currentVersion"] == 2
    assert ct.ok(f"/customers/{customer['id']}")["firstName"] == "A"


def test_missing_version_and_unknown_action_are_400(ct: CtSandbox) -> None:
    customer = ct.create_customer(email="m@example.com")
    missing = ct.post(f"/customers/{customer['id']}", {"actions": []})
    assert missing.status_code == 400
    assert "version" in missing.json()["errors"][0]["detailedErrorMessage"]
    unknown = ct.update(customer, {"action": "setFavouriteColour", "colour": "blue"})
    assert unknown.status_code == 400
    assert error_code(unknown) == "InvalidJsonInput"
    assert "setFavouriteColour" in unknown.json()["errors"][0]["detailedErrorMessage"]


def test_a_failing_action_fails_the_whole_request(ct: CtSandbox) -> None:
    customer = ct.create_customer(email="atomic@example.com", firstName="Before")
    response = ct.update(
        customer,
        {"action": "setFirstName", "firstName": "After"},
        {"action": "addAddress", "address": {"country": "DE"}},
        {"action": "removeAddress", "addressId": "does-not-exist"},
    )
    assert response.status_code == 400
    assert ct.ok(f"/customers/{customer['id']}") == customer


def test_address_actions_keep_ids_roles_and_defaults_consistent(ct: CtSandbox) -> None:
    customer = ct.create_customer(email="addr@example.com")
    customer = ct.updated(
        customer,
        {"action": "addAddress", "address": {"country": "DE", "key": "home"}},
        {"action": "addAddress", "address": {"country": "US", "key": "work"}},
    )
    home, work = (a["id"] for a in customer["addresses"])
    customer = ct.updated(
        customer,
        {"action": "setDefaultShippingAddress", "addressKey": "home"},
        {"action": "addBillingAddressId", "addressId": work},
        {"action": "setDefaultBillingAddress", "addressId": work},
        {"action": "changeAddress", "addressId": home, "address": {"country": "DE", "city": "Bonn", "key": "home"}},
    )
    assert customer["shippingAddressIds"] == [home]
    assert (customer["defaultShippingAddressId"], customer["defaultBillingAddressId"]) == (home, work)
    assert customer["addresses"][0] == {"id": home, "key": "home", "country": "DE", "city": "Bonn"}
    customer = ct.updated(
        customer,
        {"action": "removeShippingAddressId", "addressId": home},
        {"action": "removeAddress", "addressKey": "work"},
    )
    assert customer["shippingAddressIds"] == [] and customer["billingAddressIds"] == []
    assert "defaultShippingAddressId" not in customer and "defaultBillingAddressId" not in customer
    assert [a["id"] for a in customer["addresses"]] == [home]
    duplicate_key = ct.update(customer, {"action": "addAddress", "address": {"country": "FR", "key": "home"}})
    assert duplicate_key.status_code == 400


def test_simple_field_actions(ct: CtSandbox) -> None:
    customer = ct.create_customer(email="fields@example.com")
    customer = ct.updated(
        customer,
        {"action": "changeEmail", "email": "changed@example.com"},
        {"action": "setTitle", "title": "Dr."},
        {"action": "setSalutation", "salutation": "Frau"},
        {"action": "setCompanyName", "companyName": "ACME"},
        {"action": "setDateOfBirth", "dateOfBirth": "1980-02-29"},
        {"action": "setExternalId", "externalId": "ext-1"},
        {"action": "setKey", "key": "fields-key"},
        {"action": "setCustomerNumber", "customerNumber": "N-1"},
        {"action": "setLocale", "locale": "de-DE"},
        {"action": "setVatId", "vatId": "DE123"},
    )
    expected = {
        "email": "changed@example.com",
        "title": "Dr.",
        "salutation": "Frau",
        "companyName": "ACME",
        "dateOfBirth": "1980-02-29",
        "externalId": "ext-1",
        "key": "fields-key",
        "customerNumber": "N-1",
        "locale": "de-DE",
        "vatId": "DE123",
    }
    assert {name: customer[name] for name in expected} == expected
    again = ct.update(customer, {"action": "setCustomerNumber", "customerNumber": "N-2"})
    assert error_code(again) == "InvalidOperation"  # set once only
    assert ct.ok("/customers/key=fields-key")["id"] == customer["id"]
    bad_date = ct.update(customer, {"action": "setDateOfBirth", "dateOfBirth": "1980-02-30"})
    assert bad_date.status_code == 400


def test_custom_type_and_fields(ct: CtSandbox) -> None:
    customer = ct.create_customer(email="custom@example.com")
    no_type = ct.update(customer, {"action": "setCustomField", "name": "newsletter", "value": True})
    assert error_code(no_type) == "InvalidOperation"
    customer = ct.updated(
        customer,
        {"action": "setCustomType", "type": {"typeId": "type", "key": "customer-preferences"}, "fields": {"a": 1}},
        {"action": "setCustomField", "name": "newsletter", "value": True},
        {"action": "setCustomField", "name": "a"},
    )
    assert customer["custom"]["type"]["typeId"] == "type"
    assert customer["custom"]["fields"] == {"newsletter": True}
    by_id = ct.updated(customer, {"action": "setCustomType", "type": customer["custom"]["type"]})
    assert by_id["custom"]["fields"] == {}
    unknown_id = ct.update(by_id, {"action": "setCustomType", "type": {"typeId": "type", "id": "nope"}})
    assert error_code(unknown_id) == "ReferencedResourceNotFound"
    removed = ct.updated(by_id, {"action": "setCustomType"})
    assert "custom" not in removed


def test_store_actions(ct: CtSandbox) -> None:
    customer = ct.create_customer(email="stores@example.com")
    eu_id = ct.ok("/stores/key=eu-store")["id"]
    customer = ct.updated(customer, {"action": "setStores", "stores": [{"typeId": "store", "id": eu_id}]})
    assert customer["stores"] == [{"typeId": "store", "key": "eu-store"}]
    customer = ct.updated(customer, {"action": "addStore", "store": {"typeId": "store", "key": "us-store"}})
    assert [s["key"] for s in customer["stores"]] == ["eu-store", "us-store"]
    customer = ct.updated(customer, {"action": "removeStore", "store": {"typeId": "store", "key": "eu-store"}})
    assert [s["key"] for s in customer["stores"]] == ["us-store"]
    unknown = ct.update(customer, {"action": "addStore", "store": {"typeId": "store", "key": "mars-store"}})
    assert error_code(unknown) == "ReferencedResourceNotFound"


def test_update_and_delete_by_key(ct: CtSandbox) -> None:
    customer = ct.create_customer(email="bykey@example.com", key="by-key")
    response = ct.post(
        "/customers/key=by-key", {"version": 1, "actions": [{"action": "setFirstName", "firstName": "K"}]}
    )
    assert response.json()["firstName"] == "K"
    assert ct.request("DELETE", "/customers/key=by-key", {"version": "1"}).status_code == 409
    deleted = ct.request("DELETE", "/customers/key=by-key", {"version": "2"})
    assert deleted.status_code == 200
    assert deleted.json()["id"] == customer["id"]
    assert ct.get(f"/customers/{customer['id']}").status_code == 404


def test_delete_needs_the_current_version(ct: CtSandbox) -> None:
    customer = ct.create_customer(email="delete@example.com")
    assert ct.request("DELETE", f"/customers/{customer['id']}").status_code == 400
    stale = ct.request("DELETE", f"/customers/{customer['id']}", {"version": "7"})
    assert stale.status_code == 409
    assert stale.json()["errors"][0]["currentVersion"] == 1
    assert ct.request("DELETE", f"/customers/{customer['id']}", {"version": "1"}).json() == customer
    assert ct.request("DELETE", f"/customers/{customer['id']}", {"version": "1"}).status_code == 404
    assert ct.create_customer(email="delete@example.com")["id"] != customer["id"]  # the email is free again


def test_malformed_json_body_is_400(ct: CtSandbox) -> None:
    response = ct.session.post(f"{ct.url}/ctfluent-demo/customers", data=b"{not json", timeout=5)
    assert response.status_code == 400
    assert error_code(response) == "InvalidJsonInput"
