"""End to end, as a user sees it: the sandbox and Dagster (webserver + daemon) as real processes on loopback.

A backfill is launched through the webserver's GraphQL API, the messages sensor is turned on the same way,
customers are edited through the commercetools API, and the test waits until Fluent shows the change. A sibling
test drives the Dagster UI in headless Chromium and saves screenshots under ``test-artifacts/``.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from dagster import DagsterInstance
from dagster._serdes import serialize_value

from ctfluent_dagster.entities.orders.declaration import ENTITY as ORDERS
from ctfluent_dagster.entities.shared import fluent_username
from ctfluent_dagster.ledger.store import Ledger
from ctfluent_dagster.sensors.messages import SENSOR_NAME
from ctfluent_sandbox.dagster_webserver import LOCATION, REPOSITORY, recent_days
from ctfluent_sandbox.stack import LocalStack
from ctfluent_sandbox.storefront import Storefront
from tests.support import (
    ARTIFACTS,
    browser_page,
    failures_check_status,
    personal_data_found,
    scoped_run_config,
    visit,
    wait_for,
)

if TYPE_CHECKING:
    pass

pytestmark = pytest.mark.e2e
DAYS = 3
POLL_SECONDS = 10
ORDERS_CHECK_PAGE = "/assets/fluent/orders?view=checks&checkDetail=no_outstanding_failures"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    workdir = tmp_path_factory.mktemp("e2e")
    settings = {
        "CTFLUENT_MESSAGES__POLL_INTERVAL_SECONDS": "5",
        "CTFLUENT_MESSAGES__SETTLE_SECONDS": "1",
        "CTFLUENT_MESSAGES__OVERLAP_SECONDS": "30",
        "CTFLUENT_SETTINGS_FILE": str(Path(__file__).resolve().parent.parent / "ctfluent.example.yaml"),
        "FLUENT_CATALOGUE_REF": "PC:MASTER:1",  # the emulator's master catalogue (the catalogue entities need one)
        # The order status back-sync: recorded webhook events every second, Fluent polled every POLL_SECONDS.
        "CTFLUENT_ORDER_STATUS__TICK_SECONDS": "1",
        "CTFLUENT_ORDER_STATUS__POLL_INTERVAL_SECONDS": str(POLL_SECONDS),
        # The receiver launches the webhook job itself (LocalStack configures it): the sensor leaves it the events.
        "CTFLUENT_ORDER_STATUS__WEBHOOK_GRACE_SECONDS": "15",
        "CTFLUENT_FAIL_RUNS_WITH_FAILED_RECORDS": "true",  # the production default (the other tests turn it off)
    }
    with LocalStack(workdir, customers=150, products=20, orders=60, days=DAYS, extra_env=settings,
                    webhooks=True) as running:  # fmt: skip
        yield running


@dataclass(frozen=True)
class InitialLoad:
    backfill: dict[str, Any]
    seeded: list[dict[str, Any]]  # the commercetools customers when it was launched


@pytest.fixture(scope="module")
def initial_load(stack: LocalStack) -> InitialLoad:
    """The seeded history loaded by a backfill launched through the webserver (once per module; every test that
    needs loaded data or runs in the instance asks for it, whatever order the tests run in)."""
    seeded = stack.ct_admin.state()["customers"]
    backfill_id = stack.webserver.launch_backfill(recent_days(DAYS), title="e2e initial load")
    return InitialLoad(stack.webserver.finished_backfill(backfill_id, seconds=240), seeded)


@pytest.fixture(scope="module")
def sensor_running(stack: LocalStack, initial_load: InitialLoad) -> None:
    assert stack.webserver.start_sensor(SENSOR_NAME) == "RUNNING"


def fluent_customers(stack: LocalStack) -> dict[str, dict[str, Any]]:
    return {c["username"]: c for c in stack.fluent_admin.state()["customers"]}


def test_a_backfill_launched_through_the_webserver_loads_every_seeded_customer(
    stack: LocalStack, initial_load: InitialLoad
) -> None:
    backfill, seeded = initial_load.backfill, initial_load.seeded
    assert backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED"), backfill
    assert len(backfill["runs"]) == 1  # the batching backfill policy: all days in one run
    # The seed has orders of products that cannot be sent (no GTIN): they fail, and so does the run, after
    # recording everything (fail_runs_with_failed_records).
    failed_orders = Ledger(stack.ledger_url()).entries("order", status="failed")
    assert [run["status"] for run in backfill["runs"]] == ["FAILURE" if failed_orders else "SUCCESS"]
    # Every seeded customer, once per Fluent retailer of its stores (ctfluent.example.yaml: eu-store 1, us-store 2,
    # au-store 3; no mapped store: FLUENT_RETAILER_ID 1), or skipped with the mapping's reason; nothing else.
    ledger = Ledger(stack.ledger_url())
    every_entry = ledger.entries("customer")
    ledger.engine.dispose()
    entries = [e for e in every_entry if e.key.source_id in {c["id"] for c in seeded}]
    assert len(seeded) == 150 and {e.key.source_id for e in entries} == {c["id"] for c in seeded}
    store_retailer = {"eu-store": "1", "us-store": "2", "au-store": "3"}
    for customer in seeded:
        targets = {e.key.target_key for e in entries if e.key.source_id == customer["id"]}
        expected = {store_retailer[s["key"]] for s in customer.get("stores", [])} or {"1"}
        assert targets in (expected, {""}), customer["id"]  # "": not mappable at all, one skip
    assert {e.status for e in entries} <= {"synced", "skipped"}
    assert all(e.error_message for e in entries if e.status == "skipped")
    synced = [e for e in entries if e.status == "synced"]
    assert len(synced) > len(seeded)  # customers in several stores reached several retailers
    in_fluent = fluent_customers(stack)
    pushed = {e.fluent_ref for e in every_entry if e.status == "synced"}
    assert pushed <= set(in_fluent)
    # The other Fluent customers were created with an order (guests, customers at order time): nothing else.
    with_orders = {order["customer"] for order in stack.fluent_admin.state()["orders"]}
    assert all(customer["id"] in with_orders for name, customer in in_fluent.items() if name not in pushed)


def test_the_same_backfill_loads_the_catalogue_in_dependency_order(
    stack: LocalStack, initial_load: InitialLoad
) -> None:
    ledger = Ledger(stack.ledger_url())
    try:
        by_type = {t: ledger.status_counts(t) for t in ("category", "standard_product", "variant_product")}
    finally:
        ledger.engine.dispose()
    fluent = stack.fluent_admin.state()
    ct = stack.ct_admin.state()
    assert len(fluent["categories"]) == len(ct["categories"]) == by_type["category"]["synced"] > 0
    assert len(fluent["standard_products"]) == by_type["standard_product"]["synced"] > 0
    assert len(fluent["variant_products"]) == by_type["variant_product"]["synced"] > 0
    # Nothing failed, nothing left waiting: parents before children, categories before products, in one run.
    assert not any(counts.get("failed") or counts.get("waiting") for counts in by_type.values()), by_type


def test_the_same_backfill_loads_orders_and_their_transactions(stack: LocalStack, initial_load: InitialLoad) -> None:
    ledger = Ledger(stack.ledger_url())
    try:
        orders, transactions = ledger.entries("order"), ledger.entries("financial_transaction")
    finally:
        ledger.engine.dispose()
    ct, fluent = stack.ct_admin.state(), stack.fluent_admin.state()
    # Every seeded order is accounted for: in Fluent, or skipped, failed or waiting with its reason.
    assert {e.key.source_id for e in orders} == {o["id"] for o in ct["orders"]} and len(ct["orders"]) == 60
    assert {e.status for e in orders} <= {"synced", "skipped", "failed", "waiting"}
    assert all(e.error_message for e in orders if e.status != "synced")
    synced = {e.fluent_ref for e in orders if e.status == "synced"}
    assert {o["ref"] for o in fluent["orders"]} == synced and len(synced) > 20
    sent = [e for e in transactions if e.status == "synced"]
    assert len(fluent["financial_transactions"]) == len(sent) > 10


def test_a_failed_order_shows_in_its_check_and_a_redrive_through_the_webserver_sends_it(
    stack: LocalStack, sensor_running: None
) -> None:
    ledger = Ledger(stack.ledger_url())
    sku = next(e.fluent_ref for e in ledger.entries("variant_product", status="synced"))
    stack.fluent_admin.add_fault(match="createOrder", error_code="C0141E", times=50)  # Fluent refuses new orders
    address = {"country": "DE", "firstName": "Rita", "lastName": "Redrive", "streetName": "Ring", "streetNumber": "2",
               "postalCode": "10115", "city": "Berlin"}  # fmt: skip
    draft = {"currency": "EUR", "orderNumber": "E2E-REDRIVE-1", "customerEmail": "redrive.case@example.com",
             "store": {"typeId": "store", "key": "eu-store"}, "shippingAddress": address,
             "lineItems": [{"sku": sku, "quantity": 2}]}  # fmt: skip
    order = stack.ct_admin.call("POST", "/checkout", draft)

    def recorded(status: str) -> bool:
        return any(e.status == status for e in ledger.entries("order", source_ids=[order["id"]]))

    wait_for("the sensor's run to record the failed order", lambda: recorded("failed"), seconds=120, every=2)
    # The check runs last in that run, after the ledger has recorded the failure.
    wait_for("the orders' check to fail", lambda: failures_check_status(stack, "orders") == "FAILED", seconds=60)
    with browser_page() as page:
        checks = visit(stack, page, ORDERS_CHECK_PAGE, ["outstanding_failures", "E2E-REDRIVE-1"],
                       "failed-order-check.png")  # fmt: skip
    assert "C0141E" in checks and "redrive.case@example.com" not in checks

    stack.fluent_admin.clear_faults()
    run_config = scoped_run_config(ORDERS, redrive=True, ids=[order["id"]], trigger="e2e re-drive")
    run_id = stack.webserver.launch_run(ORDERS.redrive_job, recent_days(1)[-1], run_config)
    assert stack.webserver.finished_run(run_id)["status"] == "SUCCESS"
    assert recorded("synced")
    (in_fluent,) = [o for o in stack.fluent_admin.state()["orders"] if o["ref"] == "E2E-REDRIVE-1"]
    assert [(i["productRef"], i["quantity"]) for i in in_fluent["items"]] == [(sku, 2)]
    ledger.engine.dispose()


@pytest.fixture(scope="module")
def back_sync_running(stack: LocalStack, initial_load: InitialLoad) -> None:
    assert stack.webserver.start_sensor("fluent_order_status_sensor") == "RUNNING"


def open_orders_in_fluent(stack: LocalStack, count: int) -> list[tuple[str, str]]:
    """(commercetools id, Fluent ref) of orders in Fluent and not complete in commercetools."""
    ledger = Ledger(stack.ledger_url())
    try:
        synced = [(e.key.source_id, e.fluent_ref or "") for e in ledger.entries("order", status="synced")]
    finally:
        ledger.engine.dispose()
    states = {o["id"]: o["orderState"] for o in stack.ct_admin.state()["orders"]}
    return [(order_id, ref) for order_id, ref in synced if states[order_id] in ("Open", "Confirmed")][:count]


def seconds_until_complete(stack: LocalStack, order_id: str, ref: str, limit: float) -> float:
    storefront = Storefront(stack.env)
    started = time.monotonic()
    stack.fluent_admin.call("POST", f"/orders/{ref}/status", {"status": "COMPLETE"})  # as Fluent's workflow would
    wait_for(
        "the order to be Complete in commercetools",
        lambda: storefront.order(order_id)["orderState"] == "Complete",
        seconds=limit,
        every=0.1,
    )
    return time.monotonic() - started


def receiver_counters(stack: LocalStack) -> dict[str, int]:
    counters: dict[str, int] = requests.get(f"{stack.webhooks_url}/health", timeout=5).json()["counters"]
    return counters


def test_a_completion_in_fluent_reaches_commercetools_in_seconds_by_webhook_and_by_polling_alone(
    stack: LocalStack, back_sync_running: None
) -> None:
    *by_webhook_orders, (by_poll_id, by_poll_ref) = open_orders_in_fluent(stack, 4)
    before = receiver_counters(stack)
    webhook_times = sorted(
        seconds_until_complete(stack, order_id, ref, limit=60) for order_id, ref in by_webhook_orders
    )
    after = receiver_counters(stack)
    assert after["accepted"] >= before["accepted"] + 3  # they came through the webhook receiver
    # ... which launched the webhook job through Dagster's GraphQL client for each, at once
    assert after["jobs_launched"] >= before["jobs_launched"] + 3 and after["job_launches_failed"] == 0
    by_webhook = webhook_times[1]  # the median of three

    stack.fluent_admin.call("PUT", "/webhooks", {"url": None})  # polling alone
    try:
        by_poll = seconds_until_complete(stack, by_poll_id, by_poll_ref, limit=POLL_SECONDS + 60)
    finally:
        stack.fluent_admin.call("PUT", "/webhooks", {"url": f"{stack.webhooks_url}/fluent/webhooks"})
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "back-sync-latency.txt").write_text(
        f"completion in Fluent -> Complete in commercetools: webhook {', '.join(f'{t:.1f}' for t in webhook_times)} s "
        f"(median {by_webhook:.1f} s), polling alone {by_poll:.1f} s (poll interval {POLL_SECONDS} s)\n"
    )
    # The aim is 5 s (4.4 s measured on this 2-core machine when idle); the test allows a busy machine 1 s more,
    # so that it does not flake: the figures are in the artifact and the README.
    assert by_webhook <= 6.0 and webhook_times[-1] <= 10.0, f"{webhook_times} s by webhook"
    assert by_poll <= POLL_SECONDS + 15, f"{by_poll:.1f} s by polling"


def test_the_receiver_rejects_unsigned_forged_and_modified_events_and_ignores_replays(
    stack: LocalStack, back_sync_running: None
) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    url = f"{stack.webhooks_url}/fluent/webhooks"
    before = receiver_counters(stack)
    event = {"id": "e2e-replayed-1", "name": "OrderStatus", "accountId": "CTFLUENT", "retailerId": "1",
             "entityType": "ORDER", "entityId": "0", "entityRef": "NO-SUCH-ORDER",
             "entityStatus": "BOOKED"}  # fmt: skip
    for _ in range(2):  # Fluent resends an event whose answer it did not get: the second is a replay
        stack.fluent_admin.call("POST", "/webhooks/send", event)
    body = json.dumps({**event, "id": "e2e-forged-1"}).encode()
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = base64.b64encode(forger.sign(body, padding.PKCS1v15(), hashes.SHA512())).decode()
    assert requests.post(url, data=body, headers={"fluent-signature": forged}, timeout=5).status_code == 401
    assert requests.post(url, data=body, timeout=5).status_code == 401  # unsigned
    stack.fluent_admin.call("PUT", "/webhooks", {"bad_signature": True})  # signed, but over other bytes
    try:
        stack.fluent_admin.call("POST", "/webhooks/send", {**event, "id": "e2e-modified-1"})
        wait_for(
            "the modified event's rejection",
            lambda: receiver_counters(stack)["rejected_forged"] >= before["rejected_forged"] + 2,
            seconds=30,
        )
    finally:
        stack.fluent_admin.call("PUT", "/webhooks", {"bad_signature": False})
    wait_for("the replay", lambda: receiver_counters(stack)["duplicates"] >= before["duplicates"] + 1, seconds=30)
    after = receiver_counters(stack)
    assert after["rejected_unsigned"] == before["rejected_unsigned"] + 1
    assert after["rejected_forged"] == before["rejected_forged"] + 2  # the forged one and the modified one
    assert after["accepted"] == before["accepted"] + 1  # the replayed event, once


def test_the_sensor_brings_storefront_edits_to_fluent(stack: LocalStack, sensor_running: None) -> None:
    storefront = Storefront(stack.env)
    renamed, moved = [c for c in storefront.customers() if not c.get("stores")][:2]
    storefront.update(renamed["id"], {"action": "setFirstName", "firstName": "Sensorfield"})
    storefront.update(moved["id"], {"action": "changeEmail", "email": "Moved.By.Sensor@Example.org"})

    def arrived() -> bool:
        in_fluent = fluent_customers(stack)
        first = in_fluent.get(fluent_username("1", renamed["email"]), {})
        second = in_fluent.get(fluent_username("1", moved["email"]), {})
        return first.get("firstName") == "Sensorfield" and second.get("primaryEmail") == "Moved.By.Sensor@Example.org"

    wait_for("the edits in Fluent", arrived, seconds=120)


def test_the_ui_shows_lineage_and_a_failed_check(stack: LocalStack, sensor_running: None) -> None:
    # Fluent refuses every new customer for a while: the next delta run records a failure.
    stack.fluent_admin.add_fault(match="createCustomer", error_code="C0141E", times=50)
    Storefront(stack.env).create("ui.failure.case@example.com")
    wait_for("the failures check to fail", lambda: failures_check_status(stack) == "FAILED", seconds=120, every=2)
    stack.fluent_admin.clear_faults()

    with browser_page() as page:
        # The customers group's lineage (the global one shows each entity's group collapsed).
        group = f"/locations/{REPOSITORY}@{LOCATION}/asset-groups/customers"
        lineage = visit(stack, page, group, ["0 / 2 Passed", "commercetools"], "lineage.png")
        catalogue = visit(
            stack, page, f"/locations/{REPOSITORY}@{LOCATION}/asset-groups/products",
            ["standard_products", "variant_products"], "lineage-catalogue.png",
        )  # fmt: skip
        checks = visit(
            stack, page, "/assets/fluent/customers?view=checks&checkDetail=no_outstanding_failures",
            ["outstanding_failures", "u***@e***.com"],
            "failed-check.png",
        )  # fmt: skip
    # Both customer assets with their kinds, and the Fluent one's check failing.
    assert lineage.count("customers") >= 2 and "commercetools" in lineage and "fluent" in lineage
    assert "0 / 2 Passed" in lineage  # both checks of fluent/customers fail: the failure, and the run it failed
    # The catalogue: the commercetools products feed the standard and the variant products, categories upstream.
    assert "standard_products" in catalogue and "variant_products" in catalogue and "categories" in catalogue
    assert "no_outstanding_failures" in checks and "Failed" in checks
    assert "u***@e***.com" in checks and "C0141E" in checks  # the failed push: masked record and Fluent code


def test_no_secret_and_no_raw_personal_data_in_the_instance_logs(stack: LocalStack, initial_load: InitialLoad) -> None:
    secrets = [
        stack.env[name]
        for name in ("CTP_CLIENT_SECRET", "CTP_WRITE_CLIENT_SECRET", "FLUENT_CLIENT_SECRET", "FLUENT_PASSWORD")
    ]
    texts = []
    with DagsterInstance.from_config(str(stack.home)) as instance:
        runs = instance.get_runs()
        assert runs, "the initial load launched runs"
        for run in runs:
            texts.append(json.dumps(run.run_config) + json.dumps(dict(run.tags)))
            texts += [serialize_value(entry) for entry in instance.all_logs(run.run_id)]
    # Captured stdout/stderr of every step and tick (what the UI shows as raw logs).
    texts += [path.read_text(errors="replace") for path in (stack.home / "storage").rglob("*") if path.is_file()]
    everything = "\n".join(texts)
    assert [s for s in secrets if s in everything] == []
    storefront = Storefront(stack.env)
    leaks = personal_data_found(everything, storefront.customers(limit=200))
    assert leaks == [], leaks[:5]


def test_dagster_prints_no_supersession_beta_or_preview_warning(stack: LocalStack, initial_load: InitialLoad) -> None:
    """`dg dev` and what it starts (webserver, daemon, code server, runs) print to the stack's log; each step's and
    tick's output is captured under the instance's storage. None of it warns about an API the code uses."""
    log = (stack.logs / "dagster.log").read_text(errors="replace")
    assert "Serving dagster-webserver" in log  # the log of this stack's Dagster, up and serving
    captured = [path.read_text(errors="replace") for path in (stack.home / "storage").rglob("*") if path.is_file()]
    warning = re.compile(r"(Supersession|Beta|Preview|Deprecation)Warning|is superseded|environment does not match")
    flagged = [line for text in [log, *captured] for line in text.splitlines() if warning.search(line)]
    assert flagged == []
