"""The Fluent emulator's in-memory entity store.

Tables of records (plain dicts whose keys are the GraphQL field names) with numeric string ids, unique keys per
table, and an undo log so that every change made by one GraphQL request can be rolled back together.

Ids the store hands out come from one account-wide sequence, so they never coincide across entity types: a
client that passes a customer id where a retailer id is expected gets "not found" instead of silently hitting
another entity. Like a database sequence, the counter is not rolled back. Entities held inside another record (an
order's items) take their ids from the same sequence.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ctfluent_sandbox.fluent.errors import NOT_FOUND, UNIQUE_VIOLATION, FluentError

Record = dict[str, Any]
UniqueKey = tuple[str, ...]


@dataclass(frozen=True)
class TableSpec:
    name: str  # e.g. "customers"
    entity: str  # the GraphQL type, for messages: "Customer"
    unique: tuple[UniqueKey, ...] = ()  # each a tuple of record fields, e.g. (("username",),)
    duplicate_code: str = UNIQUE_VIOLATION  # products answer a duplicate with Fluent's C0128E instead
    # Fields records are listed by without being unique (an order's financial transactions by "order").
    grouped_by: tuple[str, ...] = ()


def _shown(key: UniqueKey, values: Iterable[Any]) -> str:
    """A unique key's values for messages: ``catalogue 'PC:MASTER:1', ref 'shoes'``."""
    return ", ".join(f"{name} '{value}'" for name, value in zip(key, values, strict=True))


@dataclass
class _Table:
    spec: TableSpec
    # Kept in id order (ids only grow; see insert), so listing needs no sort.
    rows: dict[str, Record] = field(default_factory=dict)
    index: dict[UniqueKey, dict[tuple[Any, ...], str]] = field(default_factory=dict)
    # Per grouped_by field: value -> ids of the records with it (a dict as an ordered set; not in id order after
    # a rollback re-adds a record, so readers sort).
    groups: dict[str, dict[Any, dict[str, None]]] = field(default_factory=dict)

    def key_values(self, key: UniqueKey, record: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(record.get(name) for name in key)

    def add_index(self, record: Record) -> None:
        for key in self.spec.unique:
            self.index[key][self.key_values(key, record)] = record["id"]
        for name in self.spec.grouped_by:
            self.groups[name].setdefault(record.get(name), {})[record["id"]] = None

    def drop_index(self, record: Record) -> None:
        for key in self.spec.unique:
            self.index[key].pop(self.key_values(key, record), None)
        for name in self.spec.grouped_by:
            self.groups[name].get(record.get(name), {}).pop(record["id"], None)

    def check_unique(self, record: Record) -> None:
        for key in self.spec.unique:
            owner = self.index[key].get(self.key_values(key, record))
            if owner is not None and owner != record["id"]:
                shown = _shown(key, self.key_values(key, record))
                raise FluentError(self.spec.duplicate_code, f"{self.spec.entity} with {shown} already exists")


# One undo entry: (table, id, record before the change, or None when the change was the insert).
_Undo = tuple[_Table, str, Record | None]


class EntityStore:
    """Not thread-safe by itself: the emulator serialises access (one request at a time)."""

    def __init__(self, specs: Iterable[TableSpec]) -> None:
        self._specs = {spec.name: spec for spec in specs}
        self._tables: dict[str, _Table] = {}
        self._last_id = 0
        self._undo: list[_Undo] | None = None
        self.clear()

    def clear(self) -> None:
        self._tables = {
            name: _Table(spec, index={key: {} for key in spec.unique}, groups={by: {} for by in spec.grouped_by})
            for name, spec in self._specs.items()
        }
        self._last_id = 0

    # -- reads -----------------------------------------------------------------------------------

    def get(self, table: str, record_id: str) -> Record | None:
        return self._tables[table].rows.get(record_id)

    def require(self, table: str, record_id: str) -> Record:
        record = self.get(table, record_id)
        if record is None:
            raise FluentError(NOT_FOUND, f"{self._specs[table].entity} with id '{record_id}' not found")
        return record

    def find(self, table: str, key: UniqueKey, values: tuple[Any, ...]) -> Record | None:
        record_id = self._tables[table].index[key].get(values)
        return None if record_id is None else self._tables[table].rows[record_id]

    def find_required(self, table: str, key: UniqueKey, values: tuple[Any, ...]) -> Record:
        record = self.find(table, key, values)
        if record is None:
            raise FluentError(NOT_FOUND, f"{self._specs[table].entity} with {_shown(key, values)} not found")
        return record

    def records(self, table: str) -> list[Record]:
        """All records of a table in id order."""
        return list(self._tables[table].rows.values())

    def grouped(self, table: str, name: str, value: Any) -> list[Record]:
        """The records whose ``name`` (one of the table's ``grouped_by`` fields) is ``value``, in id order."""
        tab = self._tables[table]
        return [tab.rows[record_id] for record_id in sorted(tab.groups[name].get(value, ()), key=int)]

    def dump(self) -> dict[str, list[Record]]:
        return {name: self.records(name) for name in self._tables}

    # -- writes ----------------------------------------------------------------------------------

    def next_id(self) -> str:
        """Take the next id of the sequence, for an entity held inside a record (an order's item) or a record
        inserted under it (an order whose items need ids first)."""
        self._last_id += 1
        return str(self._last_id)

    def insert(self, table: str, record: Mapping[str, Any], record_id: str | None = None) -> Record:
        """Store a new record (given without id) under the next id, or ``record_id`` (seeded retailers, or one
        taken with :meth:`next_id`); returns it."""
        tab = self._tables[table]
        if record_id is None:
            record_id = str(self._last_id + 1)
        elif record_id in tab.rows:
            raise FluentError(UNIQUE_VIOLATION, f"{tab.spec.entity} with id '{record_id}' already exists")
        new = {"id": record_id, **record}
        tab.check_unique(new)
        numeric_id = int(record_id)
        last_in_table = next(reversed(tab.rows), None)
        out_of_order = last_in_table is not None and numeric_id < int(last_in_table)
        self._last_id = max(self._last_id, numeric_id)
        tab.rows[record_id] = new
        if out_of_order:  # only explicit ids can land below the table's last; restore id order once
            tab.rows = dict(sorted(tab.rows.items(), key=lambda item: int(item[0])))
        tab.add_index(new)
        self._log(tab, record_id, None)
        return new

    def update(self, table: str, record_id: str, changes: Mapping[str, Any]) -> Record:
        """Replace the record by a changed copy (readers holding the old dict are unaffected); returns it."""
        tab = self._tables[table]
        old = tab.rows[record_id]
        new = {**old, **changes, "id": record_id}
        tab.check_unique(new)
        tab.drop_index(old)
        tab.rows[record_id] = new
        tab.add_index(new)
        self._log(tab, record_id, old)
        return new

    def delete(self, table: str, record_id: str) -> Record:
        """Remove a record (an admin control: no Fluent mutation deletes); returns it."""
        tab = self._tables[table]
        old = tab.rows.pop(record_id)
        tab.drop_index(old)
        self._log(tab, record_id, old)
        return old

    # -- transactions ----------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Log changes made inside the block; ``rollback()`` (or an exception) undoes all of them."""
        if self._undo is not None:
            raise RuntimeError("transactions do not nest")
        self._undo = []
        tx = Transaction(self)
        try:
            yield tx
        except BaseException:
            tx.rollback()
            raise
        finally:
            self._undo = None

    def _log(self, tab: _Table, record_id: str, before: Record | None) -> None:
        if self._undo is not None:
            self._undo.append((tab, record_id, before))

    def _rollback(self) -> None:
        undo, self._undo = self._undo or [], []
        for tab, record_id, before in reversed(undo):
            current = tab.rows.get(record_id)  # None when the change was a delete
            if current is not None:
                tab.drop_index(current)
            if before is None:
                del tab.rows[record_id]
                continue
            tab.rows[record_id] = before  # assigning an existing key keeps its place in id order
            if current is None:  # a deleted record came back at the end: restore id order
                tab.rows = dict(sorted(tab.rows.items(), key=lambda item: int(item[0])))
            tab.add_index(before)


class Transaction:
    def __init__(self, store: EntityStore) -> None:
        self._store = store

    def rollback(self) -> None:
        self._store._rollback()


def upsert_by(existing: Iterable[Record], incoming: Iterable[Mapping[str, Any] | None], key: UniqueKey) -> list[Record]:
    """Fluent's list upsert (attributes by ``name``, prices by ``type`` + ``currency``): replace entries with a
    matching key, append the others, keep everything not mentioned."""
    merged = {tuple(entry[name] for name in key): entry for entry in existing}
    for entry in incoming:
        if entry is not None:  # list items are nullable in the schema ([AttributeInput])
            merged[tuple(entry[name] for name in key)] = dict(entry)
    return list(merged.values())
