"""Inventory: how the sync reads Fluent's available-to-sell positions, and writes commercetools inventory entries.

* reading (:class:`PositionsReader`): the virtual positions of ``inventory.virtual_catalogue_ref`` by ``updatedOn``
  (a day, a poll) or by ref (what a webhook event names, a retry, a re-drive); when read to be written, each with
  the channel of its location when its group is a location this project syncs (:func:`with_location_channels`,
  one Fluent query per page);
* writing (the core's versioned writes, with the write client: ``manage_products``): an entry per position, keyed by
  the position ref: created when missing (an entry of that SKU and channel without our key takes it), written only
  when its quantity (or restock data, or channel) changed; a batch reads its entries in one query, so an initial
  load costs about one request per entry. A position gone from Fluent zeroes or deletes its entry
  (``inventory.gone_position``). An entry of a location's channel waits for that channel.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ctfluent_dagster.commercetools.client import CommercetoolsClient
from ctfluent_dagster.entities.inventory.mapping import MappedEntry, SkippedPosition, entry_actions, map_entry
from ctfluent_dagster.entities.inventory.models import VirtualPosition
from ctfluent_dagster.entities.inventory.settings import InventorySettings
from ctfluent_dagster.entities.locations import CHANNEL, LocationSettings, channel_key_of, synced_location_refs
from ctfluent_dagster.entity import Pages, SyncContext
from ctfluent_dagster.fluent.changes import updated_on_version
from ctfluent_dagster.fluent.operations import OperationSet
from ctfluent_dagster.fluent.paging import date_range, nodes, nodes_by_refs
from ctfluent_dagster.records import (
    Dependency,
    FluentIdentity,
    LedgerKey,
    PlannedPush,
    PlannedSkip,
    payload_fingerprint,
)
from ctfluent_dagster.sync.commercetools_entity import (
    CommercetoolsEntitySync,
    KeyedWrite,
    VersionedWrites,
    describe_actions,
)
from ctfluent_dagster.sync.invalid import invalid_fluent_record_skip

ENTITY_TYPE = "inventory_entry"
OPERATIONS = OperationSet(Path(__file__).with_name("operations"))


class PositionsReader:
    """The virtual positions of the configured catalogue, as plain records."""

    def __init__(self, context: SyncContext) -> None:
        self.fluent = context.fluent
        catalogue = context.entity_settings(InventorySettings).virtual_catalogue_ref
        # Unset: nothing is read (pre-flight says what to set); no position of another catalogue is ever taken.
        self.catalogue = {"ref": catalogue} if catalogue else None

    def updated_between(self, start: datetime | None, end: datetime | None) -> Pages:
        if self.catalogue is None:
            return iter(())
        variables = {"catalogue": self.catalogue, "refs": None, "updatedOn": date_range(start, end)}
        return nodes(self.fluent, OPERATIONS["VirtualPositions"], variables)

    def by_refs(self, refs: Sequence[str]) -> Pages:
        if self.catalogue is None:
            return
        variables = {"catalogue": self.catalogue, "updatedOn": None}
        yield from nodes_by_refs(self.fluent, OPERATIONS["VirtualPositions"], refs, variables)


def with_location_channels(context: SyncContext, page: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each position with ``locationChannel``: the key of its location's channel when its group is a location this
    project syncs (the locations' rule), else None (the default channel)."""
    groups = sorted({str(node["groupRef"]) for node in page if node.get("groupRef")})
    locations = synced_location_refs(context.fluent, context.settings_of("locations", LocationSettings), groups)
    return [{**node, "locationChannel": channel_key_of(str(node["groupRef"])) if node.get("groupRef") in locations
             else None} for node in page]  # fmt: skip


class InventorySync(CommercetoolsEntitySync[MappedEntry]):
    entity_type = ENTITY_TYPE

    def __init__(self, writer: CommercetoolsClient, settings: InventorySettings) -> None:
        self.writes = VersionedWrites(writer, settings.max_conflict_retries)
        self.settings = settings
        self._channel_ids: dict[str, str | None] = {}  # channel key -> id, read once per run
        self._lock = threading.Lock()

    def plan(self, record: Mapping[str, Any]) -> list[PlannedPush[MappedEntry] | PlannedSkip]:
        try:
            position = VirtualPosition.model_validate(record)
        except ValidationError as exc:
            return [invalid_fluent_record_skip(ENTITY_TYPE, record, exc)]
        key, version = LedgerKey(ENTITY_TYPE, position.ref, ""), updated_on_version(record)
        mapped = map_entry(position, self.settings)
        if isinstance(mapped, SkippedPosition):
            return [PlannedSkip(key, version, mapped.reason, position.ref)]
        requires = (Dependency(CHANNEL, ref=mapped.channel_key, label=str(position.group_ref)),) \
            if mapped.location_channel else ()  # fmt: skip
        return [PlannedPush(key, version, mapped.key, payload_fingerprint(mapped.draft() | {"delete": mapped.delete}),
                            mapped, position.ref, requires=requires)]  # fmt: skip

    def write(self, push: PlannedPush[MappedEntry]) -> FluentIdentity:
        entry = push.payload
        if entry.delete:
            return self._deleted(entry)
        keyed = self._keyed(entry)
        written = self.writes.apply("inventory", f"key={entry.key}", keyed.actions_for, keyed.draft, keyed.find)
        return FluentIdentity(ref=entry.key, id=str(written.resource["id"]))

    def create_many(self, pushes: Sequence[PlannedPush[MappedEntry]]) -> list[FluentIdentity]:
        """A batch: its entries read in one query, then each created, updated or left as it is."""
        kept = [push.payload for push in pushes if not push.payload.delete]
        written = self.writes.apply_by_keys("inventory", [self._keyed(entry) for entry in kept])
        ids = {entry.key: str(result.resource["id"]) for entry, result in zip(kept, written, strict=True)}
        return [self._deleted(push.payload) if push.payload.delete else
                FluentIdentity(ref=push.payload.key, id=ids[push.payload.key]) for push in pushes]  # fmt: skip

    def update_many(self, pushes: Sequence[tuple[PlannedPush[MappedEntry], str]]) -> list[FluentIdentity]:
        return self.create_many([push for push, _ in pushes])

    def _keyed(self, entry: MappedEntry) -> KeyedWrite:
        channel_id = self._channel_id(entry.channel_key)
        return KeyedWrite(entry.key, lambda current: entry_actions(current, entry, channel_id), entry.draft,
                          lambda: self._find(entry, channel_id))  # fmt: skip

    def _deleted(self, entry: MappedEntry) -> FluentIdentity:
        self.writes.remove("inventory", f"key={entry.key}")
        return FluentIdentity(ref=entry.key, id=None)

    def _find(self, entry: MappedEntry, channel_id: str | None) -> dict[str, Any] | None:
        """An entry of that SKU and channel without our key (created by someone else): it takes our key."""
        if channel_id is None:
            return None
        pages = self.writes.client.iterate_by_id("inventory", where="sku = :sku and supplyChannel(id = :channel)",
                                                 variables={"sku": entry.sku, "channel": channel_id})  # fmt: skip
        return next((entry for page in pages for entry in page), None)

    def _channel_id(self, key: str) -> str | None:
        with self._lock:
            if key not in self._channel_ids:
                channel = self.writes.client.get("channels", f"key={key}")
                self._channel_ids[key] = str(channel["id"]) if channel else None
            return self._channel_ids[key]

    def retire(self, ref: str) -> FluentIdentity:
        """A position gone from Fluent: its entry zeroed or deleted (``inventory.gone_position``)."""
        if self.settings.gone_position == "delete":
            self.writes.remove("inventory", f"key={ref}")
        elif self.writes.client.get("inventory", f"key={ref}") is not None:
            self.writes.apply("inventory", f"key={ref}", _zero)
        return FluentIdentity(ref=ref, id=None)

    def differences(self, push: PlannedPush[MappedEntry], ref: str) -> list[str]:
        entry = push.payload
        current = self.writes.client.get("inventory", f"key={entry.key}")
        if current is None:
            return [] if entry.delete else ["create"]
        return ["delete"] if entry.delete else describe_actions(
            entry_actions(current, entry, self._channel_id(entry.channel_key)))  # fmt: skip


def _zero(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [] if entry.get("quantityOnStock") == 0 else [{"action": "changeQuantity", "quantity": 0}]


def build_reader(context: SyncContext) -> PositionsReader:
    return PositionsReader(context)


def build_sync(context: SyncContext) -> InventorySync:
    if context.writer is None:
        raise ValueError("inventory is written with the write client: set CTP_WRITE_CLIENT_ID and "
                         "CTP_WRITE_CLIENT_SECRET (a client with manage_products)")  # fmt: skip
    return InventorySync(context.writer, context.entity_settings(InventorySettings))
