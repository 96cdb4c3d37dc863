"""Fluent's REST Event API (fact sheet §1, §10): ``POST /api/v4.1/event/sync`` and ``POST /api/v4.1/event/async``.

A body is ``{name, retailerId, entityType, entityId?, entityRef, entitySubtype, rootEntityType, rootEntityRef,
attributes}``; ``name``, ``entityType`` and ``entityRef`` are required (non-empty strings), ids may be strings or
integers, ``attributes`` an object or a list. The emulator records every event it is sent (``GET /_admin/events``)
and stands in for the account's workflows with one configurable rule:

- an ``ORDER`` event whose ``name`` is in the ``cancel`` set (default ``{"CancelOrder"}``) moves the order to
  ``CANCELLED``, as a cancel ruleset would (``updatedOn`` moves, the order's webhook goes out); every other event is
  recorded and changes nothing.

Answers (Fluent documents the success shapes only; the rest is the emulator's choice):

- sync: 200 ``{eventId, entityId, eventStatus: "COMPLETE"}`` once the event is applied;
- async: 202 ``{id}``. The emulator applies the event before answering (Fluent does so later), so a test sees its
  effect at once; a failure is recorded (``eventStatus`` ``FAILED``) but not answered: "async failures are invisible
  to the caller";
- a body that is no event (not a JSON object, a required field missing, a field of the wrong type): 400, both modes;
- sync, an entity the emulator does not hold (``ORDER`` with no order of that ref), an ``entityId`` that is not the
  entity's, or an entity type the emulator does not hold: 400 ``{error, status, message}`` naming it. What Fluent
  answers there is unknown.

Entities are found by ref, per ``entityType`` (:data:`LOOKUPS`); the ones keyed within a parent (a virtual position,
a product, a category, a financial transaction) are found within the one ``rootEntityRef`` names.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ctfluent_sandbox.clock import iso_ms
from ctfluent_sandbox.fluent import orders
from ctfluent_sandbox.fluent.catalogues import CATALOGUE_REF, CATALOGUES, REF
from ctfluent_sandbox.fluent.categories import CATEGORIES
from ctfluent_sandbox.fluent.customers import CUSTOMERS, USERNAME
from ctfluent_sandbox.fluent.fulfilments import ARTICLES, CARRIERS, CONSIGNMENTS, FULFILMENTS
from ctfluent_sandbox.fluent.inventory import POSITIONS, VIRTUAL_CATALOGUES
from ctfluent_sandbox.fluent.locations import LOCATIONS, NETWORKS
from ctfluent_sandbox.fluent.orders import ORDER_REF, ORDERS, TRANSACTIONS
from ctfluent_sandbox.fluent.products import STANDARD, VARIANT
from ctfluent_sandbox.fluent.store import EntityStore, Record

EVENT_PREFIX = "/api/v4.1/event"
SYNC_PATH = f"{EVENT_PREFIX}/sync"
ASYNC_PATH = f"{EVENT_PREFIX}/async"
COMPLETE = "COMPLETE"
FAILED = "FAILED"
REJECTED = "REJECTED"  # answered 400: recorded, never applied
CANCELLED = "CANCELLED"
DEFAULT_CANCEL_EVENTS = ("CancelOrder",)
MAX_RECORDED = 100_000  # the oldest recorded events go first beyond this

REQUIRED = ("name", "entityType", "entityRef")
TEXTS = ("entitySubtype", "rootEntityType", "rootEntityRef")
IDS = ("retailerId", "entityId", "rootEntityId")


class EventError(Exception):
    """An event the emulator answers with 400 (sync) or records as failed (async)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_event(body: Any) -> dict[str, Any]:
    """The event a request body holds; :class:`EventError` when it is none."""
    if not isinstance(body, dict):
        raise EventError("The body must be a JSON object (an event)")
    missing = [name for name in REQUIRED if not (isinstance(body.get(name), str) and body[name])]
    if missing:
        raise EventError(f"Missing or empty {', '.join(missing)}: an event needs name, entityType and entityRef")
    wrong = [name for name in TEXTS if not (body.get(name) is None or isinstance(body[name], str))]
    wrong += [name for name in IDS if not (body.get(name) is None or _id_value(body[name]))]
    if not (body.get("attributes") is None or isinstance(body["attributes"], dict | list)):
        wrong.append("attributes")
    if wrong:
        raise EventError(f"Wrong type of {', '.join(wrong)}")
    return body


def _id_value(value: Any) -> bool:
    return (isinstance(value, str) and bool(value)) or (isinstance(value, int) and not isinstance(value, bool))


# -- finding the entity ----------------------------------------------------------------------------

Lookup = Callable[[EntityStore, Mapping[str, Any]], Record | None]


def _by_ref(table: str, key: tuple[str, ...] = REF) -> Lookup:
    return lambda store, event: store.find(table, key, (event["entityRef"],))


def _in_root(*tables: str) -> Lookup:
    """Entities keyed by ``(catalogue, ref)``: the catalogue is the ``rootEntityRef``."""

    def lookup(store: EntityStore, event: Mapping[str, Any]) -> Record | None:
        root = _root_ref(event)
        found = (store.find(table, CATALOGUE_REF, (root, event["entityRef"])) for table in tables)
        return next((record for record in found if record is not None), None)

    return lookup


def _transaction(store: EntityStore, event: Mapping[str, Any]) -> Record | None:
    order = store.find(ORDERS, REF, (_root_ref(event),))
    return None if order is None else store.find(TRANSACTIONS, ORDER_REF, (order["id"], event["entityRef"]))


def _root_ref(event: Mapping[str, Any]) -> str:
    root = event.get("rootEntityRef")
    if not root:
        raise EventError(f"A {event['entityType']} event needs rootEntityRef: its ref is unique only within that root")
    return str(root)


LOOKUPS: Mapping[str, Lookup] = {
    "ORDER": _by_ref(ORDERS),
    "FULFILMENT": _by_ref(FULFILMENTS),
    "ARTICLE": _by_ref(ARTICLES),
    "CONSIGNMENT": _by_ref(CONSIGNMENTS),
    "CARRIER": _by_ref(CARRIERS),
    "LOCATION": _by_ref(LOCATIONS),
    "NETWORK": _by_ref(NETWORKS),
    "CUSTOMER": _by_ref(CUSTOMERS, USERNAME),
    "PRODUCT_CATALOGUE": _by_ref(CATALOGUES),
    "VIRTUAL_CATALOGUE": _by_ref(VIRTUAL_CATALOGUES),
    "VIRTUAL_POSITION": _in_root(POSITIONS),
    "PRODUCT": _in_root(STANDARD, VARIANT),
    "CATEGORY": _in_root(CATEGORIES),
    "FINANCIAL_TRANSACTION": _transaction,
}
_ROOTED = frozenset(LOOKUPS[kind] for kind in ("VIRTUAL_POSITION", "PRODUCT", "CATEGORY", "FINANCIAL_TRANSACTION"))


def find_entity(store: EntityStore, event: Mapping[str, Any]) -> Record:
    """The entity an event names; :class:`EventError` naming what is missing or wrong."""
    kind, ref = event["entityType"], event["entityRef"]
    lookup = LOOKUPS.get(kind)
    if lookup is None:
        raise EventError(f"Entity type {kind!r} is not emulated; known: {', '.join(sorted(LOOKUPS))}")
    found = lookup(store, event)
    if found is None:
        within = f" in {event['rootEntityRef']!r}" if lookup in _ROOTED else ""
        raise EventError(f"No {kind} with ref {ref!r}{within}")
    if event.get("entityId") is not None and str(event["entityId"]) != found["id"]:
        raise EventError(f"{kind} {ref!r} has id {found['id']!r}, not {str(event['entityId'])!r}")
    return found


# -- rules -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventRules:
    """The workflow rules the emulator applies to events, by event name."""

    cancel: frozenset[str] = frozenset(DEFAULT_CANCEL_EVENTS)

    def to_json(self) -> dict[str, Any]:
        return {"cancel": sorted(self.cancel)}

    def updated(self, changes: Mapping[str, Any]) -> EventRules:
        """These rules with the keys of an admin ``PUT`` body; ``ValueError`` names what is wrong."""
        unknown = set(changes) - {"cancel"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}; known: ['cancel']")
        names = changes.get("cancel", sorted(self.cancel))
        if not isinstance(names, list) or not all(isinstance(name, str) and name for name in names):
            raise ValueError("cancel must be a list of event names (non-empty strings)")
        return EventRules(cancel=frozenset(names))


@dataclass(frozen=True)
class Applied:
    entity: Record
    changed_order: Record | None  # an order a rule moved on: its webhook goes out


def apply_event(store: EntityStore, event: Mapping[str, Any], rules: EventRules, now: datetime) -> Applied:
    """Find the event's entity and run the rules on it; :class:`EventError` when the entity is missing."""
    entity = find_entity(store, event)
    if event["entityType"] == "ORDER" and event["name"] in rules.cancel:
        changed = orders.set_status(store, entity["ref"], CANCELLED, now)
        return Applied(entity, changed)
    return Applied(entity, None)


# -- the record of events ----------------------------------------------------------------------------


class EventLog:
    """Every event sent to the emulator, oldest first, with what became of it. Safe from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=MAX_RECORDED)

    def record(
        self,
        mode: str,
        body: Any,
        now: datetime,
        status: str,
        *,
        entity_id: str | None = None,
        error: str | None = None,
        effect: str | None = None,
    ) -> str:
        """Add an event; its new id."""
        event_id = str(uuid.uuid4())
        entry = {
            "id": event_id,
            "mode": mode,
            "receivedOn": iso_ms(now),
            "eventStatus": status,
            "entityId": entity_id,
            "error": error,
            "effect": effect,
            "event": body,
        }
        with self._lock:
            self._entries.append(entry)
        return event_id

    def to_json(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
