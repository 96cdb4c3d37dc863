"""The Messages API's log: what a write records, and which messages a query may see.

* Every change a write makes becomes one message with ``version`` 1, ``createdAt == lastModifiedAt`` (the time of
  the change), a per-resource ``sequenceNumber`` (from 1, +1 per message of that resource), ``resourceVersion``
  (the version the change produced) and ``resourceUserProvidedIdentifiers`` as at that version.
* Messages are stored only while querying is enabled (``messages.enabled`` on the project). Sequence numbers still
  advance while it is off (subscriptions would receive those messages), so a poller sees the gap a real project
  shows. Seeded data has no message history, like enabling messages on an existing project.
* Retention: messages older than ``deleteDaysAfterCreation`` days (by the emulator clock) are purged.
* Visibility delay (test control for eventual consistency): a message becomes queryable only at
  ``createdAt + delay``, the delay taken from :class:`MessageSettings` when the message is recorded (per message
  type, else the default). Its ``createdAt`` stays the change time, so a poller sees it arrive after messages with
  a later ``createdAt``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ctfluent_sandbox.clock import Clock, iso_ms
from ctfluent_sandbox.commercetools.ids import IdSource
from ctfluent_sandbox.commercetools.predicates import ANY_SCHEMA, Schema
from ctfluent_sandbox.commercetools.store import Collection, Resource, clone

MESSAGE_SCHEMA = Schema(
    {
        "id": "string",
        "version": "number",
        "createdAt": "string",
        "lastModifiedAt": "string",
        "sequenceNumber": "number",
        "resource": Schema({"typeId": "string", "id": "string"}),
        "resourceVersion": "number",
        "type": "string",
        "resourceUserProvidedIdentifiers": ANY_SCHEMA,
        "createdBy": ANY_SCHEMA,
        "lastModifiedBy": ANY_SCHEMA,
    },
    open=True,  # the payload fields differ per message type
)


@dataclass(frozen=True)
class Change:
    """One message a write produces: its type and type-specific fields."""

    type: str
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class MessageSettings:
    """Emulator-only knobs (``PUT /_admin/messages``); what the project itself says lives on the project."""

    visibility_delay_seconds: float = 0.0
    visibility_delay_by_type: dict[str, float] = field(default_factory=dict)
    disabled_status: int = 400  # the real status for querying disabled messages is undocumented

    def delay_for(self, message_type: str) -> float:
        return self.visibility_delay_by_type.get(message_type, self.visibility_delay_seconds)

    def to_json(self) -> dict[str, Any]:
        return {
            "visibility_delay_seconds": self.visibility_delay_seconds,
            "visibility_delay_by_type": dict(self.visibility_delay_by_type),
            "disabled_status": self.disabled_status,
        }


class MessageLog:
    """The stored messages (indexed by ``createdAt`` for keyset polling), the per-resource sequence counters and
    when each message becomes visible."""

    def __init__(self, clock: Clock, ids: IdSource) -> None:
        self.clock = clock
        self.ids = ids
        self.settings = MessageSettings()
        self.collection = Collection(MESSAGE_SCHEMA, indexed=("createdAt",))
        self._sequence: dict[str, int] = {}  # resource id -> last sequence number
        self._visible_at: dict[str, datetime] = {}  # message id -> when a query may return it

    def clear(self) -> None:
        self.collection.clear()
        self._sequence.clear()
        self._visible_at.clear()

    def record(
        self,
        resource: Resource,
        type_id: str,
        *,
        changes: list[Change],
        identifiers: Mapping[str, str],
        at: datetime,
        modified_by: Mapping[str, Any],
        store: bool,
    ) -> None:
        """Number the changes of one write made ``at`` (``resource`` is the state it produced); keep them if
        ``store``. Payloads are copied: later actions of the same request must not alter an earlier message."""
        stamp = iso_ms(at)
        for change in changes:
            sequence = self._sequence.get(resource["id"], 0) + 1
            self._sequence[resource["id"]] = sequence
            if not store:
                continue
            message: Resource = {
                "id": self.ids.uuid(),
                "version": 1,
                "createdAt": stamp,
                "lastModifiedAt": stamp,
                "lastModifiedBy": dict(modified_by),
                "createdBy": dict(modified_by),
                "sequenceNumber": sequence,
                "resource": {"typeId": type_id, "id": resource["id"]},
                "resourceVersion": resource["version"],
                "type": change.type,
            }
            if identifiers:
                message["resourceUserProvidedIdentifiers"] = dict(identifiers)
            message.update(clone(dict(change.fields)))
            self.collection.put(message)
            self._visible_at[message["id"]] = at + timedelta(seconds=self.settings.delay_for(change.type))

    def purge(self, delete_days_after_creation: int) -> None:
        cutoff = iso_ms(self.clock.now() - timedelta(days=delete_days_after_creation))
        for message_id in self.collection.ids_before("createdAt", cutoff):
            self.collection.remove(message_id)
            del self._visible_at[message_id]

    def visibility(self) -> Callable[[Resource], bool]:
        """The test a query applies: has the message's visibility delay passed (as of now)?"""
        now = self.clock.now()
        return lambda message: self._visible_at[message["id"]] <= now
