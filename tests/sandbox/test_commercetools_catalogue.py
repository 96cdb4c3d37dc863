"""The catalogue over real HTTP: categories (tree, messages, deletion), product types, products (current and staged
data, publishing, messages per action, prices, attributes, uniqueness, versions) and product projections
(visibility, predicates, paging, scopes)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from multidict import MultiDict

from ctfluent_sandbox.commercetools.auth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from ctfluent_sandbox.commercetools.projections import PROJECTION_SCHEMA
from ctfluent_sandbox.commercetools.query import parse_query
from ctfluent_sandbox.commercetools.resources import CustomTypes
from ctfluent_sandbox.seed_catalogue import generate_catalogue
from ctfluent_sandbox.storefront import Storefront
from tests.sandbox.catalogue_fixtures import (
    SHIRT_TYPE,
    create,
    create_category,
    create_product,
    delete,
    image,
    messages_of,
    names,
    price,
    update,
    updated,
)
from tests.sandbox.ct_fixtures import PROJECT, CtSandbox, error_code, running


@pytest.fixture
def ct() -> Iterator[CtSandbox]:
    with running(messages_enabled=True) as sandbox:
        create(sandbox, "/product-types", SHIRT_TYPE)
        yield sandbox


def current_and_staged(ct: CtSandbox, product: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    master = ct.ok(f"/products/{product['id']}")["masterData"]
    return master["current"], master["staged"]


# -- categories ------------------------------------------------------------------------------------------------


def test_categories_form_a_tree_with_ancestors_root_first(ct: CtSandbox) -> None:
    women = create_category(ct, "women", key="women")
    men = create_category(ct, "men", key="men")
    shoes = create_category(ct, "women-shoes", key="women-shoes", parent={"typeId": "category", "key": "women"})
    boots = create_category(ct, "women-boots", parent={"typeId": "category", "id": shoes["id"]}, orderHint="0.5")
    assert women["ancestors"] == [] and "parent" not in women
    assert shoes["parent"] == {"typeId": "category", "id": women["id"]}
    assert [a["id"] for a in boots["ancestors"]] == [women["id"], shoes["id"]]
    assert boots["orderHint"] == "0.5"
    assert women["orderHint"].startswith("0.0000")  # generated from the creation time, as the API does
    assert ct.ok("/categories/key=women-shoes")["id"] == shoes["id"]

    moved = updated(
        ct, "/categories", shoes, {"action": "changeParent", "parent": {"typeId": "category", "key": "men"}}
    )
    assert moved["version"] == 2 and moved["ancestors"] == [{"typeId": "category", "id": men["id"]}]
    below = ct.ok(f"/categories/{boots['id']}")
    assert [a["id"] for a in below["ancestors"]] == [men["id"], shoes["id"]]  # the subtree follows
    assert below["version"] == 1  # ancestors are derived: no version of their own
    found = ct.query_ids("/categories", where=f'ancestors(id = "{men["id"]}")', sort="createdAt asc")
    assert found == [shoes["id"], boots["id"]]

    into_itself = update(ct, "/categories", moved, {"action": "changeParent", "parent": {"id": boots["id"]}})
    assert into_itself.status_code == 400 and error_code(into_itself) == "InvalidOperation"
    no_parent = update(ct, "/categories", moved, {"action": "changeParent"})
    assert no_parent.status_code == 400  # a category cannot become a root again
    stale = update(ct, "/categories", shoes, {"action": "changeOrderHint", "orderHint": "0.1"})
    assert stale.status_code == 409 and stale.json()["errors"][0]["currentVersion"] == 2


def test_category_actions_and_their_only_messages(ct: CtSandbox) -> None:
    category = create_category(ct, "hats", key="hats", externalId="E-1")
    category = updated(
        ct,
        "/categories",
        category,
        {"action": "changeName", "name": names("Hats", de="Hüte")},
        {"action": "setDescription", "description": names("All hats")},
        {"action": "changeOrderHint", "orderHint": "0.3"},
        {"action": "setKey", "key": "hats-and-caps"},
        {"action": "setExternalId"},
        {"action": "changeSlug", "slug": names("hats-and-caps", de="huete")},
    )
    assert (category["name"]["de"], category["description"]["en"], category["orderHint"]) == ("Hüte", "All hats", "0.3")
    assert category["key"] == "hats-and-caps" and "externalId" not in category
    created, slug_changed = messages_of(ct, category)
    assert created["type"] == "CategoryCreated" and created["category"]["key"] == "hats"
    assert created["resourceUserProvidedIdentifiers"] == {"key": "hats", "externalId": "E-1", "slug": names("hats")}
    assert slug_changed["type"] == "CategorySlugChanged"
    assert (slug_changed["slug"], slug_changed["oldSlug"]) == (names("hats-and-caps", de="huete"), names("hats"))
    assert (slug_changed["sequenceNumber"], slug_changed["resourceVersion"]) == (2, 2)
    assert delete(ct, "/categories", category).status_code == 200
    assert [m["type"] for m in messages_of(ct, category)] == ["CategoryCreated", "CategorySlugChanged"]  # no deletion


@pytest.mark.parametrize(
    ("draft", "code", "field"),
    [
        ({"name": names("X"), "slug": names("taken")}, "DuplicateField", "slug.en"),
        ({"name": names("X"), "slug": names("free", de="vergeben")}, "DuplicateField", "slug.de"),
        ({"name": names("X"), "slug": names("has space")}, "InvalidField", "slug.en"),
        ({"name": names("X"), "slug": names("ok-slug"), "key": "taken"}, "DuplicateField", "key"),
        (
            {"name": names("X"), "slug": names("ok-slug"), "parent": {"key": "nowhere"}},
            "ReferencedResourceNotFound",
            None,
        ),
        ({"slug": names("ok-slug")}, "InvalidJsonInput", None),
    ],
)
def test_invalid_category_drafts(ct: CtSandbox, draft: dict[str, Any], code: str, field: str | None) -> None:
    create(ct, "/categories", {"name": names("Taken"), "slug": names("taken", de="vergeben"), "key": "taken"})
    response = ct.post("/categories", draft)
    assert response.status_code == 400 and error_code(response) == code
    if field is not None:
        assert response.json()["errors"][0]["field"] == field


def test_deleting_a_category_deletes_its_subtree_and_leaves_the_products(ct: CtSandbox) -> None:
    root = create_category(ct, "root")
    child = create_category(ct, "child", parent={"id": root["id"]})
    grandchild = create_category(ct, "grandchild", parent={"id": child["id"]})
    other = create_category(ct, "other")
    refs = [{"typeId": "category", "id": c["id"]} for c in (grandchild, other)]
    product = create_product(ct, "tee", categories=refs, categoryOrderHints={grandchild["id"]: "0.4"})
    assert delete(ct, "/categories", child).status_code == 200
    assert ct.get(f"/categories/{grandchild['id']}").status_code == 404
    assert ct.ok(f"/categories/{root['id']}")["id"] == root["id"]
    after = ct.ok(f"/products/{product['id']}")
    for side in ("current", "staged"):
        assert after["masterData"][side]["categories"] == [{"typeId": "category", "id": other["id"]}]
        assert after["masterData"][side]["categoryOrderHints"] == {}
    assert after["version"] == 2 and after["lastModifiedAt"] >= product["lastModifiedAt"]
    assert [m["type"] for m in messages_of(ct, product)] == ["ProductCreated"]


# -- product types ---------------------------------------------------------------------------------------------


def test_product_types_fill_in_defaults_and_are_queryable(ct: CtSandbox) -> None:
    shirt = ct.ok("/product-types/key=shirt")
    color = next(a for a in shirt["attributes"] if a["name"] == "color")
    assert color["level"] == "Variant" and color["attributeConstraint"] == "None"
    assert color["inputHint"] == "SingleLine" and color["isSearchable"] is True
    assert ct.query_ids("/product-types", where='attributes(name = "care")') == [shirt["id"]]
    twice = {**SHIRT_TYPE, "key": "twice", "attributes": [SHIRT_TYPE["attributes"][0]] * 2}
    assert error_code(ct.post("/product-types", twice)) == "AttributeDefinitionAlreadyExists"
    money = {"name": "price", "label": names("P"), "isRequired": False, "type": {"name": "money"}}
    assert ct.post("/product-types", {**SHIRT_TYPE, "key": "m", "attributes": [money]}).status_code == 400
    assert ct.post("/product-types", {"key": "no-description", "name": "N"}).status_code == 400
    assert messages_of(ct, shirt) == []  # the API has no product type messages


def test_a_product_type_in_use_cannot_be_deleted(ct: CtSandbox) -> None:
    shirt = ct.ok("/product-types/key=shirt")
    product = create_product(ct, "tee")
    refused = delete(ct, "/product-types", shirt)
    assert refused.status_code == 400 and error_code(refused) == "ReferenceExists"
    assert refused.json()["errors"][0]["referencedBy"] == "product"
    assert delete(ct, "/products", product).status_code == 200
    assert delete(ct, "/product-types", shirt).status_code == 200


# -- products: creation, staged and current --------------------------------------------------------------------


def test_a_new_product_has_the_draft_as_current_and_staged_data(ct: CtSandbox) -> None:
    product = create_product(
        ct,
        "tee",
        key="tee",
        variants=[{"sku": "tee-2"}, {"key": "no-sku"}],
        publish=True,
    )
    master = product["masterData"]
    assert master["current"] == master["staged"]
    assert (master["published"], master["hasStagedChanges"]) == (True, False)
    assert [v["id"] for v in [master["staged"]["masterVariant"], *master["staged"]["variants"]]] == [1, 2, 3]
    assert master["staged"]["variants"][1] == {
        "id": 3,
        "key": "no-sku",
        "prices": [],
        "images": [],
        "attributes": [],
        "assets": [],
    }
    assert product["productType"] == {"typeId": "product-type", "id": ct.ok("/product-types/key=shirt")["id"]}
    (created,) = messages_of(ct, product)  # created published: ProductCreated only, no ProductPublished
    assert created["type"] == "ProductCreated"
    assert created["productProjection"]["published"] is True
    assert created["productProjection"]["name"] == master["staged"]["name"]
    assert created["resourceUserProvidedIdentifiers"] == {"key": "tee", "slug": names("tee")}
    assert ct.ok("/products/key=tee")["id"] == product["id"]


def test_staged_edits_stay_staged_until_published(ct: CtSandbox) -> None:
    product = create_product(ct, "tee", publish=True)
    edited = updated(
        ct,
        "/products",
        product,
        {"action": "changeName", "name": names("New Tee")},
        {"action": "setDescription", "description": names("Soft")},
        {"action": "setAttribute", "variantId": 1, "name": "size", "value": "L"},
    )
    master = edited["masterData"]
    assert master["hasStagedChanges"] is True
    assert master["current"]["name"] == names("Tee") and "description" not in master["current"]
    assert master["staged"]["name"] == names("New Tee")
    assert ct.ok(f"/product-projections/{product['id']}")["name"] == names("Tee")
    assert ct.ok(f"/product-projections/{product['id']}", staged="true")["name"] == names("New Tee")
    assert [m["type"] for m in messages_of(ct, product)] == ["ProductCreated"]  # staged edits: no message

    published = updated(ct, "/products", edited, {"action": "publish"})
    assert published["masterData"]["current"] == published["masterData"]["staged"]
    assert published["masterData"]["hasStagedChanges"] is False
    message = messages_of(ct, product)[-1]
    assert (message["type"], message["scope"], message["removedImageUrls"]) == ("ProductPublished", "All", [])
    projection = message["productProjection"]
    assert projection == ct.ok(f"/product-projections/{product['id']}")  # the full current projection
    assert (projection["version"], projection["lastModifiedAt"]) == (published["version"], published["lastModifiedAt"])


def test_staged_false_changes_current_and_staged_alike(ct: CtSandbox) -> None:
    product = create_product(ct, "tee", publish=True)
    edited = updated(ct, "/products", product, {"action": "changeName", "name": names("Both"), "staged": False})
    assert edited["masterData"]["current"]["name"] == edited["masterData"]["staged"]["name"] == names("Both")
    assert edited["masterData"]["hasStagedChanges"] is False
    assert [m["type"] for m in messages_of(ct, product)] == ["ProductCreated"]  # no message type for a name


def test_revert_and_publish_prices_only(ct: CtSandbox) -> None:
    product = create_product(ct, "tee", publish=True)
    price_id = product["masterData"]["staged"]["masterVariant"]["prices"][0]["id"]
    edited = updated(
        ct,
        "/products",
        product,
        {"action": "changeName", "name": names("Staged")},
        {"action": "changePrice", "priceId": price_id, "price": price("EUR", 2999)},
        {"action": "addExternalImage", "variantId": 1, "image": image("https://img.example/new.jpg")},
    )
    prices_only = updated(ct, "/products", edited, {"action": "publish", "scope": "Prices"})
    current, staged = prices_only["masterData"]["current"], prices_only["masterData"]["staged"]
    assert current["masterVariant"]["prices"][0]["value"]["centAmount"] == 2999
    assert current["name"] == names("Tee") and staged["name"] == names("Staged")
    assert prices_only["masterData"]["hasStagedChanges"] is True
    reverted = updated(ct, "/products", prices_only, {"action": "revertStagedChanges"})
    assert reverted["masterData"]["staged"] == reverted["masterData"]["current"]
    assert reverted["masterData"]["hasStagedChanges"] is False
    last = messages_of(ct, product)[-1]
    assert last["type"] == "ProductRevertedStagedChanges"
    assert last["removedImageUrls"] == ["https://img.example/new.jpg"]
    assert messages_of(ct, product)[-2]["scope"] == "Prices"


def test_unpublish_and_publish_control_visibility_in_current_projections(ct: CtSandbox) -> None:
    draft = create_product(ct, "draft")  # never published
    live = create_product(ct, "live", key="live", publish=True)
    assert ct.query_ids("/product-projections") == [live["id"]]
    assert set(ct.query_ids("/product-projections", staged="true")) == {draft["id"], live["id"]}
    assert ct.get(f"/product-projections/{draft['id']}").status_code == 404
    assert ct.request("HEAD", f"/product-projections/{draft['id']}").status_code == 404
    assert ct.request("HEAD", f"/product-projections/{draft['id']}", {"staged": "true"}).status_code == 200
    unpublished = updated(ct, "/products", live, {"action": "unpublish"})
    assert unpublished["masterData"]["published"] is False
    assert unpublished["masterData"]["current"]["name"] == names("Live")  # the current data stays
    assert ct.query_ids("/product-projections") == []
    assert ct.get("/product-projections/key=live").status_code == 404
    assert ct.ok(f"/product-projections/{live['id']}", staged="true")["published"] is False
    republished = updated(ct, "/products", unpublished, {"action": "publish"})
    assert ct.ok(f"/product-projections/{live['id']}")["version"] == republished["version"]
    assert [m["type"] for m in messages_of(ct, live)] == ["ProductCreated", "ProductUnpublished", "ProductPublished"]
    assert ct.get("/product-projections", staged="maybe").status_code == 400


# -- products: messages per action -----------------------------------------------------------------------------

ACTION_MESSAGES: list[tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]] = [
    ([{"action": "changeName", "name": names("N")}], []),
    ([{"action": "setDescription", "description": names("D"), "staged": False}], []),
    ([{"action": "setKey", "key": "new-key"}], []),
    ([{"action": "setSku", "variantId": 1, "sku": "other-sku"}], []),
    ([{"action": "setAttribute", "sku": "tee-1", "name": "gtin", "value": "4006381333931"}], []),
    ([{"action": "setAttributeInAllVariants", "name": "organic", "value": True, "staged": False}], []),
    (
        [{"action": "changeSlug", "slug": names("t2")}],
        [("ProductSlugChanged", {"slug": names("t2"), "oldSlug": names("tee")})],
    ),
    ([{"action": "unpublish"}], [("ProductUnpublished", {})]),
    ([{"action": "publish"}], [("ProductPublished", {"scope": "All", "removedImageUrls": []})]),
    (
        [{"action": "addVariant", "sku": "tee-9", "prices": [price("USD", 500)]}],
        [("ProductVariantAdded", {"variant": {"id": 2, "sku": "tee-9"}, "staged": True})],
    ),
    (
        [{"action": "addVariant", "sku": "tee-9", "images": [image("https://img.example/9.jpg")], "staged": False}],
        [("ProductVariantAdded", {"variant": {"id": 2}, "staged": False})],
    ),
    (
        [
            {"action": "addVariant", "sku": "tee-9", "images": [image("https://img.example/9.jpg")], "staged": False},
            {"action": "removeVariant", "sku": "tee-9", "staged": False},
        ],
        [
            ("ProductVariantAdded", {"staged": False}),
            (
                "ProductVariantDeleted",
                {
                    "variant": {"id": 2, "sku": "tee-9"},
                    "removedImageUrls": ["https://img.example/9.jpg"],
                    "staged": False,
                },
            ),
        ],
    ),
    (
        [{"action": "addPrice", "variantId": 1, "price": price("JPY", 3300, country="JP")}],
        [
            (
                "ProductPriceAdded",
                {"variantId": 1, "price": {"value": {"currencyCode": "JPY", "fractionDigits": 0}}, "staged": True},
            )
        ],
    ),
    (
        [{"action": "setPrices", "sku": "tee-1", "prices": [price("EUR", 100)], "staged": False}],
        [("ProductPricesSet", {"variantId": 1, "staged": False})],
    ),
    (
        [{"action": "addExternalImage", "variantId": 1, "image": image("https://img.example/x.jpg")}],
        [("ProductImageAdded", {"variantId": 1, "image": {"url": "https://img.example/x.jpg"}, "staged": True})],
    ),
    (
        [{"action": "addToCategory", "category": {"key": "shirts"}, "orderHint": "0.2"}],
        [("ProductAddedToCategory", {"category": {"typeId": "category"}, "staged": True})],
    ),
    (
        [{"action": "removeFromCategory", "category": {"key": "tops"}, "staged": False}],
        [("ProductRemovedFromCategory", {"category": {"typeId": "category"}, "staged": False})],
    ),
    ([{"action": "revertStagedChanges"}], [("ProductRevertedStagedChanges", {"removedImageUrls": []})]),
    ([{"action": "setPriceMode", "priceMode": "Standalone"}], [("ProductPriceModeSet", {"to": "Standalone"})]),
    ([{"action": "setPriceMode"}], [("ProductPriceModeSet", {"to": "Embedded"})]),  # unset: the default mode
]


def contains(actual: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and contains(actual[k], v) for k, v in expected.items())
    return bool(actual == expected)


@pytest.mark.parametrize(("actions", "expected"), ACTION_MESSAGES, ids=lambda v: str(v)[:70])
def test_each_product_action_produces_exactly_its_messages(
    ct: CtSandbox, actions: list[dict[str, Any]], expected: list[tuple[str, dict[str, Any]]]
) -> None:
    create_category(ct, "shirts", key="shirts")
    tops = create_category(ct, "tops", key="tops")
    product = create_product(ct, "tee", categories=[{"typeId": "category", "id": tops["id"]}], publish=True)
    after = updated(ct, "/products", product, *actions)
    new = messages_of(ct, product)[1:]
    assert [m["type"] for m in new] == [t for t, _ in expected]
    for message, (_, payload) in zip(new, expected, strict=True):
        assert contains(message, payload), message
        assert message["resourceVersion"] == after["version"] == 2


def test_price_changes_report_old_and_new_prices(ct: CtSandbox) -> None:
    product = create_product(ct, "tee", publish=True)
    old = product["masterData"]["staged"]["masterVariant"]["prices"][0]
    staged_only = updated(
        ct, "/products", product, {"action": "changePrice", "priceId": old["id"], "price": price("EUR", 2500)}
    )
    both = updated(
        ct,
        "/products",
        staged_only,
        {"action": "changePrice", "priceId": old["id"], "price": price("EUR", 2700), "staged": False},
    )
    first, second = messages_of(ct, product)[1:]
    assert first["oldPrice"] == old and first["newPrice"]["value"]["centAmount"] == 2500 and first["staged"] is True
    assert "oldStagedPrice" not in first
    assert second["oldPrice"] == old and second["oldStagedPrice"]["value"]["centAmount"] == 2500
    assert second["newPrice"]["id"] == old["id"]  # a changed price keeps its id
    removed = updated(ct, "/products", both, {"action": "removePrice", "priceId": old["id"], "staged": False})
    assert removed["masterData"]["current"]["masterVariant"]["prices"] == []
    last = messages_of(ct, product)[-1]
    assert (last["type"], last["price"]["id"], last["staged"]) == ("ProductPriceRemoved", old["id"], False)


def test_the_price_mode_is_the_products_and_shows_in_its_projections_at_once(ct: CtSandbox) -> None:
    product = create_product(ct, "tee", publish=True)
    assert "priceMode" not in ct.ok(f"/product-projections/{product['id']}")  # not set: Embedded
    standalone = updated(ct, "/products", product, {"action": "setPriceMode", "priceMode": "Standalone"})
    assert standalone["priceMode"] == "Standalone" and not standalone["masterData"]["hasStagedChanges"]
    assert ct.ok(f"/product-projections/{product['id']}")["priceMode"] == "Standalone"
    assert error_code(update(ct, "/products", standalone, {"action": "setPriceMode", "priceMode": "Both"})) == (
        "InvalidJsonInput"
    )
    embedded = updated(ct, "/products", standalone, {"action": "setPriceMode"})
    assert "priceMode" not in embedded


def test_deleting_a_product_reports_its_images_and_current_projection(ct: CtSandbox) -> None:
    product = create_product(ct, "tee", publish=True)
    product = updated(
        ct,
        "/products",
        product,
        {"action": "addExternalImage", "variantId": 1, "image": image("https://img.example/s.jpg")},
    )
    assert delete(ct, "/products", {**product, "version": 1}).status_code == 409
    assert delete(ct, "/products", product).status_code == 200
    deleted = messages_of(ct, product)[-1]
    assert deleted["type"] == "ProductDeleted" and deleted["resourceVersion"] == product["version"] + 1
    assert deleted["removedImageUrls"] == ["https://img.example/tee/1.jpg", "https://img.example/s.jpg"]
    assert deleted["currentProjection"]["id"] == product["id"]
    assert ct.get(f"/product-projections/{product['id']}", staged="true").status_code == 404
    assert ct.get(f"/products/{product['id']}").status_code == 404


# -- products: values, uniqueness, versions ---------------------------------------------------------------------


def test_prices_carry_the_currency_fraction_digits(ct: CtSandbox) -> None:
    prices = [
        price("JPY", 1500),
        price("EUR", 1500, country="DE"),
        price("KWD", 1500),
        price("USD", 1500, channel={"typeId": "channel", "id": "ch-1"}),
    ]
    product = create_product(ct, "tee", masterVariant={"sku": "tee-1", "prices": prices})
    stored = product["masterData"]["staged"]["masterVariant"]["prices"]
    assert [(p["value"]["currencyCode"], p["value"]["fractionDigits"]) for p in stored] == [
        ("JPY", 0),
        ("EUR", 2),
        ("KWD", 3),
        ("USD", 2),
    ]
    assert all(p["value"]["type"] == "centPrecision" and p["value"]["centAmount"] == 1500 for p in stored)
    assert len({p["id"] for p in stored}) == 4 and stored[1]["country"] == "DE"
    assert stored[3]["channel"] == {"typeId": "channel", "id": "ch-1"}
    for bad in (
        price("euro", 1),
        {"value": {"currencyCode": "EUR", "centAmount": 1.5}},
        price("EUR", 1, country="Germany"),
        price("EUR", 1, channel={"key": "web"}),
    ):
        assert ct.post("/products", {**_shirt_draft("bad"), "masterVariant": {"prices": [bad]}}).status_code == 400
    duplicate = ct.post(
        "/products", {**_shirt_draft("dup"), "masterVariant": {"prices": [price("EUR", 1), price("EUR", 2)]}}
    )
    assert error_code(duplicate) == "DuplicatePriceScope"
    assert duplicate.json()["errors"][0]["conflictingPrice"]["value"]["centAmount"] == 1
    sale = price("EUR", 1, validFrom="2026-01-01T00:00:00.000Z", validUntil="2026-02-01T00:00:00.000Z")
    assert (
        ct.post("/products", {**_shirt_draft("sale"), "masterVariant": {"prices": [price("EUR", 2), sale]}}).status_code
        == 201
    )


def _shirt_draft(slug: str) -> dict[str, Any]:
    return {"productType": {"typeId": "product-type", "key": "shirt"}, "name": names(slug), "slug": names(slug)}


def test_attributes_are_checked_against_the_product_type_and_stored_as_returned(ct: CtSandbox) -> None:
    attributes = [
        {"name": "color", "value": "blue"},
        {"name": "size", "value": {"key": "M"}},
        {"name": "material", "value": names("Cotton", de="Baumwolle")},
        {"name": "care", "value": ["wash", "dry", "wash"]},
        {"name": "weight", "value": 0.25},
        {"name": "organic", "value": False},
    ]
    product = create_product(ct, "tee", masterVariant={"sku": "tee-1", "attributes": attributes})
    stored = {a["name"]: a["value"] for a in product["masterData"]["staged"]["masterVariant"]["attributes"]}
    assert stored["color"] == {"key": "blue", "label": names("Blue", de="Blau")}
    assert stored["size"] == {"key": "M", "label": "Medium"}
    assert stored["care"] == ["wash", "dry"]
    assert (stored["weight"], stored["organic"]) == (0.25, False)
    for bad, code in (
        ({"name": "color", "value": "green"}, "InvalidField"),
        ({"name": "organic", "value": "yes"}, "InvalidField"),
        ({"name": "weight", "value": True}, "InvalidField"),
        ({"name": "fabric", "value": "x"}, "AttributeNameDoesNotExist"),
    ):
        response = update(ct, "/products", product, {"action": "setAttribute", "variantId": 1, **bad})
        assert (response.status_code, error_code(response)) == (400, code)
    unset = updated(ct, "/products", product, {"action": "setAttribute", "variantId": 1, "name": "care"})
    assert "care" not in {a["name"] for a in unset["masterData"]["staged"]["masterVariant"]["attributes"]}


def test_skus_keys_and_slugs_are_unique(ct: CtSandbox) -> None:
    first = create_product(ct, "tee", key="tee")
    for draft, field in (
        ({**_shirt_draft("other"), "masterVariant": {"sku": "tee-1"}}, "sku"),
        ({**_shirt_draft("tee")}, "slug.en"),
        ({**_shirt_draft("third"), "key": "tee"}, "key"),
        ({**_shirt_draft("fourth"), "masterVariant": {"sku": "x"}, "variants": [{"sku": "x"}]}, "sku"),
    ):
        response = ct.post("/products", draft)
        assert (response.status_code, error_code(response)) == (400, "DuplicateField"), draft
        assert response.json()["errors"][0]["field"] == field
    second = create_product(ct, "shirt", key="tee-1")  # a key may equal a SKU (of this or another product)
    clash = update(ct, "/products", second, {"action": "setSku", "variantId": 1, "sku": "tee-1", "staged": False})
    assert error_code(clash) == "DuplicateField"
    renamed = updated(ct, "/products", first, {"action": "setSku", "variantId": 1, "sku": "tee-one"})
    still_current = update(ct, "/products", second, {"action": "setSku", "variantId": 1, "sku": "tee-1"})
    assert error_code(still_current) == "DuplicateField"  # the current data still holds tee-1
    assert renamed["masterData"]["current"]["masterVariant"]["sku"] == "tee-1"


def test_versions_conflicts_and_atomic_action_lists(ct: CtSandbox) -> None:
    product = create_product(ct, "tee")
    stale = update(ct, "/products", {**product, "version": 7}, {"action": "publish"})
    assert stale.status_code == 409 and stale.json()["errors"][0]["currentVersion"] == 1
    failing = update(
        ct,
        "/products",
        product,
        {"action": "changeName", "name": names("Never")},
        {"action": "publish"},
        {"action": "removeVariant", "id": 1},  # the master variant cannot go
    )
    assert failing.status_code == 400 and error_code(failing) == "InvalidOperation"
    assert ct.ok(f"/products/{product['id']}") == product
    assert messages_of(ct, product)[-1]["type"] == "ProductCreated"
    missing = update(ct, "/products", product, {"action": "setAttribute", "variantId": 5, "name": "gtin", "value": "1"})
    assert error_code(missing) == "InvalidInput"
    unknown = update(ct, "/products", product, {"action": "transitionState"})
    assert error_code(unknown) == "InvalidJsonInput"
    assert update(ct, "/products", product, {"action": "changeName", "name": {}}).status_code == 400


# -- product projections: predicates, paging, scopes ------------------------------------------------------------


@pytest.fixture(scope="module")
def seeded() -> Iterator[CtSandbox]:
    with running() as sandbox:
        sandbox.emulator.seed(customers=0, days=30, seed=8, products=200)
        yield sandbox


def projections_where(ct: CtSandbox, staged: bool, **params: str | Sequence[str]) -> set[str]:
    return set(ct.query_ids("/product-projections", staged=str(staged).lower(), limit="500", **params))


def test_projection_predicates_match_the_documents(seeded: CtSandbox) -> None:
    products = list(seeded.emulator.products.collection)
    published = [p for p in products if p["masterData"]["published"]]
    some = next(p for p in published if p["masterData"]["current"]["variants"] and "key" in p)
    current = some["masterData"]["current"]
    category = current["categories"][0]["id"]
    stamps = sorted(p["lastModifiedAt"] for p in published)

    def expect(side: str, test: Any, pool: list[dict[str, Any]]) -> set[str]:
        return {p["id"] for p in pool if test(p["masterData"][side])}

    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"where": f'id = "{some["id"]}"'}, {some["id"]}),
        ({"where": f'key = "{some["key"]}"'}, {some["id"]}),
        ({"where": f'masterVariant(sku = "{current["masterVariant"]["sku"]}")'}, {some["id"]}),
        ({"where": "variants(sku = :sku)", "var.sku": current["variants"][0]["sku"]}, {some["id"]}),
        (
            {"where": f'categories(id = "{category}")'},
            expect("current", lambda d: category in [c["id"] for c in d["categories"]], published),
        ),
        ({"where": "published = true"}, {p["id"] for p in published}),
        ({"where": "hasStagedChanges = true"}, {p["id"] for p in published if p["masterData"]["hasStagedChanges"]}),
        (
            {"where": f'lastModifiedAt >= "{stamps[50]}" and lastModifiedAt < "{stamps[100]}"'},
            {p["id"] for p in published if stamps[50] <= p["lastModifiedAt"] < stamps[100]},
        ),
        ({"where": f'createdAt < "{stamps[0]}"'}, {p["id"] for p in published if p["createdAt"] < stamps[0]}),
        (
            {"where": f'name(en = "{current["name"]["en"]}")'},
            expect("current", lambda d: d["name"]["en"] == current["name"]["en"], published),
        ),
        (
            {"where": 'masterVariant(attributes(name = "gtin" and value is defined))'},
            expect("current", lambda d: any(a["name"] == "gtin" for a in d["masterVariant"]["attributes"]), published),
        ),
        (
            {"where": 'masterVariant(prices(value(currencyCode = "JPY" and fractionDigits = 0)))'},
            {p["id"] for p in published},
        ),
        ({"where": "key is not defined"}, {p["id"] for p in published if "key" not in p}),
    ]
    for params, expected in cases:
        assert projections_where(seeded, False, **params) == expected, params
    renamed = next(p for p in products if p["masterData"]["staged"]["name"]["en"].endswith("(new season)"))
    staged_name = {"where": "name(en = :n)", "var.n": renamed["masterData"]["staged"]["name"]["en"]}
    assert projections_where(seeded, True, **staged_name) == {renamed["id"]}
    assert projections_where(seeded, False, **staged_name) == set()  # only staged so far
    assert projections_where(seeded, True, where="published = false") == {
        p["id"] for p in products if not p["masterData"]["published"]
    }
    not_a_projection_field = seeded.get("/product-projections", where="masterData(published = true)")
    assert not_a_projection_field.status_code == 400
    products_query = seeded.query_ids("/products", where="masterData(published = false)", limit="500")
    assert set(products_query) == {p["id"] for p in products if not p["masterData"]["published"]}


@pytest.mark.parametrize("staged", [False, True])
def test_id_cursor_paging_of_projections_returns_each_product_once(seeded: CtSandbox, staged: bool) -> None:
    products = list(seeded.emulator.products.collection)
    stamps = sorted(p["lastModifiedAt"] for p in products)
    start, end = stamps[20], stamps[180]
    expected = sorted(
        p["id"] for p in products if (staged or p["masterData"]["published"]) and start <= p["lastModifiedAt"] < end
    )
    seen: list[str] = []
    while True:
        where = f'lastModifiedAt >= "{start}" and lastModifiedAt < "{end}"' + (
            f' and id > "{seen[-1]}"' if seen else ""
        )
        page = seeded.ok(
            "/product-projections",
            staged=str(staged).lower(),
            where=where,
            sort="id asc",
            limit="25",
            withTotal="false",
        )
        assert "total" not in page
        seen += [r["id"] for r in page["results"]]
        if page["count"] < 25:
            break
    assert seen == expected


def test_projection_scopes(seeded: CtSandbox) -> None:
    def get(scope: str, path: str, **params: str) -> int:
        token = seeded.token(scope=f"{scope}:{PROJECT}").json()["access_token"]
        url = f"{seeded.url}/{PROJECT}{path}"
        return seeded.session.get(
            url, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ).status_code

    assert get("view_published_products", "/product-projections") == 200
    assert get("view_published_products", "/product-projections", staged="true") == 403
    assert get("view_published_products", "/products") == 403
    assert get("view_products", "/product-projections", staged="true") == 200
    assert get("manage_products", "/products") == 200
    assert get("view_categories", "/categories") == 200
    assert get("view_products", "/categories") == 200
    assert get("view_categories", "/product-types") == 403
    assert get("view_product_types", "/product-types") == 200
    assert get("view_customers", "/product-projections") == 403


def test_messages_expand_to_the_current_product_and_category(ct: CtSandbox) -> None:
    category = create_category(ct, "caps")
    product = create_product(ct, "cap", categories=[{"typeId": "category", "id": category["id"]}])
    product = updated(ct, "/products", product, {"action": "publish"})
    page = ct.ok("/messages", expand="resource", sort=["createdAt asc", "id asc"])
    objects = {m["type"]: m["resource"]["obj"] for m in page["results"]}
    assert objects["CategoryCreated"] == ct.ok(f"/categories/{category['id']}")
    assert objects["ProductCreated"] == objects["ProductPublished"] == product  # the current state, not the old one


# -- seed --------------------------------------------------------------------------------------------------------


def test_the_catalogue_seed_is_deterministic() -> None:
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    first, again = (generate_catalogue(40, 30, 7, now, types=CustomTypes(PROJECT)) for _ in range(2))
    other = generate_catalogue(40, 30, 8, now, types=CustomTypes(PROJECT))
    assert first == again
    assert [p["id"] for p in first.products] != [p["id"] for p in other.products]
    with running() as one, running() as two:  # and through the admin API, at each emulator's own now
        identities = []
        for sandbox in (one, two):
            sandbox.admin.call("POST", "/seed", {"customers": 0, "days": 10, "seed": 3, "products": 20})
            identities.append(
                [(p["id"], p.get("key"), p["masterData"]["staged"]["slug"]) for p in sandbox.admin.state()["products"]]
            )
        assert identities[0] == identities[1]


def test_seed_hard_cases_are_present_in_fifty_products() -> None:
    with running() as ct:
        answer = ct.admin.call("POST", "/seed", {"customers": 5, "days": 10, "seed": 3, "products": 50})
        assert (answer["products"], answer["product_types"], answer["customers"]) == (50, 3, 5)
        state = ct.admin.state()
        assert answer["categories"] == len(state["categories"]) >= 12
    products = state["products"]

    def variants(product: dict[str, Any], side: str = "staged") -> list[dict[str, Any]]:
        data = product["masterData"][side]
        return [data["masterVariant"], *data["variants"]]

    def attribute_names(variant: dict[str, Any]) -> set[str]:
        return {a["name"] for a in variant["attributes"]}

    assert any("key" not in p for p in products)
    assert any(p.get("key") in {v.get("sku") for v in variants(p)} for p in products)
    assert any(not p["masterData"]["published"] and p["version"] == 1 for p in products)  # never published
    assert any(not p["masterData"]["published"] and p["version"] > 1 for p in products)
    staged_changes = [p for p in products if p["masterData"]["hasStagedChanges"]]
    assert staged_changes and all(p["masterData"]["current"] != p["masterData"]["staged"] for p in staged_changes)
    assert any("gtin" not in attribute_names(v) for p in products for v in variants(p))
    assert any("sku" not in v for p in products for v in variants(p))
    assert {len(variants(p)) for p in products} >= {1, 2, 3, 4}
    prices = [price for p in products for v in variants(p) for price in v["prices"]]
    assert {(q["value"]["currencyCode"], q["value"]["fractionDigits"]) for q in prices} == {
        ("EUR", 2),
        ("USD", 2),
        ("JPY", 0),
    }
    assert {loc for p in products for loc in p["masterData"]["staged"]["name"]} == {"en", "de", "ja"}
    assert all(v["images"] or v["id"] > 1 for p in products for v in variants(p))
    categories = {c["id"]: c for c in state["categories"]}
    assert max(len(c["ancestors"]) for c in categories.values()) == 2  # three levels deep
    assert any("key" not in c for c in categories.values())
    assert all(1 <= len(p["masterData"]["staged"]["categories"]) <= 2 for p in products)
    assert all(categories[c["id"]]["ancestors"] for p in products for c in p["masterData"]["staged"]["categories"])
    assert len({p["lastModifiedAt"][:10] for p in products}) > 5  # spread over the window
    type_attributes = {a["name"]: a["type"]["name"] for t in state["product_types"] for a in t["attributes"]}
    assert type_attributes | {"size": "enum"} == {
        "gtin": "text", "color": "lenum", "size": "enum", "shoe-size": "number", "material": "ltext",
        "organic": "boolean", "waterproof": "boolean", "gift-wrap": "boolean", "care": "set",
    }  # fmt: skip


def test_seed_defaults_keep_existing_callers_working() -> None:
    with running() as ct:
        answer = ct.admin.call("POST", "/seed", {"customers": 7, "days": 2, "seed": 1})
        assert (answer["products"], answer["categories"], answer["product_types"]) == (0, 0, 0)
        sized = ct.admin.call("POST", "/seed", {"customers": 0, "products": 3, "categories": 5, "variants": 2})
        assert (sized["products"], sized["categories"]) == (3, 5)
        assert all(len(p["variants"]) == 1 for p in ct.ok("/product-projections", staged="true")["results"])
        for bad in ({"products": -1}, {"products": 5, "variants": 0}, {"products": "many"}):
            assert ct.admin.session.post(f"{ct.url}/_admin/seed", json=bad, timeout=10).status_code == 400


@pytest.fixture(scope="module")
def large() -> Iterator[tuple[CtSandbox, dict[str, Any]]]:
    """10,000 products with 5 variants each (the size the benchmark seeds), and the seed's answer."""
    with running() as sandbox:
        yield sandbox, sandbox.emulator.seed(customers=0, days=60, seed=5, products=10_000, variants=5)


def test_ten_thousand_products_seed_in_seconds(large: tuple[CtSandbox, dict[str, Any]]) -> None:
    ct, answer = large
    assert answer["products"] == len(ct.emulator.products.collection) == 10_000
    assert answer["seconds"] < 30  # about 7 s on one free core; generous for a busy machine
    assert all(len(p["variants"]) == 4 for p in ct.ok("/product-projections", staged="true", limit="50")["results"])


@pytest.mark.parametrize("staged", ["false", "true"])
def test_a_projection_cursor_page_is_an_index_range_scan(large: tuple[CtSandbox, dict[str, Any]], staged: str) -> None:
    large_ct, _ = large
    projections = large_ct.emulator.product_collection
    collection = projections.staged if staged == "true" else projections.current
    ids = sorted(p["id"] for p in collection)
    stamps = sorted(p["lastModifiedAt"] for p in collection)
    collection.evaluations = 0
    page = large_ct.ok(
        "/product-projections",
        staged=staged,
        sort="id asc",
        where=f'id > "{ids[4000]}"',
        limit="500",
        withTotal="false",
    )
    assert [r["id"] for r in page["results"]] == ids[4001:4501]
    assert collection.evaluations <= 501
    window = f'lastModifiedAt >= "{stamps[2000]}" and lastModifiedAt < "{stamps[2600]}" and id > "0"'
    collection.evaluations = 0
    page = large_ct.ok(
        "/product-projections", staged=staged, sort="id asc", where=window, limit="500", withTotal="false"
    )
    assert page["count"] == 500 and collection.evaluations <= 601
    request = {"where": f'id > "{ids[5000]}"', "sort": "id asc", "limit": "500", "withTotal": "false"}
    with large_ct.emulator.lock:  # the query itself, without HTTP and JSON: a few ms
        started = time.perf_counter()
        parsed = parse_query(MultiDict(request), PROJECTION_SCHEMA)
        results = collection.query(parsed.predicate, parsed.sort, offset=0, limit=500, with_total=False).results
        elapsed = time.perf_counter() - started
    assert len(results) == 500 and elapsed < 0.05


# -- the storefront helper -----------------------------------------------------------------------------------------


def test_storefront_publishes_unpublishes_and_renames_products(ct: CtSandbox) -> None:
    env = {
        "CTP_API_URL": ct.url,
        "CTP_AUTH_URL": ct.url,
        "CTP_PROJECT_KEY": PROJECT,
        "CTP_CLIENT_ID": DEFAULT_CLIENT_ID,
        "CTP_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
    }
    storefront = Storefront(env)
    product = create_product(ct, "tee", key="tee")
    assert storefront.publish("key=tee")["masterData"]["published"] is True
    renamed = storefront.rename_product(product["id"], "Renamed Tee")
    assert renamed["masterData"]["current"]["name"] == names("Renamed Tee")
    assert renamed["masterData"]["hasStagedChanges"] is False
    assert storefront.unpublish(product["id"])["masterData"]["published"] is False
    assert [p["id"] for p in storefront.products(where="masterData(published = false)")] == [product["id"]]
    assert [m["type"] for m in messages_of(ct, product)] == [
        "ProductCreated",
        "ProductPublished",
        "ProductPublished",
        "ProductUnpublished",
    ]
