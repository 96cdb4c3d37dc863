"""The products' pre-flight: where the GTINs are (a verdict per catalogue, as a table; then against the sandbox's
catalogue), and what price selection needs (a channel by key, Standalone Prices readable)."""

from __future__ import annotations

from typing import Any

import pytest

from ctfluent_dagster.configuration import read_settings
from ctfluent_dagster.entities.products.declaration import ENTITY as PRODUCTS
from ctfluent_dagster.entities.products.models import Variant
from ctfluent_dagster.entities.products.preflight import gtin_verdict
from ctfluent_dagster.entities.products.settings import ProductSettings
from ctfluent_dagster.preflight import PreflightCheck
from tests.harness import Sandbox


def product_type(name: str, *attributes: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    named = labels or {}
    definitions = [{"name": a, "label": {"en": named.get(a, a.title())}} for a in attributes]
    return {"name": name, "key": name, "attributes": definitions}


def variants(*attributes: dict[str, Any]) -> list[Variant]:
    return [
        Variant.model_validate(
            {"id": n, "sku": f"SKU-{n}", "attributes": [{"name": k, "value": v} for k, v in a.items()]}
        )
        for n, a in enumerate(attributes, 1)
    ]


EAN = "4006381333931"


@pytest.mark.parametrize(
    ("types", "sample", "settings", "ok", "says"),
    [
        # the configured attribute is on a product type and most variants have it: OK, with the share lacking one
        ([product_type("shoe", "gtin", "color")], variants({"gtin": EAN}, {"gtin": EAN}, {"gtin": EAN}, {"color": "x"}),
         ProductSettings(), True, "GTINs from the attribute 'gtin' (product types shoe); 25% of 4 sampled variants "
         "lack one and are skipped with the reason (missing_gtin: skip); set products.gtin_attribute to the "
         "attribute that holds GTINs, or products.missing_gtin: sku"),
        ([product_type("shoe", "gtin")], variants({"gtin": EAN}), ProductSettings(), True,
         "GTINs from the attribute 'gtin' (product types shoe); 0% of 1 sampled variants lack one"),
        # no product type has it: FAIL, naming the attribute that looks like GTINs (by name, or by its values)
        ([product_type("shoe", "ean", "color")], variants({"ean": EAN}), ProductSettings(), False,
         "no product type has the attribute 'gtin' (products.gtin_attribute): every product would be skipped and "
         "every order of one fail REFERENCE_UNAVAILABLE; set products.gtin_attribute: ean, or products.missing_gtin: "
         "sku"),
        ([product_type("shoe", "code", "color", labels={"code": "Article no."})], variants({"code": EAN}),
         ProductSettings(), False, "set products.gtin_attribute: code, or"),
        ([product_type("shoe", "barcode", "upc")], variants({"upc": "012345678905"}), ProductSettings(), False,
         "set products.gtin_attribute: upc (barcode also look like GTINs)"),
        ([product_type("shoe", "color")], variants({"color": "red"}), ProductSettings(), False,
         "set products.gtin_attribute to the attribute that holds GTINs, or products.missing_gtin: sku"),
        # most sampled variants lack one: FAIL
        ([product_type("shoe", "gtin", "ean")], variants({"ean": EAN}, {"ean": EAN}, {"gtin": EAN}),
         ProductSettings(), False, "GTINs from the attribute 'gtin' (product types shoe): 67% of 3 sampled variants "
         "lack one and would be skipped"),
        # ... unless the SKU stands in for them
        ([product_type("shoe", "gtin")], variants({}, {}, {"gtin": EAN}), ProductSettings(missing_gtin="sku"), True,
         "0% of 3 sampled variants lack one"),
        ([product_type("shoe", "gtin")], [], ProductSettings(), True, "no published product to sample"),
        # no attribute at all, but the SKU stands in; and no catalogue yet: nothing to fail
        ([product_type("shoe", "color")], variants({"color": "red"}), ProductSettings(missing_gtin="sku"), True,
         "no product type has the attribute 'gtin': the SKUs stand in (products.missing_gtin: sku)"),
        ([], [], ProductSettings(), True, "no product type yet"),
    ],
)  # fmt: skip
def test_the_gtin_verdict(
    types: list[dict[str, Any]], sample: list[Variant], settings: ProductSettings, ok: bool, says: str
) -> None:
    verdict, detail = gtin_verdict(types, sample, settings)
    assert verdict is ok and says in detail, detail


def product_checks(sandbox: Sandbox) -> dict[str, PreflightCheck]:
    resources = sandbox.resources()
    fluent = resources["fluent"]
    context = PRODUCTS.sync_context(read_settings(), fluent.get_client(), resources["context_values"].by_name(),
                                    commercetools=resources["commercetools"].get_client())  # fmt: skip
    assert PRODUCTS.preflight is not None
    return {check.name: check for check in PRODUCTS.preflight(context)}


def test_preflight_finds_the_gtins_of_the_sandbox_catalogue(
    catalogue: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = product_checks(catalogue)
    assert {name: check.ok for name, check in checks.items()} == {
        "Fluent product catalogue": True, "products: GTIN": True, "products: prices": True
    }  # fmt: skip
    assert checks["products: GTIN"].detail.startswith(
        "GTINs from the attribute 'gtin' (product types accessories, apparel, footwear); "
    )
    assert "sampled variants lack one" in checks["products: GTIN"].detail

    monkeypatch.setenv("CTFLUENT_PRODUCTS__GTIN_ATTRIBUTE", "ean")
    gtin = product_checks(catalogue)["products: GTIN"]
    assert not gtin.ok
    assert "no product type has the attribute 'ean'" in gtin.detail
    assert "set products.gtin_attribute: gtin, or products.missing_gtin: sku" in gtin.detail


def test_preflight_checks_what_price_selection_reads(catalogue: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTFLUENT_PRODUCTS__PRICES__CHANNEL", '{"key": "web"}')
    prices = product_checks(catalogue)["products: prices"]
    assert not prices.ok and "add view_channels to CTP_SCOPES, or give the id instead" in prices.detail
    catalogue.env["CTP_SCOPES"] += " view_channels"
    prices = product_checks(catalogue)["products: prices"]
    assert not prices.ok and "commercetools has no channels with key 'web'" in prices.detail
    channel = catalogue.storefront.session.post(f"{catalogue.storefront.base}/channels", json={"key": "web"},
                                                timeout=10).json()  # fmt: skip
    prices = product_checks(catalogue)["products: prices"]
    assert prices.ok and f"channel {channel['id']}" in prices.detail

    # A sampled product priced by Standalone Prices, which the sandbox's read scopes cannot read.
    product = next(p for p in catalogue.ct.state()["products"] if p["masterData"]["published"])
    catalogue.storefront.product_action(product["id"], {"action": "setPriceMode", "priceMode": "Standalone"})
    prices = product_checks(catalogue)["products: prices"]
    assert not prices.ok and "add view_standalone_prices to CTP_SCOPES" in prices.detail
    catalogue.env["CTP_SCOPES"] += " view_standalone_prices"
    prices = product_checks(catalogue)["products: prices"]
    assert prices.ok and "1 sampled product(s) priced by Standalone Prices, readable" in prices.detail
