"""commercetools categories and product projections -> Fluent categories, standard and variant products: the
mapping rules, as tables."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import pytest

from ctfluent_dagster.commercetools.client import CommercetoolsClient
from ctfluent_dagster.commercetools.models import localized
from ctfluent_dagster.entities.categories.mapping import MappedCategory, SkippedCategory, map_category
from ctfluent_dagster.entities.categories.models import Category
from ctfluent_dagster.entities.categories.settings import CategorySettings
from ctfluent_dagster.entities.categories.sync import ROOT_NOTE, CategorySync
from ctfluent_dagster.entities.products.mapping import (
    MappedProduct,
    PriceScope,
    SkippedProduct,
    attribute_input,
    map_standard,
    map_variants,
    prices,
    select_price,
)
from ctfluent_dagster.entities.products.models import Price, ProductProjection
from ctfluent_dagster.entities.products.pricing import with_standalone_prices
from ctfluent_dagster.entities.products.settings import PriceSelection, ProductSettings, ResourceRef, TaxType
from ctfluent_dagster.fluent.client import FluentClient
from ctfluent_dagster.records import FluentIdentity, PlannedPush

PRODUCTS = ProductSettings()
NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)
AT_NOW = PriceScope(NOW)


def category(**fields: Any) -> Category:
    base = {"id": "cat-1", "version": 2, "lastModifiedAt": "2026-02-03T04:05:06.789Z", "key": "shoes",
            "name": {"en": "Shoes", "de": "Schuhe"}, "slug": {"en": "shoes"}}  # fmt: skip
    return Category.model_validate(base | fields)


def money(currency: str, cents: int, digits: int) -> dict[str, Any]:
    return {"type": "centPrecision", "currencyCode": currency, "centAmount": cents, "fractionDigits": digits}


def variant(variant_id: int, sku: str | None, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": variant_id, "attributes": [{"name": "gtin", "value": f"400{variant_id:010d}"}]}
    if sku is not None:
        base["sku"] = sku
    return base | fields


def product(**fields: Any) -> ProductProjection:
    base = {
        "id": "p-1", "version": 5, "lastModifiedAt": "2026-02-03T04:05:06.789Z", "key": "runner",
        "name": {"en": "Runner", "de": "Läufer", "ja": "ランナー"}, "description": {"en": "A shoe."},
        "productType": {"typeId": "product-type", "id": "pt-shoes"},
        "categories": [{"typeId": "category", "id": "cat-1"}],
        "masterVariant": variant(1, "RUN-1"), "variants": [variant(2, "RUN-2")],
    }  # fmt: skip
    return ProductProjection.model_validate(base | fields)


# -- locales -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "chain", "any_locale", "expected"),
    [
        ({"en": "A", "de": "B"}, ("de", "en"), True, "B"),
        ({"en-US": "A", "de": "B"}, ("en",), True, "A"),  # a language matches its regional variants
        ({"ja": "C", "fr": "D"}, ("en",), True, "D"),  # else the first locale alphabetically
        ({"ja": "C"}, ("en",), False, None),
        ({"en": "", "de": "B"}, ("en", "de"), True, "B"),  # empty texts do not count
        (None, ("en",), True, None),
    ],
)
def test_localized_follows_the_chain(
    value: dict[str, str] | None, chain: tuple[str, ...], any_locale: bool, expected: str | None
) -> None:
    assert localized(value, chain, any_locale) == expected


# -- categories ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "settings", "ref", "name", "parent"),
    [
        ({}, CategorySettings(), "shoes", "Shoes", None),
        ({"key": None}, CategorySettings(), "cat-1", "Shoes", None),  # no key: the commercetools id
        ({"parent": {"typeId": "category", "id": "cat-0"}}, CategorySettings(), "shoes", "Shoes", "cat-0"),
        ({}, CategorySettings(locales=("de",)), "shoes", "Schuhe", None),
    ],
)
def test_category_mapping(
    fields: dict[str, Any], settings: CategorySettings, ref: str, name: str, parent: str | None
) -> None:
    mapped = map_category(category(**fields), settings)
    assert isinstance(mapped, MappedCategory)
    assert (mapped.ref, mapped.fields["name"], mapped.parent_id) == (ref, name, parent)
    assert mapped.fields["type"] == settings.type
    assert {"name": "ctCategoryId", "type": "STRING", "value": "cat-1"} in mapped.fields["attributes"]


@pytest.mark.parametrize(
    ("fields", "settings", "reason"),
    [
        ({"key": None}, CategorySettings(without_key="skip"), "no key"),
        ({"name": {"fr": "Chaussures"}}, CategorySettings(any_locale=False), "no name in en, de"),
        ({"key": "k" * 101}, CategorySettings(), "ref is 101 characters (max 100)"),
    ],
)
def test_category_skips_say_why(fields: dict[str, Any], settings: CategorySettings, reason: str) -> None:
    mapped = map_category(category(**fields), settings)
    assert isinstance(mapped, SkippedCategory) and reason in mapped.reason


def test_a_long_category_summary_is_cut_and_the_cut_noted() -> None:
    mapped = map_category(category(description={"en": "x" * 300}), CategorySettings())
    assert isinstance(mapped, MappedCategory)
    assert mapped.fields["summary"] == "x" * 255
    assert mapped.notes == ("summary cut from 300 to 255 characters",)


def category_inputs(
    settings: CategorySettings, **fields: Any
) -> tuple[PlannedPush[Any], dict[str, Any], dict[str, Any]]:
    """A category's plan, create input and update input (the parent, if any, resolved to ref ``parent-ref``)."""
    sync = CategorySync(cast(FluentClient, None), settings, "PC:MASTER:1")  # inputs need no Fluent
    (plan,) = sync.plan(category(**fields).model_dump(by_alias=True))
    assert isinstance(plan, PlannedPush)
    ready = replace(plan, resolved={d: FluentIdentity("parent-ref", "9") for d in plan.requires})
    return ready, sync.create_input(ready), sync.update_input(ready, "shoes")


@pytest.mark.parametrize(
    ("settings", "fields", "create_parent", "update_parent", "status"),
    [
        (CategorySettings(), {}, "absent", None, "ACTIVE"),  # a root category: null clears a former parent
        (CategorySettings(), {"parent": {"typeId": "category", "id": "cat-0"}}, "parent-ref", "parent-ref", "ACTIVE"),
        (CategorySettings(activate_after_create=False), {}, "absent", None, "absent"),  # status: the workflow's
        (CategorySettings(active_status="LIVE"), {}, "absent", None, "LIVE"),
    ],
)  # fmt: skip
def test_category_inputs_send_the_parent_and_the_status(
    settings: CategorySettings, fields: dict[str, Any], create_parent: str, update_parent: str | None, status: str
) -> None:
    plan, create, update = category_inputs(settings, **fields)
    assert (create["parentCategory"]["ref"] if "parentCategory" in create else "absent") == create_parent
    assert (update["parentCategory"] and update["parentCategory"]["ref"]) == update_parent
    assert "status" not in create and update.get("status", "absent") == status
    assert (ROOT_NOTE in plan.notes) == (update_parent is None)  # a category without parent: noted


# -- standard products ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "settings", "ref"),
    [
        ({}, PRODUCTS, "runner"),
        ({"key": None}, PRODUCTS, "p-1"),  # no key: the commercetools id
        ({"key": "RUN-1"}, PRODUCTS, "RUN-1-product"),  # key equals a SKU: the variant keeps the SKU
        ({"key": "RUN-2"}, ProductSettings(ref_collision="id"), "p-1"),
        ({"key": "RUN-2"}, ProductSettings(collision_suffix="-std"), "RUN-2-std"),
    ],
)
def test_standard_ref_rules(fields: dict[str, Any], settings: ProductSettings, ref: str) -> None:
    mapped = map_standard(product(**fields), settings)
    assert isinstance(mapped, MappedProduct) and mapped.ref == ref
    assert ref not in {v.sku for v in product(**fields).all_variants}


def test_standard_product_fields() -> None:
    tax = TaxType(country="DE", group="STD", tariff="19")
    settings = ProductSettings(type_by_product_type={"pt-shoes": "SHOES"}, tax_type=tax)
    mapped = map_standard(product(), settings)
    assert isinstance(mapped, MappedProduct)
    assert mapped.fields | {"attributes": []} == {
        "ref": "runner", "type": "SHOES", "gtin": "4000000000001", "name": "Runner", "summary": "A shoe.",
        "taxType": {"country": "DE", "group": "STD", "tariff": "19"}, "attributes": [],
    }  # fmt: skip
    assert mapped.category_ids == ("cat-1",)
    assert {"name": "ctProductId", "type": "STRING", "value": "p-1"} in mapped.fields["attributes"]


@pytest.mark.parametrize(
    ("fields", "settings", "reason"),
    [
        ({"key": None}, ProductSettings(without_key="skip"), "no key"),
        ({"masterVariant": variant(1, "RUN-1", attributes=[])}, PRODUCTS, "variant 1 has no gtin"),
        ({"name": {"fr": "Coureur"}}, ProductSettings(any_locale=False), "no name in en, de"),
    ],
)
def test_standard_skips_say_why(fields: dict[str, Any], settings: ProductSettings, reason: str) -> None:
    mapped = map_standard(product(**fields), settings)
    assert isinstance(mapped, SkippedProduct) and reason in mapped.reason


@pytest.mark.parametrize(
    ("sku", "settings", "reason"),
    [
        ("RUN-1", PRODUCTS, "variant 1 has no gtin (attribute 'gtin'): set products.gtin_attribute to the attribute "
         "that holds GTINs, or products.missing_gtin: sku"),
        ("RUN-1", ProductSettings(gtin_attribute="ean"), "variant 1 has no gtin (attribute 'ean'): set "
         "products.gtin_attribute to the attribute that holds GTINs, or products.missing_gtin: sku"),
        ("R" * 21, ProductSettings(missing_gtin="sku"), "variant 1 has no gtin (attribute 'gtin') and its SKU is "
         "longer than 20 characters (missing_gtin: sku): set products.gtin_attribute to the attribute that holds "
         "GTINs"),
    ],
)  # fmt: skip
def test_a_missing_gtin_names_the_settings_to_change(sku: str, settings: ProductSettings, reason: str) -> None:
    """The reason is what an order of the variant fails with (REFERENCE_UNAVAILABLE): it says what to change."""
    without = product(masterVariant=variant(1, sku, attributes=[{"name": "color", "value": "red"}]))
    standard = map_standard(without, settings)
    assert isinstance(standard, SkippedProduct) and standard.reason == reason
    (own, _) = map_variants(without, settings, AT_NOW)
    assert isinstance(own, SkippedProduct) and own.reason == reason and own.sku == sku


# -- variants ------------------------------------------------------------------------------------


def test_one_variant_product_per_variant_with_sku_as_ref() -> None:
    mapped = map_variants(product(variants=[variant(2, "RUN-2"), variant(3, None)]), PRODUCTS, AT_NOW)
    assert [m.ref for m in mapped if isinstance(m, MappedProduct)] == ["RUN-1", "RUN-2"]
    (skipped,) = [m for m in mapped if isinstance(m, SkippedProduct)]
    assert skipped.variant_id == 3 and "no SKU" in skipped.reason


@pytest.mark.parametrize(
    ("attributes", "settings", "expected"),
    [
        ([], PRODUCTS, None),  # skipped: no gtin
        ([], ProductSettings(missing_gtin="sku"), "RUN-1"),  # the SKU stands in when it fits
        ([{"name": "ean", "value": "123"}], ProductSettings(gtin_attribute="ean"), "123"),
    ],
)
def test_gtin_policy(attributes: list[dict[str, Any]], settings: ProductSettings, expected: str | None) -> None:
    (mapped, _) = map_variants(product(masterVariant=variant(1, "RUN-1", attributes=attributes)), settings, AT_NOW)
    if expected is None:
        assert isinstance(mapped, SkippedProduct) and "no gtin" in mapped.reason
    else:
        assert isinstance(mapped, MappedProduct) and mapped.fields["gtin"] == expected


def test_a_sku_too_long_for_gtin_is_not_used_as_one() -> None:
    long_sku = "S" * 21
    (mapped, _) = map_variants(product(masterVariant=variant(1, long_sku, attributes=[])),
                               ProductSettings(missing_gtin="sku"), AT_NOW)  # fmt: skip
    assert isinstance(mapped, SkippedProduct)


@pytest.mark.parametrize(
    ("price_list", "expected"),
    [
        ([{"value": money("EUR", 1999, 2)}], [("EUR", Decimal("19.99"))]),
        ([{"value": money("JPY", 1999, 0)}], [("JPY", Decimal("1999"))]),
        ([{"value": money("KWD", 12345, 3)}], [("KWD", Decimal("12.345"))]),
        ([{"value": {"type": "highPrecision", "currencyCode": "EUR", "centAmount": 1, "fractionDigits": 4,
                     "preciseAmount": 123}}], [("EUR", Decimal("0.0123"))]),
        ([{"value": money("USD", 5, 2)}, {"value": money("EUR", 7, 2)}],
         [("EUR", Decimal("0.07")), ("USD", Decimal("0.05"))]),
    ],
)  # fmt: skip
def test_prices_are_decimals_with_the_currencys_digits(
    price_list: list[dict[str, Any]], expected: list[tuple[str, Decimal]]
) -> None:
    mapped = prices([Price.model_validate(p) for p in price_list], PRODUCTS, AT_NOW, [])
    assert [(p["currency"], p["value"]) for p in mapped] == expected
    assert all(p["type"] == "DEFAULT" and isinstance(p["value"], Decimal) for p in mapped)
    assert [str(p["value"]) for p in mapped] == [str(amount) for _, amount in expected]


# -- price selection -------------------------------------------------------------------------------

CG, CH = "cg-gold", "ch-web"


def scoped(cents: int, currency: str = "EUR", **scope: Any) -> Price:
    """A price of ``cents`` with a scope: country, channel, customerGroup (by id), validFrom/validUntil."""
    fields: dict[str, Any] = {"value": money(currency, cents, 2)}
    for name, value in scope.items():
        fields[name] = (
            {"typeId": name.lower().replace("customergroup", "customer-group"), "id": value}
            if name in ("channel", "customerGroup")
            else value
        )
    return Price.model_validate(fields)


# Every scope a variant may price: the cents tell which one was picked.
EVERY_SCOPE = [
    scoped(1), scoped(2, country="DE"), scoped(3, channel=CH), scoped(4, channel=CH, country="DE"),
    scoped(5, customerGroup=CG), scoped(6, customerGroup=CG, country="DE"), scoped(7, customerGroup=CG, channel=CH),
    scoped(8, customerGroup=CG, channel=CH, country="DE"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("country", "channel", "group", "available", "picked"),
    [
        # commercetools' fallback: group+channel+country > group+channel > group+country > group > channel+country
        # > channel > country > none
        ("DE", CH, CG, EVERY_SCOPE, 8),
        ("DE", CH, CG, [p for p in EVERY_SCOPE if p.value.cent_amount != 8], 7),
        ("DE", CH, CG, [p for p in EVERY_SCOPE if p.value.cent_amount not in (7, 8)], 6),
        ("DE", CH, CG, [p for p in EVERY_SCOPE if p.value.cent_amount < 6], 5),
        ("DE", CH, CG, [p for p in EVERY_SCOPE if p.value.cent_amount < 5], 4),
        ("DE", CH, CG, [p for p in EVERY_SCOPE if p.value.cent_amount < 4], 3),
        ("DE", CH, CG, [p for p in EVERY_SCOPE if p.value.cent_amount < 3], 2),
        ("DE", CH, CG, [scoped(1)], 1),
        # a selection without a dimension matches only prices without it
        ("DE", None, None, EVERY_SCOPE, 2),
        (None, CH, None, EVERY_SCOPE, 3),
        (None, None, CG, EVERY_SCOPE, 5),
        (None, None, None, EVERY_SCOPE, 1),
        ("FR", None, None, EVERY_SCOPE, 1),  # no French price: the price without country
        (None, None, None, [scoped(2, country="DE")], None),  # nothing without country: no price
        ("DE", "ch-other", "cg-other", [scoped(4, channel=CH, country="DE"), scoped(1)], 1),
        # validity: only valid prices count, and a dated one beats an undated one of the same scope
        (None, None, None, [scoped(1), scoped(9, validFrom="2026-06-01T00:00:00Z", validUntil="2026-07-01T00:00:00Z")],
         9),
        (None, None, None, [scoped(1), scoped(9, validFrom="2026-07-01T00:00:00Z")], 1),
        (None, None, None, [scoped(1), scoped(9, validUntil="2026-06-15T12:00:00Z")], 1),  # valid until: exclusive
        (None, None, None, [scoped(9, validUntil="2026-06-01T00:00:00Z")], None),
        # a more specific scope wins over a dated less specific one
        ("DE", None, None, [scoped(2, country="DE"), scoped(9, validFrom="2026-06-01T00:00:00Z")], 2),
        (None, None, None, [scoped(1, currency="USD")], None),  # another currency
    ],
)  # fmt: skip
def test_price_selection_follows_commercetools_fallback(
    country: str | None, channel: str | None, group: str | None, available: list[Price], picked: int | None
) -> None:
    chosen = select_price(available, "EUR", country, PriceScope(NOW, channel, group))
    assert (None if chosen is None else chosen.value.cent_amount) == picked


def test_configured_selection_picks_each_currencys_price_and_notes_what_fluent_will_not_get() -> None:
    settings = ProductSettings(prices=PriceSelection(currencies=("EUR", "USD", "GBP"), country="DE",
                                                     country_by_currency={"USD": "US"}))  # fmt: skip
    candidates = [scoped(1000), scoped(900, country="DE"), scoped(1200, "USD", country="US"),
                  scoped(1100, "USD", country="DE"), scoped(500, "CHF"),
                  scoped(800, country="DE", validFrom="2026-07-01T00:00:00Z")]  # fmt: skip
    notes: list[str] = []
    sent = prices(candidates, settings, AT_NOW, notes)
    assert [(p["currency"], p["value"]) for p in sent] == [("EUR", Decimal("9.00")), ("USD", Decimal("12.00"))]
    assert notes == [
        "a EUR price valid from 2026-07-01T00:00:00+00:00 reaches Fluent only when the product is synced again then",
        "no GBP price for the price selection (country DE): none sent",
    ]


def test_a_price_valid_for_a_while_is_sent_and_noted() -> None:
    notes: list[str] = []
    sale = scoped(700, validFrom="2026-06-01T00:00:00Z", validUntil="2026-06-20T00:00:00Z")
    sent = prices([scoped(1000), sale], PRODUCTS, AT_NOW, notes)
    assert [p["value"] for p in sent] == [Decimal("7.00")]
    assert notes == ["the EUR price is valid until 2026-06-20T00:00:00+00:00: Fluent keeps it after that until the "
                     "product is synced again"]  # fmt: skip


def test_channel_and_customer_group_are_named_in_a_missing_price_note() -> None:
    selection = PriceSelection(channel=ResourceRef(key="web"), customer_group=ResourceRef(id=CG))
    notes: list[str] = []
    assert prices([scoped(1, country="DE")], ProductSettings(prices=selection), PriceScope(NOW, CH, CG), notes) == []
    assert notes == ["no EUR price for the price selection (no country, channel web, customer group cg-gold): none "
                     "sent"]  # fmt: skip


def test_a_channel_or_customer_group_is_named_by_id_or_key() -> None:
    with pytest.raises(ValueError, match="either an id or a key"):
        ResourceRef()
    with pytest.raises(ValueError, match="either an id or a key"):
        ResourceRef(id="a", key="b")


def test_a_product_in_the_standalone_price_mode_is_priced_by_its_standalone_prices() -> None:
    standalone = [
        {"sku": "RUN-1", "value": money("EUR", 4200, 2)},
        {"sku": "RUN-1", "value": money("EUR", 100, 2), "active": False},  # not considered by price selection
        {"sku": "RUN-2", "value": money("EUR", 4300, 2), "country": "DE"},
        {"sku": "RUN-2", "value": money("EUR", 4400, 2)},
    ]
    embedded = [{"value": money("EUR", 999, 2)}]
    priced = product(priceMode="Standalone", ctfluentStandalonePrices=standalone,
                     masterVariant=variant(1, "RUN-1", prices=embedded), variants=[variant(2, "RUN-2")])  # fmt: skip
    mapped = map_variants(priced, PRODUCTS, AT_NOW)
    assert [m.fields["prices"] for m in mapped if isinstance(m, MappedProduct)] == [
        [{"type": "DEFAULT", "currency": "EUR", "value": Decimal("42.00")}],
        [{"type": "DEFAULT", "currency": "EUR", "value": Decimal("44.00")}],
    ]
    (embedded_mapped, _) = map_variants(product(masterVariant=variant(1, "RUN-1", prices=embedded),
                                                ctfluentStandalonePrices=standalone), PRODUCTS, AT_NOW)  # fmt: skip
    assert isinstance(embedded_mapped, MappedProduct)
    assert embedded_mapped.fields["prices"][0]["value"] == Decimal("9.99")  # Embedded (the default mode)


class StandalonePricesOnly:
    """The one read of the enrich step, answered from a list (and recorded)."""

    def __init__(self, found: list[dict[str, Any]]) -> None:
        self.found = found
        self.queries: list[list[str]] = []

    def iterate_by_id(self, resource: str, *, where: str, variables: dict[str, list[str]]) -> list[list[Any]]:
        assert (resource, where) == ("standalone-prices", "sku in :values")
        self.queries.append(variables["values"])
        return [[price for price in self.found if price["sku"] in variables["values"]]]


def test_standalone_prices_are_staged_with_their_products_which_keep_their_version_aside() -> None:
    embedded = {"id": "p-e", "version": 3, "masterVariant": {"id": 1, "sku": "E-1"}, "variants": []}
    standalone = {"id": "p-s", "version": 4, "priceMode": "Standalone", "masterVariant": {"id": 1, "sku": "S-1"},
                  "variants": [{"id": 2, "sku": "S-2"}, {"id": 3}]}  # fmt: skip
    prices = [
        {"id": "sp-1", "sku": "S-1", "value": money("EUR", 100, 2), "tiers": [], "active": True},
        {"id": "sp-2", "sku": "S-2", "value": money("EUR", 200, 2), "country": "DE", "active": False},
    ]
    client = StandalonePricesOnly(prices)
    enriched = with_standalone_prices(cast(CommercetoolsClient, client), [embedded, standalone])
    assert client.queries == [["S-1", "S-2"]]  # one query for the page's SKUs
    assert enriched[0] is embedded
    assert "version" not in enriched[1]  # staged without: the engine's version check never skips it
    assert enriched[1]["ctfluentProductVersion"] == 4
    assert enriched[1]["ctfluentStandalonePrices"] == [
        {"sku": "S-1", "value": money("EUR", 100, 2), "active": True},
        {"sku": "S-2", "value": money("EUR", 200, 2), "country": "DE", "active": False},
    ]
    assert with_standalone_prices(cast(CommercetoolsClient, client), [embedded]) == [embedded]
    assert len(client.queries) == 1  # a page without Standalone products costs no request


@pytest.mark.parametrize(
    ("value", "expected_type", "expected_value"),
    [
        ("red", "STRING", "red"),
        ({"key": "red", "label": "Red"}, "STRING", "Red"),  # enum: the label
        ({"key": "red", "label": {"de": "Rot", "en": "Red"}}, "STRING", "Red"),  # lenum: the label in the chain
        ({"en": "Cotton", "de": "Baumwolle"}, "STRING", "Cotton"),  # ltext
        (True, "BOOLEAN", True),
        (42, "INTEGER", 42),
        (1.5, "FLOAT", 1.5),
        (["a", {"key": "b", "label": "B"}], "JSON", ["a", "B"]),  # sets
        ({"typeId": "product", "id": "p-9"}, "STRING", "p-9"),  # references: the id
    ],
)
def test_attribute_values(value: Any, expected_type: str, expected_value: Any) -> None:
    attribute = attribute_input("color", value, PRODUCTS)
    assert attribute is not None and (attribute.type, attribute.value) == (expected_type, expected_value)


def test_variant_fields_attributes_and_images() -> None:
    settings = ProductSettings(attributes=("color", "missing"))
    master = variant(1, "RUN-1", prices=[{"value": money("EUR", 5000, 2)}], images=[{"url": "https://img/1.jpg"}],
                     attributes=[{"name": "gtin", "value": "4000000000001"},
                                 {"name": "color", "value": {"key": "red", "label": "Red"}}])  # fmt: skip
    (mapped, _) = map_variants(product(masterVariant=master), settings, AT_NOW)
    assert isinstance(mapped, MappedProduct)
    assert mapped.fields["prices"] == [{"type": "DEFAULT", "currency": "EUR", "value": Decimal("50.00")}]
    attributes = {a["name"]: a for a in mapped.fields["attributes"]}
    assert attributes["color"]["value"] == "Red" and "missing" not in attributes
    assert attributes["imageUrls"] == {"name": "imageUrls", "type": "JSON", "value": ["https://img/1.jpg"]}
    assert attributes["ctVariantId"]["value"] == 1 and mapped.fields["type"] == "VARIANT"
    assert mapped.category_ids == ("cat-1",)


def test_a_long_summary_is_cut_and_noted_on_products() -> None:
    (mapped, _) = map_variants(product(description={"en": "y" * 256}), PRODUCTS, AT_NOW)
    assert isinstance(mapped, MappedProduct)
    assert len(mapped.fields["summary"]) == 255 and mapped.notes == ("summary cut from 256 to 255 characters",)
