"""Catalogue sync end to end against the sandbox: categories, standard and variant products, in dependency order,
with waits, deactivation and reactivation, and the hard cases of the seed."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetsDefinition, ExecuteInProcessResult

from ctfluent_dagster.assets import ENTITY_DEFINITIONS
from ctfluent_dagster.ledger.store import Ledger
from tests.harness import Sandbox

CATEGORY_ASSETS: list[AssetsDefinition] = ENTITY_DEFINITIONS["categories"].assets
PRODUCT_ASSETS: list[AssetsDefinition] = ENTITY_DEFINITIONS["products"].assets


def all_days(sandbox: Sandbox) -> tuple[str, str]:
    days = sorted({r["lastModifiedAt"][:10] for kind in ("categories", "products") for r in sandbox.ct.state()[kind]})
    return days[0], days[-1]


def sync_catalogue(sandbox: Sandbox, **kwargs: Any) -> ExecuteInProcessResult:
    return sandbox.sync(all_days(sandbox), assets=[*CATEGORY_ASSETS, *PRODUCT_ASSETS], **kwargs)


def ledger(sandbox: Sandbox) -> Ledger:
    store = Ledger(sandbox.ledger_url)
    store.migrate()
    return store


def published(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [p for p in sandbox.ct.state()["products"] if p["masterData"]["published"]]


def variants_of(product: dict[str, Any]) -> list[dict[str, Any]]:
    current = product["masterData"]["current"]
    return [current["masterVariant"], *current["variants"]]


def has_gtin(variant: dict[str, Any]) -> bool:
    return any(a["name"] == "gtin" and a["value"] for a in variant.get("attributes", []))


def fluent_table(sandbox: Sandbox, name: str) -> dict[str, dict[str, Any]]:
    rows = sandbox.fluent.state()[name]
    by_ref = {row["ref"]: row for row in rows}
    assert len(by_ref) == len(rows), f"duplicate refs in Fluent {name}"
    return by_ref


def list_prices(variant: dict[str, Any]) -> dict[str, Decimal]:
    found: dict[str, Decimal] = {}
    for price in variant.get("prices", []):
        if not any(price.get(s) for s in ("country", "channel", "customerGroup", "validFrom", "validUntil")):
            value = price["value"]
            found.setdefault(value["currencyCode"], Decimal(value["centAmount"]).scaleb(-value["fractionDigits"]))
    return found


def test_a_backfill_loads_categories_then_products_exactly_once_with_prices_and_links(catalogue: Sandbox) -> None:
    result = sync_catalogue(catalogue)
    assert result.success

    categories = fluent_table(catalogue, "categories")
    ct_categories = catalogue.ct.state()["categories"]
    assert len(categories) == len(ct_categories)  # every category, keyless ones by id
    by_id = {c["id"]: c for c in ct_categories}
    for category in ct_categories:
        ref = category.get("key") or category["id"]
        parent = category.get("parent")
        expected_parent = (by_id[parent["id"]].get("key") or parent["id"]) if parent else None
        assert (categories[ref].get("parentCategory") or None) == expected_parent

    standards = fluent_table(catalogue, "standard_products")
    variants = fluent_table(catalogue, "variant_products")
    products = published(catalogue)
    pushed_variants = 0
    for product in products:
        current = product["masterData"]["current"]
        category_refs = sorted(by_id[c["id"]].get("key") or c["id"] for c in current["categories"])
        for variant in variants_of(product):
            if not variant.get("sku") or not has_gtin(variant) or not has_gtin(variants_of(product)[0]):
                assert variant.get("sku") not in variants
                continue
            pushed_variants += 1
            fluent_variant = variants[variant["sku"]]
            assert {(p["currency"], Decimal(str(p["value"]))) for p in fluent_variant["prices"]} == set(
                list_prices(variant).items()
            )
            assert sorted(fluent_variant["categories"]) == category_refs
            assert fluent_variant["product"] in standards
    assert len(variants) == pushed_variants > 0
    # Unpublished products are not in Fluent.
    unpublished_skus = {v.get("sku") for p in catalogue.ct.state()["products"] if not p["masterData"]["published"]
                        for v in variants_of(p)} - {None}  # fmt: skip
    assert not unpublished_skus & set(variants)

    # Nothing failed; every record is synced, skipped with a reason, or waiting for something named.
    store = ledger(catalogue)
    for entity_type in ("category", "standard_product", "variant_product"):
        assert store.entries(entity_type, status="failed") == []
        for entry in store.entries(entity_type, status=["skipped", "waiting"]):
            assert entry.error_message
    assert all(check.passed for check in result.get_asset_check_evaluations())


def test_a_rerun_with_nothing_changed_sends_nothing(catalogue: Sandbox) -> None:
    assert sync_catalogue(catalogue).success
    catalogue.fluent_admin.clear_request_counts()
    again = sync_catalogue(catalogue)
    assert again.success
    counts = catalogue.fluent_admin.request_counts()["by_target"]
    assert not [name for name in counts if name.startswith(("create", "update", "remove"))]


def test_hard_cases_are_recorded_not_dropped(catalogue: Sandbox) -> None:
    assert sync_catalogue(catalogue).success
    store = ledger(catalogue)
    standards = fluent_table(catalogue, "standard_products")
    products = published(catalogue)
    keyless = [p for p in products if not p.get("key")]
    assert keyless and all(p["id"] in standards for p in keyless if has_gtin(variants_of(p)[0]))
    colliding = [p for p in products if p.get("key") in {v.get("sku") for v in variants_of(p)}]
    assert colliding
    for product in colliding:  # the variant keeps its SKU, the standard product takes the suffixed key
        assert f"{product['key']}-product" in standards
    skipped = store.entries("variant_product", status="skipped")
    reasons = " | ".join(entry.error_message or "" for entry in skipped)
    assert "has no SKU" in reasons and "has no gtin" in reasons


def test_products_before_categories_wait_then_follow(catalogue: Sandbox) -> None:
    result = catalogue.sync(all_days(catalogue), assets=PRODUCT_ASSETS)
    assert result.success
    store = ledger(catalogue)
    waiting = store.entries("standard_product", status="waiting")
    assert waiting and all("waiting for category" in (e.error_message or "") for e in waiting)
    assert all(e.waiting_for for e in waiting)
    assert fluent_table(catalogue, "standard_products") == {} or all(
        not p.get("categories") for p in fluent_table(catalogue, "standard_products").values()
    )
    assert all(check.passed for check in result.get_asset_check_evaluations())  # waiting is not failing

    # The categories arrive; the waiting products are pushed by the next product run's sweep.
    assert catalogue.sync(all_days(catalogue), assets=CATEGORY_ASSETS).success
    assert catalogue.sync(all_days(catalogue)[1], assets=PRODUCT_ASSETS).success
    assert store.entries("standard_product", status="waiting") == []
    assert store.entries("variant_product", status="waiting") == []


def test_unpublish_deactivates_and_publishing_again_reactivates(catalogue: Sandbox) -> None:
    assert sync_catalogue(catalogue).success
    product = next(p for p in published(catalogue) if p.get("key") and has_gtin(variants_of(p)[0]))
    skus = [v["sku"] for v in variants_of(product) if v.get("sku") and has_gtin(v)]
    today = catalogue.storefront.product_action(product["id"], {"action": "unpublish"})["lastModifiedAt"][:10]

    def delta() -> None:
        assert catalogue.sync(today, ids=[product["id"]], assets=PRODUCT_ASSETS).success

    delta()
    standards, variants = fluent_table(catalogue, "standard_products"), fluent_table(catalogue, "variant_products")
    assert standards[product["key"]]["status"] == "INACTIVE"
    assert {variants[sku]["status"] for sku in skus} == {"INACTIVE"}

    catalogue.storefront.product_action(product["id"], {"action": "publish"})
    delta()
    standards, variants = fluent_table(catalogue, "standard_products"), fluent_table(catalogue, "variant_products")
    assert standards[product["key"]]["status"] == "ACTIVE"
    assert {variants[sku]["status"] for sku in skus} == {"ACTIVE"}


def test_a_removed_variant_becomes_inactive(catalogue: Sandbox) -> None:
    assert sync_catalogue(catalogue).success
    product = next(
        p for p in published(catalogue)
        if len([v for v in variants_of(p) if v.get("sku") and has_gtin(v)]) >= 2 and p.get("key")
    )  # fmt: skip
    removed = next(v for v in variants_of(product)[1:] if v.get("sku") and has_gtin(v))
    catalogue.storefront.product_action(
        product["id"], {"action": "removeVariant", "id": removed["id"], "staged": False}
    )
    day = next(p for p in catalogue.ct.state()["products"] if p["id"] == product["id"])["lastModifiedAt"][:10]
    assert catalogue.sync(day, ids=[product["id"]], assets=PRODUCT_ASSETS).success
    variants = fluent_table(catalogue, "variant_products")
    assert variants[removed["sku"]]["status"] == "INACTIVE"
    kept = [v["sku"] for v in variants_of(product) if v.get("sku") and has_gtin(v) and v["id"] != removed["id"]]
    assert all(variants[sku]["status"] != "INACTIVE" for sku in kept)


def test_the_cli_materializes_one_day_of_everything_in_dependency_order(catalogue: Sandbox, tmp_path: Path) -> None:
    """`dg launch --assets '+kind:fluent' --partition <day>` in the repository, as the README says: every Fluent
    asset and what it reads (all of them; `'*'` would select the same, but makes Dagster 1.13's own selection parser
    emit a BetaWarning)."""
    day = all_days(catalogue)[0]  # the day the category tree was created, with products and customers too
    env = {**os.environ, **catalogue.env, "DAGSTER_HOME": str(tmp_path / "dagster_home"),
           "CTFLUENT_LEDGER_URL": catalogue.ledger_url, "VIRTUAL_ENV": sys.prefix}  # fmt: skip
    (tmp_path / "dagster_home").mkdir()
    (tmp_path / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")  # no first-use notice
    dg = Path(sys.executable).with_name("dg")
    completed = subprocess.run(
        [str(dg), "launch", "--assets", "+kind:fluent", "--partition", day],
        cwd=Path(__file__).resolve().parent.parent, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "RUN_SUCCESS" in completed.stderr + completed.stdout
    assert "Warning" not in completed.stderr + completed.stdout  # no supersession, beta or environment warning
    ct_state = catalogue.ct.state()
    on_day = [c for c in ct_state["categories"] if c["lastModifiedAt"].startswith(day)]
    assert on_day and len(fluent_table(catalogue, "categories")) == len(on_day)
    skus = {v["sku"] for p in published(catalogue) if p["lastModifiedAt"].startswith(day)
            and has_gtin(variants_of(p)[0])  # else the standard product, and so its variants, are skipped
            for v in variants_of(p) if v.get("sku") and has_gtin(v)}  # fmt: skip
    assert skus and set(fluent_table(catalogue, "variant_products")) == skus
    customers = [c for c in ct_state["customers"] if c["lastModifiedAt"].startswith(day)]
    assert customers and len(catalogue.fluent.state()["customers"]) >= len(customers)


def test_product_hooks_change_what_is_sent(catalogue: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    hooks = "ctfluent_dagster.examples.product_hooks"
    monkeypatch.setenv("CTFLUENT_PRODUCTS__HOOKS__PAYLOAD", f'["{hooks}:add_brand"]')
    monkeypatch.setenv("CTFLUENT_PRODUCTS__HOOKS__QUERY_FIELDS", f'["{hooks}:also_select_gtin"]')
    monkeypatch.setenv("CTFLUENT_PRODUCTS__HOOKS__QUERY_VARIABLES", f'["{hooks}:tag_integration"]')
    assert sync_catalogue(catalogue).success
    variants = fluent_table(catalogue, "variant_products")
    standards = fluent_table(catalogue, "standard_products")
    keyed = [p for p in published(catalogue) if p.get("key") and has_gtin(variants_of(p)[0])]
    assert keyed
    for product in keyed:
        brand = product["key"].split("-")[0]
        for record in [*(variants[v["sku"]] for v in variants_of(product) if v.get("sku") in variants),
                       *(s for s in standards.values() if s["ref"].startswith(product["key"]))]:  # fmt: skip
            attributes = {a["name"]: a["value"] for a in record["attributes"]}
            assert attributes["brand"] == brand and attributes["syncedBy"] == "ctfluent"
