"""The in-memory, indexed store behind every emulated resource type, and the query planner that reads it.

A :class:`Collection` holds the resources of one type as the JSON dicts the API returns (treated as immutable: an
update stores a new dict; parts of them are shared between resources, such as money amounts), plus

* a sorted index of ids and, per indexed timestamp field, a sorted index of ``(value, id)``;
* unique indexes for ``/key=`` lookups and duplicate checks: one value per resource (``key``, lower-cased email) or
  several (a product's SKUs and its slug in each locale, over current and staged data);
* lookup indexes from the values of a field, nested or not, to the resources holding them (an order's payment ids,
  an inventory entry's SKU), for the predicates that look a resource up by such values
  (``paymentInfo(payments(id = "..."))``, ``sku in (...)``).

:meth:`Collection.query` plans each page: it takes the bounds the predicate puts on every indexed field
(:func:`~ctfluent_sandbox.commercetools.predicates.index_bounds`) and the values it pins on every lookup index
(:func:`~ctfluent_sandbox.commercetools.predicates.path_points`), estimates what each index range costs and
either walks the index that already yields the requested sort order (stopping after ``offset + limit`` matches),
or collects the matches of the narrowest range and sorts them, or, with nothing better, scans and sorts. The
``evaluations`` counter lets tests prove a page costs about a page of predicate evaluations, not a scan.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from sortedcontainers import SortedList

from ctfluent_sandbox.commercetools.predicates import (
    MISSING,
    Bounds,
    Getter,
    Node,
    Schema,
    Test,
    compile_predicate,
    index_bounds,
    path_points,
)

Resource = dict[str, Any]
# A unique index entry: the field as a DuplicateField error names it ("email", "sku", "slug.en") and the value.
UniqueEntry = tuple[str, str]
UniqueValues = Callable[[Resource], Iterable[UniqueEntry]]
# A lookup index: the predicate path of a nested string field and the values a resource holds there.
LookupValues = Callable[[Resource], Iterable[str]]

MAX_TOTAL = 10_000  # with a predicate, `total` is capped at the maximum offset
_AFTER_ANY_ID = "\U0010ffff"  # sorts after every id: (value, _AFTER_ANY_ID) bounds all keys with that value
_SORT_OVERHEAD = 1.5  # relative cost of collecting and sorting a candidate versus streaming it in index order


def clone(document: Any) -> Any:
    """A private copy of a stored JSON document, to change (stored resources are never changed in place). Same
    result as ``copy.deepcopy`` (shared parts stay shared), several times faster."""
    return pickle.loads(pickle.dumps(document, pickle.HIGHEST_PROTOCOL))


@dataclass(frozen=True)
class SortKey:
    path: tuple[str, ...]
    descending: bool = False


@dataclass(frozen=True)
class Page:
    results: list[Resource]
    total: int | None


@dataclass(frozen=True)
class _Plan:
    candidates: Iterable[Resource]
    ordered: bool  # candidates already come in the requested sort order


class Collection:
    """All resources of one type with their indexes. Not locked: the emulator serialises access."""

    def __init__(
        self,
        schema: Schema,
        indexed: Sequence[str] = (),
        unique: Mapping[str, Callable[[Resource], str | None]] | None = None,
        virtual: Mapping[str, Getter] | None = None,
        unique_many: Mapping[str, UniqueValues] | None = None,
        lookups: Mapping[tuple[str, ...], LookupValues] | None = None,
    ) -> None:
        self.schema = schema
        self.virtual = dict(virtual or {})
        self._unique_of: dict[str, UniqueValues] = {
            name: _single_entry(name, value_of) for name, value_of in (unique or {}).items()
        }
        self._unique_of.update(unique_many or {})
        self._indexed = tuple(indexed)  # top-level string fields every resource has (timestamps)
        self._by_id: dict[str, Resource] = {}
        self._ids: SortedList = SortedList()
        self._sorted: dict[str, SortedList] = {name: SortedList() for name in self._indexed}
        self._unique: dict[str, dict[UniqueEntry, str]] = {name: {} for name in self._unique_of}
        self._lookup_of = dict(lookups or {})
        self._lookups: dict[tuple[str, ...], dict[str, set[str]]] = {path: {} for path in self._lookup_of}
        self.evaluations = 0

    # -- reads and writes ----------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Resource]:
        return (self._by_id[i] for i in self._ids)

    def get(self, resource_id: str) -> Resource | None:
        return self._by_id.get(resource_id)

    def find(self, unique_name: str, value: str) -> Resource | None:
        """The resource holding ``value`` in the unique index ``unique_name`` (entries named like the index)."""
        resource_id = self._unique[unique_name].get((unique_name, value))
        return None if resource_id is None else self._by_id[resource_id]

    def holding(self, path: tuple[str, ...], value: str) -> list[Resource]:
        """The resources holding ``value`` at ``path`` in the lookup index of that path (the inventory entries of a
        supply channel), in id order."""
        return [self._by_id[i] for i in sorted(self._lookups[path].get(value, ()))]

    def conflict(self, resource: Resource) -> UniqueEntry | None:
        """The first unique entry of ``resource`` that another resource already holds, as ``(field, value)``."""
        for name, values_of in self._unique_of.items():
            for entry in values_of(resource):
                holder = self._unique[name].get(entry)
                if holder is not None and holder != resource["id"]:
                    return entry
        return None

    def put(self, resource: Resource) -> None:
        """Insert or replace (by id). Unique values are the caller's to check with :meth:`conflict`."""
        old = self._by_id.get(resource["id"])
        if old is not None:
            self._unindex(old)
        else:
            self._ids.add(resource["id"])
        self._by_id[resource["id"]] = resource
        for name in self._indexed:
            self._sorted[name].add((resource[name], resource["id"]))
        self._index_values(resource)

    def remove(self, resource_id: str) -> Resource | None:
        old = self._by_id.pop(resource_id, None)
        if old is not None:
            self._unindex(old)
            self._ids.remove(resource_id)
        return old

    def load(self, resources: Iterable[Resource]) -> None:
        """Replace everything at once; building the sorted indexes in bulk is what makes seeding fast."""
        self._by_id = {r["id"]: r for r in resources}
        self._ids = SortedList(self._by_id)
        self._sorted = {n: SortedList((r[n], r["id"]) for r in self._by_id.values()) for n in self._indexed}
        self._unique = {name: {} for name in self._unique_of}
        self._lookups = {path: {} for path in self._lookup_of}
        for resource in self._by_id.values():
            self._index_values(resource)

    def clear(self) -> None:
        self.load(())

    def ids_before(self, name: str, value: str) -> list[str]:
        """Ids whose indexed field ``name`` is lower than ``value`` (oldest first)."""
        index = self._sorted[name]
        return [resource_id for _, resource_id in index.islice(0, index.bisect_left((value,)))]

    def _index_values(self, resource: Resource) -> None:
        for name, values_of in self._unique_of.items():
            index = self._unique[name]
            for entry in values_of(resource):
                index[entry] = resource["id"]
        for path, lookup_values_of in self._lookup_of.items():
            lookup = self._lookups[path]
            for value in lookup_values_of(resource):
                lookup.setdefault(value, set()).add(resource["id"])

    def _unindex(self, resource: Resource) -> None:
        for name in self._indexed:
            self._sorted[name].remove((resource[name], resource["id"]))
        for name, values_of in self._unique_of.items():
            index = self._unique[name]
            for entry in values_of(resource):
                if index.get(entry) == resource["id"]:
                    del index[entry]
        for path, lookup_values_of in self._lookup_of.items():
            lookup = self._lookups[path]
            for value in lookup_values_of(resource):
                holders = lookup.get(value, set())
                holders.discard(resource["id"])
                if not holders:
                    lookup.pop(value, None)

    # -- queries -------------------------------------------------------------------------------------------

    def query(
        self,
        predicate: Node | None,
        sort: Sequence[SortKey],
        *,
        offset: int,
        limit: int,
        with_total: bool,
        visible: Test | None = None,
    ) -> Page:
        """One page. ``predicate`` is prepared against :attr:`schema`; ``visible`` hides resources that exist but
        must not be returned yet (messages within their visibility delay)."""
        tests = [] if visible is None else [visible]
        if predicate is not None:
            tests.append(compile_predicate(predicate, self.virtual))
        check = None if not tests else tests[0] if len(tests) == 1 else (lambda r: all(t(r) for t in tests))
        # Counting every match is only needed for a total that cannot be read off the collection size.
        count_all = with_total and check is not None
        plan = self._plan(predicate, sort, offset + limit, count_all)
        early_stop = plan.ordered and not count_all
        matches = self._matches(plan.candidates, check, stop_after=offset + limit if early_stop else None)
        if plan.ordered:
            results, matched = [], 0
            for matched, resource in enumerate(matches, start=1):
                if offset < matched <= offset + limit:
                    results.append(resource)
                if count_all and predicate is not None and matched >= max(MAX_TOTAL, offset + limit):
                    break  # the total is capped anyway
        else:
            everything = _sorted(list(matches), sort, self.virtual)
            results, matched = everything[offset : offset + limit], len(everything)
        if not with_total:
            return Page(results, None)
        if check is None:
            return Page(results, len(self))
        return Page(results, min(matched, MAX_TOTAL) if predicate is not None else matched)

    def _matches(
        self, candidates: Iterable[Resource], check: Test | None, stop_after: int | None
    ) -> Iterator[Resource]:
        found = 0
        for resource in candidates:
            if check is not None:
                self.evaluations += 1
                if not check(resource):
                    continue
            yield resource
            found += 1
            if stop_after is not None and found >= stop_after:
                return

    def _plan(self, predicate: Node | None, sort: Sequence[SortKey], wanted: int, count_all: bool) -> _Plan:
        size = max(len(self), 1)
        bounds = {name: index_bounds(predicate, name) for name in ("id", *self._indexed)} if predicate else {}
        id_bounds = bounds.get("id")
        if id_bounds is not None and id_bounds.points is not None:  # `id = x`, `id in (...)`: direct lookups
            found = (self._by_id.get(i) for i in sorted(id_bounds.points))
            return _Plan([r for r in found if r is not None], ordered=False)
        spans = {name: self._span(name, b) for name, b in bounds.items() if b is not None}
        # The resources a lookup index pins the predicate to (`sku in (...)`): few, whatever the collection's size.
        pinned: list[list[str]] = []
        for path, lookup in self._lookups.items():
            points = None if predicate is None else path_points(predicate, path)
            if points is not None:
                pinned.append(sorted({i for value in points for i in lookup.get(value, ())}))
        served = self._index_serving(sort)
        options: list[tuple[float, _Plan]] = []
        if served is not None:
            name, reverse = served
            start, stop = spans.get(name, (0, len(self)))
            in_range = stop - start
            others = [stop_ - start_ for other, (start_, stop_) in spans.items() if other != name]
            others += [len(holders) for holders in pinned]  # a walk finds those few only after a long way
            selectivity = max(min(others, default=size) / size, 1 / size)
            cost = in_range if count_all else min(in_range, wanted / selectivity)
            options.append((cost, _Plan(self._walk(name, start, stop, reverse), ordered=True)))
        for name, (start, stop) in spans.items():
            options.append(((stop - start) * _SORT_OVERHEAD, _Plan(self._walk(name, start, stop, False), False)))
        for holders in pinned:
            options.append((len(holders) * _SORT_OVERHEAD, _Plan([self._by_id[i] for i in holders], False)))
        options.append((len(self) * _SORT_OVERHEAD, _Plan(self._walk("id", 0, len(self), False), False)))
        return min(options, key=lambda option: option[0])[1]

    def _index_serving(self, sort: Sequence[SortKey]) -> tuple[str, bool] | None:
        """The index whose order is the requested sort, and whether to walk it backwards."""
        if not sort:
            return "id", False  # no sort: id order, stable across pages
        first, rest = sort[0], sort[1:]
        if len(first.path) != 1 or first.path[0] not in ("id", *self._indexed):
            return None
        name = first.path[0]
        # ids are unique, so keys after `id` never matter; index keys are (value, id): ties come in id order
        tie_break_ok = name == "id" or not rest or list(rest) == [SortKey(("id",), first.descending)]
        return (name, first.descending) if tie_break_ok else None

    def _span(self, name: str, bounds: Bounds) -> tuple[int, int]:
        """Positions ``[start, stop)`` of the index ``name`` that ``bounds`` admits."""
        if name == "id":
            index, low, high = self._ids, bounds.low, bounds.high
            start = 0 if low is None else (index.bisect_left if bounds.low_inclusive else index.bisect_right)(low)
            stop = (
                len(index)
                if high is None
                else (index.bisect_right if bounds.high_inclusive else index.bisect_left)(high)
            )
        else:
            index = self._sorted[name]
            start = 0 if bounds.low is None else index.bisect_left(_low_key(bounds))
            stop = len(index) if bounds.high is None else index.bisect_left(_high_key(bounds))
        return start, max(start, stop)

    def _walk(self, name: str, start: int, stop: int, reverse: bool) -> Iterator[Resource]:
        if name == "id":
            return (self._by_id[i] for i in self._ids.islice(start, stop, reverse=reverse))
        return (self._by_id[i] for _, i in self._sorted[name].islice(start, stop, reverse=reverse))


def _single_entry(name: str, value_of: Callable[[Resource], str | None]) -> UniqueValues:
    """A one-value-per-resource unique index as entries named after the index."""

    def entries(resource: Resource) -> tuple[UniqueEntry, ...]:
        value = value_of(resource)
        return () if value is None else ((name, value),)

    return entries


def _low_key(bounds: Bounds) -> tuple[str, ...]:
    assert bounds.low is not None
    return (bounds.low,) if bounds.low_inclusive else (bounds.low, _AFTER_ANY_ID)


def _high_key(bounds: Bounds) -> tuple[str, ...]:
    assert bounds.high is not None
    return (bounds.high, _AFTER_ANY_ID) if bounds.high_inclusive else (bounds.high,)


def _sorted(resources: list[Resource], sort: Sequence[SortKey], virtual: Mapping[str, Getter]) -> list[Resource]:
    """Multi-key sort; undefined values sort first, as in the document store. Ties end in id order, in the
    direction of the first key: the order a walk of the ``(value, id)`` index gives, so a query pages the same
    whichever plan serves each page."""
    resources.sort(key=lambda r: r["id"], reverse=bool(sort) and sort[0].descending)
    for key in reversed(sort):  # stable sorts, least significant key first
        resources.sort(key=partial(_sort_value, path=key.path, virtual=virtual), reverse=key.descending)
    return resources


def _sort_value(resource: Resource, path: Sequence[str], virtual: Mapping[str, Getter]) -> tuple[Any, ...]:
    value: Any = virtual[path[0]](resource) if path[0] in virtual else resource.get(path[0], MISSING)
    for part in path[1:]:
        value = value.get(part, MISSING) if isinstance(value, dict) else MISSING
    if isinstance(value, list):
        value = value[0] if value else MISSING
    if value is MISSING or value is None:
        return (0,)
    if isinstance(value, bool):
        return (1, 0, value)
    if isinstance(value, int | float):
        return (1, 1, value)
    if isinstance(value, str):
        return (1, 2, value)
    return (1, 3, math.inf)  # objects are not orderable; keep them together
