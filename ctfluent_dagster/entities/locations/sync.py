"""Locations: how the sync reads them from Fluent, and writes their channels (and stores) to commercetools.

* reading (:class:`LocationsReader`): Fluent's locations by ``updatedOn`` (a day, a poll) or by ref (what a webhook
  event names, a retry, a re-drive), those of the configured networks only (``locations.network_ref``; a location
  that left them reads as gone);
* writing (the core's versioned writes, with the write client: ``manage_channels``, ``manage_stores``): a channel
  per location, keyed by the location ref, created when missing and updated only where it differs; a closed location
  keeps its channel or loses its roles, and never gets a new one; a location gone from Fluent (or from the networks)
  is retired as if closed. The store of a location waits for its channel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ctfluent_dagster.commercetools.client import CommercetoolsClient
from ctfluent_dagster.entities.locations.mapping import (
    MappedChannel,
    channel_actions,
    is_closed,
    map_channel,
    store_actions,
    store_draft,
)
from ctfluent_dagster.entities.locations.models import CHANNEL, FluentLocation
from ctfluent_dagster.entities.locations.settings import LocationSettings
from ctfluent_dagster.entity import Pages, SyncContext
from ctfluent_dagster.fluent.changes import updated_on_version
from ctfluent_dagster.fluent.client import FluentClient
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
    VersionedWrites,
    commercetools_key,
    describe_actions,
)
from ctfluent_dagster.sync.invalid import invalid_fluent_record_skip

STORE = "store"
OPERATIONS = OperationSet(Path(__file__).with_name("operations"))


class LocationsReader:
    """Fluent's locations of the configured networks, as plain records."""

    def __init__(self, fluent: FluentClient, settings: LocationSettings) -> None:
        self.fluent = fluent
        self.networks = set(settings.network_ref)

    def updated_between(self, start: datetime | None, end: datetime | None) -> Pages:
        return self._of_networks(nodes(self.fluent, OPERATIONS["Locations"],
                                       {"refs": None, "updatedOn": date_range(start, end)}))  # fmt: skip

    def by_refs(self, refs: Sequence[str]) -> Pages:
        return self._of_networks(nodes_by_refs(self.fluent, OPERATIONS["Locations"], refs, {"updatedOn": None}))

    def _of_networks(self, pages: Pages) -> Pages:
        for page in pages:
            kept = [node for node in page if not self.networks or self.networks & _network_refs(node)]
            if kept:
                yield kept


def synced_location_refs(fluent: FluentClient, settings: LocationSettings, refs: Sequence[str]) -> set[str]:
    """Which of these refs are Fluent locations this project syncs (of the configured networks)."""
    reader = LocationsReader(fluent, settings)
    return {str(node["ref"]) for page in reader.by_refs(refs) for node in page}


def channel_key_of(location_ref: str) -> str:
    """The key of a location's channel."""
    return commercetools_key(location_ref)


def _network_refs(node: Mapping[str, Any]) -> set[str]:
    return {str(edge["node"]["ref"]) for edge in (node.get("networks") or {}).get("edges") or [] if edge}


def _location(entity_type: str, record: Mapping[str, Any]) -> FluentLocation | PlannedSkip:
    try:
        return FluentLocation.model_validate(record)
    except ValidationError as exc:
        return invalid_fluent_record_skip(entity_type, record, exc)


@dataclass(frozen=True)
class ChannelPush:
    channel: MappedChannel
    closed: bool


class ChannelSync(CommercetoolsEntitySync[ChannelPush]):
    entity_type = CHANNEL

    def __init__(self, writer: CommercetoolsClient, settings: LocationSettings) -> None:
        self.writes = VersionedWrites(writer, settings.max_conflict_retries)
        self.settings = settings

    def plan(self, record: Mapping[str, Any]) -> list[PlannedPush[ChannelPush] | PlannedSkip]:
        location = _location(self.entity_type, record)
        if isinstance(location, PlannedSkip):
            return [location]
        channel = map_channel(location, self.settings)
        push = ChannelPush(channel, is_closed(location, self.settings))
        return [PlannedPush(LedgerKey(CHANNEL, location.ref, ""), updated_on_version(record), channel.key,
                            payload_fingerprint([channel.draft(), push.closed]), push, location.name or location.ref,
                            notes=channel.notes)]  # fmt: skip

    def write(self, push: PlannedPush[ChannelPush]) -> FluentIdentity:
        channel = push.payload.channel
        ident = f"key={channel.key}"
        if push.payload.closed and self.writes.client.get("channels", ident) is None:
            return FluentIdentity(ref=channel.key, id=None)  # a closed location never gets a new channel
        written = self.writes.apply("channels", ident, lambda current: channel_actions(current, channel),
                                    channel.draft)  # fmt: skip
        return FluentIdentity(ref=channel.key, id=str(written.resource["id"]))

    def retire(self, ref: str) -> FluentIdentity:
        """Gone from Fluent (or from the networks): as a closed location."""
        exists = self.writes.client.get("channels", f"key={ref}") is not None
        if exists and self.settings.closed_location == "remove_roles":
            self.writes.apply("channels", f"key={ref}", _without_roles)
        return FluentIdentity(ref=ref, id=None)

    def differences(self, push: PlannedPush[ChannelPush], ref: str) -> list[str]:
        current = self.writes.client.get("channels", f"key={push.payload.channel.key}")
        return describe_actions(channel_actions(current, push.payload.channel)) if current else ["create"]


def _without_roles(channel: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"action": "setRoles", "roles": []}] if channel.get("roles") else []


class StoreSync(CommercetoolsEntitySync[dict[str, Any]]):
    """A store per location (``locations.create_stores``), with its channel; it waits for the channel."""

    entity_type = STORE

    def __init__(self, writer: CommercetoolsClient, settings: LocationSettings) -> None:
        self.writes = VersionedWrites(writer, settings.max_conflict_retries)
        self.settings = settings

    def plan(self, record: Mapping[str, Any]) -> list[PlannedPush[dict[str, Any]] | PlannedSkip]:
        if not self.settings.create_stores:
            return []
        location = _location(self.entity_type, record)
        if isinstance(location, PlannedSkip):
            return [location]
        channel = map_channel(location, self.settings)
        draft = store_draft(channel, channel.roles)  # a closed location's store loses the channels its channel lost
        needs = Dependency(CHANNEL, ref=channel.key, label=location.ref)
        return [PlannedPush(LedgerKey(STORE, location.ref, ""), updated_on_version(record), channel.key,
                            payload_fingerprint(draft), draft, location.name or location.ref,
                            requires=(needs,))]  # fmt: skip

    def write(self, push: PlannedPush[dict[str, Any]]) -> FluentIdentity:
        draft = push.payload
        channel = self.writes.client.get("channels", f"key={draft['key']}")
        channel_id = str(channel["id"]) if channel else None
        written = self.writes.apply("stores", f"key={draft['key']}",
                                    lambda current: store_actions(current, draft, channel_id),
                                    lambda: draft)  # fmt: skip
        return FluentIdentity(ref=str(draft["key"]), id=str(written.resource["id"]))

    def retire(self, ref: str) -> FluentIdentity:
        return FluentIdentity(ref=ref, id=None)  # a store stays: its channel follows the closed-location rule


def _writer(context: SyncContext) -> CommercetoolsClient:
    if context.writer is None:
        raise ValueError("locations are written with the write client: set CTP_WRITE_CLIENT_ID and "
                         "CTP_WRITE_CLIENT_SECRET (a client with manage_channels, manage_stores)")  # fmt: skip
    return context.writer


def build_reader(context: SyncContext) -> LocationsReader:
    return LocationsReader(context.fluent, context.entity_settings(LocationSettings))


def build_channels(context: SyncContext) -> ChannelSync:
    return ChannelSync(_writer(context), context.entity_settings(LocationSettings))


def build_stores(context: SyncContext) -> StoreSync:
    return StoreSync(_writer(context), context.entity_settings(LocationSettings))
