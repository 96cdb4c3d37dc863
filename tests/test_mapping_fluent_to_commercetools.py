"""The pure mappings of the entities read from Fluent, table-tested: a location -> a channel (and store), a virtual
position -> an inventory entry, a fulfilment -> a delivery with parcels and the order's shipment state; a cancelled
commercetools order -> the Fluent event; and the commercetools key of a Fluent ref."""

from __future__ import annotations

from typing import Any

import pytest

from ctfluent_dagster.entities.fulfilments.mapping import (
    MappedDelivery,
    SkippedFulfilment,
    delivery_actions,
    map_delivery,
)
from ctfluent_dagster.entities.fulfilments.models import FluentFulfilment
from ctfluent_dagster.entities.fulfilments.settings import FulfilmentSettings
from ctfluent_dagster.entities.inventory.mapping import MappedEntry, SkippedPosition, entry_actions, map_entry
from ctfluent_dagster.entities.inventory.models import VirtualPosition
from ctfluent_dagster.entities.inventory.settings import InventorySettings
from ctfluent_dagster.entities.locations.mapping import channel_actions, map_channel, store_actions, store_draft
from ctfluent_dagster.entities.locations.models import FluentLocation
from ctfluent_dagster.entities.locations.settings import LocationSettings
from ctfluent_dagster.entities.orders.cancellation import cancellation_event
from ctfluent_dagster.sync.commercetools_entity import commercetools_key

UPDATED = "2026-12-01T10:00:00Z"


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("LOC_1", "LOC_1"),
        ("store-42", "store-42"),
        ("A", None),  # too short: a digest makes it a valid key
        ("SKU-1:LOC 2", None),  # characters a key cannot have
    ],
)
def test_a_fluent_ref_becomes_a_commercetools_key(ref: str, expected: str | None) -> None:
    key = commercetools_key(ref)
    if expected is not None:
        assert key == expected
    else:
        assert key != ref and key.replace("_", "").replace("-", "").isalnum() and 2 <= len(key) <= 256
        assert commercetools_key(ref) == key  # stable
        assert commercetools_key(ref + " ") != key  # two refs never share a key


def location(**fields: Any) -> FluentLocation:
    base = {"id": "7", "ref": "LOC_1", "name": " Sydney CBD ", "status": "ACTIVE", "updatedOn": UPDATED,
            "primaryAddress": {"street": "1 George St", "city": "Sydney", "postcode": "2000", "state": "NSW",
                               "country": "AU", "latitude": -33.86, "longitude": 151.21},
            "networks": {"edges": [{"node": {"ref": "NETWORK:ONLINE"}}]}}  # fmt: skip
    return FluentLocation.model_validate({**base, **fields})


@pytest.mark.parametrize(
    ("fields", "settings", "roles", "address", "geo", "notes"),
    [
        ({}, LocationSettings(), ("InventorySupply", "ProductDistribution"),
         {"country": "AU", "streetName": "1 George St", "postalCode": "2000", "city": "Sydney", "state": "NSW"},
         {"type": "Point", "coordinates": [151.21, -33.86]}, ()),
        ({"status": "INACTIVE"}, LocationSettings(), (), ..., ..., ()),  # closed: no role
        ({"status": "INACTIVE"}, LocationSettings(closed_location="keep"), ("InventorySupply", "ProductDistribution"),
         ..., ..., ()),
        ({}, LocationSettings(channel_roles=("InventorySupply",)), ("InventorySupply",), ..., ..., ()),
        ({"primaryAddress": {"city": "Sydney", "country": "Australia"}}, LocationSettings(),
         ("InventorySupply", "ProductDistribution"), None, None,
         ("address left out: country 'Australia' is not an ISO 3166-1 alpha-2 code",)),
        ({"primaryAddress": None}, LocationSettings(), ("InventorySupply", "ProductDistribution"), None, None, ()),
    ],
)  # fmt: skip
def test_a_location_becomes_a_channel(
    fields: dict[str, Any], settings: LocationSettings, roles: tuple[str, ...], address: Any, geo: Any,
    notes: tuple[str, ...],
) -> None:  # fmt: skip
    channel = map_channel(location(**fields), settings)
    assert (channel.key, channel.roles, channel.name) == ("LOC_1", roles, {"en": "Sydney CBD"})
    if address is not ...:
        assert channel.address == address
    if geo is not ...:
        assert channel.geo_location == geo
    assert channel.notes == notes


def test_a_channel_is_written_only_where_it_differs() -> None:
    wanted = map_channel(location(), LocationSettings())
    current = {"id": "c1", "version": 3, "key": "LOC_1", "roles": ["ProductDistribution", "InventorySupply"],
               "name": {"en": "Sydney CBD"}, "address": {"id": "a1", **(wanted.address or {})},
               "geoLocation": wanted.geo_location}  # fmt: skip
    assert channel_actions(current, wanted) == []
    renamed = map_channel(location(name="Sydney Town Hall", status="INACTIVE"), LocationSettings())
    assert channel_actions(current, renamed) == [
        {"action": "setRoles", "roles": []},
        {"action": "changeName", "name": {"en": "Sydney Town Hall"}},
    ]


def test_a_locations_store_holds_its_channel_as_its_roles_say() -> None:
    channel = map_channel(location(), LocationSettings(channel_roles=("InventorySupply",)))
    draft = store_draft(channel, channel.roles)
    assert draft == {"key": "LOC_1", "name": {"en": "Sydney CBD"},
                     "supplyChannels": [{"typeId": "channel", "key": "LOC_1"}], "distributionChannels": []}  # fmt: skip
    current = {"name": {"en": "Sydney CBD"}, "supplyChannels": [{"typeId": "channel", "id": "c1"}],
               "distributionChannels": []}  # fmt: skip
    assert store_actions(current, draft, "c1") == []
    assert store_actions({**current, "supplyChannels": []}, draft, "c1") == [
        {"action": "setSupplyChannels", "supplyChannels": [{"typeId": "channel", "key": "LOC_1"}]}
    ]


def position(**fields: Any) -> VirtualPosition:
    base = {"id": "9", "ref": "SKU-1:LOC_1", "status": "ACTIVE", "productRef": "SKU-1", "groupRef": "LOC_1",
            "quantity": 7, "updatedOn": UPDATED, "locationChannel": "LOC_1",
            "attributes": [{"name": "restockableInDays", "type": "INTEGER", "value": "3"},
                           {"name": "expectedDelivery", "type": "STRING",
                            "value": "2026-12-20T00:00:00Z"}]}  # fmt: skip
    return VirtualPosition.model_validate({**base, **fields})


@pytest.mark.parametrize(
    ("fields", "settings", "expected"),
    [
        ({}, InventorySettings(), MappedEntry(commercetools_key("SKU-1:LOC_1"), "SKU-1", "LOC_1", 7, 3,
                                              "2026-12-20T00:00:00Z", location_channel=True)),
        ({"locationChannel": None, "groupRef": "CATEGORY_1"}, InventorySettings(channel_key="online"),
         MappedEntry(commercetools_key("SKU-1:LOC_1"), "SKU-1", "online", 7, 3, "2026-12-20T00:00:00Z")),
        ({"locationChannel": None}, InventorySettings(), SkippedPosition(
            "group 'LOC_1' is not a synced location and inventory.channel_key is not set")),
        ({"quantity": -2, "attributes": []}, InventorySettings(),
         MappedEntry(commercetools_key("SKU-1:LOC_1"), "SKU-1", "LOC_1", 0, location_channel=True)),
        ({"status": "INACTIVE", "attributes": []}, InventorySettings(),
         MappedEntry(commercetools_key("SKU-1:LOC_1"), "SKU-1", "LOC_1", 0, location_channel=True)),
        ({"status": "INACTIVE", "attributes": []}, InventorySettings(gone_position="delete"),
         MappedEntry(commercetools_key("SKU-1:LOC_1"), "SKU-1", "LOC_1", 0, delete=True, location_channel=True)),
        ({"productRef": None}, InventorySettings(), SkippedPosition(
            "the position has no productRef (the SKU of its entry)")),
        ({"attributes": [{"name": "restockableInDays", "value": "soon"}, {"name": "expectedDelivery", "value": "x"}]},
         InventorySettings(), MappedEntry(commercetools_key("SKU-1:LOC_1"), "SKU-1", "LOC_1", 7,
                                          location_channel=True)),  # unreadable attributes are not written
    ],
)  # fmt: skip
def test_a_position_becomes_an_inventory_entry(
    fields: dict[str, Any], settings: InventorySettings, expected: MappedEntry | SkippedPosition
) -> None:
    assert map_entry(position(**fields), settings) == expected


def test_an_entry_is_written_only_when_it_changed() -> None:
    wanted = map_entry(position(), InventorySettings())
    assert isinstance(wanted, MappedEntry)
    current = {"id": "e1", "version": 2, "key": wanted.key, "sku": "SKU-1", "quantityOnStock": 7,
               "restockableInDays": 3, "expectedDelivery": "2026-12-20T00:00:00.000Z",
               "supplyChannel": {"typeId": "channel", "id": "c1"}}  # fmt: skip
    assert entry_actions(current, wanted, "c1") == []
    assert entry_actions({**current, "quantityOnStock": 2}, wanted, "c1") == [
        {"action": "changeQuantity", "quantity": 7}
    ]
    stranger = {**current, "key": None, "supplyChannel": {"typeId": "channel", "id": "c0"}}  # found by SKU: ours now
    assert entry_actions(stranger, wanted, "c1") == [
        {"action": "setSupplyChannel", "supplyChannel": {"typeId": "channel", "key": "LOC_1"}},
        {"action": "setKey", "key": wanted.key},
    ]


def fulfilment(**fields: Any) -> FluentFulfilment:
    def consignment(ref: str, status: str, at: str) -> dict[str, Any]:
        return {
            "node": {
                "consignment": {
                    "ref": ref,
                    "status": status,
                    "consignmentReference": f"TRK-{ref}",
                    "updatedOn": at,
                    "carrier": {"ref": "AUSPOST", "name": "Australia Post"},
                }
            }
        }

    base = {"id": "f1", "ref": "F-1", "status": "FULFILLED", "updatedOn": UPDATED, "commercetoolsId": "order-1",
            "order": {"id": "1", "ref": "ORDER-1"},
            "items": {"edges": [{"node": {"ref": "i1", "filledQuantity": 2, "rejectedQuantity": 0,
                                          "orderItem": {"ref": "line-1"}}},
                                {"node": {"ref": "i2", "filledQuantity": 0, "rejectedQuantity": 1,
                                          "orderItem": {"ref": "line-2"}}}]},
            "articles": {"edges": [{"node": {"ref": "A-1", "consignmentArticles": {"edges": [
                consignment("C-1", "IN_TRANSIT", "2026-12-01T11:00:00Z")]}}}]}}  # fmt: skip
    return FluentFulfilment.model_validate({**base, **fields})


ORDER = {"id": "order-1", "version": 4, "shipmentState": "Pending",
         "lineItems": [{"id": "line-1", "quantity": 2}, {"id": "line-2", "quantity": 1}]}  # fmt: skip
TRACKING = {"trackingId": "TRK-C-1", "carrier": "Australia Post", "provider": "AUSPOST", "isReturn": False}


def test_a_partial_fulfilment_is_a_delivery_of_its_filled_items_with_a_parcel_per_consignment() -> None:
    settings = FulfilmentSettings()
    delivery = map_delivery(fulfilment(), settings)
    assert isinstance(delivery, MappedDelivery)
    assert (delivery.key, delivery.items, delivery.shipment_state) == ("F-1", (("line-1", 2),), "Shipped")
    assert delivery_actions(ORDER, delivery, settings) == [
        {"action": "addDelivery", "deliveryKey": "F-1", "items": [{"id": "line-1", "quantity": 2}],
         "parcels": [{"key": "C-1", "trackingData": TRACKING}]},
        {"action": "changeShipmentState", "shipmentState": "Partial"},  # line-2 is not delivered
    ]  # fmt: skip
    assert delivery_actions(ORDER, delivery, settings.model_copy(update={"partial_shipment": "as_mapped"}))[-1] == {
        "action": "changeShipmentState", "shipmentState": "Shipped"}  # fmt: skip


def test_a_delivery_already_there_is_completed_not_added_again() -> None:
    settings = FulfilmentSettings()
    delivery = map_delivery(fulfilment(), settings)
    assert isinstance(delivery, MappedDelivery)
    there = {**ORDER, "shipmentState": "Partial", "shippingInfo": {"deliveries": [
        {"id": "d1", "key": "F-1", "items": [{"id": "line-1", "quantity": 2}],
         "parcels": [{"id": "p1", "key": "C-1", "trackingData": TRACKING}]}]}}  # fmt: skip
    assert delivery_actions(there, delivery, settings) == []  # nothing changed: nothing written
    moved = {**TRACKING, "trackingId": "TRK-NEW"}
    (delivered,) = there["shippingInfo"]["deliveries"]  # type: ignore[index]
    parcels = [{"key": "C-1", "trackingData": moved}]
    changed = {**there, "shippingInfo": {"deliveries": [{**delivered, "parcels": parcels}]}}
    assert delivery_actions(changed, delivery, settings) == [
        {"action": "setParcelTrackingData", "parcelKey": "C-1", "trackingData": TRACKING}
    ]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"status": "ASSIGNED", "articles": {"edges": []}, "items": {"edges": []}}, "Pending"),
        ({"status": "UNKNOWN_STATUS", "articles": {"edges": []}}, None),
        ({"status": "PICKED"}, "Shipped"),  # the consignment's status wins
    ],
)
def test_the_shipment_state_comes_from_the_tables(fields: dict[str, Any], expected: str | None) -> None:
    delivery = map_delivery(fulfilment(**fields), FulfilmentSettings())
    assert isinstance(delivery, MappedDelivery) and delivery.shipment_state == expected


def test_a_fulfilment_of_an_order_commercetools_does_not_have_is_skipped() -> None:
    skipped = map_delivery(fulfilment(commercetoolsId=None), FulfilmentSettings())
    assert isinstance(skipped, SkippedFulfilment) and "no commercetools order" in skipped.reason
    nothing = map_delivery(fulfilment(status="CREATED", articles={"edges": []}, items={"edges": []}),
                           FulfilmentSettings())  # fmt: skip
    assert isinstance(nothing, SkippedFulfilment) and "nothing to deliver yet" in nothing.reason


def test_a_cancelled_order_becomes_the_configured_event_on_its_fluent_order() -> None:
    fluent_order = {"id": "501", "ref": "ORDER-1", "type": "HD", "status": "BOOKED"}
    assert cancellation_event("CancelOrder", "1", fluent_order, "ct-1", "ORDER-1") == {
        "name": "CancelOrder", "retailerId": "1", "entityType": "ORDER", "entityId": "501", "entityRef": "ORDER-1",
        "entitySubtype": "HD", "rootEntityType": "ORDER", "rootEntityRef": "ORDER-1",
        "attributes": {"ctOrderId": "ct-1", "ctOrderNumber": "ORDER-1"},
    }  # fmt: skip
