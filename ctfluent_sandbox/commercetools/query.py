"""The query parameters every commercetools list endpoint shares: ``where`` (repeatable, ANDed), ``sort``
(repeatable, applied in order), ``limit`` (default 20, at most 500), ``offset`` (default 0, at most 10,000),
``withTotal`` (default true), ``expand`` and ``var.<name>`` input variables (repeated: a list)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from multidict import MultiMapping

from ctfluent_sandbox.commercetools.errors import malformed_parameter
from ctfluent_sandbox.commercetools.predicates import Node, Schema, conjunction, parse, prepare
from ctfluent_sandbox.commercetools.store import SortKey

DEFAULT_LIMIT = 20
MAX_LIMIT = 500
MAX_OFFSET = 10_000
_VARIABLE = re.compile(r"^var\.([a-zA-Z0-9]+)$")
_SORT = re.compile(r"^\s*([a-zA-Z_][a-zA-Z0-9_]*(?:\.[a-zA-Z_][a-zA-Z0-9_-]*)*)\s+(asc|desc)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class QueryRequest:
    predicate: Node | None
    sort: list[SortKey]
    limit: int
    offset: int
    with_total: bool
    expand: list[str]


def parse_query(params: MultiMapping[str], schema: Schema) -> QueryRequest:
    """Read and check the parameters of a list request against the resource's queryable fields."""
    variables: dict[str, list[str]] = {}
    for name, value in params.items():
        match = _VARIABLE.match(name)
        if match:
            variables.setdefault(match.group(1), []).append(value)
    return QueryRequest(
        predicate=parse_where(params.getall("where", []), schema, variables),
        sort=[_sort_key(text, schema) for text in params.getall("sort", [])],
        limit=_bounded_int(params, "limit", DEFAULT_LIMIT, MAX_LIMIT),
        offset=_bounded_int(params, "offset", 0, MAX_OFFSET),
        with_total=flag(params, "withTotal", default=True),
        expand=params.getall("expand", []),
    )


def parse_where(texts: list[str], schema: Schema, variables: Mapping[str, list[str]]) -> Node | None:
    return conjunction(prepare(parse(text), schema, variables, text) for text in texts)


def _sort_key(text: str, schema: Schema) -> SortKey:
    match = _SORT.match(text)
    if not match:
        raise malformed_parameter("sort", f"invalid sort expression {text!r}; expected '<field> asc|desc'")
    path = tuple(match.group(1).split("."))
    if not schema.sortable(path):
        raise malformed_parameter("sort", f"cannot sort by '{match.group(1)}': no such field")
    return SortKey(path, descending=match.group(2).lower() == "desc")


def _bounded_int(params: MultiMapping[str], name: str, default: int, maximum: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise malformed_parameter(name, f"{raw!r} is not an integer") from None
    if not 0 <= value <= maximum:
        raise malformed_parameter(name, f"the value {value} is out of bounds; it must be between 0 and {maximum}")
    return value


def flag(params: MultiMapping[str], name: str, default: bool) -> bool:
    """A boolean query parameter (``withTotal``, ``staged``); anything but true/false is 400."""
    raw = params.get(name)
    if raw is None:
        return default
    if raw.lower() not in ("true", "false"):
        raise malformed_parameter(name, f"{raw!r} is not a boolean")
    return raw.lower() == "true"
