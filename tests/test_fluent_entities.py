"""The entities read from Fluent, end to end against the sandbox: locations become channels (and stores), positions
become inventory entries (waiting for their channels), fulfilments and consignments become deliveries, parcels and
the order's shipment state; each written once, nothing written when nothing changed, changes found by the sensor and
by webhook events; and a commercetools cancellation reaches Fluent exactly once."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetsDefinition, Definitions, RunRequest, SensorResult, build_sensor_context, in_process_executor
from dagster import materialize as dagster_materialize

from ctfluent_dagster.assets import ENTITY_DEFINITIONS
from ctfluent_dagster.entities.fulfilments.declaration import ENTITY as FULFILMENTS
from ctfluent_dagster.entities.inventory.declaration import ENTITY as INVENTORY
from ctfluent_dagster.entities.locations.declaration import ENTITY as LOCATIONS
from ctfluent_dagster.entity import EntityDeclaration
from ctfluent_dagster.fluent.changes import FluentChangesSettings, PollCursor, parse_time
from ctfluent_dagster.ledger.store import Ledger
from ctfluent_dagster.partitions import partition_for
from ctfluent_dagster.sensors.fluent_changes import build_fluent_changes_sensor
from ctfluent_dagster.sensors.waiting import build_waiting_sensor
from ctfluent_dagster.settings import MessagesSettings
from ctfluent_dagster.sync.commercetools_entity import commercetools_key
from ctfluent_dagster.webhooks.events import FluentEvent, FluentEventStore
from tests.harness import ALL_CHECKS, Sandbox
from tests.support import kill_mid_push, serve_sandbox
from tests.test_order_sync import EVERYTHING, fluent_orders, sync

CATALOGUE = "VC:ATS:1"


@pytest.fixture
def stock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger_url: str) -> Iterator[Sandbox]:
    """The sandbox with a catalogue of 20 products: Fluent holds a position per SKU at each of its 3 locations."""
    monkeypatch.setenv("CTFLUENT_INVENTORY__VIRTUAL_CATALOGUE_REF", CATALOGUE)
    with serve_sandbox(tmp_path, monkeypatch, ledger_url, customers=0, days=2, seed=5, products=20) as running:
        yield running


def assets_of(entity: EntityDeclaration) -> list[AssetsDefinition]:
    return ENTITY_DEFINITIONS[entity.name].assets


def today_of(records: Sequence[dict[str, Any]]) -> str:
    """The partition of the latest ``updatedOn`` of these Fluent records (the seed stamps them now)."""
    return max(partition_for(parse_time(record["updatedOn"])) for record in records)


def materialize(sandbox: Sandbox, entity: EntityDeclaration, partition: str, **scope: Any) -> Any:
    assets = assets_of(entity)
    keys = {key for asset in assets for key in asset.keys}
    checks = [check for check in ALL_CHECKS if any(k.asset_key in keys for k in check.check_keys)]
    config = {"ops": {asset.op.name: {"config": scope} for asset in assets}} if scope else None
    return dagster_materialize([*assets, *checks], resources=sandbox.resources(), partition_key=partition,
                               run_config=config)  # fmt: skip


def run_request(sandbox: Sandbox, request: RunRequest) -> Any:
    built = list(ENTITY_DEFINITIONS.values())
    defs = Definitions(assets=[a for b in built for a in b.assets], jobs=[j for b in built for j in b.jobs],
                       resources=sandbox.resources(), executor=in_process_executor)  # fmt: skip
    job = defs.resolve_job_def(str(request.job_name))
    return job.execute_in_process(run_config=request.run_config, partition_key=request.partition_key,
                                  tags=dict(request.tags))  # fmt: skip


def poll_due(cursor: str | None) -> str:
    """The sensor's cursor as at its next poll (its interval passed): what it has seen stays seen."""
    return PollCursor.decode(cursor).model_copy(update={"last_poll": None}).encode()


def tick(sandbox: Sandbox, entity: EntityDeclaration, cursor: str | None = None) -> SensorResult:
    sensor = build_fluent_changes_sensor(entity, [ENTITY_DEFINITIONS[entity.name].sync_job],
                                         FluentChangesSettings(initial_lookback_hours=48))  # fmt: skip
    with build_sensor_context(cursor=cursor, resources=sandbox.resources()) as context:
        result = sensor(context)
    assert isinstance(result, SensorResult)
    return result


def ct_state(sandbox: Sandbox, kind: str) -> list[dict[str, Any]]:
    return list(sandbox.ct.state()[kind])


def channels(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    return {channel["key"]: channel for channel in ct_state(sandbox, "channels")}


def ledger(sandbox: Sandbox) -> Ledger:
    return Ledger(sandbox.ledger_url)


# -- locations -> channels ---------------------------------------------------------------------------------------


def test_locations_become_channels_once_and_their_changes_arrive_by_the_sensor(stock: Sandbox) -> None:
    locations = stock.fluent.state()["locations"]
    day = today_of(locations)
    assert materialize(stock, LOCATIONS, day).success
    written = channels(stock)
    assert set(written) == {location["ref"] for location in locations} == {"LOC_1", "LOC_2", "LOC_3"}
    first = next(location for location in locations if location["ref"] == "LOC_1")
    address = first["primaryAddress"]
    assert written["LOC_1"]["roles"] == ["InventorySupply", "ProductDistribution"]
    assert written["LOC_1"]["name"] == {"en": first["name"]}
    assert written["LOC_1"]["geoLocation"] == {"type": "Point",
                                               "coordinates": [address["longitude"], address["latitude"]]}  # fmt: skip
    assert (written["LOC_1"]["address"]["city"], written["LOC_1"]["address"]["country"]) == ("Berlin", "DE")
    versions = {key: channel["version"] for key, channel in written.items()}

    assert materialize(stock, LOCATIONS, day).success  # nothing changed: nothing written
    assert {key: channel["version"] for key, channel in channels(stock).items()} == versions

    cursor = tick(stock, LOCATIONS).cursor  # the first poll sees them all again, unchanged
    stock.fluent_admin.call("POST", "/locations/LOC_2", {"name": "ctfluent Store Mitte (renovated)"})
    stock.fluent_admin.call("POST", "/locations/LOC_3", {"status": "INACTIVE"})
    result = tick(stock, LOCATIONS, poll_due(cursor))
    (request,) = result.run_requests or []
    assert sorted(request.run_config["ops"]["fluent__locations"]["config"]["ids"]) == ["LOC_2", "LOC_3"]
    assert run_request(stock, request).success
    after = channels(stock)
    assert after["LOC_2"]["name"] == {"en": "ctfluent Store Mitte (renovated)"}
    assert after["LOC_3"]["roles"] == []  # closed: no stock, no prices from it (locations.closed_location)
    assert after["LOC_1"]["version"] == versions["LOC_1"]


def test_with_stores_on_each_location_gets_a_store_with_its_channel(
    stock: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTFLUENT_LOCATIONS__CREATE_STORES", "true")
    monkeypatch.setenv("CTFLUENT_LOCATIONS__CHANNEL_ROLES", '["InventorySupply"]')
    assert materialize(stock, LOCATIONS, today_of(stock.fluent.state()["locations"])).success
    stores = {store["key"]: store for store in ct_state(stock, "stores")}
    ids = {key: channel["id"] for key, channel in channels(stock).items()}
    for key in ("LOC_1", "LOC_2", "LOC_3"):
        assert [c["id"] for c in stores[key]["supplyChannels"]] == [ids[key]]
        assert stores[key]["distributionChannels"] == []


# -- positions -> inventory entries ------------------------------------------------------------------------------


def entries(sandbox: Sandbox) -> dict[tuple[str, str], dict[str, Any]]:
    """(SKU, channel key) -> the inventory entry."""
    keys = {channel["id"]: key for key, channel in channels(sandbox).items()}
    return {(entry["sku"], keys[entry["supplyChannel"]["id"]]): entry for entry in ct_state(sandbox, "inventory")}


def positions(sandbox: Sandbox) -> dict[tuple[str, str], dict[str, Any]]:
    return {(p["productRef"], p["groupRef"]): p for p in sandbox.fluent.state()["virtual_positions"]}


def test_positions_wait_for_their_channels_then_every_one_is_an_entry_once(stock: Sandbox) -> None:
    wanted = positions(stock)
    day = today_of(list(wanted.values()))
    assert materialize(stock, INVENTORY, day).success  # before the channels exist: every position waits
    waiting = ledger(stock).entries("inventory_entry", status="waiting")
    assert len(waiting) == len(wanted) > 100 and ct_state(stock, "inventory") == []
    expected = {f"channel {ref}" for ref in ("LOC_1", "LOC_2", "LOC_3")}
    assert {d.describe() for e in waiting for d in e.waiting_for} == expected

    assert materialize(stock, LOCATIONS, day).success
    sensor = build_waiting_sensor(MessagesSettings(max_ids_per_run=10_000), [INVENTORY],
                                  jobs=[ENTITY_DEFINITIONS["inventory"].sync_job])  # fmt: skip
    with build_sensor_context(resources=stock.resources()) as context:
        result = sensor(context)
    assert isinstance(result, SensorResult)
    for request in result.run_requests or []:
        assert run_request(stock, request).success
    written = entries(stock)
    assert {key: entry["quantityOnStock"] for key, entry in written.items()} == {
        key: position["quantity"] for key, position in wanted.items()
    }
    assert all(entry["key"] == commercetools_key(wanted[key]["ref"]) for key, entry in written.items())

    versions = {key: entry["version"] for key, entry in written.items()}
    assert materialize(stock, INVENTORY, day).success  # again: nothing written
    assert {key: entry["version"] for key, entry in entries(stock).items()} == versions


def test_a_stock_change_is_written_alone_through_a_409_and_a_vanished_position_zeroes_its_entry(
    stock: Sandbox,
) -> None:
    wanted = positions(stock)
    day = today_of(list(wanted.values()))
    assert materialize(stock, LOCATIONS, day).success
    assert materialize(stock, INVENTORY, day).success
    versions = {key: entry["version"] for key, entry in entries(stock).items()}
    cursor = tick(stock, INVENTORY).cursor

    (sku, location), position = next(iter(sorted(wanted.items())))
    entry_id = entries(stock)[(sku, location)]["id"]
    # Someone else writes the entry between our read and our write, twice: each write meets a newer version.
    stock.ct_admin.add_fault(match=f"POST /ctfluent-demo/inventory/{entry_id}", status=409,
                             error_code="ConcurrentModification", times=2)  # fmt: skip
    stock.fluent_admin.call("POST", "/positions", {"catalogue": CATALOGUE, "productRef": sku, "groupRef": location,
                                                   "quantity": position["quantity"] + 11})  # fmt: skip
    (request,) = tick(stock, INVENTORY, poll_due(cursor)).run_requests or []
    assert run_request(stock, request).success
    after = entries(stock)
    assert after[(sku, location)]["quantityOnStock"] == position["quantity"] + 11
    assert [key for key in versions if after[key]["version"] != versions[key]] == [(sku, location)]  # alone

    # Deleted in Fluent: its webhook event names it, Fluent no longer has it, its entry goes to 0.
    (other, other_location), gone = sorted(wanted.items())[1]
    stock.fluent_admin.call("DELETE", f"/positions/{CATALOGUE}/{gone['ref']}")
    events = FluentEventStore(stock.ledger_url)
    body = {"id": "evt-gone", "entityType": "VIRTUAL_POSITION", "entityRef": gone["ref"], "entityStatus": "DELETED",
            "retailerId": "1"}  # fmt: skip
    assert events.record(FluentEvent.from_json(body))
    webhook_job = ENTITY_DEFINITIONS["inventory"].webhook_job
    assert webhook_job is not None
    today = partition_for(datetime.now(UTC))
    assert run_request(stock, RunRequest(job_name=webhook_job.name, partition_key=today)).success
    assert entries(stock)[(other, other_location)]["quantityOnStock"] == 0
    assert events.pending() == []
    events.close()


# -- fulfilments -> deliveries ------------------------------------------------------------------------------------


def test_a_partial_fulfilment_becomes_a_delivery_with_a_parcel_and_the_rest_completes_the_order(shop: Sandbox) -> None:
    assert sync(shop, EVERYTHING).success
    known = {e.fluent_ref: e.key.source_id for e in ledger(shop).entries("order", status="synced")}
    ref, order = next(
        (ref, o) for ref, o in sorted(fluent_orders(shop).items()) if ref in known and len(o["items"]) >= 2
    )
    ct_id = known[ref]
    first, *rest = order["items"]
    shop.fluent_admin.call(
        "POST",
        f"/orders/{ref}/fulfilments",
        {"ref": "F-1", "status": "FULFILLED", "items": [{"orderItemRef": first["ref"], "quantity": first["quantity"]}]},
    )
    shop.fluent_admin.call("POST", "/fulfilments/F-1/consignments", {
        "ref": "C-1", "carrier": {"ref": "DHL", "name": "DHL Paket"}, "consignmentReference": "00340434161234567890",
        "status": "IN_TRANSIT"})  # fmt: skip
    day = today_of(shop.fluent.state()["fulfilments"])
    assert materialize(shop, FULFILMENTS, day).success
    placed = next(o for o in ct_state(shop, "orders") if o["id"] == ct_id)
    (delivery,) = placed["shippingInfo"]["deliveries"]
    assert delivery["key"] == "F-1"
    assert delivery["items"] == [{"id": first["ref"], "quantity": first["quantity"]}]
    (parcel,) = delivery["parcels"]
    assert (parcel["key"], parcel["trackingData"]["trackingId"], parcel["trackingData"]["carrier"]) == (
        "C-1", "00340434161234567890", "DHL Paket")  # fmt: skip
    assert placed["shipmentState"] == "Partial"  # a fulfilment of some of the items
    version = placed["version"]
    assert materialize(shop, FULFILMENTS, day).success  # nothing changed: nothing written
    assert next(o for o in ct_state(shop, "orders") if o["id"] == ct_id)["version"] == version

    shop.fluent_admin.call("POST", f"/orders/{ref}/fulfilments", {
        "ref": "F-2", "status": "FULFILLED",
        "items": [{"orderItemRef": item["ref"], "quantity": item["quantity"]} for item in rest]})  # fmt: skip
    shop.fluent_admin.call("POST", "/consignments/C-1/status", {"status": "DELIVERED"})
    assert materialize(shop, FULFILMENTS, today_of(shop.fluent.state()["fulfilments"])).success
    done = next(o for o in ct_state(shop, "orders") if o["id"] == ct_id)
    assert sorted(d["key"] for d in done["shippingInfo"]["deliveries"]) == ["F-1", "F-2"]
    assert done["shipmentState"] in ("Shipped", "Delivered")  # every item is on its way now


# -- cancellations into Fluent -------------------------------------------------------------------------------------


def test_an_order_cancelled_in_commercetools_is_cancelled_in_fluent_once(shop: Sandbox) -> None:
    assert sync(shop, EVERYTHING).success
    synced = ledger(shop).entries("order", status="synced")
    (order_id, ref), (other_id, other_ref) = [(e.key.source_id, e.fluent_ref or "") for e in synced[:2]]
    writer = shop.resources()["commercetools_write"].get_client()
    order = next(o for o in ct_state(shop, "orders") if o["id"] == order_id)
    writer.update("orders", order_id, order["version"], [{"action": "changeOrderState", "orderState": "Cancelled"}])
    orders = [a for a in ENTITY_DEFINITIONS["orders"].assets if a.partitions_def is not None]
    day = order["createdAt"][:10]
    assert shop.sync(day, ids=[order_id], assets=orders).success
    assert fluent_orders(shop)[ref]["status"] == "CANCELLED"
    sent = shop.fluent_admin.call("GET", "/events")
    assert [(e["event"]["name"], e["event"]["entityRef"], e["eventStatus"]) for e in sent] == [
        ("CancelOrder", ref, "COMPLETE")
    ]
    assert shop.sync(day, ids=[order_id], assets=orders, scope={"redrive": True}).success  # again, forced
    assert len(shop.fluent_admin.call("GET", "/events")) == 1  # Fluent has it cancelled: no second event

    # Cancelled by Fluent itself, written back to commercetools: no event goes back.
    shop.fluent_admin.call("POST", f"/orders/{other_ref}/status", {"status": "CANCELLED"})
    other = next(o for o in ct_state(shop, "orders") if o["id"] == other_id)
    writer.update("orders", other_id, other["version"], [{"action": "changeOrderState", "orderState": "Cancelled"}])
    assert shop.sync(other["createdAt"][:10], ids=[other_id], assets=orders).success
    assert len(shop.fluent_admin.call("GET", "/events")) == 1
    (row,) = ledger(shop).entries("order_cancellation", source_ids=[other_id])
    assert row.status == "synced"


# -- inventory under faults and a killed run ------------------------------------------------------------------------

# About one commercetools write in ten fails: rate limited, unavailable, a version conflict, or the connection drops
# before or after the write.
CT_WRITE_FAULTS = (
    {"match": "POST /ctfluent-demo/inventory*", "status": 429, "retry_after": 0, "every": 50},
    {"match": "POST /ctfluent-demo/inventory*", "status": 503, "every": 50, "after": 10},
    {"match": "POST /ctfluent-demo/inventory/*", "status": 409, "error_code": "ConcurrentModification", "every": 50,
     "after": 20},
    {"match": "POST /ctfluent-demo/inventory*", "drop": "before", "every": 50, "after": 30},
    {"match": "POST /ctfluent-demo/inventory*", "drop": "after", "every": 50, "after": 40},
)  # fmt: skip


@pytest.fixture
def big_stock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger_url: str) -> Iterator[Sandbox]:
    monkeypatch.setenv("CTFLUENT_INVENTORY__VIRTUAL_CATALOGUE_REF", CATALOGUE)
    with serve_sandbox(tmp_path, monkeypatch, ledger_url, customers=0, days=2, seed=6, products=120) as running:
        yield running


@pytest.mark.parametrize("processes", [1, 2], ids=["1-process", "2-processes"])
def test_faults_and_a_killed_run_end_with_every_position_exactly_once(
    big_stock: Sandbox, monkeypatch: pytest.MonkeyPatch, processes: int
) -> None:
    stock = big_stock
    if processes > 1 and stock.ledger_url.startswith("sqlite"):
        pytest.skip("a push on a SQLite ledger runs in one process (one writer at a time); see the PostgreSQL run")
    monkeypatch.setenv("CTFLUENT_PUSH_PROCESSES", str(processes))
    wanted = positions(stock)
    day = today_of(list(wanted.values()))
    assert materialize(stock, LOCATIONS, day).success
    monkeypatch.setenv("CTFLUENT_FLUENT_BATCH_SIZE", "1")  # slow enough to be killed mid-push
    # Slow enough to be killed mid-push: with two processes, while both push (the second starts in seconds).
    stock.ct_admin.add_fault(match="POST /ctfluent-demo/inventory*", latency_ms=10 * processes * processes)
    for rule in CT_WRITE_FAULTS:
        stock.ct_admin.add_fault(**rule)
    child_env = {**stock.env, "CTFLUENT_STAGING_DIR": os.environ["CTFLUENT_STAGING_DIR"],
                 "CTFLUENT_FLUENT_BATCH_SIZE": "1", "CTFLUENT_LEDGER_URL": stock.ledger_url,
                 "CTFLUENT_INVENTORY__VIRTUAL_CATALOGUE_REF": CATALOGUE}  # fmt: skip
    paths = ["/".join(key.path) for asset in assets_of(INVENTORY) for key in asset.keys]
    kill_mid_push(child_env, paths, (day, day), "inventory_entry", leased=20, processes=processes)  # while it writes

    assert materialize(stock, INVENTORY, day).success  # takes over the dead run's records, under the faults
    # Stock moves in Fluent; the changes are written under the same faults (versions read, 409s, dropped answers).
    for (sku, location), position in list(wanted.items())[::2]:
        change = {"catalogue": CATALOGUE, "productRef": sku, "groupRef": location, "quantity": position["quantity"] + 5}
        stock.fluent_admin.call("POST", "/positions", change)
    wanted = positions(stock)
    assert materialize(stock, INVENTORY, today_of(list(wanted.values()))).success
    stock.ct_admin.clear_faults()
    assert materialize(stock, INVENTORY, today_of(list(wanted.values()))).success  # out of retries: retried now
    assert ledger(stock).entries("inventory_entry", status=["failed", "waiting"]) == []
    written = ct_state(stock, "inventory")
    by_key = entries(stock)
    assert len(written) == len(by_key) == len(wanted) > 500  # exactly once per SKU and channel
    assert {key: entry["quantityOnStock"] for key, entry in by_key.items()} == {
        key: position["quantity"] for key, position in wanted.items()
    }
