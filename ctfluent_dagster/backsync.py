"""Back-syncs, Fluent -> commercetools: what Fluent's workflows change (an order completed or cancelled) written back
to the commercetools record, as an entity declares it (``EntityDeclaration.back_sync``). Plain Python: no Dagster.

A change is a plain record ``{"id", "ref", "status", "updatedOn", "commercetoolsId"}`` (the Fluent id, ref and
status; when Fluent says it changed; the commercetools record it belongs to, found by :meth:`BackSyncEntity.locate`).
The sync engine pushes changes like any records: keyed by the Fluent ref, versioned by ``updatedOn`` (an older
change never overwrites a newer one), unchanged when the ledger holds the same status as written, failed with the
API's reason and re-drivable. Changes come from polling (:class:`PollCursor`), and from Fluent's webhooks (recorded
by ``ctfluent-webhooks``), which only name the records that changed: their status and ``updatedOn`` are read from
Fluent (:meth:`BackSyncEntity.current`), so that a replayed or stale event changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ctfluent_dagster.commercetools.client import CommercetoolsClient
from ctfluent_dagster.fluent.client import FluentClient
from ctfluent_dagster.ledger.store import Ledger
from ctfluent_dagster.records import EntitySync

Change = dict[str, Any]


class BackSyncSettings(BaseModel):
    """How a back-sync's sensor finds changes."""

    model_config = ConfigDict(frozen=True)

    # The sensor ticks this often: recorded webhook events are handled at every tick (seconds after Fluent sent
    # them); Fluent is polled every `poll_interval_seconds`, re-reading the last `overlap_seconds` before the
    # watermark (the order of `updatedOn` is undocumented), and changes already seen with the same status dropped.
    tick_seconds: int = Field(default=5, ge=1)
    poll_interval_seconds: int = Field(default=60, ge=1)
    overlap_seconds: int = Field(default=600, ge=0)
    # When ctfluent-webhooks launches the webhook job itself (CTFLUENT_WEBHOOKS__DAGSTER_URL), the sensor leaves it
    # the events younger than this, rather than racing it with a run of its own (0: the sensor takes them all).
    webhook_grace_seconds: int = Field(default=0, ge=0)
    # Changes per run requested by the sensor.
    max_changes_per_run: int = Field(default=2000, ge=1)
    # The first poll reads changes since this many hours ago.
    initial_lookback_hours: int = Field(default=24, ge=0)
    sensor_running: bool = False


@dataclass(frozen=True)
class BackSyncContext:
    fluent: FluentClient
    commercetools: CommercetoolsClient  # reads (view scopes)
    writer: CommercetoolsClient  # writes (the manage scope the back-sync needs)
    ledger: Ledger
    settings: BaseModel  # the entity's settings section


class BackSyncEntity(EntitySync[Mapping[str, Any], Any], Protocol):
    def changed_since(self, since: datetime) -> Iterator[list[Change]]:
        """Pages of the Fluent records in a written-back status whose ``updatedOn`` is at or after ``since``."""
        ...

    def current(self, refs: Sequence[str]) -> list[Change]:
        """These Fluent records as they are now (a re-drive writes back the current status)."""
        ...

    def locate(self, changes: Sequence[Change]) -> list[Change]:
        """The changes with ``commercetoolsId`` set where the commercetools record is found (else None)."""
        ...


class SettingsRoot(Protocol):
    """The settings of the sync (``settings.SyncSettings``), as far as an entity needs them: its sections."""

    def entity(self, name: str) -> BaseModel: ...


@dataclass(frozen=True)
class BackSync:
    name: str  # asset ``commercetools/<name>``, the ledger's entity type, its jobs and ``fluent_<name>_sensor``
    description: str
    fluent_entity_type: str  # the webhook events it takes (``entityType``, e.g. "ORDER")
    after: str  # the Fluent target whose records change (upstream in the asset graph)
    scopes: tuple[str, ...]  # what the write client needs, e.g. ("manage_orders",)
    settings: Callable[[BaseModel], BackSyncSettings]  # its part of the entity's settings section
    build: Callable[[BackSyncContext], BackSyncEntity]
    # The Fluent retailers whose changes it takes, from the sync's settings and the default retailer: the webhook
    # receiver ignores other retailers' events.
    served_retailers: Callable[[SettingsRoot, str | None], Sequence[str]]

    @property
    def job(self) -> str:
        return f"{self.name}_back_sync"

    @property
    def redrive_job(self) -> str:
        return f"redrive_failed_{self.name}"

    @property
    def webhook_job(self) -> str:
        """The job the webhook receiver may launch when an event arrives: it takes the recorded events."""
        return f"{self.name}_from_webhooks"

    @property
    def sensor(self) -> str:
        return f"fluent_{self.name}_sensor"


class PollCursor(BaseModel):
    """Where polling is: the watermark (moved only after a full pass), the changes seen within the overlap (id ->
    status and updatedOn), and when Fluent was last polled."""

    watermark: datetime | None = None
    last_poll: datetime | None = None
    seen: dict[str, tuple[str, datetime]] = Field(default_factory=dict)

    @classmethod
    def decode(cls, value: str | None) -> PollCursor:
        return cls.model_validate_json(value) if value else cls()

    def encode(self) -> str:
        return self.model_dump_json()

    def due(self, now: datetime, settings: BackSyncSettings) -> bool:
        return self.last_poll is None or now - self.last_poll >= timedelta(seconds=settings.poll_interval_seconds)

    def since(self, now: datetime, settings: BackSyncSettings) -> datetime:
        start = self.watermark or now - timedelta(hours=settings.initial_lookback_hours)
        return start - timedelta(seconds=settings.overlap_seconds)

    def poll(
        self, pages: Iterator[list[Change]], now: datetime, settings: BackSyncSettings
    ) -> tuple[list[Change], PollCursor]:
        """Read every page (a full pass): the changes not seen before with that status, and the cursor after the
        pass: the watermark at the latest ``updatedOn`` read (never back), what is seen within the overlap."""
        fresh: list[Change] = []
        seen = dict(self.seen)
        latest = self.watermark
        for page in pages:
            for change in page:
                updated = parse_time(change["updatedOn"])
                latest = updated if latest is None or updated > latest else latest
                known = seen.get(str(change["id"]))
                if known is None or known[0] != change["status"]:
                    fresh.append(change)
                seen[str(change["id"])] = (str(change["status"]), updated)
        horizon = (latest or now) - timedelta(seconds=settings.overlap_seconds)
        kept = {key: value for key, value in seen.items() if value[1] >= horizon}
        return fresh, PollCursor(watermark=latest, last_poll=now, seen=kept)


def parse_time(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def change_version(change: Mapping[str, Any]) -> int:
    """A change's version for the ledger's guard: ``updatedOn`` in milliseconds."""
    return int(parse_time(change["updatedOn"]).timestamp() * 1000)


def latest_per_ref(changes: Sequence[Change]) -> list[Change]:
    """One change per Fluent record, its latest (a webhook and a poll may both report it)."""
    latest: dict[str, Change] = {}
    for change in changes:
        known = latest.get(str(change["ref"]))
        if known is None or change_version(change) >= change_version(known):
            latest[str(change["ref"])] = change
    return list(latest.values())


def run_key(name: str, changes: Sequence[Change], refs: Sequence[str] = ()) -> str:
    """Requesting the same changes (and the same records to read from Fluent) again requests the same run."""
    basis = json.dumps([sorted((str(c["id"]), str(c["status"]), str(c["updatedOn"])) for c in changes), sorted(refs)])
    return f"{name}:{hashlib.sha256(basis.encode()).hexdigest()[:20]}"
