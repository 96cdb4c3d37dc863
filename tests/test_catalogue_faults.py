"""The catalogue sync under injected Fluent faults, with a run killed mid-push and re-run at once: every published
product and variant ends in Fluent exactly once with its prices and category links, and the re-run takes over the
dead run's records at once instead of waiting for their leases."""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, materialize

from ctfluent_dagster.assets import ENTITY_DEFINITIONS
from ctfluent_dagster.ledger.store import Ledger
from tests.harness import RANGE_END, RANGE_START, Sandbox
from tests.sandbox.catalogue_fixtures import selected_prices
from tests.support import kill_mid_push, serve_sandbox

CATALOGUE_ASSETS = [*ENTITY_DEFINITIONS["categories"].assets, *ENTITY_DEFINITIONS["products"].assets]
# About one Fluent request in ten fails: rate limited, unavailable, or the connection drops before or after the write.
FAULTS = (
    {"match": "POST /graphql", "status": 429, "retry_after": 0, "every": 40},
    {"match": "POST /graphql", "status": 503, "every": 40, "after": 10},
    {"match": "POST /graphql", "drop": "before", "every": 40, "after": 20},
    {"match": "POST /graphql", "drop": "after", "every": 40, "after": 30},
)


@pytest.fixture
def catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger_url: str) -> Iterator[Sandbox]:
    with serve_sandbox(tmp_path, monkeypatch, ledger_url, customers=0, days=5, seed=3, products=150) as running:
        yield running


def days(sandbox: Sandbox) -> tuple[str, str]:
    found = sorted({r["lastModifiedAt"][:10] for kind in ("categories", "products") for r in sandbox.ct.state()[kind]})
    return found[0], found[-1]


def run_catalogue(sandbox: Sandbox, instance: DagsterInstance | None = None) -> Any:
    first, last = days(sandbox)
    return materialize(CATALOGUE_ASSETS, resources=sandbox.resources(), instance=instance,
                       tags={RANGE_START: first, RANGE_END: last})  # fmt: skip


@pytest.mark.parametrize("processes", [1, 2], ids=["1-process", "2-processes"])
def test_faults_and_a_killed_run_end_with_every_product_exactly_once(
    catalogue: Sandbox, monkeypatch: pytest.MonkeyPatch, processes: int
) -> None:
    if processes > 1 and catalogue.ledger_url.startswith("sqlite"):
        pytest.skip("a push on a SQLite ledger runs in one process (one writer at a time); see the PostgreSQL run")
    monkeypatch.setenv("CTFLUENT_FLUENT_BATCH_SIZE", "1")  # slow enough to be killed mid-push
    monkeypatch.setenv("CTFLUENT_PUSH_PROCESSES", str(processes))
    # Slow enough to be killed mid-push: with two processes, while both push (the second starts in seconds).
    catalogue.fluent_admin.add_fault(match="POST /graphql", latency_ms=15 * processes * processes)
    for rule in FAULTS:
        catalogue.fluent_admin.add_fault(**rule)
    first, last = days(catalogue)
    child_env = {**catalogue.env, "CTFLUENT_STAGING_DIR": os.environ["CTFLUENT_STAGING_DIR"],
                 "CTFLUENT_FLUENT_BATCH_SIZE": "1", "CTFLUENT_LEDGER_URL": catalogue.ledger_url}  # fmt: skip
    paths = ["/".join(key.path) for a in CATALOGUE_ASSETS for key in a.keys]
    # Killed while it pushes variants, in every process it pushes them in.
    kill_mid_push(child_env, paths, (first, last), "variant_product", leased=20, processes=processes)

    instance = DagsterInstance.ephemeral()
    result = run_catalogue(catalogue, instance)
    assert result.success
    variants = result.asset_materializations_for_node("fluent__variant_products")
    assert variants and {m.metadata["push_processes"].value for m in variants} == {processes}
    messages = [e.message for e in instance.all_logs(result.run_id) if e.message]
    assert any("took over" in m and "no longer running" in m for m in messages)
    assert not any("being synced by other run" in m for m in messages)  # no wait for the dead run's leases

    catalogue.fluent_admin.clear_faults()
    # Records whose retries ran out under the faults are failed and re-driven; then everything is in Fluent.
    assert run_catalogue(catalogue).success
    store = Ledger(catalogue.ledger_url)
    for entity_type in ("category", "standard_product", "variant_product"):
        assert store.entries(entity_type, status="failed") == []

    state = catalogue.fluent.state()
    variants = state["variant_products"]
    by_sku = {v["ref"]: v for v in variants}
    assert len(by_sku) == len(variants)  # exactly once
    assert len({s["ref"] for s in state["standard_products"]}) == len(state["standard_products"])
    categories = {c["id"]: c.get("key") or c["id"] for c in catalogue.ct.state()["categories"]}
    expected = 0
    for product in catalogue.ct.state()["products"]:
        if not product["masterData"]["published"]:
            continue
        current = product["masterData"]["current"]
        for variant in [current["masterVariant"], *current["variants"]]:
            sku = variant.get("sku")
            if sku not in by_sku:
                continue
            expected += 1
            assert sorted(by_sku[sku]["categories"]) == sorted(categories[c["id"]] for c in current["categories"])
            prices = {p["currency"]: Decimal(str(p["value"])) for p in by_sku[sku]["prices"]}
            assert prices == selected_prices(variant.get("prices", []))
    synced = {e.fluent_ref for e in store.entries("variant_product", status="synced")}
    assert expected == len(by_sku) == len(synced) > 100
