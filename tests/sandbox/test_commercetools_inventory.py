"""Inventory entries: create, read, query (also among a hundred thousand entries), update actions and their
``InventoryEntryQuantitySet`` messages, versions and conflicts, the documented duplicate and channel errors,
deletion, faults, and the storefront's ``stock``; every response and message validated against the OpenAPI spec."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from ctfluent_sandbox.cli import read_env_file
from ctfluent_sandbox.commercetools.auth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from ctfluent_sandbox.commercetools.errors import CtError
from ctfluent_sandbox.storefront import Storefront, main
from tests.sandbox.catalogue_fixtures import create, delete, messages_of, update, updated
from tests.sandbox.ct_fixtures import PROJECT, CtSandbox, error_code, openapi_spec, running
from tests.sandbox.test_commercetools_openapi import Spec

WAREHOUSES = ("wh-north", "wh-south", "wh-east", "wh-west")


@pytest.fixture(scope="module")
def spec(shared_dir: Path) -> Spec:
    return openapi_spec(shared_dir)


@pytest.fixture(scope="module")
def ct() -> Iterator[CtSandbox]:
    with running(messages_enabled=True) as sandbox:
        for key in WAREHOUSES:
            create(sandbox, "/channels", {"key": key, "roles": ["InventorySupply"]})
        create(sandbox, "/channels", {"key": "web", "roles": ["ProductDistribution"]})
        yield sandbox


def channel_ref(ct: CtSandbox, key: str) -> dict[str, str]:
    return {"typeId": "channel", "id": ct.ok(f"/channels/key={key}")["id"]}


def by_key(key: str) -> dict[str, str]:
    return {"typeId": "channel", "key": key}


def check_error(spec: Spec, response: requests.Response, code: str, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    spec.check(body, "ErrorResponse")
    error: dict[str, Any] = body["errors"][0]
    assert error["code"] == code, body
    spec.check(error, f"{code}Error")
    return error


def test_an_entry_is_created_and_read_by_id_and_key(spec: Spec, ct: CtSandbox) -> None:
    draft = {
        "sku": "read-sku",
        "key": "read-entry",
        "supplyChannel": by_key("wh-north"),
        "quantityOnStock": 12,
        "restockableInDays": 3,
        "expectedDelivery": "2026-09-01T08:00:00.000Z",
        "custom": {"type": {"typeId": "type", "key": "inventory-extras"}, "fields": {"bin": "A-1"}},
    }
    entry = create(ct, "/inventory", draft)
    spec.check(entry, "InventoryEntry")
    assert entry["version"] == 1
    assert (entry["sku"], entry["key"], entry["supplyChannel"]) == (
        "read-sku",
        "read-entry",
        channel_ref(ct, "wh-north"),
    )
    assert entry["quantityOnStock"] == entry["availableQuantity"] == 12  # nothing reserved
    assert (entry["restockableInDays"], entry["expectedDelivery"]) == (3, "2026-09-01T08:00:00.000Z")
    assert ct.ok(f"/inventory/{entry['id']}") == entry == ct.ok("/inventory/key=read-entry")
    expanded = ct.ok(f"/inventory/{entry['id']}", expand="supplyChannel")
    assert expanded["supplyChannel"]["obj"]["key"] == "wh-north"
    spec.check(expanded, "InventoryEntry")
    bare = create(ct, "/inventory", {"sku": "read-sku", "quantityOnStock": 0})  # no channel: an entry of its own
    assert "supplyChannel" not in bare and "key" not in bare
    assert ct.request("HEAD", "/inventory/key=read-entry").status_code == 200
    check_error(spec, ct.get("/inventory/key=nowhere"), "ResourceNotFound", 404)
    (created,) = messages_of(ct, entry)
    spec.check(created, "InventoryEntryCreatedMessage")
    assert (created["type"], created["inventoryEntry"]) == ("InventoryEntryCreated", entry)
    assert created["resourceUserProvidedIdentifiers"] == {"key": "read-entry"}


@pytest.mark.parametrize(
    ("draft", "code"),
    [
        ({"quantityOnStock": 1}, "InvalidJsonInput"),  # no sku
        ({"sku": "v"}, "InvalidJsonInput"),  # no quantityOnStock
        ({"sku": "v", "quantityOnStock": "1"}, "InvalidJsonInput"),
        ({"sku": "v", "quantityOnStock": 1.5}, "InvalidJsonInput"),
        ({"sku": "v", "quantityOnStock": 1, "key": "a b"}, "InvalidField"),
        ({"sku": "v", "quantityOnStock": 1, "supplyChannel": by_key("nowhere")}, "ReferencedResourceNotFound"),
        ({"sku": "v", "quantityOnStock": 1, "supplyChannel": by_key("web")}, "MissingRoleOnChannel"),
        ({"sku": "v", "quantityOnStock": 1, "stockLevels": {"safetyStock": 1}}, "InvalidJsonInput"),  # not emulated
    ],
)
def test_invalid_drafts_are_refused(spec: Spec, ct: CtSandbox, draft: dict[str, Any], code: str) -> None:
    error = check_error(spec, ct.post("/inventory", draft), code)
    if code == "MissingRoleOnChannel":
        assert (error["missingRole"], error["channel"]) == ("InventorySupply", by_key("web"))
    assert ct.query_ids("/inventory", where='sku = "v"') == []


def test_one_entry_per_sku_and_supply_channel(spec: Spec, ct: CtSandbox) -> None:
    north = create(ct, "/inventory", {"sku": "dup-sku", "quantityOnStock": 1, "supplyChannel": by_key("wh-north")})
    again = {"sku": "dup-sku", "quantityOnStock": 2, "supplyChannel": channel_ref(ct, "wh-north")}
    error = check_error(spec, ct.post("/inventory", again), "DuplicateField")
    assert (error["field"], error["duplicateValue"]) == ("sku", "dup-sku")  # as the API answers it
    south = create(ct, "/inventory", {**again, "supplyChannel": by_key("wh-south"), "key": "dup-south"})
    create(ct, "/inventory", {"sku": "dup-sku", "quantityOnStock": 3})
    check_error(spec, ct.post("/inventory", {"sku": "dup-sku", "quantityOnStock": 4}), "DuplicateField")
    error = check_error(spec, ct.post("/inventory", {"sku": "other", "quantityOnStock": 1, "key": "dup-south"}),
                        "DuplicateField")  # fmt: skip
    assert (error["field"], error["duplicateValue"]) == ("key", "dup-south")
    moved = update(ct, "/inventory", south, {"action": "setSupplyChannel", "supplyChannel": by_key("wh-north")})
    check_error(spec, moved, "DuplicateField")
    assert ct.ok(f"/inventory/{south['id']}") == south
    assert len(ct.query_ids("/inventory", where='sku = "dup-sku"')) == 3
    assert ct.ok(f"/inventory/{north['id']}") == north


def test_queries_by_sku_channel_and_key_page_and_sort(spec: Spec, ct: CtSandbox) -> None:
    made = {}
    for n, (sku, key) in enumerate((s, k) for s in ("q-1", "q-2", "q-3") for k in ("wh-east", "wh-west")):
        draft = {"sku": sku, "quantityOnStock": n, "supplyChannel": by_key(key), "key": f"q-{sku}-{key}"}
        made[sku, key] = create(ct, "/inventory", draft)
    east = channel_ref(ct, "wh-east")["id"]
    assert set(ct.query_ids("/inventory", where="sku = :sku", **{"var.sku": "q-2"})) == {
        made["q-2", "wh-east"]["id"],
        made["q-2", "wh-west"]["id"],
    }
    where = "sku in :skus and supplyChannel(id = :channel)"
    found = ct.query_ids("/inventory", where=where, **{"var.skus": ["q-1", "q-3", "q-9"], "var.channel": east})
    assert set(found) == {made["q-1", "wh-east"]["id"], made["q-3", "wh-east"]["id"]}
    assert ct.query_ids("/inventory", where='key = "q-q-3-wh-west"') == [made["q-3", "wh-west"]["id"]]
    page = ct.ok(
        "/inventory", where='sku in ("q-1", "q-2", "q-3")', sort=["sku desc", "key asc"], limit="4", offset="1"
    )
    spec.check(page, "InventoryPagedQueryResponse")
    assert [e["key"] for e in page["results"]] == ["q-q-3-wh-west", "q-q-2-wh-east", "q-q-2-wh-west", "q-q-1-wh-east"]
    assert (page["count"], page["total"], page["offset"], page["limit"]) == (4, 6, 1, 4)
    assert "total" not in ct.ok("/inventory", where='sku = "q-1"', withTotal="false")
    stocked = ct.query_ids("/inventory", where='sku in ("q-1", "q-2", "q-3") and quantityOnStock >= 4')
    assert set(stocked) == {made["q-3", "wh-east"]["id"], made["q-3", "wh-west"]["id"]}
    assert ct.request("HEAD", "/inventory", {"where": 'sku = "q-none"'}).status_code == 404


def test_update_actions_their_messages_and_versions(spec: Spec, ct: CtSandbox) -> None:
    entry = create(ct, "/inventory", {"sku": "upd-sku", "quantityOnStock": 10, "supplyChannel": by_key("wh-east")})
    north = channel_ref(ct, "wh-north")
    steps: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"action": "addQuantity", "quantity": 5}, {"quantityOnStock": 15, "availableQuantity": 15}),
        ({"action": "removeQuantity", "quantity": 20}, {"quantityOnStock": -5, "availableQuantity": -5}),
        ({"action": "changeQuantity", "quantity": 7}, {"quantityOnStock": 7, "availableQuantity": 7}),
        ({"action": "setRestockableInDays", "restockableInDays": 4}, {"restockableInDays": 4}),
        ({"action": "setExpectedDelivery", "expectedDelivery": "2026-10-01T00:00:00.000Z"},
         {"expectedDelivery": "2026-10-01T00:00:00.000Z"}),
        ({"action": "setKey", "key": "upd-entry"}, {"key": "upd-entry"}),
        ({"action": "setSupplyChannel", "supplyChannel": by_key("wh-north")}, {"supplyChannel": north}),
    ]  # fmt: skip
    for action, expected in steps:
        before = entry
        entry = updated(ct, "/inventory", entry, action)
        spec.check(entry, "InventoryEntry")
        assert entry["version"] == before["version"] + 1
        assert {name: entry[name] for name in expected} == expected
    assert ct.ok("/inventory/key=upd-entry") == entry
    entry = updated(ct, "/inventory", entry, {"action": "setRestockableInDays"}, {"action": "setExpectedDelivery"},
                    {"action": "setKey"}, {"action": "setSupplyChannel"})  # fmt: skip
    assert not {"restockableInDays", "expectedDelivery", "key", "supplyChannel"} & set(entry)
    assert entry["version"] == len(steps) + 2  # one more version for the four actions of one request
    messages = messages_of(ct, entry)
    assert [m["type"] for m in messages] == ["InventoryEntryCreated"] + ["InventoryEntryQuantitySet"] * 3
    for message in messages:
        spec.check(message, f"{message['type']}Message")
    quantities = [
        {k: m[k] for k in ("oldQuantityOnStock", "newQuantityOnStock", "oldAvailableQuantity", "newAvailableQuantity")}
        for m in messages[1:]
    ]
    assert quantities == [
        {"oldQuantityOnStock": 10, "newQuantityOnStock": 15, "oldAvailableQuantity": 10, "newAvailableQuantity": 15},
        {"oldQuantityOnStock": 15, "newQuantityOnStock": -5, "oldAvailableQuantity": 15, "newAvailableQuantity": -5},
        {"oldQuantityOnStock": -5, "newQuantityOnStock": 7, "oldAvailableQuantity": -5, "newAvailableQuantity": 7},
    ]
    assert {(m["sku"], m["supplyChannel"]["id"]) for m in messages[1:]} == {
        ("upd-sku", channel_ref(ct, "wh-east")["id"])
    }
    assert [m["resourceVersion"] for m in messages] == [1, 2, 3, 4]
    assert [m["sequenceNumber"] for m in messages] == [1, 2, 3, 4]


def test_several_quantity_actions_are_one_version_and_a_failing_one_changes_nothing(spec: Spec, ct: CtSandbox) -> None:
    entry = create(ct, "/inventory", {"sku": "batch-sku", "quantityOnStock": 1})
    entry = updated(
        ct, "/inventory", entry, {"action": "addQuantity", "quantity": 2}, {"action": "addQuantity", "quantity": 3}
    )
    assert (entry["version"], entry["quantityOnStock"]) == (2, 6)
    set_messages = messages_of(ct, entry)[1:]
    assert [(m["newQuantityOnStock"], m["resourceVersion"]) for m in set_messages] == [(3, 2), (6, 2)]
    refused = update(ct, "/inventory", entry, {"action": "addQuantity", "quantity": 1}, {"action": "addQuantity"})
    check_error(spec, refused, "InvalidJsonInput")
    unknown = update(ct, "/inventory", entry, {"action": "setSupplyChannel", "supplyChannel": by_key("web")})
    check_error(spec, unknown, "MissingRoleOnChannel")
    stale = update(ct, "/inventory", {**entry, "version": 1}, {"action": "addQuantity", "quantity": 1})
    assert check_error(spec, stale, "ConcurrentModification", 409)["currentVersion"] == 2
    assert ct.ok(f"/inventory/{entry['id']}") == entry
    assert len(messages_of(ct, entry)) == 3


def test_an_entry_is_deleted_with_its_version(spec: Spec, ct: CtSandbox) -> None:
    entry = create(ct, "/inventory", {"sku": "del-sku", "quantityOnStock": 4, "supplyChannel": by_key("wh-west"),
                                      "key": "del-entry"})  # fmt: skip
    check_error(
        spec, ct.request("DELETE", f"/inventory/{entry['id']}", {"version": "2"}), "ConcurrentModification", 409
    )
    check_error(spec, ct.request("DELETE", "/inventory/key=del-entry"), "InvalidInput")
    gone = ct.request("DELETE", "/inventory/key=del-entry", {"version": "1"})
    assert gone.status_code == 200 and gone.json() == entry
    assert ct.get(f"/inventory/{entry['id']}").status_code == 404
    _, deleted = messages_of(ct, entry)
    spec.check(deleted, "InventoryEntryDeletedMessage")
    assert (deleted["type"], deleted["sku"], deleted["supplyChannel"]) == (
        "InventoryEntryDeleted",
        "del-sku",
        channel_ref(ct, "wh-west"),
    )
    assert deleted["resourceVersion"] == 2
    create(ct, "/inventory", {"sku": "del-sku", "quantityOnStock": 1, "supplyChannel": by_key("wh-west")})  # free again


def test_every_inventory_message_validates(spec: Spec, ct: CtSandbox) -> None:
    page = ct.ok("/messages", where='resource(typeId = "inventory-entry")', limit="500", expand="resource")
    spec.check(page, "MessagePagedQueryResponse")
    for message in page["results"]:
        spec.check(message, f"{message['type']}Message")
    assert {m["type"] for m in page["results"]} <= {
        "InventoryEntryCreated",
        "InventoryEntryQuantitySet",
        "InventoryEntryDeleted",
    }


def test_the_inventory_messages_not_emitted_are_the_stock_level_ones_not_emulated(spec: Spec) -> None:
    """The spec's InventoryEntry messages are those the emulator emits and those of stock levels and reservation
    expiry, which it does not emulate; the other actions (setKey, setSupplyChannel...) have none."""
    in_spec = {
        name.removesuffix("Message")
        for name in spec.document["components"]["schemas"]
        if name.startswith("InventoryEntry") and name.endswith("Message")
    }
    emitted = {"InventoryEntryCreated", "InventoryEntryQuantitySet", "InventoryEntryDeleted"}
    not_emulated = {
        "InventoryEntryOutOfStock",
        "InventoryEntryReorderPoint",
        "InventoryEntrySafetyStock",
        "InventoryEntryReservationExpirationInMinutesSet",
    }
    assert in_spec == emitted | not_emulated


def test_a_bulk_load_checks_each_draft_and_adds_all_or_nothing() -> None:
    with running(messages_enabled=True) as ct:
        create(ct, "/channels", {"key": "bulk-wh"})
        drafts = [{"sku": f"b-{n}", "quantityOnStock": n, "supplyChannel": by_key("bulk-wh")} for n in range(3)]
        assert ct.emulator.load_inventory(drafts) == 3
        with pytest.raises(CtError) as refused:
            ct.emulator.load_inventory([{"sku": "b-new", "quantityOnStock": 1}, drafts[0]])
        assert (refused.value.code, refused.value.extra["duplicateValue"]) == ("DuplicateField", "b-0")
        with pytest.raises(CtError, match="duplicate"):  # twice in one batch
            ct.emulator.load_inventory([{"sku": "b-twice", "quantityOnStock": 1}] * 2)
        assert sorted(e["sku"] for e in ct.ok("/inventory", limit="10")["results"]) == ["b-0", "b-1", "b-2"]
        assert ct.messages() == []  # like seeded data, loaded entries have no message history


# -- a hundred thousand entries ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def large() -> Iterator[CtSandbox]:
    """25,000 SKUs in each of four warehouses."""
    with running() as sandbox:
        for key in WAREHOUSES:
            create(sandbox, "/channels", {"key": key})
        drafts = (
            {"sku": f"sku-{n:05d}", "quantityOnStock": n % 50, "supplyChannel": by_key(key), "key": f"{key}-{n:05d}"}
            for n in range(25_000)
            for key in WAREHOUSES
        )
        assert sandbox.emulator.load_inventory(drafts) == 100_000
        yield sandbox


def test_a_page_of_skus_reads_only_their_entries_out_of_100000(large: CtSandbox) -> None:
    collection = large.emulator.inventory.collection
    assert large.ok("/inventory", limit="1")["total"] == 100_000
    skus = [f"sku-{n:05d}" for n in range(12_000, 24_000, 60)]  # 200 SKUs spread over the range
    collection.evaluations = 0
    seen: list[dict[str, Any]] = []
    last = ""
    while True:  # id-cursor pages, as the sync reads
        params = {"var.skus": skus, "sort": "id asc", "limit": "500", "withTotal": "false"}
        where = "sku in :skus" + (" and id > :last" if last else "")
        page = large.ok("/inventory", where=where, **params, **({"var.last": last} if last else {}))
        seen += page["results"]
        if page["count"] < 500:
            break
        last = page["results"][-1]["id"]
    assert sorted((e["sku"], e["key"]) for e in seen) == sorted(
        (sku, f"{key}-{sku[4:]}") for sku in skus for key in WAREHOUSES
    )
    assert [e["id"] for e in seen] == sorted(e["id"] for e in seen)
    # Each of the two pages evaluates the 800 entries of those SKUs, not the 100,000.
    assert collection.evaluations <= 2 * 800


def test_a_page_of_keys_and_one_sku_in_one_channel_read_only_their_entries(large: CtSandbox) -> None:
    collection = large.emulator.inventory.collection
    keys = [f"wh-south-{n:05d}" for n in range(0, 25_000, 125)]
    collection.evaluations = 0
    page = large.ok("/inventory", where="key in :keys", sort="id asc", limit="500", **{"var.keys": keys})
    assert sorted(e["key"] for e in page["results"]) == sorted(keys) and page["total"] == 200
    assert collection.evaluations <= 200
    channel = large.ok("/channels/key=wh-east")["id"]
    collection.evaluations = 0
    where = "sku = :sku and supplyChannel(id = :channel)"
    (entry,) = large.ok("/inventory", where=where, **{"var.sku": "sku-07777", "var.channel": channel})["results"]
    assert (entry["key"], entry["quantityOnStock"]) == ("wh-east-07777", 7777 % 50)
    assert collection.evaluations <= 4


# -- faults ----------------------------------------------------------------------------------------------------


def test_faults_on_inventory_writes(ct: CtSandbox) -> None:
    entry = create(ct, "/inventory", {"sku": "fault-sku", "quantityOnStock": 5, "key": "fault-entry"})
    target = f"POST /{PROJECT}/inventory/{entry['id']}"
    change = {"action": "changeQuantity", "quantity": 9}
    for status, code in ((500, "General"), (409, "ConcurrentModification"), (503, "OverCapacity")):
        ct.admin.add_fault(match=target, status=status, times=1)
        failed = update(ct, "/inventory", entry, change)
        assert (failed.status_code, error_code(failed)) == (status, code)
    assert ct.ok(f"/inventory/{entry['id']}") == entry  # answered before the write
    ct.admin.add_fault(match=target, drop="after", times=1)
    with pytest.raises(requests.ConnectionError):
        update(ct, "/inventory", entry, change)
    now = ct.ok("/inventory/key=fault-entry")
    assert (now["version"], now["quantityOnStock"]) == (2, 9)  # written; the answer was lost
    assert update(ct, "/inventory", entry, change).json()["errors"][0]["currentVersion"] == 2
    ct.admin.add_fault(match=f"POST /{PROJECT}/inventory", drop="before", times=1)
    with pytest.raises(requests.ConnectionError):
        ct.post("/inventory", {"sku": "never-sku", "quantityOnStock": 1})
    assert ct.query_ids("/inventory", where='sku = "never-sku"') == []
    ct.admin.add_fault(match=f"DELETE /{PROJECT}/inventory/*", status=502, times=1)
    assert delete(ct, "/inventory", now).status_code == 502
    assert delete(ct, "/inventory", now).status_code == 200


# -- the storefront --------------------------------------------------------------------------------------------


def _env_file(ct: CtSandbox, tmp_path: Path) -> Path:
    env = {
        "CTP_PROJECT_KEY": PROJECT,
        "CTP_CLIENT_ID": DEFAULT_CLIENT_ID,
        "CTP_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
        "CTP_API_URL": ct.url,
        "CTP_AUTH_URL": ct.url,
    }
    path = tmp_path / "sandbox.env"
    path.write_text("".join(f"{name}={shlex.quote(value)}\n" for name, value in env.items()))
    return path


def test_the_storefront_reads_the_stock_of_a_sku(
    ct: CtSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, quantity in (("wh-south", 8), ("wh-north", 3)):
        create(ct, "/inventory", {"sku": "shop-sku", "quantityOnStock": quantity, "supplyChannel": by_key(key)})
    bare = create(ct, "/inventory", {"sku": "shop-sku", "quantityOnStock": 1})
    create(ct, "/inventory", {"sku": "shop-sku-2", "quantityOnStock": 99, "supplyChannel": by_key("wh-north")})
    env_file = _env_file(ct, tmp_path)
    storefront = Storefront(read_env_file(env_file))
    assert storefront.stock("shop-sku") == {None: 1, "wh-north": 3, "wh-south": 8}
    assert list(storefront.stock("shop-sku")) == [None, "wh-north", "wh-south"]
    assert storefront.stock("no-such-sku") == {}
    main(["--env-file", str(env_file), "stock", "shop-sku"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"(no supply channel): 1 on stock, 1 available (inventory entry {bare['id']}, version 1)"
    assert [line.split(" (")[0] for line in lines[1:]] == ["wh-north: 3 on stock, 3 available",
                                                           "wh-south: 8 on stock, 8 available"]  # fmt: skip
    with pytest.raises(SystemExit) as exit_info:
        main(["--env-file", str(env_file), "stock", "no-such-sku"])
    assert exit_info.value.code == 1
    assert "no inventory entry for the SKU 'no-such-sku'" in capsys.readouterr().err
