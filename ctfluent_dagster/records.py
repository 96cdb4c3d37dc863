"""The value types the sync is made of, apart from the SQL store and the engine that use them: what an entity plans
(pushes, skips, retirements), how records are named and referenced (ledger keys, dependencies, Fluent identities),
what a push ends in (outcomes, statuses), and the :class:`EntitySync` protocol an entity implements.

An entity imports these, never the store (``ledger/store.py``) or the engine (``sync/engine.py``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, Protocol, TypeVar

PushT = TypeVar("PushT")
RecordT_contra = TypeVar("RecordT_contra", contravariant=True)
# deleted: gone from commercetools for good, later changes of the id are ignored; inactive: deactivated in Fluent
# (e.g. an unpublished product), pushed again when it comes back.
Status = Literal["pending", "synced", "skipped", "waiting", "failed", "deleted", "inactive"]
UpdatePolicy = Literal["upsert", "create_only"]
GoneStatus = Literal["deleted", "inactive"]
Change = Literal[
    "created",
    "updated",
    "linked",
    "unchanged",
    "superseded",
    "skipped",
    "waiting",
    "failed",
    "deactivated",
    "gone",
    "would_create",
    "would_update",
    "would_deactivate",  # a dry run's
]


@dataclass(frozen=True)
class LedgerKey:
    entity_type: str
    source_id: str
    target_key: str


@dataclass(frozen=True)
class Dependency:
    """A Fluent record another record references, named by its commercetools id or by its Fluent ref."""

    entity_type: str
    source_id: str | None = None
    ref: str | None = None
    target_key: str | None = None  # when the source has several Fluent records (one per retailer)
    label: str = field(default="", compare=False)  # how to name it to a user, e.g. the category key
    # Used when the ledger knows it; else the entity finds or creates it itself (an order's customer): no wait.
    optional: bool = field(default=False, compare=False)
    # What the record that references it does when the ledger holds it as not coming to Fluent (skipped, or gone
    # from commercetools): wait anyway, fail (a user must fix it; an order of a product without GTIN) or be skipped
    # with it (a payment of an order that is history).
    unavailable: Literal["wait", "fail", "skip"] = field(default="wait", compare=False)
    # Synced now, through its own entity and recorded as its own record, when it is not in Fluent yet (an order's
    # registered customer, created at order time as Fluent's customer flow does); needs ``source_id``.
    on_demand: bool = field(default=False, compare=False)

    def describe(self) -> str:
        return f"{self.entity_type} {self.label or self.ref or self.source_id}"

    def to_json(self) -> dict[str, str]:
        fields = {"entity_type": self.entity_type, "source_id": self.source_id, "ref": self.ref,
                  "target_key": self.target_key, "label": self.label}  # fmt: skip
        return {name: value for name, value in fields.items() if value}

    @classmethod
    def from_json(cls, value: Mapping[str, str]) -> Dependency:
        return cls(value["entity_type"], value.get("source_id"), value.get("ref"), value.get("target_key"),
                   value.get("label", ""))  # fmt: skip


@dataclass(frozen=True)
class FluentIdentity:
    """A record the ledger knows to be in Fluent."""

    ref: str
    id: str | None


@dataclass(frozen=True)
class LedgerEntry:
    key: LedgerKey
    status: Status
    label: str | None
    source_version: int | None
    fluent_ref: str | None
    fluent_id: str | None
    payload_hash: str | None
    error_code: str | None
    error_message: str | None
    attempts: int
    run_id: str | None
    partition_key: str | None
    updated_at: datetime
    waiting_for: tuple[Dependency, ...] = ()


@dataclass(frozen=True)
class Outcome:
    key: LedgerKey
    status: Status
    version: int
    label: str | None = None
    fluent_ref: str | None = None
    fluent_id: str | None = None
    payload_hash: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    partition_key: str | None = None
    waiting_for: tuple[Dependency, ...] = ()
    config_hash: str | None = None
    operation: str | None = None  # what the run did (created, updated, failed, ...), for the attempt history
    lookup: str | None = None  # what else a user finds the record by (an email digest, an order number)
    # The Fluent ref a failed push was writing: kept in the attempt history (the record's state keeps the ref
    # Fluent has, none for a create that failed).
    attempted_ref: str | None = None


def payload_fingerprint(payload: Any) -> str:
    """A stable hash of a JSON-like payload (key order does not matter)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


@dataclass(frozen=True)
class PlannedPush(Generic[PushT]):
    key: LedgerKey
    version: int
    ref: str  # the Fluent key a new record gets (e.g. the username)
    payload_hash: str  # of what Fluent would hold; equal hashes mean nothing to send
    payload: PushT
    label: str  # masked, human-readable pointer to the source record for failure tables
    requires: tuple[Dependency, ...] = ()  # Fluent records this one references
    # What the mapping had to change to fit Fluent (e.g. a summary cut to 255 characters): shown with the run.
    notes: tuple[str, ...] = ()
    # Filled by the engine before the push: the Fluent ref and id of each of ``requires`` (of an optional one only
    # when the ledger knows it).
    resolved: Mapping[Dependency, FluentIdentity] = field(default_factory=dict)
    # What else a user finds the record by in its history (an email digest, an order number); not personal data.
    lookup: str | None = None


@dataclass(frozen=True)
class PlannedSkip:
    key: LedgerKey
    version: int
    reason: str
    label: str
    # A reason not to *create* it (an order already complete): one that is in Fluent already stays linked, and its
    # new version is recorded.
    before_create: bool = False
    # Not a choice but a problem a user must fix (an order with no email for its customer): recorded as failed
    # with this code, so that it shows with the failures and can be re-driven once fixed.
    failure_code: str | None = None
    lookup: str | None = None  # as PlannedPush.lookup


@dataclass(frozen=True)
class PlannedRetire:
    """A Fluent record whose source is gone, or that its source no longer has: deactivate it."""

    key: LedgerKey
    version: int
    label: str
    ref: str | None  # None: never reached Fluent, only the ledger learns it is gone
    # "deleted" ignores later changes of the id; a dropped target (a removed variant) may come back: "inactive".
    status: GoneStatus


Plan = PlannedPush[PushT] | PlannedSkip | PlannedRetire


class EntitySync(Protocol[RecordT_contra, PushT]):
    entity_type: str

    def plan(self, record: RecordT_contra) -> Sequence[PlannedPush[PushT] | PlannedSkip]:
        """Map one commercetools record to the Fluent records it becomes (pure)."""
        ...

    def prepare(self, creates: Sequence[PlannedPush[PushT]], batch_size: int) -> None:
        """Before a chunk's creates go out in batches: what they need, once for all of them in requests of
        ``batch_size`` (orders: their customers at order time). Optional work: each create does it for itself too,
        and reports what fails there."""
        ...

    def create(self, push: PlannedPush[PushT]) -> FluentIdentity: ...

    def update(self, push: PlannedPush[PushT], ref: str) -> FluentIdentity: ...

    def create_many(self, pushes: Sequence[PlannedPush[PushT]]) -> list[FluentIdentity]:
        """All in one request; any failure means none was applied (Fluent permits no partial mutation)."""
        ...

    def update_many(self, pushes: Sequence[tuple[PlannedPush[PushT], str]]) -> list[FluentIdentity]: ...

    def find(self, push: PlannedPush[PushT]) -> FluentIdentity | None:
        """The Fluent record ``push`` would create, when it exists already (a create answered "already exists")."""
        ...

    def deactivate(self, ref: str) -> FluentIdentity:
        """What "gone from commercetools" means in Fluent (a status, a marker attribute)."""
        ...

    def differences(self, push: PlannedPush[PushT], ref: str) -> list[str]:
        """For a dry run: how the update of ``ref`` would change Fluent's record, field by field (values masked)."""
        ...


class OnDemandSync(Protocol):
    """Another target's sync, run inside this one for the records it references that are not in Fluent yet (see
    ``Dependency.on_demand``): records synced through their own entity and recorded as its own."""

    def sync_now(self, source_ids: Sequence[str]) -> None:
        """Read these commercetools records and push them (outcomes in the ledger, as their own run would)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class RunScope:
    """Which records a run of an entity covers, as the core asks for it (a message handler, a sensor, a schedule);
    the Dagster glue turns it into the run's config (``assets/common.SyncScope``). Empty: the whole partition.

    ``ids`` are the source's keys: commercetools ids, or Fluent refs for an entity read from Fluent."""

    ids: tuple[str, ...] = ()
    deleted_ids: tuple[str, ...] = ()  # gone from the source: deactivated on the other side without a re-read
    redrive: bool = False  # the entity's failed records (or ``ids``), from any partition
    reconcile_deletions: bool = False  # every record the ledger knows and the source no longer has
    webhook_events: bool = False  # the Fluent webhook events recorded and not handled yet
    trigger: str = ""  # why the run was requested
