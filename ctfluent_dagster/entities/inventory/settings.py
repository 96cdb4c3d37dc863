"""The inventory section of the settings (``inventory:`` in ``ctfluent.yaml``, ``CTFLUENT_INVENTORY__*``): which
Fluent positions become commercetools inventory entries, and how."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ctfluent_dagster.fluent.changes import FluentChangesSettings


class InventorySettings(FluentChangesSettings):
    # The aggregate virtual catalogue whose positions are available to sell (the connector's
    # fluentAggregateVirtualCatalogueRef); unset: inventory is off (its runs read nothing; pre-flight says so).
    virtual_catalogue_ref: str | None = None
    # The commercetools channel (key) of positions whose groupRef is not a synced location (the connector's
    # ctChannelKey); it must exist with the InventorySupply role. Unset: such positions are skipped with that reason.
    channel_key: str | None = None
    # Position attributes holding an entry's expectedDelivery (a date-time) and restockableInDays (a number); unset
    # or absent: not written.
    expected_delivery_attribute: str | None = "expectedDelivery"
    restockable_in_days_attribute: str | None = "restockableInDays"
    # Position statuses that mean "not available", and what a position that is so or gone from Fluent makes of its
    # entry: "zero" (quantityOnStock 0: out of stock) or "delete" (the entry is deleted).
    unavailable_statuses: tuple[str, ...] = ("INACTIVE",)
    gone_position: Literal["zero", "delete"] = "zero"
    # A 409 (the entry changed between read and write) re-reads it and tries again, at most this many times.
    max_conflict_retries: int = Field(default=5, ge=0)
