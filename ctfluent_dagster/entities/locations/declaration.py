"""Locations, Fluent -> commercetools: the locations of the configured Fluent network(s) become commercetools channels
(and, when configured, stores), staged per day of ``updatedOn`` (asset ``fluent/locations``), found changed by
``LOCATION`` webhook events and by polling."""

from __future__ import annotations

from ctfluent_dagster.entities.locations.models import CHANNEL
from ctfluent_dagster.entities.locations.settings import LocationSettings
from ctfluent_dagster.entities.locations.sync import OPERATIONS, STORE, build_channels, build_reader, build_stores
from ctfluent_dagster.entities.shared import retailers_served
from ctfluent_dagster.entity import EntityDeclaration, FluentSource, SyncContext, Target
from ctfluent_dagster.fluent.paging import nodes
from ctfluent_dagster.preflight import PreflightCheck, attempt


def _preflight(context: SyncContext) -> list[PreflightCheck]:
    """The configured networks exist and hold locations."""
    settings = context.entity_settings(LocationSettings)

    def probe() -> tuple[bool, str]:
        page = next(nodes(context.fluent, OPERATIONS["Locations"], {"refs": None, "updatedOn": None}, page_size=50),
                    [])  # fmt: skip
        networks = {edge["node"]["ref"] for node in page for edge in (node.get("networks") or {}).get("edges") or []}
        if not settings.network_ref:
            return True, f"every location of the account is synced (locations.network_ref is empty); {len(page)}+ read"
        missing = sorted(set(settings.network_ref) - networks)
        if missing and len(page) < 50:
            return False, f"no location is in network {', '.join(missing)} (locations.network_ref)"
        return True, f"network {', '.join(settings.network_ref)}: locations found"

    return [attempt("Fluent locations", probe)]


ENTITY = EntityDeclaration(
    name="locations",
    source=FluentSource(
        name="locations",
        description="Fluent locations of the configured networks whose updatedOn falls in the day (UTC), staged as "
        "Parquet.",
        reader=build_reader,
        served_retailers=retailers_served,
        event_types=("LOCATION",),
    ),
    targets=(
        Target(
            name="channels",
            entity_type=CHANNEL,
            description="commercetools channels, one per Fluent location (key = location ref): roles, name, address "
            "and geo location; a closed location keeps its channel or loses its roles (locations.closed_location).",
            build=build_channels,
            scopes=("manage_channels",),
            gone_status="inactive",
        ),
        Target(
            name="stores",
            entity_type=STORE,
            description="commercetools stores, one per Fluent location when locations.create_stores is on, with the "
            "location's channel as supply and distribution channel.",
            build=build_stores,
            after=("channels",),
            scopes=("manage_stores",),
            gone_status="inactive",
        ),
    ),
    settings=LocationSettings,
    preflight=_preflight,
)
