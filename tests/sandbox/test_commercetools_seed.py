"""The seed generator: deterministic, realistic, and fit for 100,000 customers."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from ctfluent_sandbox.clock import iso_ms
from ctfluent_sandbox.commercetools import CommercetoolsEmulator
from ctfluent_sandbox.seed import SPECIAL_EMAILS, generate

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TYPE_ID = "5b1f7a43-0000-4000-8000-000000000001"


def test_same_seed_same_data_other_seed_other_data() -> None:
    first = generate(400, 30, seed=42, now=NOW, custom_type_id=TYPE_ID)
    again = generate(400, 30, seed=42, now=NOW, custom_type_id=TYPE_ID)
    other = generate(400, 30, seed=43, now=NOW, custom_type_id=TYPE_ID)
    assert first == again
    assert [c["id"] for c in first.customers] != [c["id"] for c in other.customers]
    assert [c["email"] for c in first.customers] != [c["email"] for c in other.customers]


def test_emulator_seeds_reproduce_ids_across_instances() -> None:
    one, two = CommercetoolsEmulator(), CommercetoolsEmulator()
    one.seed(customers=50, days=5, seed=9)
    two.seed(customers=50, days=5, seed=9)
    ids_and_emails = [[(c["id"], c["email"]) for c in e.customers.collection] for e in (one, two)]
    assert ids_and_emails[0] == ids_and_emails[1]
    assert [s["id"] for s in one.stores.collection] == [s["id"] for s in two.stores.collection]


def test_seed_replaces_data_and_writes_no_messages() -> None:
    emulator = CommercetoolsEmulator(messages_enabled=True)
    emulator.seed(customers=30, days=5, seed=1)
    emulator.seed(customers=20, days=5, seed=2)
    assert len(emulator.customers.collection) == 20
    assert len(emulator.messages.collection) == 0


def test_seeded_customers_are_realistic_and_consistent() -> None:
    data = generate(3000, 90, seed=7, now=NOW, custom_type_id=TYPE_ID)
    customers = data.customers
    now, earliest = iso_ms(NOW), iso_ms(datetime(2026, 3, 3, 12, 0, tzinfo=UTC))
    store_keys = {s["key"] for s in data.stores}
    assert store_keys == {"eu-store", "us-store", "au-store"}
    for customer in customers:
        assert earliest <= customer["createdAt"] <= customer["lastModifiedAt"] <= now
        assert (customer["version"] == 1) == (customer["createdAt"] == customer["lastModifiedAt"])
        address_ids = {a["id"] for a in customer["addresses"]}
        assert 1 <= len(address_ids) == len(customer["addresses"]) <= 3
        assert set(customer["shippingAddressIds"]) | set(customer["billingAddressIds"]) <= address_ids
        for role in ("Shipping", "Billing"):
            default = customer.get(f"default{role}AddressId")
            assert default is None or default in customer[f"{role.lower()}AddressIds"]
        assert {s["key"] for s in customer["stores"]} <= store_keys
        assert ("password" in customer) == (customer["authenticationMode"] == "Password")
    share = Counter[str]()
    for customer in customers:
        share.update(
            name for name in ("firstName", "key", "customerNumber", "externalId", "custom") if name in customer
        )
        share["no firstName"] += "firstName" not in customer
        share[f"{min(len(customer['stores']), 2)} stores"] += 1
        share["mobile"] += any("mobile" in a for a in customer["addresses"])
        share["default shipping"] += "defaultShippingAddressId" in customer
        share["mixed-case email"] += customer["email"] != customer["email"].lower()
        share["unicode name"] += not customer["lastName"].isascii()
        share["unicode email"] += not customer["email"].isascii()
    for feature in ("no firstName", "0 stores", "1 stores", "2 stores", "mobile", "mixed-case email", "unicode email"):
        assert 0 < share[feature] < len(customers), feature
    assert share["default shipping"] > len(customers) / 2
    assert share["unicode name"] > len(customers) / 10
    newsletter = [c["custom"]["fields"]["newsletter"] for c in customers if "custom" in c]
    assert set(newsletter) == {True, False}
    assert {c["custom"]["type"]["id"] for c in customers if "custom" in c} == {TYPE_ID}
    assert {c.get("locale") for c in customers} >= {"en-US", "de-DE", "ja-JP", "en-AU"}


def test_one_hundred_thousand_customers() -> None:
    emulator = CommercetoolsEmulator()
    emulator.seed(customers=100_000, days=365, seed=2026)
    customers = emulator.customers.collection
    assert len(customers) == 100_000
    emails = [c["email"].lower() for c in customers]
    assert len(set(emails)) == 100_000
    assert len({c["id"] for c in customers}) == 100_000
    assert {e.lower() for e in SPECIAL_EMAILS} <= set(emails)
    assert customers.find("email", '"john.q"@example.com') is not None
