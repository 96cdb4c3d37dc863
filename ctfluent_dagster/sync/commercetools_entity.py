"""The commercetools half of an entity written to commercetools (the Fluent -> commercetools direction), as
``graphql_entity.py`` is the Fluent half of one written to Fluent. Plain Python: no Dagster, no entity.

commercetools has no upsert: a write reads the resource (by id or ``key=<key>``), computes the update actions still
needed (none: nothing is written), and posts them with the version it read; a 409 (it changed in between) re-reads
it and tries again, a bounded number of times. A resource that is not there is created from its draft; a create
answered ``DuplicateField`` (created meanwhile, or a replay of a create whose answer was lost) reads it by key and
updates it. So a write is idempotent by key, and repeating it changes nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from ctfluent_dagster.commercetools.client import CommercetoolsApiError, CommercetoolsClient
from ctfluent_dagster.records import FluentIdentity, PlannedPush

PushT = TypeVar("PushT")
Resource = dict[str, Any]
Action = dict[str, Any]
WriteOutcome = Literal["created", "updated", "unchanged"]

# commercetools keys: 2-256 characters of letters, digits, "_" and "-".
_KEY_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]")


def commercetools_key(ref: str) -> str:
    """A commercetools key for a Fluent ref: the ref itself when it is a valid key, else its valid characters with a
    short digest of the ref (``PO:SKU-1:LOC 2`` -> ``PO_SKU-1_LOC_2-<digest>``), so that two refs never share one."""
    cleaned = _KEY_CHARACTERS.sub("_", ref)
    if cleaned == ref and 2 <= len(ref) <= 256:
        return ref
    return f"{cleaned[:240]}-{hashlib.sha256(ref.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class Written:
    resource: Resource
    outcome: WriteOutcome


@dataclass(frozen=True)
class KeyedWrite:
    """One resource to bring to a wanted state, by its key (see :meth:`VersionedWrites.apply_by_keys`)."""

    key: str
    actions_for: Callable[[Mapping[str, Any]], Sequence[Action]]
    draft: Callable[[], Mapping[str, Any]]
    find: Callable[[], Resource | None] | None = None


class VersionedWrites:
    """Reads, computes and writes one resource at a time, with the version it read."""

    def __init__(self, client: CommercetoolsClient, max_conflict_retries: int) -> None:
        self.client = client
        self.max_conflict_retries = max_conflict_retries

    def apply(
        self,
        resource: str,
        ident: str,
        actions_for: Callable[[Mapping[str, Any]], Sequence[Action]],
        draft: Callable[[], Mapping[str, Any]] | None = None,
        find: Callable[[], Resource | None] | None = None,
    ) -> Written:
        """Bring ``resource/ident`` (an id, or ``key=<key>``) to what ``actions_for`` asks of its current state;
        create it from ``draft`` when it is not there (without a draft: a 404 error). ``find``: the resource by
        another identity when ``ident`` finds none (an inventory entry of that SKU and channel without our key)."""
        for _ in range(self.max_conflict_retries + 1):
            current = self.client.get(resource, ident) or (find() if find else None)
            if current is None:
                if draft is None:
                    raise CommercetoolsApiError(f"{resource} {ident} is gone from commercetools", status=404,
                                                code="ResourceNotFound")  # fmt: skip
                try:
                    return Written(self.client.create(resource, draft()), "created")
                except CommercetoolsApiError as exc:
                    if exc.code != "DuplicateField":
                        raise
                    continue  # created meanwhile, or our own create's answer was lost: read it and update it
            actions = list(actions_for(current))
            if not actions:
                return Written(current, "unchanged")
            try:
                return Written(self.client.update(resource, str(current["id"]), int(current["version"]), actions),
                               "updated")  # fmt: skip
            except CommercetoolsApiError as exc:
                if exc.status != 409:
                    raise
        raise CommercetoolsApiError(f"{resource} {ident} kept changing: {self.max_conflict_retries + 1} attempts "
                                    "ended in 409", status=409, code="ConcurrentModification")  # fmt: skip

    def apply_by_keys(self, resource: str, wanted: Sequence[KeyedWrite]) -> list[Written]:
        """Many keyed writes with one read: the resources of these keys in one query, then per key a create (none
        there), an update at the version read, or nothing; one whose write meets a conflict or a duplicate (it
        changed, or appeared since the read, or exists under another identity: ``find``) goes through :meth:`apply`.
        So an initial load costs one request per resource and one per batch, and an unchanged one only the read."""
        keys = [write.key for write in wanted]
        pages = self.client.iterate_by_id(resource, where="key in :keys", variables={"keys": keys})
        found = {str(r["key"]): r for page in pages for r in page}
        written: list[Written] = []
        for write in wanted:
            current = found.get(write.key)
            try:
                if current is None:
                    written.append(Written(self.client.create(resource, write.draft()), "created"))
                    continue
                actions = list(write.actions_for(current))
                if not actions:
                    written.append(Written(current, "unchanged"))
                    continue
                resource_now = self.client.update(resource, str(current["id"]), int(current["version"]), actions)
                written.append(Written(resource_now, "updated"))
                continue
            except CommercetoolsApiError as exc:
                if exc.status != 409 and exc.code != "DuplicateField":
                    raise
            written.append(self.apply(resource, f"key={write.key}", write.actions_for, write.draft, write.find))
        return written

    def remove(self, resource: str, ident: str) -> bool:
        """Delete ``resource/ident`` at its current version; False when it was not there."""
        for _ in range(self.max_conflict_retries + 1):
            current = self.client.get(resource, ident)
            if current is None:
                return False
            try:
                self.client.delete(resource, str(current["id"]), int(current["version"]))
                return True
            except CommercetoolsApiError as exc:
                if exc.status == 404:
                    return False
                if exc.status != 409:
                    raise
        raise CommercetoolsApiError(f"{resource} {ident} kept changing: {self.max_conflict_retries + 1} attempts "
                                    "ended in 409", status=409, code="ConcurrentModification")  # fmt: skip


class CommercetoolsEntitySync(Generic[PushT]):
    """The write half of an :class:`~ctfluent_dagster.records.EntitySync` whose target is commercetools: "create"
    and "update" are the same idempotent write (:meth:`write`); a subclass plans, writes, and says what retiring a
    record means (:meth:`retire`). The identity recorded is the commercetools key (``ref``) and id."""

    entity_type: str

    def write(self, push: PlannedPush[PushT]) -> FluentIdentity:
        raise NotImplementedError

    def retire(self, ref: str) -> FluentIdentity:
        """What gone from Fluent means on the commercetools side (the target's rule)."""
        raise NotImplementedError(f"{self.entity_type} records are never retired")

    def differences(self, push: PlannedPush[PushT], ref: str) -> list[str]:
        """A dry run's answer: the writes it would make (default: none known without reading)."""
        return []

    def prepare(self, creates: Sequence[PlannedPush[PushT]], batch_size: int) -> None:
        """Nothing to do before writes: each reads what it needs."""

    def create(self, push: PlannedPush[PushT]) -> FluentIdentity:
        return self.write(push)

    def update(self, push: PlannedPush[PushT], ref: str) -> FluentIdentity:
        return self.write(push)

    def create_many(self, pushes: Sequence[PlannedPush[PushT]]) -> list[FluentIdentity]:
        return [self.write(push) for push in pushes]

    def update_many(self, pushes: Sequence[tuple[PlannedPush[PushT], str]]) -> list[FluentIdentity]:
        return [self.write(push) for push, _ in pushes]

    def find(self, push: PlannedPush[PushT]) -> FluentIdentity | None:
        return None  # a write never answers "already exists": it reads by key itself

    def deactivate(self, ref: str) -> FluentIdentity:
        return self.retire(ref)


def describe_actions(actions: Sequence[Action]) -> list[str]:
    """Update actions as a dry run lists them: ``changeQuantity: 7``."""
    return [f"{a['action']}: " + ", ".join(f"{v}" for k, v in a.items() if k != "action") for a in actions]
