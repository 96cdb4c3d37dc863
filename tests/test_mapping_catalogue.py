"""commercetools categories and product projections -> Fluent categories, standard and variant products: the
mapping rules, as tables."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ctfluent_dagster.commercetools.models import localized
from ctfluent_dagster.entities.categories.mapping import MappedCategory, SkippedCategory, map_category
from ctfluent_dagster.entities.categories.models import Category
from ctfluent_dagster.entities.categories.settings import CategorySettings
from ctfluent_dagster.entities.products.mapping import (
    MappedProduct,
    SkippedProduct,
    attribute_input,
    map_standard,
    map_variants,
    prices,
)
from ctfluent_dagster.entities.products.models import ProductProjection, Variant
from ctfluent_dagster.entities.products.settings import ProductSettings, TaxType

PRODUCTS = ProductSettings()


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


# -- variants ------------------------------------------------------------------------------------


def test_one_variant_product_per_variant_with_sku_as_ref() -> None:
    mapped = map_variants(product(variants=[variant(2, "RUN-2"), variant(3, None)]), PRODUCTS)
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
    (mapped, _) = map_variants(product(masterVariant=variant(1, "RUN-1", attributes=attributes)), settings)
    if expected is None:
        assert isinstance(mapped, SkippedProduct) and "no gtin" in mapped.reason
    else:
        assert isinstance(mapped, MappedProduct) and mapped.fields["gtin"] == expected


def test_a_sku_too_long_for_gtin_is_not_used_as_one() -> None:
    long_sku = "S" * 21
    (mapped, _) = map_variants(product(masterVariant=variant(1, long_sku, attributes=[])),
                               ProductSettings(missing_gtin="sku"))  # fmt: skip
    assert isinstance(mapped, SkippedProduct)


@pytest.mark.parametrize(
    ("price_list", "expected"),
    [
        ([{"value": money("EUR", 1999, 2)}], [("EUR", Decimal("19.99"))]),
        ([{"value": money("JPY", 1999, 0)}], [("JPY", Decimal("1999"))]),
        ([{"value": money("KWD", 12345, 3)}], [("KWD", Decimal("12.345"))]),
        # scoped prices (country, channel, group, validity) are not the list price of the currency
        ([{"value": money("EUR", 100, 2), "country": "DE"}, {"value": money("EUR", 250, 2)}],
         [("EUR", Decimal("2.50"))]),
        ([{"value": money("USD", 100, 2), "validFrom": "2026-01-01T00:00:00.000Z"}], []),
        ([{"value": money("USD", 5, 2)}, {"value": money("EUR", 7, 2)}],
         [("EUR", Decimal("0.07")), ("USD", Decimal("0.05"))]),
    ],
)  # fmt: skip
def test_prices_are_decimals_with_the_currencys_digits(
    price_list: list[dict[str, Any]], expected: list[tuple[str, Decimal]]
) -> None:
    mapped = prices(Variant.model_validate({"id": 1, "sku": "X", "prices": price_list}), PRODUCTS)
    assert [(p["currency"], p["value"]) for p in mapped] == expected
    assert all(p["type"] == "DEFAULT" and isinstance(p["value"], Decimal) for p in mapped)
    assert [str(p["value"]) for p in mapped] == [str(amount) for _, amount in expected]


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
    (mapped, _) = map_variants(product(masterVariant=master), settings)
    assert isinstance(mapped, MappedProduct)
    assert mapped.fields["prices"] == [{"type": "DEFAULT", "currency": "EUR", "value": Decimal("50.00")}]
    attributes = {a["name"]: a for a in mapped.fields["attributes"]}
    assert attributes["color"]["value"] == "Red" and "missing" not in attributes
    assert attributes["imageUrls"] == {"name": "imageUrls", "type": "JSON", "value": ["https://img/1.jpg"]}
    assert attributes["ctVariantId"]["value"] == 1 and mapped.fields["type"] == "VARIANT"
    assert mapped.category_ids == ("cat-1",)


def test_a_long_summary_is_cut_and_noted_on_products() -> None:
    (mapped, _) = map_variants(product(description={"en": "y" * 256}), PRODUCTS)
    assert isinstance(mapped, MappedProduct)
    assert len(mapped.fields["summary"]) == 255 and mapped.notes == ("summary cut from 256 to 255 characters",)
