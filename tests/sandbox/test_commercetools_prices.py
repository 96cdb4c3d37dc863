"""Standalone Prices, channels and customer groups over real HTTP: drafts, scope conflicts, the update actions and
their messages, queries by SKU, lookups by key, and the scopes each needs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ctfluent_sandbox.commercetools.auth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests.sandbox.catalogue_fixtures import create, delete, messages_of, price, update, updated
from tests.sandbox.ct_fixtures import CtSandbox, error_code, running

PATH = "/standalone-prices"


@pytest.fixture
def ct() -> Iterator[CtSandbox]:
    with running(messages_enabled=True) as sandbox:
        yield sandbox


def standalone(ct: CtSandbox, sku: str, cents: int, **draft: Any) -> dict[str, Any]:
    return create(ct, PATH, {"sku": sku, **price("EUR", cents), **draft})


def test_a_standalone_price_is_a_scoped_price_of_one_sku(ct: CtSandbox) -> None:
    made = standalone(ct, "TEE-1", 1999, key="tee-1-de", country="DE", channel={"typeId": "channel", "id": "ch-1"},
                      validFrom="2026-01-01T00:00:00.000Z")  # fmt: skip
    assert made["value"] == {"type": "centPrecision", "currencyCode": "EUR", "centAmount": 1999, "fractionDigits": 2}
    assert (made["sku"], made["country"], made["channel"], made["active"]) == (
        "TEE-1", "DE", {"typeId": "channel", "id": "ch-1"}, True
    )  # fmt: skip
    assert made["version"] == 1 and made["createdAt"] == made["lastModifiedAt"]
    assert ct.ok(f"{PATH}/key=tee-1-de")["id"] == made["id"]
    inactive = standalone(ct, "TEE-2", 2999, active=False)
    assert inactive["active"] is False
    found = ct.ok(PATH, where="sku in :skus", **{"var.skus": ["TEE-1", "TEE-3"]})["results"]
    assert [p["id"] for p in found] == [made["id"]]
    (message,) = messages_of(ct, made)
    assert message["type"] == "StandalonePriceCreated" and message["standalonePrice"]["id"] == made["id"]
    assert message["resourceUserProvidedIdentifiers"] == {"key": "tee-1-de"}


def test_one_scope_has_one_price_at_a_time(ct: CtSandbox) -> None:
    standalone(ct, "TEE-1", 1000, country="DE")
    same = ct.post(PATH, {"sku": "TEE-1", **price("EUR", 900), "country": "DE"})
    assert (same.status_code, error_code(same)) == (400, "DuplicateStandalonePriceScope")
    assert same.json()["errors"][0]["sku"] == "TEE-1"
    sale = {"validFrom": "2026-06-01T00:00:00.000Z", "validUntil": "2026-07-01T00:00:00.000Z"}
    standalone(ct, "TEE-2", 1000, **sale)
    overlapping = ct.post(PATH, {"sku": "TEE-2", **price("EUR", 800), "validFrom": "2026-06-15T00:00:00.000Z"})
    assert (overlapping.status_code, error_code(overlapping)) == (400, "OverlappingStandalonePriceValidity")
    assert overlapping.json()["errors"][0]["conflictingValidFrom"] == sale["validFrom"]
    # Another window, country, currency or SKU is another scope.
    standalone(ct, "TEE-2", 700, validFrom="2026-07-01T00:00:00.000Z")
    standalone(ct, "TEE-1", 1000, country="AT")
    create(ct, PATH, {"sku": "TEE-1", **price("USD", 1000), "country": "DE"})


def test_each_action_changes_the_price_and_says_so(ct: CtSandbox) -> None:
    made = standalone(ct, "TEE-1", 1000, key="tee-1")
    value = updated(ct, PATH, made, {"action": "changeValue", "value": {"currencyCode": "EUR", "centAmount": 1100}})
    assert value["value"]["centAmount"] == 1100 and value["version"] == 2
    staged = updated(ct, PATH, value, {"action": "changeValue", "value": {"currencyCode": "EUR", "centAmount": 1200},
                                       "staged": True})  # fmt: skip
    assert (staged["value"]["centAmount"], staged["staged"]["value"]["centAmount"]) == (1100, 1200)
    applied = updated(ct, PATH, staged, {"action": "applyStagedChanges"})
    assert applied["value"]["centAmount"] == 1200 and "staged" not in applied
    off = updated(ct, PATH, applied, {"action": "changeActive", "active": False})
    dated = updated(ct, PATH, off, {"action": "setValidFromAndUntil", "validFrom": "2026-01-01T00:00:00.000Z",
                                    "validUntil": "2027-01-01T00:00:00.000Z"})  # fmt: skip
    undated = updated(ct, PATH, dated, {"action": "setValidUntil"})
    assert (undated["active"], undated["validFrom"], "validUntil" in undated) == (
        False,
        "2026-01-01T00:00:00.000Z",
        False,
    )
    rekeyed = updated(ct, PATH, undated, {"action": "setKey", "key": "tee-1-new"})
    assert delete(ct, PATH, rekeyed).status_code == 200
    assert ct.get(f"{PATH}/{made['id']}").status_code == 404
    assert [(m["type"], m["resourceVersion"]) for m in messages_of(ct, made)] == [
        ("StandalonePriceCreated", 1),
        ("StandalonePriceValueChanged", 2),
        ("StandalonePriceValueChanged", 3),
        ("StandalonePriceStagedChangesApplied", 4),
        ("StandalonePriceActiveChanged", 5),
        ("StandalonePriceValidFromAndUntilSet", 6),
        ("StandalonePriceValidUntilSet", 7),
        ("StandalonePriceKeySet", 8),
        ("StandalonePriceDeleted", 9),
    ]
    changed, staged_change, applied_message, active, *_, keyed, deleted = messages_of(ct, made)[1:]
    assert (changed["value"]["centAmount"], changed["oldValue"]["centAmount"], changed["staged"]) == (1100, 1000, False)
    assert (staged_change["staged"], "oldValue" in staged_change) == (True, False)  # nothing was staged before
    assert applied_message["stagedChanges"]["value"]["centAmount"] == 1200
    assert (active["active"], active["oldActive"]) == (False, True)
    assert (keyed["key"], keyed["oldKey"]) == ("tee-1-new", "tee-1")
    assert deleted["sku"] == "TEE-1"  # what a deletion tells: the price is gone, its SKU is all there is
    unknown = update(ct, PATH, standalone(ct, "TEE-9", 1), {"action": "setPriceTiers", "tiers": []})
    assert error_code(unknown) == "InvalidJsonInput"


def test_channels_and_customer_groups_are_found_by_key(ct: CtSandbox) -> None:
    channel = create(ct, "/channels", {"key": "web", "name": {"en": "Web shop"}})
    assert channel["roles"] == ["InventorySupply"]  # the API's default role
    group = create(ct, "/customer-groups", {"key": "gold", "groupName": "Gold"})
    assert (group["name"], group["key"]) == ("Gold", "gold")
    assert ct.ok("/channels/key=web")["id"] == channel["id"]
    assert ct.ok("/customer-groups/key=gold")["id"] == group["id"]
    assert ct.get("/channels/key=shop").status_code == 404
    assert error_code(ct.post("/channels", {"name": {"en": "No key"}})) == "InvalidJsonInput"
    assert error_code(ct.post("/customer-groups", {"key": "silver"})) == "InvalidJsonInput"  # groupName is required
    assert messages_of(ct, channel) == [] == messages_of(ct, group)  # the API has no message type for either


@pytest.mark.parametrize(
    ("scope", "path", "status"),
    [
        ("view_standalone_prices", PATH, 200),
        ("view_products", PATH, 403),
        ("view_channels", "/channels", 200),
        ("view_products", "/channels", 200),
        ("view_customer_groups", "/customer-groups", 200),
        ("view_customers", "/customer-groups", 200),
        ("view_published_products", "/customer-groups", 403),
    ],
)
def test_the_scopes_of_the_spec(ct: CtSandbox, scope: str, path: str, status: int) -> None:
    token = ct.token(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, scope=f"{scope}:ctfluent-demo").json()["access_token"]
    answer = ct.session.get(f"{ct.url}/ctfluent-demo{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == status
