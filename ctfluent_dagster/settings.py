"""Every non-secret setting of the sync, in one place.

Values come from (highest first) ``CTFLUENT_*`` environment variables (nested with ``__``, e.g.
``CTFLUENT_CUSTOMERS__UPDATE_POLICY=create_only``), the YAML file named by ``CTFLUENT_SETTINGS_FILE`` (default
``ctfluent.yaml`` in the working directory, when present), then the defaults below. Secrets (API credentials) are
not settings: they are Dagster ``EnvVar``s on the resources (see ``resources.py`` and ``.env.example``).
"""

from __future__ import annotations

import os
from datetime import date
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, YamlConfigSettingsSource

DEFAULT_SETTINGS_FILE = "ctfluent.yaml"


class CustomerHooks(BaseModel):
    """Extension points, by dotted path (``package.module:function``); applied in the order listed.

    * ``payload(payload: dict, customer: Customer) -> dict``: change the mapped Fluent customer.
    * ``query_fields(fields: list[str], operation: str) -> list[str]``: change the fields the mutation selects.
    * ``query_variables(variables: dict, customer: Customer) -> dict``: change the mutation's variables.
    """

    model_config = ConfigDict(frozen=True)

    payload: tuple[str, ...] = ()
    query_fields: tuple[str, ...] = ()
    query_variables: tuple[str, ...] = ()


class CustomerMappingSettings(BaseModel):
    """How a commercetools customer becomes Fluent customers (one per retailer)."""

    model_config = ConfigDict(frozen=True)

    # Fluent retailer for customers in no mapped store; FLUENT_RETAILER_ID when unset.
    default_retailer_id: str | None = None
    # commercetools store key -> Fluent retailer id. A customer in several mapped stores goes to each retailer.
    store_retailers: dict[str, str] = Field(default_factory=dict)
    # Username = "<retailerId>_<email>", the email trimmed and lower-cased unless this is true.
    keep_email_case: bool = False
    # Fluent requires firstName: taken from the customer, else from the contact address, else this text.
    first_name_fallback: str = "Customer"
    # Fluent requires a time zone and commercetools has none: by the contact address's country, else the default.
    default_timezone: str = "UTC"
    timezone_by_country: dict[str, str] = Field(default_factory=dict)
    # A boolean custom field on the commercetools customer that holds marketing consent; absent -> opt-out.
    promotion_opt_in_field: str | None = None
    # upsert: create, or update when the mapped payload changed. create_only: an existing customer is linked.
    update_policy: Literal["upsert", "create_only"] = "upsert"
    hooks: CustomerHooks = Field(default_factory=CustomerHooks)


class MessagesSettings(BaseModel):
    """The commercetools Messages API poller (the ``commercetools_messages_sensor``) and reconciliation."""

    model_config = ConfigDict(frozen=True)

    # Sensor evaluation interval. A tick reads at most `max_pages_per_tick` pages and carries the rest over.
    poll_interval_seconds: int = 60
    max_pages_per_tick: int = 20
    # Read only messages older than `settle_seconds` (they may become queryable late), and re-read the last
    # `overlap_seconds` before the cursor on every tick (dropping ids already seen) to catch the ones later still.
    settle_seconds: int = 120
    overlap_seconds: int = 600
    # A burst of changes becomes one run per (route, day), split above this many ids.
    max_ids_per_run: int = 2000
    # Sensor and reconciliation schedules start running when the code location loads (the sandbox demo sets
    # these; in production turn them on here or in the UI).
    sensor_running: bool = False
    schedules_running: bool = False
    # Re-sync the partitions of the last `reconciliation_days` days (changes that emit no message) and look for
    # customers deleted in commercetools, daily at this cron (UTC).
    reconciliation_days: int = 3
    reconciliation_cron: str = "0 2 * * *"
    # Routes (YAML, see ctfluent_dagster/routes.yaml for the format); default: the shipped file.
    routes_file: str | None = None
    # Extra message handlers by dotted path; for the same handler name the highest priority wins.
    handlers: tuple[str, ...] = ()


class SyncSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CTFLUENT_", env_nested_delimiter="__", extra="ignore", frozen=True)

    # First daily partition (UTC). History before it is not offered for backfill.
    start_date: date = date(2024, 1, 1)
    # A batched backfill materialises up to this many daily partitions per run.
    backfill_partitions_per_run: int = 31
    # Fluent requests in flight at once within one run (threads).
    fluent_concurrency: int = 8
    # Mutations per Fluent request (alias batching; 1 = one request per record). A failed batch is retried record
    # by record, so one bad record costs its batch one extra request.
    fluent_batch_size: int = 10
    # Where the commercetools asset keeps its per-partition Parquet datasets; default under DAGSTER_HOME.
    staging_dir: str | None = None
    customers: CustomerMappingSettings = Field(default_factory=CustomerMappingSettings)
    messages: MessagesSettings = Field(default_factory=MessagesSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_file = Path(os.environ.get("CTFLUENT_SETTINGS_FILE", DEFAULT_SETTINGS_FILE))
        return (init_settings, env_settings, YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file))


@cache
def load_settings() -> SyncSettings:
    """The settings of this process (read once: the code location and its runs share one environment)."""
    return SyncSettings()


def state_dir() -> Path:
    """Local state (the default ledger, staged datasets): under DAGSTER_HOME, else ``.ctfluent/``."""
    home = os.environ.get("DAGSTER_HOME")
    return Path(home) / "ctfluent" if home else Path(".ctfluent")
