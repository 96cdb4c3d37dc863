"""Inventory, Fluent -> commercetools: the available-to-sell positions of the aggregate virtual catalogue
(``inventory.virtual_catalogue_ref``) become commercetools inventory entries, staged per day of ``updatedOn`` (asset
``fluent/virtual_positions``), found changed by ``VIRTUAL_POSITION`` webhook events and by polling."""

from __future__ import annotations

from ctfluent_dagster.entities.inventory.settings import InventorySettings
from ctfluent_dagster.entities.inventory.sync import (
    ENTITY_TYPE,
    OPERATIONS,
    build_reader,
    build_sync,
    with_location_channels,
)
from ctfluent_dagster.entities.shared import retailers_served
from ctfluent_dagster.entity import EntityDeclaration, FluentSource, SyncContext, Target
from ctfluent_dagster.preflight import PreflightCheck, attempt


def _preflight(context: SyncContext) -> list[PreflightCheck]:
    """The virtual catalogue exists; the default channel exists with the InventorySupply role."""
    settings = context.entity_settings(InventorySettings)

    def catalogue() -> tuple[bool, str]:
        if not settings.virtual_catalogue_ref:
            return True, ("inventory is off: set inventory.virtual_catalogue_ref (the aggregate virtual catalogue of "
                          "available stock) to write Fluent's stock to commercetools")  # fmt: skip
        lookup = OPERATIONS["VirtualCatalogueByRef"]
        found = context.fluent.execute(lookup, {"ref": settings.virtual_catalogue_ref})[lookup.root_field]
        if not found:
            return False, f"virtual catalogue {settings.virtual_catalogue_ref} does not exist or is not visible"
        return (
            True,
            f"virtual catalogue {found['ref']}: {found.get('name')} ({found.get('type')}, {found.get('status')})",
        )

    def channel() -> tuple[bool, str]:
        if not settings.channel_key:
            return True, "inventory.channel_key is not set: only positions of synced locations are written"
        client = context.writer or context.commercetools
        if client is None:
            return False, "no commercetools client to check the channel with"
        found = client.get("channels", f"key={settings.channel_key}")
        if found is None:
            return False, f"commercetools channel {settings.channel_key} (inventory.channel_key) does not exist"
        if "InventorySupply" not in (found.get("roles") or []):
            return False, f"commercetools channel {settings.channel_key} lacks the InventorySupply role"
        return True, f"commercetools channel {settings.channel_key}: roles {', '.join(found.get('roles') or [])}"

    return [attempt("Fluent virtual catalogue", catalogue), attempt("inventory: default channel", channel)]


ENTITY = EntityDeclaration(
    name="inventory",
    source=FluentSource(
        name="virtual_positions",
        description="Fluent virtual positions of inventory.virtual_catalogue_ref whose updatedOn falls in the day "
        "(UTC), staged as Parquet.",
        reader=build_reader,
        served_retailers=retailers_served,
        event_types=("VIRTUAL_POSITION",),
        after=(),
        enrich=with_location_channels,
    ),
    targets=(
        Target(
            name="inventory",
            entity_type=ENTITY_TYPE,
            description="commercetools inventory entries (SKU + supply channel, quantityOnStock, restock data), one "
            "per Fluent position, written only when changed; an entry of a location's channel waits for it.",
            build=build_sync,
            after=("channels",),
            scopes=("manage_products",),
            gone_status="inactive",
        ),
    ),
    settings=InventorySettings,
    uses_settings=("locations",),
    preflight=_preflight,
)
