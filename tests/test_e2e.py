"""End to end, as a user sees it: the sandbox and Dagster (webserver + daemon) as real processes on loopback.

A backfill is launched through the webserver's GraphQL API, the messages sensor is turned on the same way,
customers are edited through the commercetools API, and the test waits until Fluent shows the change. A sibling
test drives the Dagster UI in headless Chromium and saves screenshots under ``test-artifacts/``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from dagster import DagsterInstance
from dagster._serdes import serialize_value

from ctfluent_dagster.entities.customers.mapping import fluent_username
from ctfluent_dagster.ledger.store import Ledger
from ctfluent_dagster.sensors.messages import SENSOR_NAME
from ctfluent_sandbox.dagster_webserver import LOCATION, REPOSITORY, recent_days
from ctfluent_sandbox.stack import LocalStack
from ctfluent_sandbox.storefront import Storefront
from tests.support import personal_data_found

pytestmark = pytest.mark.e2e
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
DAYS = 3
T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], seconds: float = 120.0, every: float = 1.0) -> T:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    workdir = tmp_path_factory.mktemp("e2e")
    settings = {
        "CTFLUENT_MESSAGES__POLL_INTERVAL_SECONDS": "5",
        "CTFLUENT_MESSAGES__SETTLE_SECONDS": "1",
        "CTFLUENT_MESSAGES__OVERLAP_SECONDS": "30",
        "CTFLUENT_SETTINGS_FILE": str(Path(__file__).resolve().parent.parent / "ctfluent.example.yaml"),
        "FLUENT_CATALOGUE_REF": "PC:MASTER:1",  # the emulator's master catalogue (the catalogue entities need one)
    }
    with LocalStack(workdir, customers=150, products=20, days=DAYS, extra_env=settings) as running:
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

    def finished() -> dict[str, Any] | None:
        backfill = stack.webserver.backfill(backfill_id)
        return backfill if backfill.get("status") in ("COMPLETED", "COMPLETED_SUCCESS", "FAILED", "CANCELED") else None

    return InitialLoad(wait_for("the backfill", finished, seconds=240, every=2), seeded)


@pytest.fixture(scope="module")
def sensor_running(stack: LocalStack, initial_load: InitialLoad) -> None:
    assert stack.webserver.start_sensor(SENSOR_NAME) == "RUNNING"


def fluent_customers(stack: LocalStack) -> dict[str, dict[str, Any]]:
    return {c["username"]: c for c in stack.fluent_admin.state()["customers"]}


def test_a_backfill_launched_through_the_webserver_loads_every_seeded_customer(
    stack: LocalStack, initial_load: InitialLoad
) -> None:
    backfill, seeded = initial_load.backfill, initial_load.seeded
    assert backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), backfill
    assert len(backfill["runs"]) == 1  # the batching backfill policy: all days in one run
    assert all(run["status"] == "SUCCESS" for run in backfill["runs"])
    # Every seeded customer, once per Fluent retailer of its stores (ctfluent.example.yaml: eu-store 1, us-store 2,
    # au-store 3; no mapped store: FLUENT_RETAILER_ID 1), or skipped with the mapping's reason; nothing else.
    ledger = Ledger(f"sqlite:///{stack.workdir / 'ledger.sqlite'}")
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
    assert {e.fluent_ref for e in every_entry if e.status == "synced"} == set(fluent_customers(stack))


def test_the_same_backfill_loads_the_catalogue_in_dependency_order(
    stack: LocalStack, initial_load: InitialLoad
) -> None:
    ledger = Ledger(f"sqlite:///{stack.workdir / 'ledger.sqlite'}")
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


_CHECK = """{ assetNodeOrError(assetKey: {path: ["fluent", "customers"]}) { ... on AssetNode {
  assetChecksOrError { ... on AssetChecks { checks { name executionForLatestMaterialization {
    status evaluation { success } } } } } } } }"""


def failures_check_status(stack: LocalStack) -> str | None:
    """PASSED, FAILED, or None while the check has not been evaluated."""
    (check,) = stack.webserver.query(_CHECK)["assetNodeOrError"]["assetChecksOrError"]["checks"]
    execution = check["executionForLatestMaterialization"]
    if not execution or not execution["evaluation"]:
        return None
    return "PASSED" if execution["evaluation"]["success"] else "FAILED"


def test_the_ui_shows_lineage_and_a_failed_check(stack: LocalStack, sensor_running: None) -> None:
    from playwright.sync_api import Page, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    # Fluent refuses every new customer for a while: the next delta run records a failure.
    stack.fluent_admin.add_fault(match="createCustomer", error_code="C0141E", times=50)
    Storefront(stack.env).create("ui.failure.case@example.com")
    wait_for("the failures check to fail", lambda: failures_check_status(stack) == "FAILED", seconds=120, every=2)
    stack.fluent_admin.clear_faults()

    def visit(page: Page, path: str, expected: list[str], screenshot: str) -> str:
        """Open a page and wait until every expected text has rendered (the UI loads its parts asynchronously)."""
        page.goto(f"{stack.webserver_url}{path}", wait_until="networkidle")
        skip = page.get_by_role("button", name="Skip")  # the first-visit "join the community" dialog
        if skip.count():
            skip.click()
        try:
            for text in expected:
                page.get_by_text(text).first.wait_for(timeout=60_000)
        finally:  # what the page showed, also when an expected text never appeared
            page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
            (ARTIFACTS / screenshot).with_suffix(".txt").write_text(page.inner_text("body"))
        return page.inner_text("body")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )  # fmt: skip
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        # The customers group's lineage (the global one shows each entity's group collapsed).
        group = f"/locations/{REPOSITORY}@{LOCATION}/asset-groups/customers"
        lineage = visit(page, group, ["0 / 1 Passed", "commercetools"], "lineage.png")
        catalogue = visit(
            page, f"/locations/{REPOSITORY}@{LOCATION}/asset-groups/products",
            ["standard_products", "variant_products"], "lineage-catalogue.png",
        )  # fmt: skip
        checks = visit(
            page, "/assets/fluent/customers?view=checks", ["outstanding_failures", "u***@e***.com"], "failed-check.png"
        )
        browser.close()
    # Both customer assets with their kinds, and the Fluent one's check failing.
    assert lineage.count("customers") >= 2 and "commercetools" in lineage and "fluent" in lineage
    assert "0 / 1 Passed" in lineage
    # The catalogue: the commercetools products feed the standard and the variant products, categories upstream.
    assert "standard_products" in catalogue and "variant_products" in catalogue and "categories" in catalogue
    assert "no_outstanding_failures" in checks and "Failed" in checks
    assert "u***@e***.com" in checks and "C0141E" in checks  # the failed push: masked record and Fluent code


def test_no_secret_and_no_raw_personal_data_in_the_instance_logs(stack: LocalStack, initial_load: InitialLoad) -> None:
    secrets = [stack.env[name] for name in ("CTP_CLIENT_SECRET", "FLUENT_CLIENT_SECRET", "FLUENT_PASSWORD")]
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
