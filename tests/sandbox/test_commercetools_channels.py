"""Channels and the stores that name them: create, read, query, update actions, versions, deletion, the documented
errors (``DuplicateField``, ``MissingRoleOnChannel``, ``ReferenceExists``), store messages, faults; every response
and message validated against the official OpenAPI spec."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.sandbox.catalogue_fixtures import create, delete, messages_of, update, updated
from tests.sandbox.ct_fixtures import PROJECT, CtSandbox, error_code, openapi_spec, running
from tests.sandbox.test_commercetools_openapi import Spec

BERLIN = {"country": "DE", "city": "Berlin", "streetName": "Alexanderplatz", "streetNumber": "9", "key": "site"}
POINT = {"type": "Point", "coordinates": [13.4132, 52.5219]}


@pytest.fixture(scope="module")
def spec(shared_dir: Path) -> Spec:
    return openapi_spec(shared_dir)


@pytest.fixture(scope="module")
def ct() -> Iterator[CtSandbox]:
    with running(messages_enabled=True) as sandbox:
        yield sandbox


def channel(ct: CtSandbox, key: str, *roles: str, **draft: Any) -> dict[str, Any]:
    return create(ct, "/channels", {"key": key, **({"roles": list(roles)} if roles else {}), **draft})


def ref(resource: dict[str, Any]) -> dict[str, str]:
    return {"typeId": "channel", "id": resource["id"]}


def check_error(spec: Spec, response: requests.Response, code: str, status: int = 400) -> dict[str, Any]:
    """The response is the API's error ``code``, shaped as the spec says; its error object."""
    assert response.status_code == status, response.text
    body = response.json()
    spec.check(body, "ErrorResponse")
    error: dict[str, Any] = body["errors"][0]
    assert error["code"] == code, body
    spec.check(error, f"{code}Error")
    return error


# -- channels ------------------------------------------------------------------------------------------------------


def test_a_channel_is_created_read_and_queried(spec: Spec, ct: CtSandbox) -> None:
    draft = {
        "key": "berlin-mitte",
        "roles": ["InventorySupply", "ProductDistribution", "InventorySupply"],
        "name": {"en": "Berlin Mitte", "de": "Berlin-Mitte"},
        "description": {"en": "A store"},
        "address": BERLIN,
        "geoLocation": POINT,
        "custom": {"type": {"typeId": "type", "key": "channel-extras"}, "fields": {"floor": 2, "note": None}},
    }
    made = create(ct, "/channels", draft)
    spec.check(made, "Channel")
    assert made["version"] == 1 and made["roles"] == ["InventorySupply", "ProductDistribution"]  # a role once
    assert (made["name"], made["description"], made["geoLocation"]) == (draft["name"], draft["description"], POINT)
    assert made["address"] == BERLIN
    assert made["custom"]["fields"] == {"floor": 2}
    assert ct.ok(f"/channels/{made['id']}") == made == ct.ok("/channels/key=berlin-mitte")
    plain = channel(ct, "plain-channel")
    assert plain["roles"] == ["InventorySupply"]  # the API's default role
    assert "geoLocation" not in plain and "address" not in plain
    distribution = channel(ct, "web-shop", "ProductDistribution")

    assert set(ct.query_ids("/channels", where='key in ("berlin-mitte", "web-shop", "nope")')) == {
        made["id"],
        distribution["id"],
    }
    assert set(ct.query_ids("/channels", where='roles contains any ("ProductDistribution")')) == {
        made["id"],
        distribution["id"],
    }
    assert ct.query_ids("/channels", where="key = :k", **{"var.k": "plain-channel"}) == [plain["id"]]
    assert ct.query_ids("/channels", where='address(city = "Berlin")') == [made["id"]]
    page = ct.ok("/channels", sort="key asc", limit="2", where='key in ("berlin-mitte", "web-shop", "plain-channel")')
    spec.check(page, "ChannelPagedQueryResponse")
    assert [c["key"] for c in page["results"]] == ["berlin-mitte", "plain-channel"] and page["total"] == 3
    assert ct.request("HEAD", "/channels/key=web-shop").status_code == 200
    assert ct.request("HEAD", "/channels/key=nowhere").status_code == 404
    check_error(spec, ct.get("/channels/key=nowhere"), "ResourceNotFound", 404)


@pytest.mark.parametrize(
    ("draft", "code"),
    [
        ({"name": {"en": "no key"}}, "InvalidJsonInput"),
        ({"key": "!bad key"}, "InvalidField"),
        ({"key": "roles-x", "roles": ["Warehouse"]}, "InvalidJsonInput"),
        ({"key": "geo-x", "geoLocation": {"type": "Polygon", "coordinates": [1, 2]}}, "InvalidJsonInput"),
        ({"key": "geo-x", "geoLocation": {"type": "Point", "coordinates": [13.4]}}, "InvalidJsonInput"),
        ({"key": "geo-x", "geoLocation": {"type": "Point", "coordinates": [13.4, 52.5, 3]}}, "InvalidJsonInput"),
        ({"key": "geo-x", "geoLocation": {"type": "Point", "coordinates": ["13.4", "52.5"]}}, "InvalidJsonInput"),
        ({"key": "geo-x", "geoLocation": {"type": "Point", "coordinates": [True, 52.5]}}, "InvalidJsonInput"),
        ({"key": "address-x", "address": {"city": "Berlin"}}, "InvalidJsonInput"),  # an address needs a country
    ],
)
def test_invalid_channel_drafts_are_refused(spec: Spec, ct: CtSandbox, draft: dict[str, Any], code: str) -> None:
    check_error(spec, ct.post("/channels", draft), code)
    assert ct.get(f"/channels/key={draft.get('key', 'x')}").status_code == 404


def test_a_duplicate_channel_key_is_a_duplicate_field(spec: Spec, ct: CtSandbox) -> None:
    channel(ct, "taken-key")
    error = check_error(spec, ct.post("/channels", {"key": "taken-key"}), "DuplicateField")
    assert (error["field"], error["duplicateValue"]) == ("key", "taken-key")
    other = channel(ct, "other-key")
    error = check_error(
        spec, update(ct, "/channels", other, {"action": "changeKey", "key": "taken-key"}), "DuplicateField"
    )
    assert error["duplicateValue"] == "taken-key"
    assert ct.ok(f"/channels/{other['id']}") == other  # nothing changed


def test_channel_update_actions_bump_the_version_once_per_request(spec: Spec, ct: CtSandbox) -> None:
    made = channel(ct, "updated-channel", "InventorySupply", name={"en": "Before"})
    steps: list[tuple[list[dict[str, Any]], dict[str, Any]]] = [
        ([{"action": "changeName", "name": {"en": "After"}}], {"name": {"en": "After"}}),
        ([{"action": "changeDescription", "description": {"en": "D"}}], {"description": {"en": "D"}}),
        ([{"action": "addRoles", "roles": ["Primary", "InventorySupply"]}], {"roles": ["InventorySupply", "Primary"]}),
        ([{"action": "removeRoles", "roles": ["InventorySupply"]}], {"roles": ["Primary"]}),
        ([{"action": "setRoles", "roles": ["ProductDistribution", "OrderExport"]}],
         {"roles": ["ProductDistribution", "OrderExport"]}),
        ([{"action": "setAddress", "address": BERLIN}, {"action": "setGeoLocation", "geoLocation": POINT}],
         {"address": BERLIN, "geoLocation": POINT}),
        ([{"action": "changeKey", "key": "renamed-channel"}], {"key": "renamed-channel"}),
    ]  # fmt: skip
    for actions, expected in steps:
        before = made
        made = updated(ct, "/channels", made, *actions)
        spec.check(made, "Channel")
        assert made["version"] == before["version"] + 1
        assert {name: made[name] for name in expected} == expected
        assert made["lastModifiedAt"] >= before["lastModifiedAt"] and made["createdAt"] == before["createdAt"]
    assert ct.ok("/channels/key=renamed-channel") == made
    assert ct.get("/channels/key=updated-channel").status_code == 404
    made = updated(ct, "/channels", made, {"action": "setAddress"}, {"action": "setGeoLocation"})
    assert "address" not in made and "geoLocation" not in made
    made = updated(ct, "/channels", made, {"action": "setRoles", "roles": []})  # a closed location's channel
    assert made["roles"] == []
    spec.check(made, "Channel")


def test_a_stale_version_is_a_conflict_and_a_failing_action_changes_nothing(spec: Spec, ct: CtSandbox) -> None:
    made = channel(ct, "conflicted-channel")
    updated(ct, "/channels", made, {"action": "changeName", "name": {"en": "1"}})
    error = check_error(spec, update(ct, "/channels", made, {"action": "changeName", "name": {"en": "2"}}),
                        "ConcurrentModification", 409)  # fmt: skip
    assert error["currentVersion"] == 2
    current = ct.ok(f"/channels/{made['id']}")
    bad_geo = {"action": "setGeoLocation", "geoLocation": {"type": "Point", "coordinates": []}}
    failing = update(ct, "/channels", current, {"action": "changeName", "name": {"en": "3"}}, bad_geo)
    check_error(spec, failing, "InvalidJsonInput")
    check_error(spec, update(ct, "/channels", current, {"action": "setCustomType"}), "InvalidJsonInput")  # not emulated
    assert ct.ok(f"/channels/{made['id']}") == current


def test_a_channel_is_deleted_with_its_version_unless_a_store_or_an_inventory_entry_names_it(
    spec: Spec, ct: CtSandbox
) -> None:
    warehouse = channel(ct, "deleted-warehouse", "InventorySupply")
    check_error(spec, ct.request("DELETE", f"/channels/{warehouse['id']}"), "InvalidInput")  # no version
    check_error(spec, ct.request("DELETE", f"/channels/{warehouse['id']}", {"version": "7"}),
                "ConcurrentModification", 409)  # fmt: skip
    store = create(
        ct, "/stores", {"key": "deleting-store", "supplyChannels": [{"typeId": "channel", "key": "deleted-warehouse"}]}
    )
    error = check_error(spec, delete(ct, "/channels", warehouse), "ReferenceExists")
    assert error["referencedBy"] == "store"
    updated(ct, "/stores", store, {"action": "removeSupplyChannel", "supplyChannel": ref(warehouse)})
    entry = create(ct, "/inventory", {"sku": "deleting-sku", "quantityOnStock": 1, "supplyChannel": ref(warehouse)})
    assert check_error(spec, delete(ct, "/channels", warehouse), "ReferenceExists")["referencedBy"] == "inventory-entry"
    assert delete(ct, "/inventory", entry).status_code == 200
    gone = delete(ct, "/channels", warehouse)
    assert gone.status_code == 200 and gone.json() == warehouse
    assert ct.get(f"/channels/{warehouse['id']}").status_code == 404


def test_channels_have_no_messages(spec: Spec, ct: CtSandbox) -> None:
    assert not any(
        name.startswith("Channel") and name.endswith("Message") for name in spec.document["components"]["schemas"]
    )
    made = channel(ct, "silent-channel")
    made = updated(ct, "/channels", made, {"action": "changeName", "name": {"en": "S"}})
    assert delete(ct, "/channels", made).status_code == 200
    assert messages_of(ct, made) == []


# -- stores and their channels ---------------------------------------------------------------------------------


def test_a_store_names_channels_by_key_or_id_and_they_need_their_roles(spec: Spec, ct: CtSandbox) -> None:
    supply = channel(ct, "store-warehouse", "InventorySupply")
    both = channel(ct, "store-shop", "InventorySupply", "ProductDistribution")
    draft = {
        "key": "channel-store",
        "name": {"en": "Channel store"},
        "languages": ["de-DE"],
        "countries": [{"code": "DE"}],
        "supplyChannels": [{"typeId": "channel", "key": "store-warehouse"}, ref(both), ref(supply)],
        "distributionChannels": [{"typeId": "channel", "key": "store-shop"}],
    }
    store = create(ct, "/stores", draft)
    spec.check(store, "Store")
    assert store["supplyChannels"] == [ref(supply), ref(both)]  # by id, each once
    assert store["distributionChannels"] == [ref(both)]
    assert ct.ok("/stores/key=channel-store") == store
    assert ct.query_ids("/stores", where=f'supplyChannels(id = "{supply["id"]}")') == [store["id"]]
    expanded = ct.ok(f"/stores/{store['id']}", expand="supplyChannels[*]")
    assert [c["obj"]["key"] for c in expanded["supplyChannels"]] == ["store-warehouse", "store-shop"]
    (created,) = messages_of(ct, store)
    spec.check(created, "StoreCreatedMessage")
    assert created["type"] == "StoreCreated"
    assert (created["supplyChannels"], created["distributionChannels"]) == (store["supplyChannels"], [ref(both)])
    assert created["resourceUserProvidedIdentifiers"] == {"key": "channel-store"}

    by_key = {"typeId": "channel", "key": "store-warehouse"}
    refused = ct.post("/stores", {**draft, "key": "s2", "distributionChannels": [by_key]})
    missing = check_error(spec, refused, "MissingRoleOnChannel")
    assert (missing["missingRole"], missing["channel"]) == ("ProductDistribution", by_key)
    distribution_only = channel(ct, "store-web", "ProductDistribution")
    refused = ct.post("/stores", {"key": "s3", "supplyChannels": [ref(distribution_only)]})
    missing = check_error(spec, refused, "MissingRoleOnChannel")
    assert (missing["missingRole"], missing["channel"]) == ("InventorySupply", ref(distribution_only))
    refused = ct.post("/stores", {"key": "s4", "supplyChannels": [{"typeId": "channel", "key": "nope"}]})
    unknown = check_error(spec, refused, "ReferencedResourceNotFound")
    assert (unknown["typeId"], unknown["key"]) == ("channel", "nope")
    assert ct.query_ids("/stores", where='key in ("s2", "s3", "s4")') == []


def test_store_update_actions_and_their_messages(spec: Spec, ct: CtSandbox) -> None:
    north, south = channel(ct, "north-warehouse", "InventorySupply"), channel(ct, "south-warehouse", "InventorySupply")
    web, app = (
        channel(ct, "web-distribution", "ProductDistribution"),
        channel(ct, "app-distribution", "ProductDistribution"),
    )
    store = create(ct, "/stores", {"key": "updated-store", "name": {"en": "Old"}, "supplyChannels": [ref(north)]})
    steps: list[tuple[dict[str, Any], dict[str, Any], list[tuple[str, dict[str, Any]]]]] = [
        ({"action": "setName", "name": {"en": "New", "de": "Neu"}}, {"name": {"en": "New", "de": "Neu"}},
         [("StoreNameSet", {"name": {"en": "New", "de": "Neu"}})]),
        ({"action": "addSupplyChannel", "supplyChannel": {"typeId": "channel", "key": "south-warehouse"}},
         {"supplyChannels": [ref(north), ref(south)]},
         [("StoreSupplyChannelsChanged", {"addedSupplyChannels": [ref(south)]})]),
        ({"action": "addSupplyChannel", "supplyChannel": ref(south)},  # already there: no effect, no message
         {"supplyChannels": [ref(north), ref(south)]}, []),
        ({"action": "removeSupplyChannel", "supplyChannel": {"typeId": "channel", "key": "north-warehouse"}},
         {"supplyChannels": [ref(south)]},
         [("StoreSupplyChannelsChanged", {"removedSupplyChannels": [ref(north)]})]),
        ({"action": "setSupplyChannels", "supplyChannels": [ref(north)]}, {"supplyChannels": [ref(north)]},
         [("StoreSupplyChannelsChanged",
           {"addedSupplyChannels": [ref(north)], "removedSupplyChannels": [ref(south)]})]),
        ({"action": "setDistributionChannels", "distributionChannels": [ref(web), ref(app)]},
         {"distributionChannels": [ref(web), ref(app)]},
         [("StoreDistributionChannelsChanged", {"addedDistributionChannels": [ref(web), ref(app)]})]),
        ({"action": "removeDistributionChannel", "distributionChannel": ref(web)}, {"distributionChannels": [ref(app)]},
         [("StoreDistributionChannelsChanged", {"removedDistributionChannels": [ref(web)]})]),
        ({"action": "addDistributionChannel", "distributionChannel": {"typeId": "channel", "key": "web-distribution"}},
         {"distributionChannels": [ref(app), ref(web)]},
         [("StoreDistributionChannelsChanged", {"addedDistributionChannels": [ref(web)]})]),
        ({"action": "setSupplyChannels"}, {"supplyChannels": []},
         [("StoreSupplyChannelsChanged", {"removedSupplyChannels": [ref(north)]})]),
        ({"action": "setName"}, {}, [("StoreNameSet", {})]),
    ]  # fmt: skip
    seen = len(messages_of(ct, store))
    for action, expected, messages in steps:
        before = store
        store = updated(ct, "/stores", store, action)
        spec.check(store, "Store")
        assert store["version"] == before["version"] + 1
        assert {name: store[name] for name in expected} == expected, action
        new = messages_of(ct, store)[seen:]
        seen += len(new)
        assert [(m["type"], {k: v for k, v in m.items() if k in _PAYLOAD}) for m in new] == messages, action
        for message in new:
            spec.check(message, f"{message['type']}Message")
            assert message["resourceVersion"] == store["version"]
    assert "name" not in store
    assert delete(ct, "/stores", store).status_code == 200
    deleted = messages_of(ct, store)[-1]
    spec.check(deleted, "StoreDeletedMessage")
    assert (deleted["type"], deleted["resourceVersion"]) == ("StoreDeleted", store["version"] + 1)


_PAYLOAD = {
    "name",
    "addedSupplyChannels",
    "removedSupplyChannels",
    "addedDistributionChannels",
    "removedDistributionChannels",
}


def test_store_channel_actions_check_roles_and_change_nothing_when_refused(spec: Spec, ct: CtSandbox) -> None:
    warehouse = channel(ct, "role-warehouse", "InventorySupply")
    store = create(ct, "/stores", {"key": "role-store"})
    for action, role in (
        ({"action": "addDistributionChannel", "distributionChannel": ref(warehouse)}, "ProductDistribution"),
        ({"action": "setDistributionChannels", "distributionChannels": [ref(warehouse)]}, "ProductDistribution"),
    ):
        error = check_error(spec, update(ct, "/stores", store, {"action": "setName", "name": {"en": "x"}}, action),
                            "MissingRoleOnChannel")  # fmt: skip
        assert error["missingRole"] == role
    closed = updated(ct, "/channels", warehouse, {"action": "setRoles", "roles": []})
    refused = update(ct, "/stores", store, {"action": "addSupplyChannel", "supplyChannel": ref(closed)})
    assert check_error(spec, refused, "MissingRoleOnChannel")["missingRole"] == "InventorySupply"
    check_error(spec, update(ct, "/stores", store, {"action": "addSupplyChannel"}), "InvalidJsonInput")
    assert ct.ok(f"/stores/{store['id']}") == store
    assert [m["type"] for m in messages_of(ct, store)] == ["StoreCreated"]


def test_customers_still_name_stores_by_key(ct: CtSandbox) -> None:
    create(ct, "/stores", {"key": "customer-store", "supplyChannels": []})
    customer = ct.create_customer(
        email="store-customer@example.com", stores=[{"typeId": "store", "key": "customer-store"}]
    )
    assert customer["stores"] == [{"typeId": "store", "key": "customer-store"}]


# -- faults ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["channels", "stores"])
def test_faults_hit_channel_and_store_updates(ct: CtSandbox, path: str) -> None:
    made = create(ct, f"/{path}", {"key": f"faulty-{path}"})
    target = f"POST /{PROJECT}/{path}/{made['id']}"
    name = {"en": "Faulty"}
    action = {"action": "changeName" if path == "channels" else "setName", "name": name}
    ct.admin.add_fault(match=target, status=500, times=1)
    failed = update(ct, f"/{path}", made, action)
    assert (failed.status_code, error_code(failed)) == (500, "General")
    assert ct.ok(f"/{path}/{made['id']}") == made  # the fault answered before the write
    ct.admin.add_fault(match=target, drop="after", times=1)
    with pytest.raises(requests.ConnectionError):
        update(ct, f"/{path}", made, action)
    now = ct.ok(f"/{path}/{made['id']}")  # the write happened, its answer was lost
    assert (now["version"], now["name"]) == (2, name)
    replay = update(ct, f"/{path}", made, action)
    assert (replay.status_code, replay.json()["errors"][0]["currentVersion"]) == (409, 2)
