"""The commercetools query predicate language (``where=``).

Parsed with lark after https://docs.commercetools.com/query-specs/query-predicate-spec.html, then in three steps:

1. :func:`prepare` substitutes ``:name`` input variables (``var.name``; a repeated variable is a list), checks every
   field against the resource's :class:`Schema` (unknown field: 400) and converts variable strings to the field's type;
2. :func:`compile_predicate` turns the tree into one Python closure, evaluated per candidate resource;
3. :func:`index_bounds` tells the query planner which range of an indexed string field (``id``, ``lastModifiedAt``,
   ``createdAt``) can hold matches, so a page is read from a sorted index instead of a scan; :func:`path_points`
   which values a nested field must have (``paymentInfo(payments(id = "...")``), for a lookup index.

Semantics follow the document store commercetools runs on: an array field matches when any element matches,
``!=`` and ``not in`` are the negations of ``=`` and ``in`` (so they also match an undefined field), ordering
comparisons need both sides of the same kind (timestamps are strings and compare as strings).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from lark import Lark, Token, Transformer
from lark.exceptions import LarkError, VisitError

from ctfluent_sandbox.commercetools.errors import CtError

# -- the tree ------------------------------------------------------------------------------------------------

Scalar = str | int | float | bool


@dataclass(frozen=True)
class Variable:
    """``:name`` in a predicate; its value comes from the ``var.name`` query parameter(s)."""

    name: str


Operand = Scalar | list[Scalar] | Variable


@dataclass(frozen=True)
class Compare:
    field: str
    op: Literal["=", "!=", ">", ">=", "<", "<="]
    value: Operand


@dataclass(frozen=True)
class In:
    field: str
    values: Operand


@dataclass(frozen=True)
class Defined:
    field: str


@dataclass(frozen=True)
class Empty:
    field: str


@dataclass(frozen=True)
class Contains:
    field: str
    mode: Literal["any", "all"]
    values: Operand


@dataclass(frozen=True)
class Nested:
    field: str
    inner: Node


@dataclass(frozen=True)
class And:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    inner: Node


Node = Compare | In | Defined | Empty | Contains | Nested | And | Or | Not
FieldNode = Compare | In | Defined | Empty | Contains | Nested

# -- parsing -------------------------------------------------------------------------------------------------

# Keywords are case-insensitive; NAME carries the same flag so lark re-types a NAME that spells a keyword.
_GRAMMAR = r"""
?start: disjunction
?disjunction: conjunction (_OR conjunction)*
?conjunction: unary (_AND unary)*
?unary: _NOT "(" disjunction ")"                  -> negation
      | "(" disjunction ")"
      | NAME "(" disjunction ")"                  -> nested
      | NAME COMPARATOR value                     -> compare
      | NAME _IN values                           -> in_
      | NAME _NOT _IN values                      -> not_in
      | NAME _IS _DEFINED                         -> defined
      | NAME _IS _NOT _DEFINED                    -> not_defined
      | NAME _IS _EMPTY                           -> empty
      | NAME _IS _NOT _EMPTY                      -> not_empty
      | NAME _CONTAINS _ANY values                -> contains_any
      | NAME _CONTAINS _ALL values                -> contains_all
values: "(" value ("," value)* ")" | VARIABLE
?value: STRING                                   -> string
      | NUMBER                                   -> number
      | _TRUE                                    -> true
      | _FALSE                                   -> false
      | VARIABLE                                 -> variable
COMPARATOR: "=" | "!=" | "<>" | ">=" | "<=" | ">" | "<"
VARIABLE: /:[a-zA-Z0-9]+/
STRING: /"(?:[^"\\]|\\.)*"/
NUMBER: /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/
NAME: /[a-zA-Z_][a-zA-Z0-9_]*/i
_AND: "and"i
_OR: "or"i
_NOT: "not"i
_IN: "in"i
_IS: "is"i
_DEFINED: "defined"i
_EMPTY: "empty"i
_CONTAINS: "contains"i
_ANY: "any"i
_ALL: "all"i
_TRUE: "true"i
_FALSE: "false"i
%ignore /\s+/
"""


class _ToTree(Transformer[Token, Node]):
    def disjunction(self, parts: list[Node]) -> Node:
        return Or(tuple(parts))

    def conjunction(self, parts: list[Node]) -> Node:
        return And(tuple(parts))

    def negation(self, parts: list[Node]) -> Node:
        return Not(parts[0])

    def nested(self, parts: list[Any]) -> Node:
        return Nested(str(parts[0]), parts[1])

    def compare(self, parts: list[Any]) -> Node:
        op = "!=" if parts[1] == "<>" else str(parts[1])
        return Compare(str(parts[0]), op, parts[2])  # type: ignore[arg-type]

    def in_(self, parts: list[Any]) -> Node:
        return In(str(parts[0]), parts[1])

    def not_in(self, parts: list[Any]) -> Node:
        return Not(In(str(parts[0]), parts[1]))

    def defined(self, parts: list[Any]) -> Node:
        return Defined(str(parts[0]))

    def not_defined(self, parts: list[Any]) -> Node:
        return Not(Defined(str(parts[0])))

    def empty(self, parts: list[Any]) -> Node:
        return Empty(str(parts[0]))

    def not_empty(self, parts: list[Any]) -> Node:
        return Not(Empty(str(parts[0])))

    def contains_any(self, parts: list[Any]) -> Node:
        return Contains(str(parts[0]), "any", parts[1])

    def contains_all(self, parts: list[Any]) -> Node:
        return Contains(str(parts[0]), "all", parts[1])

    def values(self, parts: list[Any]) -> Operand:
        if len(parts) == 1 and isinstance(parts[0], Token):  # `in :name`
            return Variable(str(parts[0])[1:])
        return list(parts)

    def string(self, parts: list[Token]) -> str:
        # JSON string escapes, exactly as the spec defines them; json rejects anything else.
        decoded: str = json.loads(str(parts[0]))
        return decoded

    def number(self, parts: list[Token]) -> int | float:
        text = str(parts[0])
        return float(text) if any(c in text for c in ".eE") else int(text)

    def true(self, parts: list[Token]) -> bool:
        return True

    def false(self, parts: list[Token]) -> bool:
        return False

    def variable(self, parts: list[Token]) -> Variable:
        return Variable(str(parts[0])[1:])


_PARSER = Lark(_GRAMMAR, parser="lalr")


class PredicateError(CtError):
    """An unparsable or invalid predicate: 400 ``InvalidInput``, as the API answers."""

    def __init__(self, predicate: str, problem: str) -> None:
        super().__init__(400, "InvalidInput", f"Malformed parameter: where: {problem} (in predicate {predicate!r})")


def parse(predicate: str) -> Node:
    try:
        tree = _PARSER.parse(predicate)
        node: Node = _ToTree().transform(tree)
    except VisitError as exc:  # a string literal with an invalid escape
        raise PredicateError(predicate, f"invalid string literal: {exc.orig_exc}") from exc
    except LarkError as exc:
        raise PredicateError(predicate, f"syntax error: {_short(exc)}") from exc
    return node


def _short(exc: LarkError) -> str:
    return str(exc).strip().splitlines()[0]


# -- schema check and variable binding -------------------------------------------------------------------------

Leaf = Literal["string", "number", "boolean", "any"]


@dataclass(frozen=True)
class Schema:
    """The queryable fields of a resource (or of a nested object). Arrays are transparent: an array of addresses
    has the address schema. ``"any"`` fields accept any nesting (custom field values); ``open`` schemas accept
    any field name (the custom field container)."""

    fields: Mapping[str, Leaf | Schema] = field(default_factory=dict)
    open: bool = False

    def lookup(self, name: str) -> Leaf | Schema | None:
        if name in self.fields:
            return self.fields[name]
        return "any" if self.open else None

    def sortable(self, path: Sequence[str]) -> bool:
        current: Leaf | Schema | None = self
        for part in path:
            if not isinstance(current, Schema):
                return current == "any"
            current = current.lookup(part)
        return current is not None and not isinstance(current, Schema)


ANY_SCHEMA = Schema(open=True)


def prepare(node: Node, schema: Schema, variables: Mapping[str, Sequence[str]], predicate: str) -> Node:
    """Bind variables, check field names, convert variable values to the field's type."""

    def fail(problem: str) -> PredicateError:
        return PredicateError(predicate, problem)

    def resolve(name: str, scope: Schema) -> Leaf | Schema:
        found = scope.lookup(name)
        if found is None:
            raise fail(f"the field '{name}' does not exist")
        return found

    def leaf(name: str, scope: Schema) -> Leaf:
        found = resolve(name, scope)
        if isinstance(found, Schema):
            raise fail(f"the field '{name}' is an object; compare its fields with {name}(...)")
        return found

    def convert(raw: str, kind: Leaf) -> Scalar:
        if kind == "number":
            try:
                number = float(raw)
            except ValueError:
                raise fail(f"input variable value {raw!r} is not a number") from None
            return int(number) if number.is_integer() and "." not in raw else number
        if kind == "boolean":
            if raw.lower() not in ("true", "false"):
                raise fail(f"input variable value {raw!r} is not a boolean")
            return raw.lower() == "true"
        return raw

    def values_of(name: str) -> Sequence[str]:
        if name not in variables:
            raise fail(f"no value for the input variable ':{name}' (pass it as var.{name})")
        return variables[name]

    def scalar(operand: Operand, kind: Leaf) -> Scalar:
        if isinstance(operand, Variable):
            given = values_of(operand.name)
            if len(given) != 1:
                raise fail(f"the input variable ':{operand.name}' has {len(given)} values where one is expected")
            return convert(given[0], kind)
        if isinstance(operand, list):
            raise fail("a list is not allowed here")
        return operand

    def many(operand: Operand, kind: Leaf) -> list[Scalar]:
        if isinstance(operand, Variable):
            return [convert(v, kind) for v in values_of(operand.name)]
        if isinstance(operand, list):
            return [scalar(item, kind) for item in operand]
        return [operand]

    def walk(current: Node, scope: Schema) -> Node:
        if isinstance(current, And | Or):
            return replace(current, parts=tuple(walk(p, scope) for p in current.parts))
        if isinstance(current, Not):
            return Not(walk(current.inner, scope))
        if isinstance(current, Nested):
            inner_scope = resolve(current.field, scope)
            if inner_scope == "any":
                inner_scope = ANY_SCHEMA
            if not isinstance(inner_scope, Schema):
                raise fail(f"the field '{current.field}' is not an object")
            return Nested(current.field, walk(current.inner, inner_scope))
        if isinstance(current, Compare):
            return replace(current, value=scalar(current.value, leaf(current.field, scope)))
        if isinstance(current, In | Contains):
            return replace(current, values=many(current.values, leaf(current.field, scope)))
        resolve(current.field, scope)  # Defined / Empty work on objects and arrays too
        return current

    return walk(node, schema)


def conjunction(nodes: Iterable[Node]) -> Node | None:
    """Several ``where`` parameters are ANDed."""
    parts = tuple(nodes)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else And(parts)


# -- evaluation ------------------------------------------------------------------------------------------------

MISSING: Any = object()
Getter = Callable[[Any], Any]
Test = Callable[[Any], bool]


def _kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def _scalar_test(op: str, wanted: Scalar) -> Test:
    """A test of one (non-array) field value against a literal; values of another kind never match."""
    kind = _kind(wanted)
    if op == "=":
        return lambda v: _kind(v) == kind and v == wanted
    if kind == "boolean":  # booleans have no order
        return lambda v: False
    comparisons: dict[str, Test] = {
        ">": lambda v: v > wanted,
        ">=": lambda v: v >= wanted,
        "<": lambda v: v < wanted,
        "<=": lambda v: v <= wanted,
    }
    ordered = comparisons[op]
    return lambda v: _kind(v) == kind and ordered(v)


def _any_element(test: Test) -> Test:
    def check(value: Any) -> bool:
        if isinstance(value, list):
            return any(test(item) for item in value)
        return value is not MISSING and value is not None and test(value)

    return check


def _getter(name: str, virtual: Mapping[str, Getter]) -> Getter:
    if name in virtual:
        return virtual[name]
    return lambda ctx: ctx.get(name, MISSING) if isinstance(ctx, dict) else MISSING


def compile_predicate(node: Node, virtual: Mapping[str, Getter] | None = None) -> Test:
    """One closure for a prepared predicate; ``virtual`` adds computed top-level fields (``lowerCaseEmail``)."""
    return _compile(node, virtual or {})


def _compile(node: Node, virtual: Mapping[str, Getter]) -> Test:
    if isinstance(node, And):
        tests = [_compile(p, virtual) for p in node.parts]
        return lambda ctx: all(t(ctx) for t in tests)
    if isinstance(node, Or):
        tests = [_compile(p, virtual) for p in node.parts]
        return lambda ctx: any(t(ctx) for t in tests)
    if isinstance(node, Not):
        inner = _compile(node.inner, virtual)
        return lambda ctx: not inner(ctx)
    get = _getter(node.field, virtual)
    if isinstance(node, Nested):
        inner_test = _any_element(_compile(node.inner, {}))
        return lambda ctx: inner_test(get(ctx))
    if isinstance(node, Compare):
        if node.op == "!=":
            return _compile(Not(Compare(node.field, "=", node.value)), virtual)
        test = _any_element(_scalar_test(node.op, node.value))  # type: ignore[arg-type]
        return lambda ctx: test(get(ctx))
    if isinstance(node, In):
        wanted = node.values if isinstance(node.values, list) else [node.values]
        if all(isinstance(w, str) for w in wanted):  # `sku in (<a page of SKUs>)`: one set lookup, not one per value
            strings = frozenset(wanted)
            member = _any_element(lambda v: isinstance(v, str) and v in strings)
        else:
            member = _any_element(lambda v: any(_kind(v) == _kind(w) and v == w for w in wanted))
        return lambda ctx: member(get(ctx))
    if isinstance(node, Contains):
        wanted = node.values if isinstance(node.values, list) else [node.values]
        combine = any if node.mode == "any" else all

        def contains(ctx: Any) -> bool:
            value = get(ctx)
            if value is MISSING or value is None:
                return False
            items = value if isinstance(value, list) else [value]
            return combine(any(_kind(i) == _kind(w) and i == w for i in items) for w in wanted)

        return contains
    if isinstance(node, Defined):
        return lambda ctx: get(ctx) not in (MISSING, None)
    return lambda ctx: get(ctx) in (MISSING, None, [], {})  # Empty; an undefined array counts as empty


# -- index bounds ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bounds:
    """The values of one string field that can match: a range, or an exact set of ``points``."""

    low: str | None = None
    low_inclusive: bool = True
    high: str | None = None
    high_inclusive: bool = True
    points: frozenset[str] | None = None

    @staticmethod
    def of_points(points: Iterable[str]) -> Bounds:
        values = frozenset(points)
        return Bounds(min(values, default=""), True, max(values, default=""), True, values)

    def admits(self, value: str) -> bool:
        if self.low is not None and (value < self.low or (value == self.low and not self.low_inclusive)):
            return False
        if self.high is not None and (value > self.high or (value == self.high and not self.high_inclusive)):
            return False
        return self.points is None or value in self.points

    def intersect(self, other: Bounds) -> Bounds:
        if self.points is not None or other.points is not None:
            candidates = self.points if self.points is not None else other.points
            assert candidates is not None
            return Bounds.of_points(p for p in candidates if self.admits(p) and other.admits(p))
        low, low_inc = self.low, self.low_inclusive
        if other.low is not None and (low is None or other.low > low or (other.low == low and not other.low_inclusive)):
            low, low_inc = other.low, other.low_inclusive
        high, high_inc = self.high, self.high_inclusive
        if other.high is not None and (
            high is None or other.high < high or (other.high == high and not other.high_inclusive)
        ):
            high, high_inc = other.high, other.high_inclusive
        return Bounds(low, low_inc, high, high_inc)

    def hull(self, other: Bounds) -> Bounds:
        if self.points is not None and other.points is not None:
            return Bounds.of_points(self.points | other.points)
        low, low_inc = self.low, self.low_inclusive
        if low is not None and (other.low is None or other.low < low or (other.low == low and other.low_inclusive)):
            low, low_inc = other.low, other.low_inclusive
        high, high_inc = self.high, self.high_inclusive
        if high is not None and (
            other.high is None or other.high > high or (other.high == high and other.high_inclusive)
        ):
            high, high_inc = other.high, other.high_inclusive
        return Bounds(low, low_inc, high, high_inc)


def index_bounds(node: Node, name: str) -> Bounds | None:
    """Where matches of ``node`` can lie on the top-level string field ``name``; None when unconstrained."""
    if isinstance(node, Compare) and node.field == name and isinstance(node.value, str):
        value = node.value
        by_op = {
            "=": Bounds.of_points([value]),
            ">": Bounds(low=value, low_inclusive=False),
            ">=": Bounds(low=value),
            "<": Bounds(high=value, high_inclusive=False),
            "<=": Bounds(high=value),
        }
        return by_op.get(node.op)
    if isinstance(node, In) and node.field == name and isinstance(node.values, list):
        if all(isinstance(v, str) for v in node.values):
            return Bounds.of_points(str(v) for v in node.values)
        return None
    if isinstance(node, And):
        found = [b for b in (index_bounds(p, name) for p in node.parts) if b is not None]
        if not found:
            return None
        result = found[0]
        for other in found[1:]:
            result = result.intersect(other)
        return result
    if isinstance(node, Or):
        hull: Bounds | None = None
        for part in node.parts:
            branch = index_bounds(part, name)
            if branch is None:  # one unconstrained branch leaves the whole disjunction unconstrained
                return None
            hull = branch if hull is None else hull.hull(branch)
        return hull
    return None


def path_points(node: Node, path: Sequence[str]) -> frozenset[str] | None:
    """The string values the field at ``path`` (nested: ``("paymentInfo", "payments", "id")``) must have for ``node``
    to match, or None when ``node`` does not pin them down. A superset filter: the planner reads the resources
    holding these values from a lookup index, and the predicate still checks each of them."""
    if isinstance(node, And):
        found = [points for points in (path_points(part, path) for part in node.parts) if points is not None]
        return frozenset.intersection(*found) if found else None
    if isinstance(node, Or):
        branches = [path_points(part, path) for part in node.parts]
        if any(branch is None for branch in branches):
            return None
        return frozenset().union(*(branch for branch in branches if branch is not None))
    if isinstance(node, Not) or node.field != path[0]:
        return None
    if len(path) > 1:
        return path_points(node.inner, path[1:]) if isinstance(node, Nested) else None
    if isinstance(node, Compare) and node.op == "=" and isinstance(node.value, str):
        return frozenset((node.value,))
    if isinstance(node, In) and isinstance(node.values, list) and all(isinstance(v, str) for v in node.values):
        return frozenset(str(v) for v in node.values)
    return None
