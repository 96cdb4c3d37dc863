"""History before the start date: the first daily partition takes every record older than ``start_date`` (an open
lower bound), for every entity, so that nothing is silently left out of a backfill; pre-flight says how many records
that is per entity; orders from that far back are skipped by their history rules, with the reason."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ctfluent_dagster.assets import ENTITY_DEFINITIONS
from ctfluent_dagster.jobs import preflight
from ctfluent_dagster.ledger.store import Ledger
from ctfluent_dagster.partitions import daily_partitions
from ctfluent_sandbox.clock import parse_iso
from tests.harness import Sandbox
from tests.support import serve_sandbox, today

FIRST = daily_partitions.get_first_partition_key()
YEARS_BACK = timedelta(days=7 * 365)  # into 2019: years before the start date (2024-01-01 in the tests)
EVERYTHING = [a for entity in ENTITY_DEFINITIONS.values() for a in entity.assets if a.partitions_def is not None]


@pytest.fixture
def old_shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger_url: str) -> Iterator[Sandbox]:
    """A shop whose history lies years before the start date; then half of its customers, categories and products
    change today (and stay in today's partition)."""
    monkeypatch.setenv("CTFLUENT_PRODUCTS__MISSING_GTIN", "sku")  # every variant is sendable
    with serve_sandbox(tmp_path, monkeypatch, ledger_url, customers=0, days=1, seed=3) as sandbox:
        sandbox.ct.clock.advance(-YEARS_BACK.total_seconds())
        sandbox.ct.seed(customers=30, days=5, seed=3, products=8, orders=20)
        sandbox.ct.clock.reset()
        state = sandbox.ct.state()
        storefront = sandbox.storefront
        for customer in state["customers"][::2]:
            storefront.update(customer["id"], {"action": "setFirstName", "firstName": "Recent"})
        for category in state["categories"][::2]:
            storefront._apply("categories", category["id"],
                              ({"action": "changeName", "name": {"en": f"Recent {category['id'][:6]}"}},))  # fmt: skip
        for product in [p for p in state["products"] if p["masterData"]["published"]][::2]:
            storefront.rename_product(product["id"], "Recent")
            storefront.publish(product["id"])
        yield sandbox


def modified_before(records: list[dict[str, Any]], day: str) -> list[dict[str, Any]]:
    return [r for r in records if r["lastModifiedAt"][:10] < day]


def test_records_older_than_the_start_date_load_with_the_first_partition(old_shop: Sandbox) -> None:
    state = old_shop.ct.state()
    old_customers = modified_before(state["customers"], FIRST)
    old_products = modified_before([p for p in state["products"] if p["masterData"]["published"]], FIRST)
    assert 0 < len(old_customers) < len(state["customers"]) and old_products  # the seed has both kinds

    for partition in (FIRST, today(old_shop)):  # the first partition and today's: nothing in between has records
        assert old_shop.sync(partition, assets=EVERYTHING).success

    # Every record is accounted for (nothing silently left out), and what synced is in Fluent.
    ledger = Ledger(old_shop.ledger_url)
    fluent = old_shop.fluent.state()
    for entity_type, records, in_fluent in (
        ("customer", state["customers"], {c["username"] for c in fluent["customers"]}),
        ("category", state["categories"], {c["ref"] for c in fluent["categories"]}),
        ("standard_product", [p for p in state["products"] if p["masterData"]["published"]],
         {p["ref"] for p in fluent["standard_products"]}),
    ):  # fmt: skip
        entries = ledger.entries(entity_type)
        assert {e.key.source_id for e in entries} == {r["id"] for r in records}, entity_type
        synced = [e for e in entries if e.status == "synced"]
        assert synced and {e.fluent_ref for e in synced} <= in_fluent, entity_type
        assert all(e.error_message for e in entries if e.status == "skipped"), entity_type
    published = [p["masterData"]["current"] for p in state["products"] if p["masterData"]["published"]]
    skus = {v["ref"] for v in fluent["variant_products"]}
    assert {v["sku"] for p in published for v in [p["masterVariant"], *p["variants"]] if v.get("sku")} <= skus

    # Orders from years ago are read with the first partition too, and their history rules skip them, saying why.
    orders = {e.key.source_id: e for e in ledger.entries("order")}
    ledger.engine.dispose()
    assert set(orders) == {o["id"] for o in state["orders"]}
    assert {e.status for e in orders.values()} == {"skipped"}
    assert all("history is not sent" in (e.error_message or "") or "in commercetools" in (e.error_message or "")
               for e in orders.values())  # fmt: skip
    assert fluent["orders"] == []


def test_a_later_partition_takes_only_its_own_day(old_shop: Sandbox) -> None:
    """The open lower bound is the first partition's alone: any other day reads [day, day + 1)."""
    second = (parse_iso(f"{FIRST}T00:00:00Z") + timedelta(days=1)).strftime("%Y-%m-%d")
    result = old_shop.sync(second, assets=EVERYTHING)
    assert result.success
    assert old_shop.fluent.state()["customers"] == []


def test_preflight_counts_per_entity_the_records_that_load_with_the_first_partition(old_shop: Sandbox) -> None:
    state = old_shop.ct.state()
    result = preflight.execute_in_process(resources=old_shop.resources())
    (output,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    checks = {key: str(value.value) for key, value in output.step_output_data.metadata.items()}
    expected = {
        "customers": len(modified_before(state["customers"], FIRST)),
        "categories": len(modified_before(state["categories"], FIRST)),
        "orders": len([o for o in state["orders"] if o["createdAt"][:10] < FIRST]),
    }
    for entity, count in expected.items():
        detail = checks[f"history before start_date: {entity}"]
        assert detail.startswith(f"OK: {count} {entity} with ")
        assert f"before {FIRST} (start_date): they load with the first partition" in detail
