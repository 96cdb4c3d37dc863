"""The core's versioned writes to commercetools (``sync/commercetools_entity.py``), against a fake client whose
resources change under the writer: read, compute, write with the version read; a 409 re-reads and tries again; a
create that meets a duplicate (made meanwhile, or a replay of a lost answer) reads it by key and updates it; an
unchanged resource is not written; a batch reads its resources in one query."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import pytest

from ctfluent_dagster.commercetools.client import CommercetoolsApiError, CommercetoolsClient
from ctfluent_dagster.sync.commercetools_entity import KeyedWrite, VersionedWrites


class FakeCommercetools:
    """Resources by key; ``conflicts`` makes the next updates meet a newer version (someone else wrote);
    ``appear`` makes a create find a resource made meanwhile."""

    def __init__(self) -> None:
        self.resources: dict[str, dict[str, Any]] = {}
        self.conflicts = 0
        self.appear: dict[str, Any] | None = None
        self.calls: list[str] = []

    def get(self, resource: str, ident: str) -> dict[str, Any] | None:
        self.calls.append("get")
        key = ident.removeprefix("key=")
        return dict(self.resources[key]) if key in self.resources else None

    def iterate_by_id(self, resource: str, *, where: str, variables: Mapping[str, Sequence[str]]) -> Any:
        self.calls.append("query")
        yield [dict(self.resources[k]) for k in variables["keys"] if k in self.resources]

    def create(self, resource: str, draft: Mapping[str, Any]) -> dict[str, Any]:
        self.calls.append("create")
        if self.appear is not None:
            self.resources[draft["key"]], self.appear = self.appear, None
        if draft["key"] in self.resources:
            raise CommercetoolsApiError("exists", status=400, code="DuplicateField")
        self.resources[draft["key"]] = {**draft, "id": f"id-{draft['key']}", "version": 1}
        return dict(self.resources[draft["key"]])

    def update(self, resource: str, ident: str, version: int, actions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        self.calls.append("update")
        current = next(r for r in self.resources.values() if r["id"] == ident)
        if self.conflicts:
            self.conflicts -= 1
            current["version"] += 1
            current["quantity"] = -1  # someone else's write
        if version != current["version"]:
            raise CommercetoolsApiError("conflict", status=409, code="ConcurrentModification")
        for action in actions:
            current["quantity"] = action["quantity"]
        current["version"] += 1
        return dict(current)


def writes(fake: FakeCommercetools, retries: int = 3) -> VersionedWrites:
    return VersionedWrites(cast(CommercetoolsClient, fake), retries)


def set_quantity(quantity: int) -> Any:
    return lambda current: [] if current.get("quantity") == quantity else [{"action": "set", "quantity": quantity}]


def test_missing_is_created_unchanged_is_not_written_and_a_change_is_written_at_the_version_read() -> None:
    fake = FakeCommercetools()
    first = writes(fake).apply("inventory", "key=e1", set_quantity(5), lambda: {"key": "e1", "quantity": 5})
    assert first.outcome == "created" and fake.resources["e1"]["quantity"] == 5
    assert writes(fake).apply("inventory", "key=e1", set_quantity(5)).outcome == "unchanged"
    changed = writes(fake).apply("inventory", "key=e1", set_quantity(7))
    assert (changed.outcome, changed.resource["quantity"], changed.resource["version"]) == ("updated", 7, 2)


def test_a_conflict_is_read_again_and_retried_and_a_lasting_one_fails() -> None:
    fake = FakeCommercetools()
    fake.resources["e1"] = {"key": "e1", "id": "id-e1", "version": 1, "quantity": 5}
    fake.conflicts = 2
    assert writes(fake).apply("inventory", "key=e1", set_quantity(9)).resource["quantity"] == 9
    fake.conflicts = 10
    with pytest.raises(CommercetoolsApiError, match="kept changing") as raised:
        writes(fake, retries=2).apply("inventory", "key=e1", set_quantity(3))
    assert raised.value.status == 409


def test_a_create_that_meets_a_duplicate_reads_it_by_key_and_updates_it() -> None:
    fake = FakeCommercetools()
    fake.appear = {"key": "e1", "id": "id-e1", "version": 4, "quantity": 1}  # made meanwhile (or our lost create)
    written = writes(fake).apply("inventory", "key=e1", set_quantity(6), lambda: {"key": "e1", "quantity": 6})
    assert (written.outcome, fake.resources["e1"]["quantity"]) == ("updated", 6)
    with pytest.raises(CommercetoolsApiError) as gone:
        writes(fake).apply("inventory", "key=nothing", set_quantity(1))  # no draft: it must exist
    assert gone.value.status == 404


def test_a_batch_reads_its_resources_in_one_query_and_writes_only_what_changed() -> None:
    fake = FakeCommercetools()
    fake.resources["a"] = {"key": "a", "id": "id-a", "version": 1, "quantity": 1}
    fake.resources["b"] = {"key": "b", "id": "id-b", "version": 1, "quantity": 2}
    wanted = [KeyedWrite(key, set_quantity(quantity), lambda key=key, quantity=quantity: {"key": key,
                                                                                          "quantity": quantity})
              for key, quantity in (("a", 1), ("b", 3), ("c", 4))]  # fmt: skip
    outcomes = [w.outcome for w in writes(fake).apply_by_keys("inventory", wanted)]
    assert outcomes == ["unchanged", "updated", "created"]
    assert fake.calls == ["query", "update", "create"]  # no read per resource
    fake.calls.clear()
    fake.conflicts = 1  # b changes between the batch's read and its write: it goes the careful way
    again = KeyedWrite("b", set_quantity(8), lambda: {"key": "b", "quantity": 8})
    outcomes = [w.outcome for w in writes(fake).apply_by_keys("inventory", [again])]
    assert outcomes == ["updated"] and fake.resources["b"]["quantity"] == 8
    assert fake.calls == ["query", "update", "get", "update"]
