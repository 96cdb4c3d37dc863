"""Networks and locations on the Fluent emulator, over HTTP: the seeded network and locations, lookups by id and
ref, search filters, paging, date ranges, and the admin changes with their ``updatedOn`` and ``LOCATION`` webhooks.
Every document is checked against the real schema before it is sent (``CheckedClient``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate

from ctfluent_sandbox.clock import iso_ms, parse_iso
from ctfluent_sandbox.fluent import FluentEmulator
from ctfluent_sandbox.fluent.emulator import SCHEMA_SDL
from ctfluent_sandbox.seed_inventory import InventorySeed
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

NETWORK_REF = "NETWORK:ONLINE"
LOCATION_FIELDS = """
id ref type status name supportPhoneNumber createdOn updatedOn workflowRef workflowVersion attributes { name }
retailer { id ref }
primaryAddress {
  id ref companyName name street city state postcode country latitude longitude timeZone updatedOn
  ... on StoreAddress { location { ref } }
}
networks(first: 5) { edges { node { ref } } }
"""
LOCATION = f"query Location($id: ID, $ref: String) {{ location(id: $id, ref: $ref) {{ {LOCATION_FIELDS} }} }}"
LOCATION_BY_ID = f"query LocationById($id: ID!) {{ locationById(id: $id) {{ {LOCATION_FIELDS} }} }}"
LOCATIONS = """
query Locations(
  $ref: [String], $type: [String], $status: [String], $name: [String], $defaultCarrier: [String],
  $createdOn: DateRange, $updatedOn: DateRange, $first: Int, $after: String
) {
  locations(
    ref: $ref, type: $type, status: $status, name: $name, defaultCarrier: $defaultCarrier, createdOn: $createdOn,
    updatedOn: $updatedOn, first: $first, after: $after
  ) {
    edges { cursor node { ref status updatedOn } }
    pageInfo { hasNextPage hasPreviousPage }
  }
}
"""
NETWORK = """
query Network($id: ID, $ref: String, $status: [String]) {
  network(id: $id, ref: $ref) {
    id ref type status createdOn updatedOn attributes { name }
    locations(status: $status, first: 50) { edges { node { ref } } pageInfo { hasNextPage } }
  }
}
"""
NETWORKS = """
query Networks($ref: [String], $type: [String], $status: [String], $updatedOn: DateRange) {
  networks(ref: $ref, type: $type, status: $status, updatedOn: $updatedOn) { edges { node { ref } } }
}
"""
# The documents of the product's entities (test_fluent_schema_subset.py checks those of ctfluent_dagster/fluent).
ENTITY_OPERATIONS = sorted((Path(__file__).parents[2] / "ctfluent_dagster" / "entities").glob("*/operations/*.graphql"))
NEW_ADDRESS = {"street": "Friedrichstraße 43", "postcode": "10117", "city": "Berlin", "country": "DE"}


@pytest.fixture(scope="module")
def subset() -> GraphQLSchema:
    return build_schema(SCHEMA_SDL)


@pytest.fixture
def api(fluent: FluentClient, real_schema: GraphQLSchema) -> CheckedClient:
    return CheckedClient(fluent, real_schema)


def refs(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["ref"] for edge in connection["edges"]]


def locations(api: CheckedClient, **variables: Any) -> dict[str, Any]:
    return api.ok(LOCATIONS, variables)


def location(api: CheckedClient, ref: str) -> dict[str, Any]:
    return api.ok(LOCATION, {"ref": ref})


# -- the seeded network and locations ---------------------------------------------------------------------------


def test_the_seeded_network_holds_the_seeded_locations(api: CheckedClient) -> None:
    network = api.ok(NETWORK, {"ref": NETWORK_REF})
    assert {k: network[k] for k in ("ref", "type", "status", "attributes")} == {
        "ref": NETWORK_REF,
        "type": "BASE",
        "status": "ACTIVE",
        "attributes": [],
    }
    assert refs(network["locations"]) == ["LOC_1", "LOC_2", "LOC_3"]
    assert network["createdOn"] == network["updatedOn"]
    assert api.ok(NETWORK, {"id": network["id"]})["ref"] == NETWORK_REF
    assert api.ok(NETWORK, {"id": network["id"], "ref": NETWORK_REF})["id"] == network["id"]
    assert api.gql(NETWORK, {"id": network["id"], "ref": "NETWORK:OTHER"}) == {"data": {"network": None}}
    assert api.gql(NETWORK, {"ref": "NETWORK:OTHER"}) == {"data": {"network": None}}
    assert error_codes(api.gql(NETWORK, {})) == ["C0140E"]
    assert refs(api.ok(NETWORK, {"ref": NETWORK_REF, "status": ["INACTIVE"]})["locations"]) == []

    assert refs(api.ok(NETWORKS)) == [NETWORK_REF]
    assert refs(api.ok(NETWORKS, {"ref": [NETWORK_REF], "type": ["BASE"], "status": ["ACTIVE"]})) == [NETWORK_REF]
    assert refs(api.ok(NETWORKS, {"type": ["HD"]})) == []
    assert error_codes(api.gql(NETWORKS, {"updatedOn": {}})) == ["C0101E"]


def test_a_location_by_ref_and_by_id_with_its_address_retailer_and_networks(api: CheckedClient) -> None:
    found = location(api, "LOC_2")
    assert {k: v for k, v in found.items() if k not in ("id", "createdOn", "updatedOn", "primaryAddress")} == {
        "ref": "LOC_2",
        "type": "STORE",
        "status": "ACTIVE",
        "name": "ctfluent Store Berlin Mitte",
        "supportPhoneNumber": "+49 30 55500002",
        "workflowRef": "LOCATION::STORE",
        "workflowVersion": 1,
        "attributes": [],
        "retailer": {"id": "1", "ref": "CTFLUENT_EU"},
        "networks": {"edges": [{"node": {"ref": NETWORK_REF}}]},
    }
    address = found["primaryAddress"]
    assert {k: address[k] for k in ("ref", "companyName", "street", "city", "state", "postcode", "country")} == {
        "ref": "LOC_2:ADDRESS",
        "companyName": "ctfluent GmbH",
        "street": "Alexanderplatz 9",
        "city": "Berlin",
        "state": "Berlin",
        "postcode": "10178",
        "country": "DE",
    }
    assert 52.3 < address["latitude"] < 52.7 and 13.0 < address["longitude"] < 13.8  # in Berlin
    assert address["timeZone"] == "Europe/Berlin" and address["location"] == {"ref": "LOC_2"}
    assert address["id"] != found["id"]

    assert api.ok(LOCATION_BY_ID, {"id": found["id"]}) == found
    assert api.ok(LOCATION, {"id": found["id"]}) == found
    assert api.gql(LOCATION, {"id": found["id"], "ref": "LOC_3"}) == {"data": {"location": None}}
    assert api.gql(LOCATION, {"ref": "LOC_99"}) == {"data": {"location": None}}
    assert api.gql(LOCATION_BY_ID, {"id": "99999"}) == {"data": {"locationById": None}}
    assert error_codes(api.gql(LOCATION, {})) == ["C0140E"]
    warehouse = location(api, "LOC_1")
    assert (warehouse["type"], warehouse["name"]) == ("WAREHOUSE", "ctfluent DC Berlin Tempelhof")


def test_locations_filter_by_ref_type_status_and_name(api: CheckedClient) -> None:
    assert refs(locations(api)) == ["LOC_1", "LOC_2", "LOC_3"]
    assert refs(locations(api, ref=["LOC_3", "LOC_1", "LOC_9"])) == ["LOC_1", "LOC_3"]
    assert refs(locations(api, type=["STORE"])) == ["LOC_2", "LOC_3"]
    assert refs(locations(api, type=["WAREHOUSE"], status=["ACTIVE"])) == ["LOC_1"]
    assert refs(locations(api, status=["INACTIVE"])) == []
    assert refs(locations(api, name=["ctfluent Store Berlin Kreuzberg"])) == ["LOC_3"]
    assert refs(locations(api, defaultCarrier=["AUSPOST"])) == []  # none has a default carrier
    assert refs(locations(api, ref=[])) == ["LOC_1", "LOC_2", "LOC_3"]  # an empty list filters nothing


def test_paging_over_more_than_a_page_and_a_reset_restores_the_seed(fluent: FluentClient, api: CheckedClient) -> None:
    seeded = fluent.admin_ok("PUT", "/inventory", {"locations": 23, "inactive_locations": 2})
    assert seeded["seeded"]["locations"] == 23 and seeded["locations"] == 23
    default = locations(api)
    assert refs(default) == [f"LOC_{n}" for n in range(1, 11)]  # 10 without `first`
    assert default["pageInfo"] == {"hasNextPage": True, "hasPreviousPage": False}

    seen: list[str] = []
    pages = []
    after = None
    while True:
        page = locations(api, first=10, after=after)
        pages.append(page)
        seen += refs(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["edges"][-1]["cursor"]
    assert seen == [f"LOC_{n}" for n in range(1, 24)]
    assert [len(page["edges"]) for page in pages] == [10, 10, 3]
    assert [page["pageInfo"]["hasPreviousPage"] for page in pages] == [False, True, True]
    assert refs(locations(api, status=["INACTIVE"])) == ["LOC_22", "LOC_23"]
    # Past a filtered page: the cursor of an unfiltered walk still places the next page.
    stores = locations(api, type=["STORE"], first=3, after=pages[0]["edges"][4]["cursor"])
    assert refs(stores) == ["LOC_6", "LOC_7", "LOC_8"]
    assert stores["pageInfo"] == {"hasNextPage": True, "hasPreviousPage": True}

    fluent.admin.reset()
    fluent.login()  # a reset forgets tokens
    assert refs(locations(api, first=50)) == ["LOC_1", "LOC_2", "LOC_3"]
    assert fluent.admin.call("GET", "/inventory")["locations"] == 3


def test_date_ranges_are_inclusive_need_a_bound_and_follow_changes(fluent: FluentClient, api: CheckedClient) -> None:
    seeded_at = parse_iso(location(api, "LOC_2")["updatedOn"])
    at = iso_ms(seeded_at)
    assert refs(locations(api, updatedOn={"from": at, "to": at})) == ["LOC_1", "LOC_2", "LOC_3"]
    fluent.admin.advance_clock(60)
    fluent.admin_ok("POST", "/locations/LOC_2", {"name": "ctfluent Store Berlin Mitte (closed)"})
    changed_at = parse_iso(location(api, "LOC_2")["updatedOn"])
    assert changed_at >= seeded_at + timedelta(seconds=60)
    assert refs(locations(api, updatedOn={"from": iso_ms(changed_at)})) == ["LOC_2"]
    assert refs(locations(api, updatedOn={"to": at})) == ["LOC_1", "LOC_3"]
    assert refs(locations(api, updatedOn={"from": iso_ms(changed_at + timedelta(milliseconds=1))})) == []
    assert refs(locations(api, createdOn={"to": at})) == ["LOC_1", "LOC_2", "LOC_3"]  # createdOn stays
    assert error_codes(api.gql(LOCATIONS, {"updatedOn": {}})) == ["C0101E"]
    assert error_codes(api.gql(LOCATIONS, {"createdOn": {"from": None, "to": None}})) == ["C0101E"]


# -- admin changes and webhooks ---------------------------------------------------------------------------------


def test_an_admin_change_moves_updated_on_and_sends_a_location_webhook(
    fluent: FluentClient, api: CheckedClient, webhook_receiver: WebhookReceiver
) -> None:
    before = location(api, "LOC_3")
    fluent.fast_webhooks(webhook_receiver.url)
    fluent.admin.advance_clock(5)
    changed = fluent.admin_ok("POST", "/locations/LOC_3", {"status": "INACTIVE", "address": {"street": "Neue Str. 1"}})
    assert changed["status"] == "INACTIVE"
    [event] = webhook_receiver.wait(1)
    assert event == {
        "id": event["id"],
        "name": "OrderStatus",
        "accountId": "CTFLUENT",
        "retailerId": "1",
        "entityType": "LOCATION",
        "entitySubtype": "STORE",
        "entityId": before["id"],
        "entityRef": "LOC_3",
        "entityStatus": "INACTIVE",
        "rootEntityType": "LOCATION",
        "rootEntityId": before["id"],
        "rootEntityRef": "LOC_3",
        "type": "NORMAL",
        "attributes": {},
        "meta": {},
        "trailLogs": [],
        "errorLogs": [],
    }
    after = location(api, "LOC_3")
    assert after["createdOn"] == before["createdOn"]
    assert parse_iso(after["updatedOn"]) >= parse_iso(before["updatedOn"]) + timedelta(seconds=5)
    address = after["primaryAddress"]
    assert address["street"] == "Neue Str. 1" and address["postcode"] == before["primaryAddress"]["postcode"]
    assert address["updatedOn"] == after["updatedOn"] and address["id"] == before["primaryAddress"]["id"]
    assert refs(locations(api, status=["INACTIVE"])) == ["LOC_3"]

    fluent.admin_ok("POST", "/locations/LOC_3", {"status": "INACTIVE"})  # the same status again: announced again
    assert [e["entityStatus"] for e in webhook_receiver.wait(2)] == ["INACTIVE", "INACTIVE"]


def test_an_admin_location_is_created_in_the_network_and_announced(
    fluent: FluentClient, api: CheckedClient, webhook_receiver: WebhookReceiver
) -> None:
    fluent.fast_webhooks(webhook_receiver.url)
    body = {"ref": "LOC_MIT", "name": "Pop-up Mitte", "network": NETWORK_REF, "address": NEW_ADDRESS}
    created = fluent.admin_ok("POST", "/locations", body, status=201)
    assert (created["ref"], created["status"], created["type"]) == ("LOC_MIT", "ACTIVE", "STORE")
    found = location(api, "LOC_MIT")
    assert found["primaryAddress"]["street"] == NEW_ADDRESS["street"]
    assert found["primaryAddress"]["latitude"] is None  # not given
    assert refs(api.ok(NETWORK, {"ref": NETWORK_REF})["locations"]) == ["LOC_1", "LOC_2", "LOC_3", "LOC_MIT"]
    [event] = webhook_receiver.wait(1)
    assert (event["entityType"], event["entityRef"], event["entityStatus"]) == ("LOCATION", "LOC_MIT", "ACTIVE")

    outside = fluent.admin_ok("POST", "/locations", {"ref": "LOC_OUT", "name": "Outside"}, status=201)
    assert outside["primaryAddress"] is None and api.ok(LOCATION, {"ref": "LOC_OUT"})["networks"]["edges"] == []

    state = fluent.admin.state()
    for bad, status in (
        ({**body, "name": "Again"}, 409),  # the ref is taken
        ({"ref": "LOC_X", "name": "X", "network": "NETWORK:NONE"}, 400),
        ({"ref": "LOC_X", "name": "X", "status": "OPEN"}, 400),
        ({"ref": "LOC_X"}, 400),
        ({"ref": "LOC_X", "name": "X", "address": {"latitude": "north"}}, 400),
        ({"ref": "LOC_X", "name": "X", "colour": "red"}, 400),
    ):
        assert fluent.admin_request("POST", "/locations", bad).status_code == status, bad
    assert fluent.admin_request("POST", "/locations/LOC_NONE", {"name": "x"}).status_code == 404
    assert fluent.admin_request("POST", "/locations/LOC_1", {"status": "CLOSED"}).status_code == 400
    assert fluent.admin.state() == state
    assert fluent.webhooks_sent() == 2


def test_the_seed_is_deterministic_and_can_mark_the_last_locations_inactive() -> None:
    seed = InventorySeed(locations=12, inactive_locations=2, network="NETWORK:STORES")
    first, second = FluentEmulator(inventory=seed), FluentEmulator(inventory=seed)

    def shape(emulator: FluentEmulator) -> list[dict[str, Any]]:
        stamps = {"createdOn", "updatedOn"}
        return [
            {
                **{k: v for k, v in record.items() if k not in stamps | {"primaryAddress"}},
                "primaryAddress": {k: v for k, v in record["primaryAddress"].items() if k not in stamps},
            }
            for record in emulator.state()["locations"]
        ]

    locations_seeded = shape(first)
    assert locations_seeded == shape(second)
    assert [record["status"] for record in locations_seeded] == ["ACTIVE"] * 10 + ["INACTIVE"] * 2
    assert locations_seeded[9]["name"] == "ctfluent DC Berlin Tempelhof 2"  # the sites repeat, numbered
    coordinates = {(r["primaryAddress"]["latitude"], r["primaryAddress"]["longitude"]) for r in locations_seeded}
    assert len(coordinates) == 12
    assert [network["ref"] for network in first.state()["networks"]] == ["NETWORK:STORES"]
    with pytest.raises(ValueError):
        InventorySeed(locations=2, inactive_locations=3)


def test_the_inventory_settings_are_checked(fluent: FluentClient) -> None:
    defaults = fluent.admin.call("GET", "/inventory")
    assert defaults == {
        "network": NETWORK_REF,
        "locations": 3,
        "inactive_locations": 0,
        "catalogue": "VC:ATS:1",
        "sku_count": 0,
        "seed": 1,
    }
    for bad in (
        {"locations": -1},
        {"locations": 2, "inactive_locations": 3},
        {"skus": "SKU-1"},
        {"skus": ["A", "A"]},
        {"network": ""},
        {"colour": "red"},
    ):
        assert fluent.admin_request("PUT", "/inventory", bad).status_code == 400, bad
    assert fluent.admin.call("GET", "/inventory") == defaults


@pytest.mark.parametrize("path", ENTITY_OPERATIONS, ids=[f"{p.parent.parent.name}/{p.name}" for p in ENTITY_OPERATIONS])
def test_the_product_entity_documents_validate_against_the_emulator(subset: GraphQLSchema, path: Path) -> None:
    """A document the product's entities send that the emulator cannot run means the subset needs extending."""
    assert validate(subset, parse(path.read_text(encoding="utf-8"))) == []
