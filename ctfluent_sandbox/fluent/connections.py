"""Fluent's search queries: list filters, date ranges and Relay-style connections with opaque cursors.

Every argument of a search field that is not a paging argument filters on the record field of the same name:
a list matches records whose value is in it (an empty list filters nothing), a ``DateRange`` matches
``from <= value <= to`` with at least one bound given. Results are in id order (Fluent documents no order).

A forward page (``first``/``after``, no ``last``/``before``: what clients walk with) is found lazily: the ``after``
cursor by bisection, then only as many candidates are filtered as the page needs, plus one for ``hasNextPage``.
A walk over 100,000 inventory positions so costs each page its own size, not the table's.
"""

from __future__ import annotations

import base64
import binascii
import bisect
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ctfluent_sandbox.fluent.errors import CUSTOM_VALIDATION, DATE_RANGE_WITHOUT_BOUND, NEGATIVE_VALUE, FluentError
from ctfluent_sandbox.fluent.limits import DEFAULT_PAGE_SIZE
from ctfluent_sandbox.fluent.store import Record

PAGING_ARGUMENTS = frozenset({"first", "last", "before", "after"})


def search(records: Iterable[Record], kind: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """Answer a search field with a connection ``{edges {node cursor} pageInfo}``.

    ``records`` are the candidates in id order: a table for ``customers(...)``, or one parent's children for a
    nested connection; ``kind`` names them in cursors (a cursor of another kind is refused).
    """
    filters = [(name, value) for name, value in args.items() if name not in PAGING_ARGUMENTS and value is not None]
    for name, value in filters:
        if isinstance(value, Mapping) and value.get("from") is None and value.get("to") is None:
            raise FluentError(DATE_RANGE_WITHOUT_BOUND, f"'{name}' needs at least one of 'from' and 'to'")
    if args.get("last") is None and args.get("before") is None:
        candidates = records if isinstance(records, list) else list(records)
        return _forward_page(candidates, kind, args, filters)
    matching = [record for record in records if all(_matches(record, n, v) for n, v in filters)]
    return _page(matching, kind, args)


def _forward_page(
    records: list[Record], kind: str, args: Mapping[str, Any], filters: list[tuple[str, Any]]
) -> dict[str, Any]:
    """:func:`_page` for ``first``/``after`` alone, filtering only what the page needs (``records`` in id order)."""
    first = args.get("first")
    if first is not None and first < 0:
        raise FluentError(NEGATIVE_VALUE, "'first' must not be negative")
    size = DEFAULT_PAGE_SIZE if first is None else first
    start = 0
    if args.get("after") is not None:
        after = _decode(args["after"], kind)
        start = bisect.bisect_right(records, after, key=lambda record: int(record["id"]))

    def matches(record: Record) -> bool:
        return all(_matches(record, name, value) for name, value in filters)

    page: list[Record] = []
    has_next = False
    for position in range(start, len(records)):
        if matches(records[position]):
            if len(page) == size:
                has_next = True
                break
            page.append(records[position])
    has_previous = any(matches(records[position]) for position in range(start - 1, -1, -1))
    return {
        "edges": [{"node": record, "cursor": _encode(kind, record["id"])} for record in page],
        "pageInfo": {"hasPreviousPage": has_previous, "hasNextPage": has_next},
    }


def _matches(record: Record, name: str, wanted: Any) -> bool:
    value = record.get(name)
    if isinstance(wanted, Mapping):  # DateRange, inclusive at both ends
        low: datetime | None = wanted.get("from")
        high: datetime | None = wanted.get("to")
        return value is not None and (low is None or value >= low) and (high is None or value <= high)
    return not wanted or value in wanted


def _page(records: list[Record], kind: str, args: Mapping[str, Any]) -> dict[str, Any]:
    first, last = args.get("first"), args.get("last")
    for name, size in (("first", first), ("last", last)):
        if size is not None and size < 0:
            raise FluentError(NEGATIVE_VALUE, f"'{name}' must not be negative")
    if first is None and last is None:
        first = DEFAULT_PAGE_SIZE
    ids = [int(record["id"]) for record in records]
    start, end = 0, len(records)
    if args.get("after") is not None:
        after = _decode(args["after"], kind)
        start = next((i for i, record_id in enumerate(ids) if record_id > after), len(ids))
    if args.get("before") is not None:
        before = _decode(args["before"], kind)
        end = next((i for i, record_id in enumerate(ids) if record_id >= before), len(ids))
    end = max(start, end)
    if first is not None:
        end = min(end, start + first)
    if last is not None:
        start = max(start, end - last)
    return {
        "edges": [{"node": record, "cursor": _encode(kind, record["id"])} for record in records[start:end]],
        "pageInfo": {"hasPreviousPage": start > 0, "hasNextPage": end < len(records)},
    }


def _encode(kind: str, record_id: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{record_id}".encode()).decode()


def _decode(cursor: str, kind: str) -> int:
    try:
        cursor_kind, _, record_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if cursor_kind == kind:
            return int(record_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise FluentError(CUSTOM_VALIDATION, f"Invalid cursor {cursor!r}")
