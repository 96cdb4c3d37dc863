"""Fluent events received by the webhook service, kept in the ledger database until a consumer handles them.

Fluent retries a delivery that timed out (3 times within 14 s), so the same event arrives more than once: the event
id is the primary key and :meth:`FluentEventStore.record` ignores an id it has seen. Only identifiers and the status
are stored (see :class:`FluentEvent`), never the event's attributes or anything personal.

The database is the ledger's: ``CTFLUENT_LEDGER_URL``, else SQLite under DAGSTER_HOME (or ``.ctfluent/``); its
table comes with the ledger's migrations (0004).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from ctfluent_dagster.ledger.schema import fluent_events
from ctfluent_dagster.ledger.store import Ledger, as_utc
from ctfluent_dagster.settings import ledger_url

_CHUNK = 500  # ids per statement (SQLite's bound-parameter limit is 999 on old builds)


class InvalidEvent(ValueError):
    """A body that is not a Fluent event: not JSON, not an object, hostile in shape (nested too deep, a number too
    long), or without the fields the store needs."""


# An event is a flat object with small nested ones (attributes, meta); these bound what parsing a signed body costs.
MAX_JSON_DEPTH = 32
MAX_NUMBER_DIGITS = 40


def json_shape_problem(text: str, max_depth: int = MAX_JSON_DEPTH, max_digits: int = MAX_NUMBER_DIGITS) -> str | None:
    """Why a JSON text is no shape an event has, before it is parsed: arrays or objects nested deeper than
    ``max_depth`` (Python's parser recurses per level), or a number of more than ``max_digits`` digits (its integer
    conversion is quadratic and refuses 4,300 digits with an error); None when neither. Strings are skipped."""
    depth = digits = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char.isdigit():
            digits += 1
            if digits > max_digits:
                return f"a number longer than {max_digits} digits"
            continue
        digits = 0
        if char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > max_depth:
                return f"nested deeper than {max_depth} levels"
        elif char in "]}":
            depth -= 1
    return None


class _EventPayload(BaseModel):
    """The fields of Fluent's event JSON that are kept; every other field is ignored. Lengths match the table."""

    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True, str_strip_whitespace=True)

    id: str = Field(min_length=1, max_length=128)
    name: str | None = Field(default=None, max_length=255)
    entityType: str = Field(min_length=1, max_length=64)
    entitySubtype: str | None = Field(default=None, max_length=64)
    entityId: str | None = Field(default=None, max_length=64)
    entityRef: str | None = Field(default=None, max_length=512)
    entityStatus: str = Field(min_length=1, max_length=64)
    retailerId: str | None = Field(default=None, max_length=64)
    accountId: str | None = Field(default=None, max_length=255)

    @model_validator(mode="after")
    def _names_the_entity(self) -> _EventPayload:
        if not (self.entityId or self.entityRef):
            raise ValueError("entityId or entityRef is required")
        return self


@dataclass(frozen=True)
class FluentEvent:
    """What is kept of one Fluent event: which entity, in which status, and when it arrived."""

    event_id: str
    name: str | None
    entity_type: str
    entity_subtype: str | None
    entity_id: str | None
    entity_ref: str | None
    entity_status: str
    retailer_id: str | None
    received_at: datetime
    # Checked by the receiver, never stored: every stored event is the account's.
    account_id: str | None = field(default=None, repr=False)

    @classmethod
    def from_json(
        cls,
        body: bytes | str | Mapping[str, Any],
        received_at: datetime | None = None,
        *,
        max_depth: int = MAX_JSON_DEPTH,
        max_digits: int = MAX_NUMBER_DIGITS,
    ) -> FluentEvent:
        """Parse Fluent's event JSON (raw bytes, text or an already decoded object).

        Required: ``id``, ``entityType``, ``entityStatus`` and ``entityId`` or ``entityRef`` (non-empty strings;
        numbers are taken as their text). Other fields are ignored. Raises :class:`InvalidEvent`, whose message
        names the failing fields but never repeats their values; also for a text nested deeper than ``max_depth``
        or with a number longer than ``max_digits`` (see :func:`json_shape_problem`).
        """
        if isinstance(body, bytes | str):
            try:
                text = body.decode() if isinstance(body, bytes) else body
            except UnicodeDecodeError:
                raise InvalidEvent("not JSON (not UTF-8)") from None
            problem = json_shape_problem(text, max_depth, max_digits)
            if problem is not None:
                raise InvalidEvent(problem)
            try:
                data = json.loads(text)
            except (json.JSONDecodeError, RecursionError, ValueError) as exc:
                raise InvalidEvent(f"not JSON ({type(exc).__name__})") from None
        else:
            data = body
        if not isinstance(data, Mapping):
            raise InvalidEvent(f"not a JSON object but {type(data).__name__}")
        try:
            payload = _EventPayload.model_validate(dict(data))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'event'}: {error['msg']}" for error in exc.errors()
            )
            raise InvalidEvent(problems) from None
        return cls(
            event_id=payload.id,
            name=payload.name or None,
            entity_type=payload.entityType,
            entity_subtype=payload.entitySubtype or None,
            entity_id=payload.entityId or None,
            entity_ref=payload.entityRef or None,
            entity_status=payload.entityStatus,
            retailer_id=payload.retailerId or None,
            received_at=as_utc(received_at) or datetime.now(UTC),
            account_id=payload.accountId or None,
        )

    def describe(self) -> str:
        """For logs: the id, name, entity type and status (no ref, no attributes)."""
        return f"event {self.event_id} ({self.name or 'unnamed'}: {self.entity_type} {self.entity_status})"


def _event(row: Any) -> FluentEvent:
    return FluentEvent(
        event_id=row.event_id,
        name=row.name,
        entity_type=row.entity_type,
        entity_subtype=row.entity_subtype,
        entity_id=row.entity_id,
        entity_ref=row.entity_ref,
        entity_status=row.entity_status,
        retailer_id=row.retailer_id,
        received_at=as_utc(row.received_at) or datetime.now(UTC),
    )


class FluentEventStore:
    """Received Fluent events in the ledger database: recorded once per id, pending until marked handled.

    The schema is brought up to date on construction (the ledger's migrations, once per process and URL) unless
    ``migrate=False``. Thread-safe (one pooled engine); call :meth:`close` when done.
    """

    def __init__(self, url: str | None = None, *, migrate: bool = True, ledger: Ledger | None = None) -> None:
        """``ledger``: an open (migrated) ledger whose engine the store shares instead of opening its own; closing
        the store then leaves it open."""
        self._owns_engine = ledger is None
        self._ledger = ledger or Ledger(ledger_url(url))
        self.url = self._ledger.url
        self.engine = self._ledger.engine
        if migrate and self._owns_engine:
            self.migrate()

    def __repr__(self) -> str:
        return f"FluentEventStore({self._ledger!r})"

    def migrate(self) -> None:
        """Bring the ledger database to the latest migration (safe from several processes at once)."""
        self._ledger.migrate()

    def unmigrated(self) -> str | None:
        """Why the database is not at the latest migration (None when it is): the receiver runs no DDL."""
        return self._ledger.unmigrated()

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    def record(self, event: FluentEvent) -> bool:
        """Store a received event; False when its id was recorded before (a redelivery: nothing changes)."""
        values = {
            "event_id": event.event_id,
            "name": event.name,
            "entity_type": event.entity_type,
            "entity_subtype": event.entity_subtype,
            "entity_id": event.entity_id,
            "entity_ref": event.entity_ref,
            "entity_status": event.entity_status,
            "retailer_id": event.retailer_id,
            "received_at": as_utc(event.received_at),
            "handled_at": None,
        }
        dialect = self.engine.dialect.name
        if dialect in ("postgresql", "sqlite"):  # insert-or-ignore: racing deliveries of one id cannot both win
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            with self.engine.begin() as conn:
                result = conn.execute(insert(fluent_events).values(values).on_conflict_do_nothing())
            return bool(result.rowcount)
        try:  # another database: a plain insert, the primary key refuses a duplicate
            with self.engine.begin() as conn:
                conn.execute(fluent_events.insert().values(values))
        except IntegrityError:
            return False
        return True

    def pending(self, entity_types: Collection[str] | None = None, limit: int = 1000) -> list[FluentEvent]:
        """Events not handled yet, of these entity types (None: any), oldest first (then by id), at most ``limit``:
        a consumer asks for the types it handles, so that a flood of other types never hides its own."""
        query = (
            select(fluent_events)
            .where(fluent_events.c.handled_at.is_(None))
            .order_by(fluent_events.c.received_at, fluent_events.c.event_id)
            .limit(limit)
        )
        if entity_types is not None:
            query = query.where(fluent_events.c.entity_type.in_(sorted(entity_types)))
        with self.engine.connect() as conn:
            return [_event(row) for row in conn.execute(query)]

    def mark_handled(self, event_ids: Sequence[str]) -> None:
        """Mark these events handled (they leave :meth:`pending`); unknown or already handled ids are ignored."""
        ids = sorted(set(event_ids))
        if not ids:
            return
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            for start in range(0, len(ids), _CHUNK):
                conn.execute(
                    fluent_events.update()
                    .where(
                        fluent_events.c.event_id.in_(ids[start : start + _CHUNK]), fluent_events.c.handled_at.is_(None)
                    )
                    .values(handled_at=now)
                )

    def counts(self) -> dict[str, int]:
        """``{"pending": n, "handled": m}``: events waiting for a consumer and events handled (and not pruned)."""
        query = select(func.count(), func.count(fluent_events.c.handled_at))
        with self.engine.connect() as conn:
            total, handled = conn.execute(query).one()
        return {"pending": int(total) - int(handled), "handled": int(handled)}

    def prune(self, handled_before: datetime) -> int:
        """Delete events handled before this moment (their ids stop being deduplicated: a replay of one is recorded
        again, and changes nothing, since a consumer writes what Fluent has, not what an event says); returns how
        many."""
        with self.engine.begin() as conn:
            result = conn.execute(
                fluent_events.delete().where(
                    fluent_events.c.handled_at.is_not(None), fluent_events.c.handled_at < as_utc(handled_before)
                )
            )
        return int(result.rowcount)
