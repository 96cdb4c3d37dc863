"""Customers on the Fluent emulator: the product's documents, keys, defaults, validation and error placement."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from ctfluent_sandbox.clock import parse_iso
from tests.sandbox.fluent_fixtures import (
    CREATE_CUSTOMER,
    CUSTOMER_BY_REF,
    UPDATE_CUSTOMER,
    FluentClient,
    customer_input,
    error_codes,
    fluent_fixture,  # noqa: F401 (fixture)
    fluent_server_fixture,  # noqa: F401 (fixture)
)

FULL_CUSTOMER = """
query Full($id: ID!) {
  customerById(id: $id) {
    id ref username status createdOn updatedOn title department country firstName lastName primaryEmail
    primaryPhone timezone promotionOptIn attributes { name type value } retailer { id ref tradingName }
  }
}
"""


def clock_now(fluent: FluentClient) -> datetime:
    return parse_iso(fluent.admin.call("POST", "/clock", {"advance_seconds": 0})["now"])


def create(fluent: FluentClient, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = fluent.gql(CREATE_CUSTOMER, {"input": customer_input(**fields)}, "CreateCustomer")
    return body


def full_customer(fluent: FluentClient, customer_id: str) -> dict[str, Any]:
    customer: dict[str, Any] = fluent.gql(FULL_CUSTOMER, {"id": customer_id})["data"]["customerById"]
    return customer


def test_product_documents_create_look_up_and_update(fluent: FluentClient) -> None:
    created = fluent.create_customer("1_ada@example.com")
    assert created["ref"] == created["username"] == "1_ada@example.com"

    found = fluent.gql(CUSTOMER_BY_REF, {"ref": "1_ada@example.com"}, "CustomerByRef")
    assert found == {
        "data": {
            "customer": {
                "id": created["id"],
                "ref": "1_ada@example.com",
                "username": "1_ada@example.com",
                "primaryEmail": "ada@example.com",
                "status": "ACTIVE",
            }
        }
    }

    updated = fluent.gql(UPDATE_CUSTOMER, {"input": {"username": "1_ada@example.com", "firstName": "A."}})
    assert "errors" not in updated
    assert updated["data"]["updateCustomer"]["id"] == created["id"]
    assert updated["data"]["updateCustomer"]["ref"] == "1_ada@example.com"


def test_create_sets_id_ref_status_timestamps_and_stores_everything(fluent: FluentClient) -> None:
    before = clock_now(fluent)
    attributes = [
        {"name": "ctId", "type": "STRING", "value": "c-1"},
        {"name": "meta", "type": "JSON", "value": {"a": 1}},
    ]
    first = fluent.create_customer("1_a@example.com", attributes=attributes, department="R&D", retailer={"id": 2})
    second = fluent.create_customer("1_b@example.com")
    assert first["id"].isdigit()
    assert int(second["id"]) > int(first["id"])

    customer = full_customer(fluent, first["id"])
    assert customer["ref"] == customer["username"] == "1_a@example.com"
    assert customer["status"] == "ACTIVE"
    assert customer["createdOn"] == customer["updatedOn"]
    assert before <= parse_iso(customer["createdOn"]) < before + timedelta(seconds=30)
    assert customer["attributes"] == attributes
    assert customer["department"] == "R&D"
    assert customer["retailer"] == {"id": "2", "ref": "CTFLUENT_US", "tradingName": "ctfluent US"}
    assert (customer["firstName"], customer["primaryPhone"]) == ("Ada", None)


def test_customer_by_unknown_ref_or_id_is_null(fluent: FluentClient) -> None:
    assert fluent.gql(CUSTOMER_BY_REF, {"ref": "nobody"}) == {"data": {"customer": None}}
    assert fluent.gql(FULL_CUSTOMER, {"id": "999"}) == {"data": {"customerById": None}}


def test_username_is_unique(fluent: FluentClient) -> None:
    fluent.create_customer("1_ada@example.com")
    body = create(fluent, username="1_ada@example.com", firstName="Other")
    assert body["data"] == {"createCustomer": None}
    assert error_codes(body) == ["C0121E"]
    assert [c["firstName"] for c in fluent.customers_in_state()] == ["Ada"]


def test_retailer_must_exist(fluent: FluentClient) -> None:
    body = create(fluent, username="9_ada@example.com", retailer={"id": "99"})
    assert error_codes(body) == ["C0120E"]
    assert fluent.customers_in_state() == []


@pytest.mark.parametrize(
    ("placement", "has_extension", "prefixed"),
    [("extensions", True, False), ("message", False, True), ("both", True, True)],
)
def test_too_long_field_is_c0141e_where_the_placement_says(
    fluent: FluentClient, placement: str, has_extension: bool, prefixed: bool
) -> None:
    fluent.admin.call("PUT", "/config", {"error_code_placement": placement})
    body = create(fluent, username="1_ada@example.com", firstName="x" * 51)
    assert body["data"] == {"createCustomer": None}
    [error] = body["errors"]
    assert ("extensions" in error) is has_extension
    if has_extension:
        assert error["extensions"] == {"code": "C0141E"}
    assert error["message"].startswith("C0141E: ") is prefixed
    assert ("C0141E" in error["message"]) is prefixed
    assert "firstName" in error["message"]
    assert "50" in error["message"]
    assert error["path"] == ["createCustomer"]
    assert fluent.customers_in_state() == []


@pytest.mark.parametrize(
    ("field", "limit"),
    [("firstName", 50), ("primaryPhone", 20), ("timezone", 32), ("username", 250), ("department", 255)],
)
def test_max_lengths_are_enforced_at_the_limit(fluent: FluentClient, field: str, limit: int) -> None:
    username = "u" * limit if field == "username" else "1_ada@example.com"
    assert "errors" not in create(fluent, **{"username": username, field: "x" * limit})
    body = create(fluent, **{"username": "2_ada@example.com", field: "y" * (limit + 1)})
    assert error_codes(body) == ["C0141E"]


def test_attribute_names_get_the_default_limit_of_255(fluent: FluentClient) -> None:
    body = create(fluent, username="1_ada@example.com", attributes=[{"name": "n" * 256, "type": "S", "value": 1}])
    assert error_codes(body) == ["C0141E"]
    assert "input.attributes[0].name" in body["errors"][0]["message"]


def test_missing_required_field_is_c0140e(fluent: FluentClient) -> None:
    fields = customer_input("1_ada@example.com")
    del fields["timezone"]
    body = fluent.gql(CREATE_CUSTOMER, {"input": fields})
    assert body["data"] is None
    assert error_codes(body) == ["C0140E"]
    assert "timezone" in body["errors"][0]["message"]
    assert fluent.customers_in_state() == []


def test_missing_required_field_in_a_literal_is_a_validation_error(fluent: FluentClient) -> None:
    body = fluent.gql('mutation { createCustomer(input: {username: "u"}) { id } }')
    assert "data" not in body
    assert any("firstName" in error["message"] for error in body["errors"])
    assert fluent.customers_in_state() == []


def test_missing_input_is_c0140e(fluent: FluentClient) -> None:
    body = fluent.gql("mutation { createCustomer { id } }")
    assert body["data"] == {"createCustomer": None}
    assert error_codes(body) == ["C0140E"]


def test_update_of_unknown_username_is_c0120e(fluent: FluentClient) -> None:
    body = fluent.gql(UPDATE_CUSTOMER, {"input": {"username": "nobody"}}, "UpdateCustomer")
    assert body["data"] == {"updateCustomer": None}
    assert error_codes(body) == ["C0120E"]
    assert "nobody" in body["errors"][0]["message"]


def test_update_changes_only_given_fields_upserts_attributes_and_bumps_updated_on(fluent: FluentClient) -> None:
    attributes = [{"name": "a", "type": "STRING", "value": "1"}, {"name": "b", "type": "STRING", "value": "2"}]
    created = fluent.create_customer("1_ada@example.com", attributes=attributes, country="UK")
    fluent.admin.advance_clock(3600)
    changes = {
        "username": "1_ada@example.com",
        "lastName": "King",
        "country": None,  # null leaves the field as it is, like an omitted one
        "attributes": [{"name": "b", "type": "INTEGER", "value": 3}, {"name": "c", "type": "STRING", "value": "4"}],
    }
    body = fluent.gql(UPDATE_CUSTOMER, {"input": changes})
    assert "errors" not in body
    customer = full_customer(fluent, created["id"])
    assert body["data"]["updateCustomer"]["updatedOn"] == customer["updatedOn"]
    assert (customer["firstName"], customer["lastName"], customer["country"]) == ("Ada", "King", "UK")
    assert customer["attributes"] == [
        {"name": "a", "type": "STRING", "value": "1"},
        {"name": "b", "type": "INTEGER", "value": 3},
        {"name": "c", "type": "STRING", "value": "4"},
    ]
    age = parse_iso(customer["updatedOn"]) - parse_iso(customer["createdOn"])
    assert timedelta(seconds=3600) <= age < timedelta(seconds=3630)


def test_update_input_has_no_department_or_retailer(fluent: FluentClient) -> None:
    fluent.create_customer("1_ada@example.com")
    body = fluent.gql('mutation { updateCustomer(input: {username: "1_ada@example.com", department: "x"}) { id } }')
    assert "data" not in body
    assert "department" in body["errors"][0]["message"]


def test_unknown_fields_are_standard_validation_errors(fluent: FluentClient) -> None:
    body = fluent.gql('{ customer(ref: "x") { id totalCount } }')
    assert body == {
        "errors": [
            {"message": "Cannot query field 'totalCount' on type 'Customer'.", "locations": [{"line": 1, "column": 27}]}
        ]
    }
