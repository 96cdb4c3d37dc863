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
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, YamlConfigSettingsSource

DEFAULT_SETTINGS_FILE = "ctfluent.yaml"
StagingEncryption = Literal["none", "sse-s3", "sse-kms"]


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
    """The core settings; :func:`with_sections` adds a section per registered entity (``customers``, ...)."""

    # An empty variable counts as unset: run launchers forward a variable by name, and deploy/ sets every one it
    # forwards, empty unless configured (the Docker launcher refuses to start a run when one is missing).
    model_config = SettingsConfigDict(
        env_prefix="CTFLUENT_", env_nested_delimiter="__", env_ignore_empty=True, extra="ignore", frozen=True
    )

    # First daily partition (UTC). History before it is not offered for backfill.
    start_date: date = date(2024, 1, 1)
    # A batched backfill materialises up to this many daily partitions per run.
    backfill_partitions_per_run: int = 31
    # Fluent requests in flight at once within one run (threads).
    fluent_concurrency: int = 8
    # Processes one asset's push runs in, each with its share of fluent_concurrency and of the staged pages (whole
    # pages: every record is in one of them). Unset: the CPUs available to the process (its CPU affinity and
    # container CPU limit), 1 on a SQLite ledger, and then a push of fewer than 1,000 records a process takes fewer.
    push_processes: int | None = Field(default=None, ge=1)
    # Mutations per Fluent request (alias batching; 1 = one request per record). A failed batch is retried record
    # by record, so one bad record costs its batch one extra request.
    fluent_batch_size: int = 10
    # A run's claim on its records lasts this long and is renewed by the run's heartbeat every quarter of it, so
    # the records of a run that died unseen are taken over after this long at the latest (at once when its
    # process is seen gone on this host or Dagster knows the run ended).
    lease_seconds: int = 60
    # Where the commercetools asset keeps its per-partition Parquet datasets, for the Fluent assets to read: a local
    # directory (default: under DAGSTER_HOME) or an object store URL (`s3://bucket/prefix`, `gs://...`, `az://...`),
    # which runs whose steps execute on different machines (Kubernetes pods) need. Credentials and endpoints come
    # from the store's own configuration (for S3 the AWS environment variables), never from here.
    staging_dir: str | None = None
    # Failed records are retried by later runs of their entity (automatic retry), up to this many failed attempts
    # in a row, waiting retry_backoff_seconds * 2^(attempts - 1) after each; then they stay failed until re-driven.
    automatic_retry_attempts: int = Field(default=3, ge=0)
    retry_backoff_seconds: int = Field(default=300, ge=0)
    # A run that ends with failed records fails, after recording everything, so that the Runs list, run-failure
    # sensors and alerts see it (its failures check step fails last). false: such runs succeed.
    fail_runs_with_failed_records: bool = True
    # Every push attempt is kept this long (a record's journey), pruned daily at history_prune_cron (UTC).
    history_retention_days: int = Field(default=30, ge=1)
    history_prune_cron: str = "30 3 * * *"
    # The Fluent webhook events handled this long ago are deleted daily (at history_prune_cron): the table stays small,
    # and a replay of a pruned event is recorded again and changes nothing (the back-sync writes what Fluent has).
    webhook_event_retention_days: int = Field(default=7, ge=1)
    # Staged datasets hold whole commercetools records (names, emails, addresses, phones): each is deleted this many
    # days after it was written, daily at staging_prune_cron (UTC). A Fluent step re-executed after that fails,
    # asking to re-run its commercetools step.
    staging_retention_days: int = Field(default=7, ge=1)
    staging_prune_cron: str = "45 3 * * *"
    # Server-side encryption of what is staged on S3 (an s3:// staging_dir only): "sse-s3" (keys managed by S3) or
    # "sse-kms" (AWS KMS: the key staging_kms_key_id, an id, ARN or alias; unset: the account's aws/s3 key). The key
    # id is not a secret; the credentials that use it come from the AWS configuration, as for staging_dir.
    staging_encryption: StagingEncryption = "none"
    staging_kms_key_id: str | None = None
    messages: MessagesSettings = Field(default_factory=MessagesSettings)

    def entity(self, name: str) -> BaseModel:
        """An entity's own settings section (each registered entity adds one, named after it)."""
        section: BaseModel = getattr(self, name)
        return section

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_file = Path(os.environ.get("CTFLUENT_SETTINGS_FILE") or DEFAULT_SETTINGS_FILE)  # empty: the default
        return (init_settings, env_settings, YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file))


@cache
def with_sections(sections: tuple[tuple[str, type[BaseModel]], ...]) -> type[SyncSettings]:
    """:class:`SyncSettings` with these sections (name, settings class), each with its defaults: one per registered
    entity (``ctfluent_dagster.configuration`` assembles them from the registry)."""
    fields: dict[str, Any] = {name: (section, Field(default_factory=section)) for name, section in sections}
    return create_model("SyncSettings", __base__=SyncSettings, **fields)


def state_dir() -> Path:
    """Local state (the default ledger, staged datasets): under DAGSTER_HOME, else ``.ctfluent/``."""
    home = os.environ.get("DAGSTER_HOME")
    return Path(home) / "ctfluent" if home else Path(".ctfluent")


def ledger_url(url: str | None = None) -> str:
    """The ledger's database: ``url``, else ``CTFLUENT_LEDGER_URL`` (an empty value counts as unset), else the
    local default."""
    return url or os.environ.get("CTFLUENT_LEDGER_URL") or default_ledger_url()


def default_ledger_url() -> str:
    """The ledger when ``CTFLUENT_LEDGER_URL`` names none: SQLite under :func:`state_dir` (one host's processes)."""
    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(directory / 'ledger.sqlite').resolve()}"
