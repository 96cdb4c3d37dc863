"""Virtual catalogues and positions on the Fluent emulator, over HTTP: the seeded aggregate catalogue, positions per
SKU and location with deterministic quantities, lookups, filters, paging, date ranges, the admin upsert and delete
with their ``VIRTUAL_POSITION`` webhooks, and positions for the products the project synced. Every document is
checked against the real schema before it is sent (``CheckedClient``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from graphql import GraphQLSchema

from ctfluent_sandbox.clock import iso_ms, parse_iso
from ctfluent_sandbox.commercetools import CommercetoolsEmulator
from ctfluent_sandbox.fluent import FluentEmulator
from ctfluent_sandbox.fluent.inventory import POSITIONS as POSITION_TABLE
from ctfluent_sandbox.fluent.store import EntityStore
from ctfluent_sandbox.seed_inventory import InventorySeed, quantities, skus_of
from tests.sandbox.fluent_fixtures import (
    CheckedClient,
    FluentClient,
    WebhookReceiver,
    error_codes,
    fluent_fixture,  # noqa: F401 (fixture)
    fluent_server_fixture,  # noqa: F401 (fixture)
    real_schema_fixture,  # noqa: F401 (fixture)
    webhook_receiver_fixture,  # noqa: F401 (fixture)
)

CATALOGUE = "VC:ATS:1"
KEY = {"ref": CATALOGUE}
LOCATIONS = ["LOC_1", "LOC_2", "LOC_3"]
VIRTUAL_CATALOGUE = """
query VirtualCatalogue($ref: String!, $groupRef: [String], $catalogue: VirtualCatalogueKey) {
  virtualCatalogue(ref: $ref) {
    id ref type status workflowRef workflowVersion name description productCatalogueRef inventoryCatalogueRef
    networkIds retailerRefs controlGroupRef attributes { name } createdOn updatedOn
    virtualPositions(groupRef: $groupRef, catalogue: $catalogue, first: 100) {
      edges { node { ref } } pageInfo { hasNextPage }
    }
  }
}
"""
VIRTUAL_CATALOGUES = """
query VirtualCatalogues(
  $ref: [String!], $type: [String!], $productCatalogueRef: [String], $networkIds: [[String]], $updatedOn: DateRange
) {
  virtualCatalogues(
    ref: $ref, type: $type, productCatalogueRef: $productCatalogueRef, networkIds: $networkIds, updatedOn: $updatedOn
  ) { edges { node { ref } } }
}
"""
POSITION = """
query VirtualPosition($ref: String!, $catalogue: VirtualCatalogueKey!) {
  virtualPosition(ref: $ref, catalogue: $catalogue) {
    id ref type status workflowRef workflowVersion productRef quantity groupRef createdOn updatedOn
    attributes { name } catalogue { ref }
  }
}
"""
POSITIONS = """
query VirtualPositions(
  $catalogue: VirtualCatalogueKey, $ref: [String!], $productRef: [String], $groupRef: [String], $status: [String],
  $quantity: [Int], $updatedOn: DateRange, $createdOn: DateRange, $first: Int, $after: String
) {
  virtualPositions(
    catalogue: $catalogue, ref: $ref, productRef: $productRef, groupRef: $groupRef, status: $status,
    quantity: $quantity, updatedOn: $updatedOn, createdOn: $createdOn, first: $first, after: $after
  ) {
    edges { cursor node { ref productRef groupRef quantity status updatedOn } }
    pageInfo { hasNextPage hasPreviousPage }
  }
}
"""
CREATE_STANDARD = """
mutation CreateStandardProduct($input: CreateStandardProductInput!) { createStandardProduct(input: $input) { ref } }
"""
CREATE_VARIANT = """
mutation CreateVariantProduct($input: CreateVariantProductInput!) { createVariantProduct(input: $input) { ref } }
"""


@pytest.fixture
def api(fluent: FluentClient, real_schema: GraphQLSchema) -> CheckedClient:
    return CheckedClient(fluent, real_schema)


def refs(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["ref"] for edge in connection["edges"]]


def positions(api: CheckedClient, **variables: Any) -> dict[str, Any]:
    return api.ok(POSITIONS, variables)


def seed_skus(fluent: FluentClient, skus: list[str], **settings: Any) -> dict[str, Any]:
    seeded: dict[str, Any] = fluent.admin_ok("PUT", "/inventory", {"skus": skus, **settings})
    return seeded


def position(api: CheckedClient, ref: str, catalogue: str = CATALOGUE) -> dict[str, Any] | None:
    found: dict[str, Any] | None = api.gql(POSITION, {"ref": ref, "catalogue": {"ref": catalogue}})["data"][
        "virtualPosition"
    ]
    return found


def upsert(fluent: FluentClient, expect: int = 200, **body: Any) -> dict[str, Any]:
    answer: dict[str, Any] = fluent.admin_ok("POST", "/positions", {"catalogue": CATALOGUE, **body}, status=expect)
    return answer


# -- the seeded catalogue and positions ---------------------------------------------------------------------------


def test_the_seeded_aggregate_catalogue(api: CheckedClient) -> None:
    network_id = api.ok('query { network(ref: "NETWORK:ONLINE") { id } }')["id"]
    catalogue = api.ok(VIRTUAL_CATALOGUE, {"ref": CATALOGUE})
    assert {k: v for k, v in catalogue.items() if k not in ("id", "createdOn", "updatedOn")} == {
        "ref": CATALOGUE,
        "type": "AGGREGATE",
        "status": "ACTIVE",
        "workflowRef": "VIRTUAL_CATALOGUE::AGGREGATE",
        "workflowVersion": 1,
        "name": "ctfluent available to sell",
        "description": None,
        "productCatalogueRef": "PC:MASTER:1",
        "inventoryCatalogueRef": None,
        "networkIds": [network_id],
        "retailerRefs": ["1"],
        "controlGroupRef": None,
        "attributes": [],
        "virtualPositions": {"edges": [], "pageInfo": {"hasNextPage": False}},  # no SKUs seeded by default
    }
    assert api.gql(VIRTUAL_CATALOGUE, {"ref": "VC:NONE"}) == {"data": {"virtualCatalogue": None}}
    assert refs(api.ok(VIRTUAL_CATALOGUES)) == [CATALOGUE]
    assert refs(api.ok(VIRTUAL_CATALOGUES, {"type": ["AGGREGATE"], "networkIds": [[network_id]]})) == [CATALOGUE]
    assert refs(api.ok(VIRTUAL_CATALOGUES, {"type": ["BASE"]})) == []
    assert refs(api.ok(VIRTUAL_CATALOGUES, {"productCatalogueRef": ["PC:OTHER"]})) == []
    assert error_codes(api.gql(VIRTUAL_CATALOGUES, {"updatedOn": {}})) == ["C0101E"]


def test_positions_per_sku_and_location_with_deterministic_quantities(fluent: FluentClient, api: CheckedClient) -> None:
    skus = ["SKU-1", "SKU-2", "SKU-3", "SKU-4"]
    assert seed_skus(fluent, skus)["seeded"]["virtual_positions"] == 12
    listed = positions(api, catalogue=KEY, first=50)["edges"]
    expected = list(quantities(skus, LOCATIONS, seed=1))
    assert [(e["node"]["productRef"], e["node"]["groupRef"], e["node"]["quantity"]) for e in listed] == expected
    assert [e["node"]["ref"] for e in listed] == [f"{sku}:{loc}" for sku, loc, _ in expected]
    assert all(0 <= quantity <= 50 for *_, quantity in expected)
    assert len({quantity for *_, quantity in expected}) > 3  # they vary

    found = position(api, "SKU-2:LOC_3")
    assert found is not None
    assert {k: v for k, v in found.items() if k not in ("id", "createdOn", "updatedOn", "quantity")} == {
        "ref": "SKU-2:LOC_3",
        "type": "DEFAULT",
        "status": "ACTIVE",
        "workflowRef": "VIRTUAL_CATALOGUE::AGGREGATE",
        "workflowVersion": 1,
        "productRef": "SKU-2",
        "groupRef": "LOC_3",
        "attributes": [],
        "catalogue": {"ref": CATALOGUE},
    }
    assert position(api, "SKU-2:LOC_3", "VC:OTHER") is None
    assert position(api, "SKU-9:LOC_1") is None

    # Another seed draws other quantities; the same seed the same ones.
    reseeded = [e["node"]["quantity"] for e in positions(api, first=50)["edges"]]
    seed_skus(fluent, skus, seed=2)
    assert [e["node"]["quantity"] for e in positions(api, first=50)["edges"]] != reseeded
    seed_skus(fluent, skus, seed=1)
    assert [e["node"]["quantity"] for e in positions(api, first=50)["edges"]] == reseeded


def test_positions_filter_and_a_walk_over_many_pages(fluent: FluentClient, api: CheckedClient) -> None:
    skus = [f"SKU-{n:03d}" for n in range(30)]
    seed_skus(fluent, skus)
    everything = [f"{sku}:{loc}" for sku in skus for loc in LOCATIONS]
    since = iso_ms(parse_iso(positions(api, first=1)["edges"][0]["node"]["updatedOn"]))

    seen: list[str] = []
    sizes = []
    after = None
    while True:
        page = positions(api, catalogue=KEY, updatedOn={"from": since}, first=25, after=after)
        seen += refs(page)
        sizes.append(len(page["edges"]))
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["edges"][-1]["cursor"]
    assert seen == everything and sizes == [25, 25, 25, 15]
    assert len(refs(positions(api))) == 10  # the default page

    assert refs(positions(api, productRef=["SKU-007"])) == ["SKU-007:LOC_1", "SKU-007:LOC_2", "SKU-007:LOC_3"]
    assert refs(positions(api, groupRef=["LOC_2"], first=100)) == [f"{sku}:LOC_2" for sku in skus]
    assert refs(positions(api, ref=["SKU-001:LOC_1", "SKU-999:LOC_1"])) == ["SKU-001:LOC_1"]
    zero = [ref for sku, loc, quantity in quantities(skus, LOCATIONS, 1) if quantity == 0 for ref in [f"{sku}:{loc}"]]
    assert zero and refs(positions(api, quantity=[0], first=100)) == zero
    assert refs(positions(api, status=["INACTIVE"])) == []
    assert refs(positions(api, catalogue={"ref": "VC:OTHER"})) == []
    assert refs(positions(api, updatedOn={"to": iso_ms(parse_iso(since) - timedelta(milliseconds=1))})) == []
    assert error_codes(api.gql(POSITIONS, {"createdOn": {}})) == ["C0101E"]
    assert error_codes(api.gql(POSITIONS, {"catalogue": {"ref": "V" * 101}})) == ["C0141E"]  # the key's limit

    nested = api.ok(VIRTUAL_CATALOGUE, {"ref": CATALOGUE, "groupRef": ["LOC_1"]})["virtualPositions"]
    assert refs(nested) == [f"{sku}:LOC_1" for sku in skus]
    other = api.ok(VIRTUAL_CATALOGUE, {"ref": CATALOGUE, "catalogue": {"ref": "VC:OTHER"}})["virtualPositions"]
    assert refs(other) == []


# -- admin changes and webhooks ---------------------------------------------------------------------------------


def test_an_upsert_creates_or_sets_a_position_and_announces_it(
    fluent: FluentClient, api: CheckedClient, webhook_receiver: WebhookReceiver
) -> None:
    fluent.fast_webhooks(webhook_receiver.url)
    catalogue = api.ok(VIRTUAL_CATALOGUE, {"ref": CATALOGUE})
    created = upsert(fluent, 201, productRef="SKU-NEW", groupRef="LOC_2", quantity=5)
    assert (created["ref"], created["quantity"], created["status"]) == ("SKU-NEW:LOC_2", 5, "ACTIVE")
    [event] = webhook_receiver.wait(1)
    assert event == {
        "id": event["id"],
        "name": "OrderStatus",
        "accountId": "CTFLUENT",
        "retailerId": "1",
        "entityType": "VIRTUAL_POSITION",
        "entitySubtype": "DEFAULT",
        "entityId": created["id"],
        "entityRef": "SKU-NEW:LOC_2",
        "entityStatus": "ACTIVE",
        "rootEntityType": "VIRTUAL_CATALOGUE",
        "rootEntityId": catalogue["id"],
        "rootEntityRef": CATALOGUE,
        "type": "NORMAL",
        "attributes": {},
        "meta": {},
        "trailLogs": [],
        "errorLogs": [],
    }

    fluent.admin.advance_clock(30)
    changed = upsert(fluent, productRef="SKU-NEW", groupRef="LOC_2", quantity=7)
    assert changed["id"] == created["id"] and changed["createdOn"] == created["createdOn"]
    found = position(api, "SKU-NEW:LOC_2")
    assert found is not None and found["quantity"] == 7
    assert parse_iso(found["updatedOn"]) >= parse_iso(created["updatedOn"]) + timedelta(seconds=30)
    assert refs(positions(api, updatedOn={"from": found["updatedOn"]})) == ["SKU-NEW:LOC_2"]
    held = upsert(fluent, productRef="SKU-NEW", groupRef="LOC_2", quantity=7, status="INACTIVE")
    assert held["status"] == "INACTIVE"
    assert [(e["entityStatus"], e["entityRef"]) for e in webhook_receiver.wait(3)[1:]] == [
        ("ACTIVE", "SKU-NEW:LOC_2"),
        ("INACTIVE", "SKU-NEW:LOC_2"),
    ]

    state = fluent.admin.state()
    for bad in (
        {"catalogue": "VC:NONE", "productRef": "S", "groupRef": "LOC_1", "quantity": 1},
        {"catalogue": CATALOGUE, "productRef": "S", "groupRef": "LOC_9", "quantity": 1},
        {"catalogue": CATALOGUE, "productRef": "S", "groupRef": "LOC_1", "quantity": "1"},
        {"catalogue": CATALOGUE, "productRef": "S", "groupRef": "LOC_1"},
        {"catalogue": CATALOGUE, "productRef": "S", "groupRef": "LOC_1", "quantity": 1, "colour": "red"},
    ):
        assert fluent.admin_request("POST", "/positions", bad).status_code == 400, bad
    assert fluent.admin.state() == state
    assert fluent.webhooks_sent() == 3


def test_a_deleted_position_is_gone_and_announced(
    fluent: FluentClient, api: CheckedClient, webhook_receiver: WebhookReceiver
) -> None:
    seed_skus(fluent, ["SKU-1"])
    fluent.fast_webhooks(webhook_receiver.url)
    before = position(api, "SKU-1:LOC_1")
    assert before is not None
    removed = fluent.admin_ok("DELETE", f"/positions/{CATALOGUE}/SKU-1:LOC_1")
    assert removed["id"] == before["id"]
    assert position(api, "SKU-1:LOC_1") is None
    assert refs(positions(api)) == ["SKU-1:LOC_2", "SKU-1:LOC_3"]
    [event] = webhook_receiver.wait(1)
    assert (event["entityType"], event["entityRef"], event["entityStatus"], event["rootEntityRef"]) == (
        "VIRTUAL_POSITION",
        "SKU-1:LOC_1",
        "DELETED",
        CATALOGUE,
    )
    assert fluent.admin_request("DELETE", f"/positions/{CATALOGUE}/SKU-1:LOC_1").status_code == 404
    assert fluent.admin_request("DELETE", "/positions/VC:NONE/SKU-1:LOC_2").status_code == 404
    # Upserting it again makes a new position.
    again = upsert(fluent, 201, productRef="SKU-1", groupRef="LOC_1", quantity=2)
    assert again["id"] != before["id"]


def test_positions_for_the_products_the_project_synced(fluent: FluentClient, api: CheckedClient) -> None:
    """Once the project created the catalogue's variants, the admin route stocks them at the network's locations."""
    catalogue = {"ref": "PC:MASTER:1"}
    base = {"catalogue": catalogue, "type": "STANDARD", "gtin": "4006381333931", "name": "Shirt"}
    api.ok(CREATE_STANDARD, {"input": {**base, "ref": "SHIRT"}})
    for ref in ("SHIRT-S", "SHIRT-M"):
        variant = {**base, "ref": ref, "type": "VARIANT", "product": {"ref": "SHIRT", "catalogue": catalogue}}
        api.ok(CREATE_VARIANT, {"input": variant})
    fluent.admin_ok("POST", "/locations/LOC_3", {"status": "INACTIVE"})  # stock stays at an inactive location
    sent = fluent.webhooks_sent()

    added = fluent.admin_ok("POST", "/inventory/positions", {})
    assert added == {"created": 6, "skus": 2, "locations": 3}
    assert sorted(refs(positions(api, first=50))) == sorted(
        f"{v}:{loc}" for v in ("SHIRT-S", "SHIRT-M") for loc in LOCATIONS
    )
    assert fluent.admin_ok("POST", "/inventory/positions", {}) == {"created": 0, "skus": 2, "locations": 3}
    assert fluent.admin_ok("POST", "/inventory/positions", {"skus": ["SHIRT-M", "EXTRA"]})["created"] == 3
    assert len(refs(positions(api, first=50))) == 9
    assert fluent.webhooks_sent() == sent  # seeding announces nothing
    assert fluent.admin_request("POST", "/inventory/positions", {"skus": "EXTRA"}).status_code == 400


def test_the_commercetools_seed_skus_stock_a_sandbox() -> None:
    commercetools = CommercetoolsEmulator(project_key="inventory-test")
    commercetools.seed(customers=1, days=1, seed=1, products=6, categories=1, variants=2)
    products = list(commercetools.products.collection)
    skus = skus_of(products)
    published = {
        variant["sku"]
        for product in products
        if product["masterData"]["published"]
        for variant in (
            product["masterData"]["current"]["masterVariant"],
            *product["masterData"]["current"]["variants"],
        )
        if variant.get("sku")
    }
    assert skus and set(skus) == published and len(skus) == len(published)
    unpublished = [p for p in products if not p["masterData"]["published"]]
    assert unpublished and not {
        v.get("sku") for p in unpublished for v in [p["masterData"]["staged"]["masterVariant"]]
    } & set(skus)

    fluent = FluentEmulator(inventory=InventorySeed(locations=2))
    seeded = fluent.seed_inventory(skus=skus, locations=4)
    assert (seeded["locations"], seeded["virtual_positions"]) == (4, len(skus) * 4)
    fluent.reset()  # the Python API's seed is what a reset restores
    assert len(fluent.state()["virtual_positions"]) == len(skus) * 4
    assert {p["productRef"] for p in fluent.state()["virtual_positions"]} == set(skus)


def test_a_rolled_back_delete_restores_the_position_in_id_order() -> None:
    """Admin writes run in a store transaction: a delete undone puts the record back in its place and its key."""
    fluent = FluentEmulator(inventory=InventorySeed(skus=("SKU-1",)))
    store: EntityStore = fluent.store
    before = store.records(POSITION_TABLE)
    middle = before[1]
    with store.transaction() as transaction:
        store.delete(POSITION_TABLE, middle["id"])
        assert store.find(POSITION_TABLE, ("catalogue", "ref"), (CATALOGUE, middle["ref"])) is None
        transaction.rollback()
    assert store.records(POSITION_TABLE) == before
    assert store.find(POSITION_TABLE, ("catalogue", "ref"), (CATALOGUE, middle["ref"])) == middle
