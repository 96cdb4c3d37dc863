"""Reading a Fluent list query page by page: ``first``/``after`` on the last edge's cursor (Fluent's connections
have no ``endCursor``), until ``hasNextPage`` says there is no more; and the ``DateRange`` of a window."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from ctfluent_dagster.fluent.client import FluentClient
from ctfluent_dagster.fluent.operations import Operation

PAGE_SIZE = 200
REFS_PER_QUERY = 200


def nodes(
    fluent: FluentClient, operation: Operation, variables: Mapping[str, Any], page_size: int = PAGE_SIZE
) -> Iterator[list[dict[str, Any]]]:
    """The nodes of ``operation``'s root connection, a page at a time; the document takes ``$first`` and
    ``$after`` and selects ``edges { cursor node { ... } } pageInfo { hasNextPage }``."""
    after: str | None = None
    while True:
        connection = fluent.execute(operation, {**variables, "first": page_size, "after": after})[operation.root_field]
        edges = (connection or {}).get("edges") or []
        if edges:
            yield [edge["node"] for edge in edges]
        if not edges or not connection["pageInfo"]["hasNextPage"]:
            return
        after = edges[-1]["cursor"]


def nodes_by_refs(
    fluent: FluentClient,
    operation: Operation,
    refs: Sequence[str],
    variables: Mapping[str, Any] | None = None,
    per_query: int = REFS_PER_QUERY,
    page_size: int | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """The nodes of these refs (``$refs``, each once), ``per_query`` refs a query, a page at a time (default: the
    query's refs in one page); ``variables``: the document's others."""
    unique = sorted(set(refs))
    for start in range(0, len(unique), per_query):
        chunk = unique[start : start + per_query]
        yield from nodes(fluent, operation, {**(variables or {}), "refs": chunk}, page_size=page_size or len(chunk))


def date_range(start: datetime | None, end: datetime | None) -> dict[str, str] | None:
    """Fluent's ``DateRange`` (both bounds inclusive) of ``[start, end)``: ``to`` a millisecond before ``end``; None
    (no filter) without either bound, since Fluent refuses a range without one (C0101E)."""
    bounds = {"from": start, "to": end - timedelta(milliseconds=1) if end else None}
    given = {name: moment.isoformat() for name, moment in bounds.items() if moment is not None}
    return given or None
