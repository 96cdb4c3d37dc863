"""Catalogue sync end to end against the sandbox: categories, standard and variant products, in dependency order,
with waits, deactivation and reactivation, and the hard cases of the seed."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetsDefinition, ExecuteInProcessResult, RunRequest, SensorResult, build_sensor_context

from ctfluent_dagster.assets import CHANGES_JOB, ENTITY_DEFINITIONS
from ctfluent_dagster.assets.keys import target_key
from ctfluent_dagster.entities import ENTITIES
from ctfluent_dagster.entities.categories.declaration import ENTITY as CATEGORIES
from ctfluent_dagster.entities.categories.sync import ROOT_NOTE
from ctfluent_dagster.entities.products.declaration import ENTITY as PRODUCTS
from ctfluent_dagster.ledger.store import Ledger
from ctfluent_dagster.messages.poller import PollCursor
from ctfluent_dagster.sensors.messages import build_messages_sensor
from ctfluent_dagster.settings import MessagesSettings
from tests.harness import Sandbox
from tests.sandbox.catalogue_fixtures import selected_prices
from tests.support import materialization_metadata, midday_in_the_past

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


def fluent_prices(record: dict[str, Any]) -> dict[str, Decimal]:
    return {p["currency"]: Decimal(str(p["value"])) for p in record["prices"]}


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
            assert fluent_prices(fluent_variant) == selected_prices(variant["prices"])
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
    # Seeded afresh with the clock at 01:00 UTC today: the history's first day (the category tree's) then has 23
    # hours of products and customers whatever the time the test runs at (at 17:00 it would have 7, and none).
    now = catalogue.ct.clock.now()
    catalogue.ct.clock.advance((now.replace(hour=1, minute=0, second=0, microsecond=0) - now).total_seconds())
    catalogue.ct.seed(customers=40, days=10, seed=11, products=60)
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


# -- status after create ---------------------------------------------------------------------------------------


def test_new_records_are_activated_in_their_create_request(catalogue: Sandbox) -> None:
    catalogue.fluent_admin.clear_request_counts()
    assert sync_catalogue(catalogue).success
    for table in ("categories", "standard_products", "variant_products"):
        assert {record["status"] for record in fluent_table(catalogue, table).values()} == {"ACTIVE"}
    counts = catalogue.fluent_admin.request_counts()["by_target"]
    for kind in ("Category", "StandardProduct", "VariantProduct"):
        # An initial load updates nothing else, and sends no update of its own: each create request activates
        # what it creates (a request is counted under each of its root fields).
        assert counts[f"update{kind}"] == counts[f"create{kind}"] == counts[f"Create{kind}BatchThenUpdate{kind}Batch"]
        assert counts[f"create{kind}"] > 0 and counts.get(f"Update{kind}Batch", 0) == 0


def test_without_activation_new_records_keep_the_status_fluent_gives_them(
    catalogue: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTFLUENT_CATEGORIES__ACTIVATE_AFTER_CREATE", "false")
    monkeypatch.setenv("CTFLUENT_PRODUCTS__ACTIVATE_AFTER_CREATE", "false")
    catalogue.fluent_admin.clear_request_counts()
    assert sync_catalogue(catalogue).success
    for table in ("categories", "standard_products", "variant_products"):
        assert {record["status"] for record in fluent_table(catalogue, table).values()} == {"CREATED"}
    assert not [name for name in catalogue.fluent_admin.request_counts()["by_target"] if name.startswith("update")]


# -- a category at the root ------------------------------------------------------------------------------------


def test_a_category_now_at_the_root_loses_its_parent_in_fluent_and_says_so(catalogue: Sandbox) -> None:
    """commercetools' changeParent requires a parent; a category reaches the root by being made again there, under
    its key (the same Fluent category): the update sends parentCategory: null, and the run notes it."""
    assert sync_catalogue(catalogue).success
    categories = catalogue.ct.state()["categories"]
    parents = {c["parent"]["id"] for c in categories if c.get("parent")}
    leaf = next(c for c in categories if c.get("parent") and c.get("key") and c["id"] not in parents)
    assert fluent_table(catalogue, "categories")[leaf["key"]]["parentCategory"] is not None
    catalogue.storefront._delete("categories", leaf["id"])
    draft = {"key": leaf["key"], "name": leaf["name"], "slug": {"en": f"{leaf['slug']['en']}-root"}}
    answer = catalogue.storefront.session.post(f"{catalogue.storefront.base}/categories", json=draft, timeout=10)
    assert answer.status_code == 201, answer.text
    root = answer.json()

    result = catalogue.sync(root["lastModifiedAt"][:10], ids=[root["id"]], assets=CATEGORY_ASSETS)
    assert result.success
    assert fluent_table(catalogue, "categories")[leaf["key"]]["parentCategory"] is None
    notes = materialization_metadata(result, target_key(CATEGORIES, CATEGORIES.targets[0]))["notes"]
    assert [(row.data["commercetools_id"], row.data["message"]) for row in notes.records] == [(root["id"], ROOT_NOTE)]


def test_a_dry_run_of_a_category_without_parent_names_the_null_it_would_send(catalogue: Sandbox) -> None:
    assert sync_catalogue(catalogue).success
    root = next(c for c in catalogue.ct.state()["categories"] if not c.get("parent") and c.get("key"))
    renamed = catalogue.storefront._apply("categories", root["id"],
                                          ({"action": "changeName", "name": {"en": "Renamed"}},))  # fmt: skip
    result = catalogue.sync(renamed["lastModifiedAt"][:10], ids=[root["id"]], assets=CATEGORY_ASSETS,
                            scope={"dry_run": True})  # fmt: skip
    metadata = materialization_metadata(result, target_key(CATEGORIES, CATEGORIES.targets[0]))
    (row,) = metadata["planned"].records
    assert row.data["code"] == "would_update"
    assert "name: " in row.data["message"]  # compared with Fluent's record
    assert "sent, not compared: attributes, catalogue, parentCategory" in row.data["message"]


# -- prices ----------------------------------------------------------------------------------------------------

PRODUCTS_SENSOR = build_messages_sensor(MessagesSettings(), [PRODUCTS], jobs=ENTITY_DEFINITIONS["products"].jobs[:1])
COUNTRIES = {"EUR": "DE", "USD": "US", "JPY": "JP"}


def product_tick(sandbox: Sandbox, cursor: str) -> SensorResult:
    """A tick of the messages sensor for the products."""
    with build_sensor_context(cursor=cursor, resources=sandbox.resources()) as context:
        result = PRODUCTS_SENSOR(context)
    assert isinstance(result, SensorResult)
    return result


def product_runs(sandbox: Sandbox, cursor: str) -> list[RunRequest]:
    """What a tick of the messages sensor (for the products) requests."""
    return list(product_tick(sandbox, cursor).run_requests or [])


def pushed_variants(sandbox: Sandbox) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(product, variant) of every variant in Fluent, keyed products first."""
    in_fluent = fluent_table(sandbox, "variant_products")
    found = [(p, v) for p in published(sandbox) for v in variants_of(p) if v.get("sku") in in_fluent]
    return sorted(found, key=lambda pair: not pair[0].get("key"))


def test_a_configured_price_selection_prices_each_currency_and_a_price_change_arrives_by_its_message(
    catalogue: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTFLUENT_PRODUCTS__PRICES__COUNTRY", "DE")
    monkeypatch.setenv("CTFLUENT_PRODUCTS__PRICES__COUNTRY_BY_CURRENCY", '{"USD": "US", "JPY": "JP"}')
    monkeypatch.setenv("CTFLUENT_MESSAGES__SETTLE_SECONDS", "0")
    assert sync_catalogue(catalogue).success
    in_fluent = fluent_table(catalogue, "variant_products")
    pushed = pushed_variants(catalogue)
    for _, variant in pushed:
        assert fluent_prices(in_fluent[variant["sku"]]) == selected_prices(variant["prices"], COUNTRIES)
    assert any(set(fluent_prices(in_fluent[v["sku"]])) == {"EUR", "USD", "JPY"} for _, v in pushed)
    assert any(p.get("country") == "DE" for _, v in pushed for p in v["prices"])  # the DE price is picked somewhere

    changed_at = midday_in_the_past(catalogue)
    cursor = PollCursor(created_at=changed_at - timedelta(seconds=1)).encode()
    product, variant = pushed[0]
    us_price = next(p for p in variant["prices"] if p.get("country") == "US")
    new_price = {"value": {"currencyCode": "USD", "centAmount": 4242}, "country": "US"}
    catalogue.storefront.product_action(
        product["id"], {"action": "changePrice", "priceId": us_price["id"], "price": new_price, "staged": False}
    )
    (request,) = product_runs(catalogue, cursor)  # ProductPriceChanged is routed
    assert request.job_name == "products_sync" and request.partition_key == changed_at.strftime("%Y-%m-%d")
    assert catalogue.run_request(request).success
    assert fluent_prices(fluent_table(catalogue, "variant_products")[variant["sku"]])["USD"] == Decimal("42.42")


def test_a_product_switched_to_standalone_prices_is_priced_by_them_and_their_changes_arrive_by_message(
    catalogue: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTFLUENT_MESSAGES__SETTLE_SECONDS", "0")
    catalogue.env["CTP_SCOPES"] += " view_standalone_prices"  # needed by projects that use them
    assert sync_catalogue(catalogue).success
    product, variant = pushed_variants(catalogue)[0]
    changed_at = midday_in_the_past(catalogue)
    cursor = PollCursor(created_at=changed_at - timedelta(seconds=1)).encode()
    made = []
    for draft in (
        {"sku": variant["sku"], "value": {"currencyCode": "EUR", "centAmount": 777}},
        {"sku": variant["sku"], "value": {"currencyCode": "EUR", "centAmount": 555}, "country": "DE"},
    ):
        answer = catalogue.storefront.session.post(f"{catalogue.storefront.base}/standalone-prices", json=draft,
                                                   timeout=10)  # fmt: skip
        assert answer.status_code == 201, answer.text
        made.append(answer.json())
    catalogue.storefront.product_action(product["id"], {"action": "setPriceMode", "priceMode": "Standalone"})

    # ProductPriceModeSet, and the prices' StandalonePriceCreated (resolved to the product by SKU): a run per route.
    tick = product_tick(catalogue, cursor)
    requests = list(tick.run_requests or [])
    assert sorted(request.tags["ctfluent/route"] for request in requests) == [
        "commercetools.connect.product.upsert", "commercetools.connect.standalone-price.upsert"
    ]  # fmt: skip
    for request in requests:
        assert request.run_config["ops"]["fluent__variant_products"]["config"]["ids"] == [product["id"]]
        assert catalogue.run_request(request).success
    # Standalone Prices now, and only them: the embedded EUR price is no longer selected.
    assert fluent_prices(fluent_table(catalogue, "variant_products")[variant["sku"]])["EUR"] == Decimal("7.77")

    # A Standalone Price's own change names the price, not the product: its route finds the product by the SKU.
    catalogue.storefront._apply(
        "standalone-prices",
        made[0]["id"],
        ({"action": "changeValue", "value": {"currencyCode": "EUR", "centAmount": 888}},),
    )
    assert tick.cursor is not None
    (request,) = product_runs(catalogue, tick.cursor)  # the messages after the first tick's
    assert request.tags["ctfluent/route"] == "commercetools.connect.standalone-price.upsert"
    assert catalogue.run_request(request).success
    assert fluent_prices(fluent_table(catalogue, "variant_products")[variant["sku"]])["EUR"] == Decimal("8.88")


def test_a_price_selection_names_its_channel_by_key(catalogue: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTFLUENT_PRODUCTS__PRICES__CHANNEL", '{"key": "web"}')
    catalogue.env["CTP_SCOPES"] += " view_channels"  # to look the key up
    web = catalogue.storefront.session.post(f"{catalogue.storefront.base}/channels", json={"key": "web"}, timeout=10)
    channel_id = web.json()["id"]
    assert sync_catalogue(catalogue).success
    product, variant = pushed_variants(catalogue)[0]
    channel_price = {
        "value": {"currencyCode": "EUR", "centAmount": 1234},
        "channel": {"typeId": "channel", "id": channel_id},
    }
    changed = catalogue.storefront.product_action(
        product["id"], {"action": "addPrice", "sku": variant["sku"], "price": channel_price, "staged": False}
    )
    assert catalogue.sync(changed["lastModifiedAt"][:10], ids=[product["id"]], assets=PRODUCT_ASSETS).success
    assert fluent_prices(fluent_table(catalogue, "variant_products")[variant["sku"]])["EUR"] == Decimal("12.34")


# -- GTIN ------------------------------------------------------------------------------------------------------


def test_an_order_of_a_variant_without_gtin_fails_naming_the_settings_to_change(shop: Sandbox) -> None:
    days = all_days(shop)
    orders = [a for a in ENTITY_DEFINITIONS["orders"].assets if a.partitions_def is not None]
    everything = [*CATEGORY_ASSETS, *PRODUCT_ASSETS, *ENTITY_DEFINITIONS["customers"].assets, *orders]
    assert shop.sync((days[0], max(o["createdAt"][:10] for o in shop.ct.state()["orders"])), assets=everything).success
    unavailable = [e for e in ledger(shop).entries("order", status="failed") if e.error_code == "REFERENCE_UNAVAILABLE"]
    assert unavailable
    for entry in unavailable:
        assert (
            "has no gtin (attribute 'gtin'): set products.gtin_attribute to the attribute that holds GTINs, or "
            "products.missing_gtin: sku" in (entry.error_message or "")
        ), entry.error_message


# -- a change that crosses entities ------------------------------------------------------------------------------

FROM_COMMERCETOOLS = [b.sync_job for b in ENTITY_DEFINITIONS.values() if not b.entity.from_fluent]
CHANGES_SENSOR = build_messages_sensor(MessagesSettings(), ENTITIES, FROM_COMMERCETOOLS, changes_job=CHANGES_JOB)


def test_a_new_category_and_its_new_product_arrive_in_one_run_without_waiting(
    catalogue: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTFLUENT_MESSAGES__SETTLE_SECONDS", "0")
    assert sync_catalogue(catalogue).success
    changed_at = midday_in_the_past(catalogue)
    cursor = PollCursor(created_at=changed_at - timedelta(seconds=1)).encode()
    base = catalogue.storefront.base
    category = catalogue.storefront.session.post(f"{base}/categories", timeout=10, json={
        "key": "chain", "name": {"en": "Chain"}, "slug": {"en": "chain"}}).json()  # fmt: skip
    model = next(p for p in published(catalogue) if p.get("key") and not variants_of(p)[1:])
    current = model["masterData"]["current"]
    variant = current["masterVariant"]
    attributes = [a | {"value": "4006381333931"} if a["name"] == "gtin" else a for a in variant.get("attributes", [])]
    draft = {"key": "chain-product", "productType": model["productType"], "name": {"en": "Chained"},
             "slug": {"en": "chained"}, "categories": [{"typeId": "category", "id": category["id"]}], "publish": True,
             "masterVariant": {"sku": "CHAIN-1", "attributes": attributes,
                               "prices": [{k: v for k, v in p.items() if k not in ("id", "key")}
                                          for p in variant.get("prices", [])]}}  # fmt: skip
    answer = catalogue.storefront.session.post(f"{base}/products", json=draft, timeout=10)
    assert answer.status_code == 201, answer.text

    with build_sensor_context(cursor=cursor, resources=catalogue.resources()) as context:
        result = CHANGES_SENSOR(context)
    assert isinstance(result, SensorResult)
    (request,) = result.run_requests or []  # one run across both entities, not one each
    assert request.job_name == CHANGES_JOB.name
    selected = {key.path[-1] for key in request.asset_selection or ()}
    assert {"categories", "standard_products", "variant_products"} <= selected and "customers" not in selected
    assert catalogue.run_request(request).success
    assert fluent_table(catalogue, "categories")["chain"]
    assert "CHAIN-1" in {row["ref"].rsplit(":", 1)[-1] for row in fluent_table(catalogue, "variant_products").values()}
    assert ledger(catalogue).entries("standard_product", status="waiting") == []  # found its category in the run
