"""The product catalogue on the Fluent emulator: catalogues, categories, standard and variant products.

Every document is checked against the real schema (``../shared``) before it is sent (``CheckedClient``).
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from graphql import GraphQLSchema

from tests.sandbox.fluent_fixtures import (
    CheckedClient,
    FluentClient,
    error_codes,
    fluent_fixture,  # noqa: F401 (fixture)
    fluent_server_fixture,  # noqa: F401 (fixture)
    real_schema_fixture,  # noqa: F401 (fixture)
)

MASTER = "PC:MASTER:1"

CATEGORY_FIELDS = """
id ref type status workflowRef workflowVersion name summary attributes { name type value }
parentCategory { ref } catalogue { ref } createdOn updatedOn
"""
PRODUCT_FIELDS = """
id ref type status workflowRef workflowVersion gtin name summary attributes { name type value }
prices { type currency value } tax { country group tariff } categories(first: 50) { edges { node { ref } } }
catalogue { ref } createdOn updatedOn
"""

PRODUCT_CATALOGUE = """
query ProductCatalogue($ref: String!) {
  productCatalogue(ref: $ref) { id ref type status workflowRef workflowVersion name retailerRefs }
}
"""
CREATE_CATEGORY = f"""
mutation CreateCategory($input: CreateCategoryInput!) {{ createCategory(input: $input) {{ {CATEGORY_FIELDS} }} }}
"""
UPDATE_CATEGORY = f"""
mutation UpdateCategory($input: UpdateCategoryInput!) {{ updateCategory(input: $input) {{ {CATEGORY_FIELDS} }} }}
"""
CATEGORY = f"""
query Category($ref: String!, $catalogue: ProductCatalogueKey!) {{
  category(ref: $ref, catalogue: $catalogue) {{
    {CATEGORY_FIELDS} childCategories(first: 50) {{ edges {{ node {{ ref }} }} }}
  }}
}}
"""
CATEGORIES = """
query Categories($ref: [String!], $status: [String], $catalogue: ProductCatalogueKey, $first: Int, $after: String) {
  categories(ref: $ref, status: $status, catalogue: $catalogue, first: $first, after: $after) {
    edges { cursor node { ref } }
    pageInfo { hasNextPage hasPreviousPage }
  }
}
"""
CREATE_STANDARD = f"""
mutation CreateStandardProduct($input: CreateStandardProductInput!) {{
  createStandardProduct(input: $input) {{ {PRODUCT_FIELDS} }}
}}
"""
UPDATE_STANDARD = f"""
mutation UpdateStandardProduct($input: UpdateStandardProductInput!) {{
  updateStandardProduct(input: $input) {{ {PRODUCT_FIELDS} }}
}}
"""
STANDARD = f"""
query StandardProduct($ref: String!, $catalogue: ProductCatalogueKey!) {{
  standardProduct(ref: $ref, catalogue: $catalogue) {{
    {PRODUCT_FIELDS} variants(first: 50) {{ edges {{ node {{ ref }} }} }}
  }}
}}
"""
STANDARDS = """
query StandardProducts(
  $status: [String], $gtin: [String!], $catalogue: ProductCatalogueKey, $first: Int, $after: String
) {
  standardProducts(status: $status, gtin: $gtin, catalogue: $catalogue, first: $first, after: $after) {
    edges { cursor node { ref } }
    pageInfo { hasNextPage hasPreviousPage }
  }
}
"""
CREATE_VARIANT = f"""
mutation CreateVariantProduct($input: CreateVariantProductInput!) {{
  createVariantProduct(input: $input) {{ {PRODUCT_FIELDS} product {{ ref }} }}
}}
"""
UPDATE_VARIANT = f"""
mutation UpdateVariantProduct($input: UpdateVariantProductInput!) {{
  updateVariantProduct(input: $input) {{ {PRODUCT_FIELDS} product {{ ref }} }}
}}
"""
VARIANT = f"""
query VariantProduct($ref: String!, $catalogue: ProductCatalogueKey!) {{
  variantProduct(ref: $ref, catalogue: $catalogue) {{ {PRODUCT_FIELDS} product {{ ref }} }}
}}
"""
VARIANTS = """
query VariantProducts($ref: [String!], $status: [String], $first: Int, $after: String) {
  variantProducts(ref: $ref, status: $status, first: $first, after: $after) {
    edges { cursor node { ref } }
    pageInfo { hasNextPage hasPreviousPage }
  }
}
"""
REMOVE_FROM_STANDARD = """
mutation RemoveCategoriesFromStandardProduct($input: RemoveCategoriesFromStandardProductInput!) {
  removeCategoriesFromStandardProduct(input: $input) { status }
}
"""
REMOVE_FROM_VARIANT = """
mutation RemoveCategoriesFromVariantProduct($input: RemoveCategoriesFromVariantProductInput!) {
  removeCategoriesFromVariantProduct(input: $input) { status }
}
"""

# The documents of one product kind, for tests that hold for both.
KINDS = {
    "standard": {
        "create": CREATE_STANDARD,
        "update": UPDATE_STANDARD,
        "get": STANDARD,
        "remove": REMOVE_FROM_STANDARD,
        "key_field": "standardProduct",
        "table": "standard_products",
    },
    "variant": {
        "create": CREATE_VARIANT,
        "update": UPDATE_VARIANT,
        "get": VARIANT,
        "remove": REMOVE_FROM_VARIANT,
        "key_field": "variantProduct",
        "table": "variant_products",
    },
}


def key(ref: str, catalogue: str = MASTER) -> dict[str, Any]:
    """A CategoryKey / ProductKey / StandardProductKey / VariantProductKey."""
    return {"ref": ref, "catalogue": {"ref": catalogue}}


def category_input(ref: str, **overrides: Any) -> dict[str, Any]:
    return {"ref": ref, "catalogue": {"ref": MASTER}, "type": "STANDARD", "name": f"Category {ref}", **overrides}


def standard_input(ref: str, **overrides: Any) -> dict[str, Any]:
    fields = {"ref": ref, "catalogue": {"ref": MASTER}, "type": "STANDARD", "gtin": "4006381333931"}
    return {**fields, "name": f"Product {ref}", **overrides}


def variant_input(ref: str, product: str = "P1", **overrides: Any) -> dict[str, Any]:
    return standard_input(ref, type="VARIANT", product=key(product), **overrides)


class Catalogue(CheckedClient):
    """The schema-checked client with the catalogue's lookups and creates."""

    def get(self, query: str, ref: str, catalogue: str = MASTER) -> dict[str, Any] | None:
        """An entity by ``(ref, catalogue)``, or None."""
        body = self.gql(query, key(ref, catalogue))
        assert "errors" not in body, body
        [value] = body["data"].values()
        found: dict[str, Any] | None = value
        return found

    def one(self, query: str, ref: str) -> dict[str, Any]:
        """An entity of the master catalogue that must exist."""
        found = self.get(query, ref)
        assert found is not None, ref
        return found

    def category(self, ref: str, **overrides: Any) -> dict[str, Any]:
        return self.ok(CREATE_CATEGORY, {"input": category_input(ref, **overrides)})

    def standard(self, ref: str, **overrides: Any) -> dict[str, Any]:
        return self.ok(CREATE_STANDARD, {"input": standard_input(ref, **overrides)})

    def variant(self, ref: str, product: str = "P1", **overrides: Any) -> dict[str, Any]:
        return self.ok(CREATE_VARIANT, {"input": variant_input(ref, product, **overrides)})

    def product(self, kind: str, ref: str, **overrides: Any) -> dict[str, Any]:
        """A product of either kind (a variant gets the standard product P1, created on first use)."""
        if kind == "standard":
            return self.standard(ref, **overrides)
        if self.get(STANDARD, "P1") is None:
            self.standard("P1")
        return self.variant(ref, **overrides)

    def add_catalogue(self, ref: str, **fields: Any) -> requests.Response:
        return requests.post(
            f"{self.fluent.base_url}/_admin/product-catalogues", json={"ref": ref, **fields}, timeout=10
        )


@pytest.fixture
def cat(fluent: FluentClient, real_schema: GraphQLSchema) -> Catalogue:
    return Catalogue(fluent, real_schema)


def refs(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["ref"] for edge in connection["edges"]]


# -- catalogues ----------------------------------------------------------------------------------


def test_the_master_catalogue_is_seeded(cat: Catalogue) -> None:
    catalogue = cat.ok(PRODUCT_CATALOGUE, {"ref": MASTER})
    assert catalogue["id"].isdigit()
    assert {name: value for name, value in catalogue.items() if name != "id"} == {
        "ref": MASTER,
        "type": "MASTER",
        "status": "ACTIVE",
        "workflowRef": "PRODUCT_CATALOGUE::MASTER",
        "workflowVersion": 1,
        "name": "ctfluent EU master catalogue",
        "retailerRefs": ["1"],
    }
    assert cat.gql(PRODUCT_CATALOGUE, {"ref": "PC:NONE"}) == {"data": {"productCatalogue": None}}


def test_catalogues_can_be_added_and_reset_restores_the_seed(cat: Catalogue) -> None:
    added = cat.add_catalogue("PC:VIRTUAL:2", type="VIRTUAL", retailerRefs=["2"])
    assert added.status_code == 201
    assert added.json()["workflowRef"] == "PRODUCT_CATALOGUE::VIRTUAL"
    found = cat.ok(PRODUCT_CATALOGUE, {"ref": "PC:VIRTUAL:2"})
    assert (found["type"], found["name"], found["retailerRefs"]) == ("VIRTUAL", "PC:VIRTUAL:2", ["2"])
    assert cat.add_catalogue("PC:VIRTUAL:2").status_code == 409
    assert cat.add_catalogue("PC:BAD", retailerRefs="2").status_code == 400
    assert cat.add_catalogue("PC:BAD", colour="red").status_code == 400
    # A category there takes that catalogue's type into its workflow.
    assert cat.category("C1", catalogue={"ref": "PC:VIRTUAL:2"})["workflowRef"] == "PRODUCT_CATALOGUE::VIRTUAL"

    cat.fluent.admin.reset()
    state = cat.fluent.admin.state()
    assert [c["ref"] for c in state["product_catalogues"]] == [MASTER]
    assert state["categories"] == state["standard_products"] == state["variant_products"] == []


# -- categories ----------------------------------------------------------------------------------


def test_a_new_category_starts_created_and_is_found_by_ref_and_catalogue(cat: Catalogue) -> None:
    attributes = [{"name": "ctId", "type": "STRING", "value": "c-1"}]
    created = cat.category("SHOES", summary="All shoes", attributes=attributes)
    assert created["id"].isdigit()
    assert created["status"] == "CREATED"
    assert (created["workflowRef"], created["workflowVersion"]) == ("PRODUCT_CATALOGUE::MASTER", 1)
    assert (created["catalogue"], created["parentCategory"]) == ({"ref": MASTER}, None)
    assert (created["summary"], created["attributes"]) == ("All shoes", attributes)
    assert created["createdOn"] == created["updatedOn"]

    found = cat.get(CATEGORY, "SHOES")
    assert found == {**created, "childCategories": {"edges": []}}
    assert cat.get(CATEGORY, "BOOTS") is None
    assert cat.get(CATEGORY, "SHOES", catalogue="PC:OTHER") is None


def test_a_parent_category_must_exist_first(cat: Catalogue) -> None:
    child = category_input("BOOTS", parentCategory=key("SHOES"))
    assert cat.fails(CREATE_CATEGORY, {"input": child}) == ["C0120E"]

    cat.category("SHOES")
    assert cat.ok(CREATE_CATEGORY, {"input": child})["parentCategory"] == {"ref": "SHOES"}
    assert refs(cat.one(CATEGORY, "SHOES")["childCategories"]) == ["BOOTS"]


def test_links_stay_within_one_catalogue(cat: Catalogue) -> None:
    assert cat.add_catalogue("PC:MASTER:2").status_code == 201
    cat.category("SHOES", catalogue={"ref": "PC:MASTER:2"})
    child = category_input("BOOTS", parentCategory=key("SHOES", "PC:MASTER:2"))
    assert cat.fails(CREATE_CATEGORY, {"input": child}) == ["C0160E"]
    product = standard_input("P1", categories=[key("SHOES", "PC:MASTER:2")])
    assert cat.fails(CREATE_STANDARD, {"input": product}) == ["C0160E"]


def test_category_refs_are_unique_per_catalogue(cat: Catalogue) -> None:
    cat.category("SHOES")
    assert cat.fails(CREATE_CATEGORY, {"input": category_input("SHOES", name="Again")}) == ["C0121E"]
    assert cat.add_catalogue("PC:MASTER:2").status_code == 201
    assert cat.category("SHOES", catalogue={"ref": "PC:MASTER:2"})["catalogue"] == {"ref": "PC:MASTER:2"}


def test_the_catalogue_must_exist(cat: Catalogue) -> None:
    elsewhere = {"catalogue": {"ref": "PC:NONE"}}
    assert cat.fails(CREATE_CATEGORY, {"input": category_input("SHOES", **elsewhere)}) == ["C0120E"]
    assert cat.fails(CREATE_STANDARD, {"input": standard_input("P1", **elsewhere)}) == ["C0120E"]


def test_update_category_sets_fields_upserts_attributes_and_moves_updated_on(cat: Catalogue) -> None:
    attributes = [{"name": "a", "type": "STRING", "value": "1"}, {"name": "b", "type": "STRING", "value": "2"}]
    cat.category("ROOT")
    created = cat.category("SHOES", summary="All shoes", attributes=attributes)
    cat.fluent.admin.advance_clock(60)
    changes = {
        "ref": "SHOES",
        "catalogue": {"ref": MASTER},
        "status": "ACTIVE",
        "name": "Shoes",
        "summary": None,  # null leaves the field as it is
        "parentCategory": key("ROOT"),
        "attributes": [{"name": "b", "type": "INTEGER", "value": 3}, {"name": "c", "type": "STRING", "value": "4"}],
    }
    updated = cat.ok(UPDATE_CATEGORY, {"input": changes})
    assert (updated["status"], updated["name"], updated["summary"]) == ("ACTIVE", "Shoes", "All shoes")
    assert updated["parentCategory"] == {"ref": "ROOT"}
    assert updated["attributes"] == [
        {"name": "a", "type": "STRING", "value": "1"},
        {"name": "b", "type": "INTEGER", "value": 3},
        {"name": "c", "type": "STRING", "value": "4"},
    ]
    assert updated["createdOn"] == created["createdOn"] < updated["updatedOn"]

    missing = {"ref": "BOOTS", "catalogue": {"ref": MASTER}, "status": "ACTIVE"}
    assert cat.fails(UPDATE_CATEGORY, {"input": missing}) == ["C0120E"]


def test_a_null_parent_moves_a_category_to_the_root_and_an_absent_one_keeps_it(cat: Catalogue) -> None:
    """Fluent declares parentCategory nullable and does not say what null does: the emulator's choice is "no parent",
    the only way an update can move a category to the root."""
    cat.category("ROOT")
    cat.category("SHOES", parentCategory=key("ROOT"))
    kept = cat.ok(UPDATE_CATEGORY, {"input": {**key("SHOES"), "name": "Shoes"}})
    assert kept["parentCategory"] == {"ref": "ROOT"}
    moved = cat.ok(UPDATE_CATEGORY, {"input": {**key("SHOES"), "parentCategory": None}})
    assert moved["parentCategory"] is None
    assert refs(cat.one(CATEGORY, "ROOT")["childCategories"]) == []


def test_child_categories_are_adopted_and_loops_refused(cat: Catalogue) -> None:
    cat.category("ROOT")
    cat.category("SHOES")
    cat.category("BOOTS")
    cat.ok(UPDATE_CATEGORY, {"input": {**key("ROOT"), "childCategories": [key("SHOES")]}})
    men = category_input("MEN", parentCategory=key("SHOES"), childCategories=[key("BOOTS")])
    cat.ok(CREATE_CATEGORY, {"input": men})
    assert cat.one(CATEGORY, "BOOTS")["parentCategory"] == {"ref": "MEN"}
    assert refs(cat.one(CATEGORY, "ROOT")["childCategories"]) == ["SHOES"]

    # ROOT > SHOES > MEN > BOOTS: neither BOOTS nor ROOT itself can become ROOT's parent.
    for ancestor in ("BOOTS", "ROOT"):
        below = {**key("ROOT"), "parentCategory": key(ancestor)}
        assert cat.fails(UPDATE_CATEGORY, {"input": below}) == ["C0160E"]
    adopt_ancestor = {**key("BOOTS"), "childCategories": [key("SHOES")]}
    assert cat.fails(UPDATE_CATEGORY, {"input": adopt_ancestor}) == ["C0160E"]


# -- products ------------------------------------------------------------------------------------


def test_standard_then_variant(cat: Catalogue) -> None:
    cat.category("SHOES")
    cat.category("BOOTS")
    prices = [{"type": "DEFAULT", "currency": "EUR", "value": 99.5}]
    tax = {"country": "DE", "group": "STANDARD", "tariff": "19"}
    standard = cat.standard("P1", categories=[key("SHOES"), key("BOOTS")], prices=prices, taxType=tax)
    assert (standard["status"], standard["workflowRef"], standard["workflowVersion"]) == (
        "CREATED",
        "PRODUCT_CATALOGUE::MASTER",
        1,
    )
    assert (standard["gtin"], standard["prices"], standard["tax"]) == ("4006381333931", prices, tax)
    assert refs(standard["categories"]) == ["SHOES", "BOOTS"]
    assert standard["catalogue"] == {"ref": MASTER}
    assert standard["createdOn"] == standard["updatedOn"]

    variant = cat.variant("P1-42", categories=[key("BOOTS")], attributes=[{"name": "size", "type": "S", "value": "42"}])
    assert variant["product"] == {"ref": "P1"}
    assert (variant["status"], refs(variant["categories"])) == ("CREATED", ["BOOTS"])
    assert cat.get(VARIANT, "P1-42") == variant
    assert refs(cat.one(STANDARD, "P1")["variants"]) == ["P1-42"]
    assert cat.get(VARIANT, "P1") is None  # the lookups do not cross kinds
    assert cat.get(STANDARD, "P1-42") is None


def test_a_variant_needs_an_existing_standard_product(cat: Catalogue) -> None:
    assert cat.fails(CREATE_VARIANT, {"input": variant_input("P1-42")}) == ["C0120E"]
    without_product = variant_input("P1-42")
    del without_product["product"]
    assert cat.fails(CREATE_VARIANT, {"input": without_product}) == ["C0140E"]


def test_variants_listed_on_a_standard_product_must_exist_and_are_linked(cat: Catalogue) -> None:
    assert cat.fails(CREATE_STANDARD, {"input": standard_input("P2", variants=[key("V1")])}) == ["C0120E"]
    cat.standard("P1")
    cat.variant("V1", product="P1")
    cat.standard("P2", variants=[key("V1")])
    assert refs(cat.one(STANDARD, "P2")["variants"]) == ["V1"]
    assert refs(cat.one(STANDARD, "P1")["variants"]) == ["V1"]


def test_standard_and_variant_products_share_one_ref_namespace(cat: Catalogue) -> None:
    cat.standard("P1")
    cat.variant("V1", product="P1")
    assert cat.fails(CREATE_VARIANT, {"input": variant_input("P1")}) == ["C0128E"]
    assert cat.fails(CREATE_STANDARD, {"input": standard_input("V1")}) == ["C0128E"]
    assert cat.fails(CREATE_STANDARD, {"input": standard_input("P1")}) == ["C0128E"]
    assert cat.fails(CREATE_VARIANT, {"input": variant_input("V1")}) == ["C0128E"]
    # Categories have their own namespace; another catalogue has its own.
    assert cat.category("P1")["ref"] == "P1"
    assert cat.add_catalogue("PC:MASTER:2").status_code == 201
    assert cat.standard("V1", catalogue={"ref": "PC:MASTER:2"})["catalogue"] == {"ref": "PC:MASTER:2"}


@pytest.mark.parametrize("kind", ["standard", "variant"])
def test_a_missing_category_fails_the_product(cat: Catalogue, kind: str) -> None:
    cat.category("SHOES")
    if kind == "variant":
        cat.standard("P1")
    document = KINDS[kind]["create"]
    make = standard_input if kind == "standard" else variant_input
    assert cat.fails(document, {"input": make("X1", categories=[key("SHOES"), key("NOPE")])}) == ["C0120E"]


@pytest.mark.parametrize("kind", ["standard", "variant"])
def test_update_upserts_prices_and_attributes_and_adds_categories(cat: Catalogue, kind: str) -> None:
    cat.category("SHOES")
    cat.category("SALE")
    created = cat.product(
        kind,
        "X1",
        categories=[key("SHOES")],
        prices=[{"type": "DEFAULT", "currency": "EUR", "value": 10.0}, {"type": "SALE", "currency": "EUR", "value": 8}],
        attributes=[{"name": "a", "type": "STRING", "value": "1"}, {"name": "b", "type": "STRING", "value": "2"}],
        taxType={"country": "DE", "group": "STANDARD", "tariff": "19"},
    )
    cat.fluent.admin.advance_clock(60)
    changes = {
        **key("X1"),
        "name": "Renamed",
        "gtin": None,  # null leaves the field as it is
        "categories": [key("SALE")],
        "prices": [
            {"type": "SALE", "currency": "EUR", "value": 7},  # same type and currency: the value changes
            {"type": "DEFAULT", "currency": "USD", "value": 12},  # same type, another currency: a new price
        ],
        "attributes": [{"name": "b", "type": "INTEGER", "value": 3}, {"name": "c", "type": "STRING", "value": "4"}],
    }
    updated = cat.ok(KINDS[kind]["update"], {"input": changes})
    assert (updated["name"], updated["gtin"], updated["tax"]) == ("Renamed", created["gtin"], created["tax"])
    assert refs(updated["categories"]) == ["SHOES", "SALE"]
    assert updated["prices"] == [
        {"type": "DEFAULT", "currency": "EUR", "value": 10.0},
        {"type": "SALE", "currency": "EUR", "value": 7.0},
        {"type": "DEFAULT", "currency": "USD", "value": 12.0},
    ]
    assert updated["attributes"] == [
        {"name": "a", "type": "STRING", "value": "1"},
        {"name": "b", "type": "INTEGER", "value": 3},
        {"name": "c", "type": "STRING", "value": "4"},
    ]
    assert updated["createdOn"] == created["createdOn"] < updated["updatedOn"]
    found = cat.one(KINDS[kind]["get"], "X1")
    assert {name: found[name] for name in updated} == updated


@pytest.mark.parametrize("kind", ["standard", "variant"])
def test_status_update_and_status_search(cat: Catalogue, kind: str) -> None:
    cat.product(kind, "X1")
    cat.product(kind, "X2")
    first = cat.ok(KINDS[kind]["update"], {"input": {**key("X1"), "status": "INACTIVE"}})
    cat.fluent.admin.advance_clock(1)
    second = cat.ok(KINDS[kind]["update"], {"input": {**key("X1"), "status": "ACTIVE"}})
    assert (first["status"], second["status"]) == ("INACTIVE", "ACTIVE")
    assert first["updatedOn"] < second["updatedOn"]  # every update moves it
    search = STANDARDS if kind == "standard" else VARIANTS
    assert refs(cat.ok(search, {"status": ["ACTIVE"]})) == ["X1"]
    assert refs(cat.ok(search, {"status": ["CREATED"]})) == ["X2"]


@pytest.mark.parametrize("kind", ["standard", "variant"])
def test_update_of_a_missing_product_is_c0120e(cat: Catalogue, kind: str) -> None:
    assert cat.fails(KINDS[kind]["update"], {"input": {**key("X1"), "status": "ACTIVE"}}) == ["C0120E"]
    # A product of the other kind with that ref is not the one to update.
    other = "variant" if kind == "standard" else "standard"
    cat.product(other, "X1")
    assert cat.fails(KINDS[kind]["update"], {"input": {**key("X1"), "status": "ACTIVE"}}) == ["C0120E"]


@pytest.mark.parametrize("kind", ["standard", "variant"])
def test_remove_categories(cat: Catalogue, kind: str) -> None:
    for ref in ("A", "B", "C", "D"):
        cat.category(ref)
    created = cat.product(kind, "X1", categories=[key("A"), key("B"), key("C")])
    document, key_field = KINDS[kind]["remove"], KINDS[kind]["key_field"]
    cat.fluent.admin.advance_clock(60)

    removed = cat.ok(document, {"input": {key_field: key("X1"), "categories": [key("A"), key("C"), key("D")]}})
    assert removed == {"status": "SUCCESS"}
    product = cat.one(KINDS[kind]["get"], "X1")
    assert refs(product["categories"]) == ["B"]
    assert product["updatedOn"] > created["updatedOn"]

    unknown_category = {key_field: key("X1"), "categories": [key("B"), key("NOPE")]}
    assert cat.fails(document, {"input": unknown_category}) == ["C0120E"]
    unknown_product = {key_field: key("X9"), "categories": [key("B")]}
    assert cat.fails(document, {"input": unknown_product}) == ["C0120E"]


# -- requests, limits and connections ------------------------------------------------------------

BATCH = f"""
mutation Batch(
  $category: CreateCategoryInput!, $standard: CreateStandardProductInput!, $variant: CreateVariantProductInput!,
  $update: UpdateCategoryInput!, $last: CreateVariantProductInput!
) {{
  category: createCategory(input: $category) {{ id }}
  standard: createStandardProduct(input: $standard) {{ id }}
  variant: createVariantProduct(input: $variant) {{ id product {{ ref }} }}
  update: updateCategory(input: $update) {{ id }}
  last: createVariantProduct(input: $last) {{ {PRODUCT_FIELDS} }}
}}
"""


def batch_variables(last: dict[str, Any]) -> dict[str, Any]:
    return {
        "category": category_input("SHOES"),
        "standard": standard_input("P1", categories=[key("SHOES")]),
        "variant": variant_input("P1-42", categories=[key("SHOES")]),
        "update": {**key("ROOT"), "name": "Renamed", "childCategories": [key("SHOES")]},
        "last": last,
    }


@pytest.mark.parametrize(
    ("last", "code"),
    [
        (variant_input("P1-43", gtin="1" * 21), "C0141E"),
        (variant_input("P1"), "C0128E"),
        (variant_input("P1-43", product="P9"), "C0120E"),
    ],
)
def test_an_aliased_batch_with_one_failure_leaves_nothing_behind(
    cat: Catalogue, last: dict[str, Any], code: str
) -> None:
    cat.category("ROOT")
    before = cat.fluent.admin.state()
    body = cat.gql(BATCH, batch_variables(last))
    assert body["data"] == dict.fromkeys(("category", "standard", "variant", "update", "last"))
    assert error_codes(body) == [code]
    assert cat.fluent.admin.state() == before


def test_an_aliased_batch_builds_on_its_own_earlier_items(cat: Catalogue) -> None:
    cat.category("ROOT")
    body = cat.gql(BATCH, batch_variables(variant_input("P1-43")))
    assert "errors" not in body, body
    assert body["data"]["variant"]["product"] == {"ref": "P1"}
    assert cat.one(CATEGORY, "SHOES")["parentCategory"] == {"ref": "ROOT"}
    assert [v["ref"] for v in cat.fluent.admin.state()["variant_products"]] == ["P1-42", "P1-43"]


@pytest.mark.parametrize(
    ("document", "make", "field", "limit"),
    [
        (CREATE_STANDARD, standard_input, "gtin", 20),
        (CREATE_STANDARD, standard_input, "ref", 100),
        (CREATE_STANDARD, standard_input, "type", 50),
        (CREATE_STANDARD, standard_input, "summary", 255),
        (CREATE_CATEGORY, category_input, "ref", 100),
        (CREATE_CATEGORY, category_input, "name", 255),
    ],
)
def test_max_lengths(cat: Catalogue, document: str, make: Any, field: str, limit: int) -> None:
    assert "errors" not in cat.gql(document, {"input": {**make("X1"), field: "x" * limit}})
    body = cat.gql(document, {"input": {**make("X2"), field: "y" * (limit + 1)}})
    assert error_codes(body) == ["C0141E"]
    assert f"input.{field}" in body["errors"][0]["message"]
    assert str(limit) in body["errors"][0]["message"]


def test_max_lengths_inside_keys_and_tax(cat: Catalogue) -> None:
    long_key = standard_input("P1", categories=[key("c" * 101)])
    assert cat.fails(CREATE_STANDARD, {"input": long_key}) == ["C0141E"]
    long_tax = standard_input("P1", taxType={"country": "D" * 101, "group": "STANDARD", "tariff": "19"})
    assert cat.fails(CREATE_STANDARD, {"input": long_tax}) == ["C0141E"]
    long_status = {**key("P1"), "status": "S" * 51}
    cat.standard("P1")
    assert cat.fails(UPDATE_STANDARD, {"input": long_status}) == ["C0141E"]


def test_category_connection_pages_by_10_and_walks_with_first_after(cat: Catalogue) -> None:
    created = [cat.category(f"C{n:02d}")["ref"] for n in range(23)]
    default = cat.ok(CATEGORIES)
    assert refs(default) == created[:10]
    assert default["pageInfo"] == {"hasNextPage": True, "hasPreviousPage": False}

    seen: list[str] = []
    after = None
    while True:
        page = cat.ok(CATEGORIES, {"first": 8, "after": after})
        seen += refs(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["edges"][-1]["cursor"]
    assert seen == created

    assert refs(cat.ok(CATEGORIES, {"ref": ["C03", "C07"], "catalogue": {"ref": MASTER}})) == ["C03", "C07"]
    assert refs(cat.ok(CATEGORIES, {"catalogue": {"ref": "PC:NONE"}})) == []


def test_product_connections_filter_and_page(cat: Catalogue) -> None:
    for n in range(12):
        cat.category(f"C{n:02d}")
    categories = [key(f"C{n:02d}") for n in range(12)]
    cat.standard("P1", categories=categories)
    cat.standard("P2", gtin="0000000000017")
    assert refs(cat.ok(STANDARDS, {"gtin": ["0000000000017"]})) == ["P2"]
    assert refs(cat.ok(STANDARDS, {"catalogue": {"ref": MASTER}, "first": 1})) == ["P1"]

    # A product's categories connection pages like any other.
    nested = """
    query Nested($ref: String!, $catalogue: ProductCatalogueKey!, $after: String) {
      standardProduct(ref: $ref, catalogue: $catalogue) {
        all: categories { edges { node { ref } } pageInfo { hasNextPage } }
        next: categories(first: 5, after: $after) { edges { node { ref } } pageInfo { hasNextPage hasPreviousPage } }
      }
    }
    """
    first = cat.ok(nested, key("P1"))
    assert refs(first["all"]) == [f"C{n:02d}" for n in range(10)]
    assert first["all"]["pageInfo"] == {"hasNextPage": True}
    cursor = cat.ok(CATEGORIES, {"ref": ["C04"]})["edges"][0]["cursor"]
    second = cat.ok(nested, {**key("P1"), "after": cursor})
    assert refs(second["next"]) == ["C05", "C06", "C07", "C08", "C09"]
    assert second["next"]["pageInfo"] == {"hasNextPage": True, "hasPreviousPage": True}


def test_nested_connections_count_towards_complexity(cat: Catalogue) -> None:
    query = """
    query Heavy($products: Int, $categories: Int) {
      standardProducts(first: $products) {
        edges { node { ref categories(first: $categories) { edges { node { ref } } } } }
      }
    }
    """
    # 1 + 100 * (edges, node, ref, categories) + 100 * 20 * (edges, node, ref) = 6401
    assert "errors" not in cat.gql(query, {"products": 100, "categories": 20})
    body = cat.gql(query, {"products": 100, "categories": 40})  # 12401
    assert body["data"] is None
    assert error_codes(body) == ["C0001E"]


def test_state_shows_the_catalogue_tables_with_refs(cat: Catalogue) -> None:
    cat.category("SHOES")
    cat.standard("P1", categories=[key("SHOES")])
    cat.variant("P1-42")
    state = cat.fluent.admin.state()
    [standard] = state["standard_products"]
    [variant] = state["variant_products"]
    assert (standard["catalogue"], standard["categories"], standard["variants"]) == (MASTER, ["SHOES"], [])
    assert (variant["product"], variant["catalogue"]) == ("P1", MASTER)
    assert state["categories"][0]["parentCategory"] is None
