"""The locations section of the settings (``locations:`` in ``ctfluent.yaml``, ``CTFLUENT_LOCATIONS__*``): which Fluent
locations become commercetools channels (and stores), and how."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ctfluent_dagster.fluent.changes import FluentChangesSettings

ChannelRole = Literal["InventorySupply", "ProductDistribution", "OrderExport", "OrderImport", "Primary"]


class LocationSettings(FluentChangesSettings):
    # The Fluent network(s) whose locations are synced (the connector's fluentNetworkRef): one ref or a list; empty:
    # every location of the account.
    network_ref: tuple[str, ...] = ()
    # The roles of each location's channel: InventorySupply (its stock: inventory entries), ProductDistribution (its
    # prices and assortment).
    channel_roles: tuple[ChannelRole, ...] = ("InventorySupply", "ProductDistribution")
    # The locale of the channel's (and store's) name.
    locale: str = "en"
    # Also a commercetools store per location (key = the location ref), its channel as supply and/or distribution
    # channel as its roles say.
    create_stores: bool = False
    # Location statuses that mean closed, and what a closed location's channel becomes: "keep" (as it is: its stock
    # stays visible) or "remove_roles" (no role: no stock, no prices from it). A closed location never gets a new
    # channel.
    closed_statuses: tuple[str, ...] = ("INACTIVE",)
    closed_location: Literal["keep", "remove_roles"] = "remove_roles"
    # A 409 (the channel changed between read and write) re-reads it and tries again, at most this many times.
    max_conflict_retries: int = Field(default=5, ge=0)

    @field_validator("network_ref", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value
