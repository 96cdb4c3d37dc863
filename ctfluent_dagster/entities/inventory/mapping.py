"""A Fluent virtual position -> a commercetools inventory entry: pure functions, table-tested.

* key: the position ref (as a commercetools key); SKU: the position's ``productRef``;
* supply channel: the channel of the position's location when its ``groupRef`` is a location of the synced networks
  (it waits for that channel), else ``inventory.channel_key`` (none set: skipped with that reason);
* ``quantityOnStock``: the position's quantity (never below 0); a position that is unavailable
  (``unavailable_statuses``) gives 0, or deletes its entry (``gone_position``);
* ``expectedDelivery`` / ``restockableInDays``: from the configured position attributes, when present and valid.

An entry's update actions are only those that change it: an unchanged position writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ctfluent_dagster.entities.inventory.models import VirtualPosition
from ctfluent_dagster.entities.inventory.settings import InventorySettings
from ctfluent_dagster.fluent.changes import parse_time
from ctfluent_dagster.sync.commercetools_entity import Action, commercetools_key


@dataclass(frozen=True)
class MappedEntry:
    key: str
    sku: str
    channel_key: str
    quantity: int
    restockable_in_days: int | None = None
    expected_delivery: str | None = None
    delete: bool = False  # the position is unavailable and ``gone_position`` is "delete"
    location_channel: bool = False  # the channel is a synced location's: the entry waits for it

    def draft(self) -> dict[str, Any]:
        draft: dict[str, Any] = {"key": self.key, "sku": self.sku, "quantityOnStock": self.quantity,
                                 "supplyChannel": {"typeId": "channel", "key": self.channel_key}}  # fmt: skip
        if self.restockable_in_days is not None:
            draft["restockableInDays"] = self.restockable_in_days
        if self.expected_delivery is not None:
            draft["expectedDelivery"] = self.expected_delivery
        return draft


@dataclass(frozen=True)
class SkippedPosition:
    reason: str


def _expected_delivery(value: Any) -> str | None:
    if value in (None, ""):
        return None
    try:
        return parse_time(value).isoformat().replace("+00:00", "Z")
    except ValueError:
        return None


def _days(value: Any) -> int | None:
    try:
        days = int(value)
    except (TypeError, ValueError):
        return None
    return days if days >= 0 else None


def map_entry(position: VirtualPosition, settings: InventorySettings) -> MappedEntry | SkippedPosition:
    if not position.product_ref:
        return SkippedPosition("the position has no productRef (the SKU of its entry)")
    channel = position.location_channel or settings.channel_key
    if not channel:
        return SkippedPosition(f"group {position.group_ref!r} is not a synced location and inventory.channel_key is "
                               "not set")  # fmt: skip
    unavailable = (position.status or "") in settings.unavailable_statuses
    return MappedEntry(
        key=commercetools_key(position.ref),
        sku=position.product_ref,
        channel_key=channel,
        quantity=0 if unavailable else max(position.quantity or 0, 0),
        restockable_in_days=_days(position.attribute(settings.restockable_in_days_attribute)),
        expected_delivery=_expected_delivery(position.attribute(settings.expected_delivery_attribute)),
        delete=unavailable and settings.gone_position == "delete",
        location_channel=position.location_channel is not None,
    )


def entry_actions(current: Mapping[str, Any], wanted: MappedEntry, channel_id: str | None) -> list[Action]:
    """The update actions that bring the entry ``current`` to ``wanted`` (``channel_id``: the id of its channel, as
    commercetools answers references): none when it is there already."""
    actions: list[Action] = []
    if channel_id and (current.get("supplyChannel") or {}).get("id") != channel_id:
        actions.append(
            {"action": "setSupplyChannel", "supplyChannel": {"typeId": "channel", "key": wanted.channel_key}}
        )
    if current.get("quantityOnStock") != wanted.quantity:
        actions.append({"action": "changeQuantity", "quantity": wanted.quantity})
    if wanted.restockable_in_days is not None and current.get("restockableInDays") != wanted.restockable_in_days:
        actions.append({"action": "setRestockableInDays", "restockableInDays": wanted.restockable_in_days})
    if wanted.expected_delivery is not None and not _same_moment(current.get("expectedDelivery"),
                                                                 wanted.expected_delivery):  # fmt: skip
        actions.append({"action": "setExpectedDelivery", "expectedDelivery": wanted.expected_delivery})
    if current.get("key") != wanted.key:  # found by SKU and channel: it takes our key
        actions.append({"action": "setKey", "key": wanted.key})
    return actions


def _same_moment(current: Any, wanted: str) -> bool:
    if not current:
        return False
    moment: datetime = parse_time(current)
    return moment == parse_time(wanted)
