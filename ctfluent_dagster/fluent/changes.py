"""Finding what changed in Fluent, for the entities read from Fluent: polling by ``updatedOn`` with an overlapping
window (Fluent documents no order for its list queries, and ``updatedOn`` moves on every change), a watermark moved
only after a full pass, and the records already seen within the overlap dropped. Webhook events name records too
(``ctfluent-webhooks`` records them); polling stays the safety net. Plain Python: no Dagster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Record = Mapping[str, Any]


class FluentChangesSettings(BaseModel):
    """How the sensor of an entity read from Fluent (``fluent_<entity>_sensor``) finds changes; the settings section
    of every such entity extends it."""

    model_config = ConfigDict(frozen=True)

    # The sensor ticks this often: recorded webhook events are taken at every tick (seconds after Fluent sent them);
    # Fluent is polled every `poll_interval_seconds`, re-reading the last `overlap_seconds` before the watermark (the
    # order of `updatedOn` is undocumented), and records already seen with the same `updatedOn` dropped.
    tick_seconds: int = Field(default=5, ge=1)
    poll_interval_seconds: int = Field(default=60, ge=1)
    overlap_seconds: int = Field(default=600, ge=0)
    # When ctfluent-webhooks launches the webhook job itself (CTFLUENT_WEBHOOKS__DAGSTER_URL), the sensor leaves it
    # the events younger than this, rather than racing it with a run of its own (0: the sensor takes them all).
    webhook_grace_seconds: int = Field(default=0, ge=0)
    # Records per run requested by the sensor.
    max_changes_per_run: int = Field(default=2000, ge=1)
    # The first poll reads changes since this many hours ago.
    initial_lookback_hours: int = Field(default=24, ge=0)
    sensor_running: bool = False


def parse_time(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def updated_on_version(record: Record) -> int:
    """A Fluent record's version for the ledger's guard: its ``updatedOn`` in epoch milliseconds."""
    return int(parse_time(record["updatedOn"]).timestamp() * 1000)


def latest_per_key(records: Sequence[Record], key_of: Callable[[Record], str]) -> list[Record]:
    """One record per key, its latest by ``updatedOn`` (a webhook and a poll may both name it)."""
    latest: dict[str, Record] = {}
    for record in records:
        known = latest.get(key_of(record))
        if known is None or updated_on_version(record) >= updated_on_version(known):
            latest[key_of(record)] = record
    return list(latest.values())


class PollCursor(BaseModel):
    """Where polling is: the watermark (moved only after a full pass), the records seen within the overlap (key ->
    their ``updatedOn``), and when Fluent was last polled."""

    watermark: datetime | None = None
    last_poll: datetime | None = None
    seen: dict[str, datetime] = Field(default_factory=dict)

    @classmethod
    def decode(cls, value: str | None) -> PollCursor:
        """The cursor a sensor stored; one it cannot read (an older release's) starts afresh: the first poll reads
        ``initial_lookback_hours`` back, and what it finds again is unchanged in the ledger."""
        try:
            return cls.model_validate_json(value) if value else cls()
        except ValidationError:
            return cls()

    def encode(self) -> str:
        return self.model_dump_json()

    def due(self, now: datetime, settings: FluentChangesSettings) -> bool:
        return self.last_poll is None or now - self.last_poll >= timedelta(seconds=settings.poll_interval_seconds)

    def since(self, now: datetime, settings: FluentChangesSettings) -> datetime:
        start = self.watermark or now - timedelta(hours=settings.initial_lookback_hours)
        return start - timedelta(seconds=settings.overlap_seconds)

    def poll(
        self,
        pages: Iterator[Sequence[Record]],
        now: datetime,
        settings: FluentChangesSettings,
        key_of: Callable[[Record], str],
    ) -> tuple[list[Record], PollCursor]:
        """Read every page (a full pass): the records not seen before at that ``updatedOn``, and the cursor after
        the pass: the watermark at the latest ``updatedOn`` read (never back), what is seen within the overlap."""
        fresh: list[Record] = []
        seen = dict(self.seen)
        latest = self.watermark
        for page in pages:
            for record in page:
                updated = parse_time(record["updatedOn"])
                latest = updated if latest is None or updated > latest else latest
                if seen.get(key_of(record)) != updated:
                    fresh.append(record)
                seen[key_of(record)] = updated
        horizon = (latest or now) - timedelta(seconds=settings.overlap_seconds)
        kept = {key: updated for key, updated in seen.items() if updated >= horizon}
        return fresh, PollCursor(watermark=latest, last_poll=now, seen=kept)
