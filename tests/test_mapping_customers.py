"""commercetools customer -> Fluent customers: the mapping rules, as tables."""

from __future__ import annotations

from typing import Any

import pytest

from ctfluent_dagster.entities.customers.mapping import MappedCustomer, SkippedCustomer, fluent_username, map_customer
from ctfluent_dagster.entities.customers.models import Customer, customer_update_input
from ctfluent_dagster.entities.customers.settings import CustomerMappingSettings

ADDRESS_SHIP = {"id": "a-ship", "country": "DE", "phone": "+49 30 1234", "firstName": "Ship", "department": "Ops"}
ADDRESS_BILL = {"id": "a-bill", "country": "AU", "mobile": "+61 400 000", "firstName": "Bill"}
ADDRESS_OTHER = {"id": "a-other", "country": "FR", "phone": "+33 1 22"}


def customer(**fields: Any) -> Customer:
    base: dict[str, Any] = {
        "id": "c-1",
        "version": 3,
        "createdAt": "2026-01-02T03:04:05.678Z",
        "lastModifiedAt": "2026-02-03T04:05:06.789Z",
        "email": "Jane.Doe@Example.com",
        "firstName": "Jane",
        "lastName": "Doe",
    }
    return Customer.model_validate(base | fields)


def only(results: list[MappedCustomer | SkippedCustomer]) -> MappedCustomer:
    assert len(results) == 1 and isinstance(results[0], MappedCustomer), results
    return results[0]


DEFAULTS = CustomerMappingSettings()


@pytest.mark.parametrize(
    ("retailer", "email", "keep_case", "expected"),
    [
        ("1", "Jane.Doe@Example.com", False, "1_jane.doe@example.com"),
        ("1", "  jane@example.com \t", False, "1_jane@example.com"),
        ("7", "Jane.Doe@Example.com", True, "7_Jane.Doe@Example.com"),
        ("2", '"john.q"@example.com', False, '2_"john.q"@example.com'),
        ("1", "Ünïcödé@Exämple.de", False, "1_ünïcödé@exämple.de"),
    ],
)
def test_username_is_retailer_prefixed_email(retailer: str, email: str, keep_case: bool, expected: str) -> None:
    assert fluent_username(retailer, email, keep_case) == expected


@pytest.mark.parametrize(
    ("fields", "settings", "expected"),
    [
        # contact address: default shipping, else default billing, else first
        (
            {"addresses": [ADDRESS_OTHER, ADDRESS_BILL, ADDRESS_SHIP], "defaultShippingAddressId": "a-ship",
             "defaultBillingAddressId": "a-bill"},
            DEFAULTS,
            {"country": "DE", "primaryPhone": "+49 30 1234", "department": "Ops"},
        ),
        (
            {"addresses": [ADDRESS_OTHER, ADDRESS_BILL], "defaultBillingAddressId": "a-bill"},
            DEFAULTS,
            {"country": "AU", "primaryPhone": "+61 400 000"},
        ),
        ({"addresses": [ADDRESS_OTHER, ADDRESS_BILL]}, DEFAULTS, {"country": "FR", "primaryPhone": "+33 1 22"}),
        ({"addresses": []}, DEFAULTS, {"country": None, "primaryPhone": None}),
        # first name: customer, else contact address, else the configured fallback
        ({"firstName": None, "addresses": [ADDRESS_SHIP]}, DEFAULTS, {"firstName": "Ship"}),
        ({"firstName": "  ", "addresses": [ADDRESS_OTHER]}, DEFAULTS, {"firstName": "Customer"}),
        ({"firstName": None}, CustomerMappingSettings(first_name_fallback="N/A"), {"firstName": "N/A"}),
        # timezone: by the contact address's country, else the default
        (
            {"addresses": [ADDRESS_BILL]},
            CustomerMappingSettings(timezone_by_country={"AU": "Australia/Sydney"}, default_timezone="Europe/Berlin"),
            {"timezone": "Australia/Sydney"},
        ),
        ({"addresses": [ADDRESS_SHIP]}, CustomerMappingSettings(default_timezone="Europe/Berlin"),
         {"timezone": "Europe/Berlin"}),
        # promotionOptIn: only a configured boolean custom field that is true
        ({"custom": {"type": {"typeId": "type", "id": "t"}, "fields": {"newsletter": True}}}, DEFAULTS,
         {"promotionOptIn": False}),
        (
            {"custom": {"type": {"typeId": "type", "id": "t"}, "fields": {"newsletter": True}}},
            CustomerMappingSettings(promotion_opt_in_field="newsletter"),
            {"promotionOptIn": True},
        ),
        (
            {"custom": {"type": {"typeId": "type", "id": "t"}, "fields": {"newsletter": "yes"}}},
            CustomerMappingSettings(promotion_opt_in_field="newsletter"),
            {"promotionOptIn": False},
        ),
        ({"title": "Dr."}, DEFAULTS, {"title": "Dr.", "primaryEmail": "Jane.Doe@Example.com"}),
    ],
)  # fmt: skip
def test_field_mapping(fields: dict[str, Any], settings: CustomerMappingSettings, expected: dict[str, Any]) -> None:
    payload = only(map_customer(customer(**fields), settings, "1")).payload.create_input()
    assert {name: payload.get(name) for name in expected} == expected


def test_attributes_carry_the_commercetools_identity() -> None:
    payload = only(
        map_customer(customer(key="k-9", customerNumber="CN-1", externalId="ext-1"), DEFAULTS, "1")
    ).payload.create_input()
    assert {a["name"]: a["value"] for a in payload["attributes"]} == {
        "ctCustomerId": "c-1",
        "ctVersion": 3,
        "ctKey": "k-9",
        "ctCustomerNumber": "CN-1",
        "ctExternalId": "ext-1",
    }


@pytest.mark.parametrize(
    ("stores", "settings", "default", "expected_retailers"),
    [
        ([], DEFAULTS, "1", ["1"]),
        ([{"key": "eu-store"}], CustomerMappingSettings(store_retailers={"eu-store": "2"}), "1", ["2"]),
        (
            [{"key": "eu-store"}, {"key": "us-store"}],
            CustomerMappingSettings(store_retailers={"eu-store": "2", "us-store": "3"}),
            "1",
            ["2", "3"],
        ),
        # two stores of one retailer: one Fluent customer
        (
            [{"key": "eu-store"}, {"key": "eu-outlet"}],
            CustomerMappingSettings(store_retailers={"eu-store": "2", "eu-outlet": "2"}),
            "1",
            ["2"],
        ),
        ([{"key": "unmapped"}], DEFAULTS, "1", ["1"]),
        ([], CustomerMappingSettings(default_retailer_id="9"), "1", ["9"]),
    ],
)
def test_one_fluent_customer_per_retailer(
    stores: list[dict[str, str]], settings: CustomerMappingSettings, default: str, expected_retailers: list[str]
) -> None:
    results = map_customer(customer(stores=stores), settings, default)
    assert all(isinstance(r, MappedCustomer) for r in results)
    assert [r.retailer_id for r in results] == expected_retailers
    assert [r.payload.username for r in results if isinstance(r, MappedCustomer)] == [
        f"{rid}_jane.doe@example.com" for rid in expected_retailers
    ]
    assert all(r.payload.retailer.id == r.retailer_id for r in results if isinstance(r, MappedCustomer))


@pytest.mark.parametrize(
    ("fields", "default", "reason_fragment"),
    [
        ({"addresses": [{"id": "a", "country": "DE", "phone": "+49 (0) 30 1234 5678 99"}]}, "1",
         "primaryPhone is 23 characters (max 20)"),
        ({"firstName": "X" * 51}, "1", "firstName is 51 characters (max 50)"),
        ({"email": "a" * 240 + "@example.com"}, "1", "username is 254 characters (max 250)"),
        ({"email": "   "}, "1", "has no email"),
        ({"stores": [{"key": "eu-store"}]}, None, "stores (eu-store) are unmapped and no default is set"),
    ],
)  # fmt: skip
def test_values_that_cannot_fit_are_skips_with_a_reason(
    fields: dict[str, Any], default: str | None, reason_fragment: str
) -> None:
    results = map_customer(customer(**fields), DEFAULTS, default)
    assert len(results) == 1 and isinstance(results[0], SkippedCustomer)
    assert reason_fragment in results[0].reason


def test_update_input_keeps_the_username_and_drops_create_only_fields() -> None:
    create = only(map_customer(customer(email="new@example.com"), DEFAULTS, "1")).payload.create_input()
    update = customer_update_input(create, "1_old@example.com")
    assert update["username"] == "1_old@example.com"
    assert update["primaryEmail"] == "new@example.com"
    assert "retailer" not in update and "department" not in update
