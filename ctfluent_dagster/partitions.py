"""The one partitions definition every synced asset shares, and the backfill policy that batches it."""

from __future__ import annotations

from datetime import UTC, datetime

from dagster import BackfillPolicy, DailyPartitionsDefinition

from ctfluent_dagster.settings import load_settings

# Daily in UTC on the record's current `lastModifiedAt`; `end_offset=1` adds the current, unfinished day so that
# today's changes can be synced (by the sensor, or by re-materializing today's partition).
daily_partitions = DailyPartitionsDefinition(
    start_date=load_settings().start_date.isoformat(), timezone="UTC", end_offset=1
)

# A backfill of years launches one run per `backfill_partitions_per_run` days, not one per day.
batched_backfill = BackfillPolicy.multi_run(max_partitions_per_run=load_settings().backfill_partitions_per_run)

# Pools cap how many steps talk to an API at once across all runs (their limits: dagster.yaml, scripts/demo).
COMMERCETOOLS_POOL = "commercetools_api"
FLUENT_POOL = "fluent_api"


def partition_for(moment: datetime) -> str:
    """The daily partition a timestamp belongs to."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d")
