"""The one partitions definition every synced asset shares, and the backfill policy that batches it."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dagster import AssetKey, AssetsDefinition, BackfillPolicy, BetaWarning, DailyPartitionsDefinition, asset

from ctfluent_dagster.configuration import load_settings

# Daily in UTC on the record's current `lastModifiedAt`; `end_offset=1` adds the current, unfinished day so that
# today's changes can be synced (by the sensor, or by re-materializing today's partition).
daily_partitions = DailyPartitionsDefinition(
    start_date=load_settings().start_date.isoformat(), timezone="UTC", end_offset=1
)

# A backfill of years launches one run per `backfill_partitions_per_run` days, not one per day.
batched_backfill = BackfillPolicy.multi_run(max_partitions_per_run=load_settings().backfill_partitions_per_run)

# Pools cap how many steps talk to an API at once across all runs (their limits: dagster.local.yaml, scripts/demo).
COMMERCETOOLS_POOL = "commercetools_api"
FLUENT_POOL = "fluent_api"


def partition_window(partition_key: str) -> tuple[datetime | None, datetime]:
    """What a partition reads: records whose partition field lies in ``[day, day + 1)``. The first partition's
    window is open below: it also takes every record older than ``start_date``, which no partition would take
    otherwise (history before the start date loads with the first partition, never silently not at all)."""
    window = daily_partitions.time_window_for_partition_key(partition_key)
    first = partition_key == daily_partitions.get_first_partition_key()
    return (None if first else window.start), window.end


def partition_for(moment: datetime) -> str:
    """The daily partition a timestamp belongs to."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def days_between(first: date, last: date) -> list[str]:
    """The daily partition keys from ``first`` to ``last``, both included, that the partitions definition has."""
    keys = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    return [key for key in keys if daily_partitions.has_partition_key(key)]


def partitioned_asset(
    *,
    key: AssetKey,
    pool: str,
    group_name: str,
    kinds: Iterable[str],
    description: str | None,
    deps: Sequence[AssetKey] | None = None,
) -> Callable[[Callable[..., Any]], AssetsDefinition]:
    """``@asset`` on the shared daily partitions, backfilled in batches (``batched_backfill``).

    Dagster 1.13 marks the ``backfill_policy`` parameter of ``@asset`` beta and emits a ``BetaWarning`` each time an
    asset is declared with it, in every process that loads the code location (webserver, daemon, each run). The
    policy is deliberate: without it a backfill of years launches one run per day. So the warning is silenced
    here, around this one call and for that one parameter, rather than process-wide; any other beta or
    deprecated API the code uses still warns (and fails the tests, see ``filterwarnings`` in pyproject.toml).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=BetaWarning)
        return asset(
            key=key,
            partitions_def=daily_partitions,
            backfill_policy=batched_backfill,
            pool=pool,
            group_name=group_name,
            kinds=set(kinds),
            description=description,
            deps=deps,
        )
