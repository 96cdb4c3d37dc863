"""GraphQL execution for the Fluent emulator, independent of any one entity.

An entity (customers, the product catalogue; orders ... later) brings SDL in ``schema.graphql``, max lengths in
``limits.py``, a :class:`~ctfluent_sandbox.fluent.store.TableSpec` and resolvers on a :class:`ResolverRegistry`.
This module binds the resolvers onto graphql-core's ``build_schema`` result and runs requests:

- documents are parsed and validated once per query text (clients resend the same few documents);
- string lengths and Fluent's required ``input`` are checked from the schema and the limits table;
- an operation above the complexity ceiling is refused with C0001E before anything runs;
- a mutation request is all-or-nothing: if any field fails, every change of the request is undone and every
  mutation field answers ``null``;
- errors carry Fluent codes, placed per the :data:`~ctfluent_sandbox.fluent.errors.ErrorPlacement` setting.

Execution is synchronous (all resolvers are plain functions), so a request never yields to the event loop halfway
and concurrent requests cannot interleave.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableDefinitionNode,
    build_schema,
    execute_sync,
    parse,
    validate,
    value_from_ast_untyped,
)

from ctfluent_sandbox.clock import iso_ms
from ctfluent_sandbox.fluent.complexity import ComplexityMeter
from ctfluent_sandbox.fluent.errors import (
    COMPLEXITY_TOO_HIGH,
    FIELD_LENGTH_EXCEEDED,
    INVALID_DATE,
    MISSING_VARIABLES,
    SERVER_ERROR,
    ErrorPlacement,
    FluentError,
    error_entry,
)
from ctfluent_sandbox.fluent.store import EntityStore

logger = logging.getLogger(__name__)

Resolver = Callable[..., Any]
_R = TypeVar("_R", bound=Resolver)


@dataclass
class RequestContext:
    """What resolvers get as ``info.context``."""

    store: EntityStore
    now: datetime  # one timestamp per request: every write of the request gets the same createdOn/updatedOn


def request_context(info: GraphQLResolveInfo) -> RequestContext:
    return cast(RequestContext, info.context)


class ResolverRegistry:
    """Resolvers by ``(type, field)``; bound onto the schema by name, so a typo fails at start-up."""

    def __init__(self) -> None:
        self.resolvers: dict[tuple[str, str], Resolver] = {}

    def field(self, type_name: str, field_name: str) -> Callable[[_R], _R]:
        def register(resolver: _R) -> _R:
            if (type_name, field_name) in self.resolvers:
                raise ValueError(f"{type_name}.{field_name} already has a resolver")
            self.resolvers[type_name, field_name] = resolver
            return resolver

        return register

    def query(self, field_name: str) -> Callable[[_R], _R]:
        return self.field("Query", field_name)

    def mutation(self, field_name: str) -> Callable[[_R], _R]:
        return self.field("Mutation", field_name)

    @classmethod
    def combine(cls, registries: Iterable[ResolverRegistry]) -> ResolverRegistry:
        combined = cls()
        for registry in registries:
            for (type_name, field_name), resolver in registry.resolvers.items():
                combined.field(type_name, field_name)(resolver)
        return combined


class InputValidator:
    """What Fluent checks beyond GraphQL typing: max string lengths in input objects, and that a mutation's
    ``input`` is given (every Fluent mutation types it nullable, but none works without it)."""

    def __init__(self, max_lengths: Mapping[tuple[str, str], int], default_max_length: int) -> None:
        self.max_lengths = max_lengths
        self.default_max_length = default_max_length

    def guard(self, type_name: str, field_def: GraphQLField, resolver: Resolver) -> Resolver:
        if not field_def.args:
            return resolver
        requires_input = type_name == "Mutation" and "input" in field_def.args

        def guarded(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
            if requires_input and args.get("input") is None:
                raise FluentError(MISSING_VARIABLES, f"Missing input for '{info.field_name}'")
            for name, value in args.items():
                self._check(value, field_def.args[name].type, name, None)
            return resolver(source, info, **args)

        return guarded

    def _check(self, value: Any, type_: GraphQLInputType, path: str, max_length: int | None) -> None:
        if value is None:
            return
        if isinstance(type_, GraphQLNonNull):
            type_ = type_.of_type
        if isinstance(type_, GraphQLList):
            for position, item in enumerate(value):
                self._check(item, type_.of_type, f"{path}[{position}]", max_length)
        elif isinstance(type_, GraphQLInputObjectType):
            for name, item in value.items():
                limit = self.max_lengths.get((type_.name, name), self.default_max_length)
                self._check(item, type_.fields[name].type, f"{path}.{name}", limit)
        # Only String is length-limited (not ID), and only inside input objects (not search arguments).
        elif max_length is not None and getattr(type_, "name", None) == "String" and len(value) > max_length:
            raise FluentError(
                FIELD_LENGTH_EXCEEDED,
                f"Field '{path}' exceeds the maximum length of {max_length} characters (got {len(value)})",
            )


def _serialize_datetime(value: Any) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"DateTime cannot represent {value!r}")
    return iso_ms(value)


def _parse_datetime(value: Any) -> datetime:
    """ISO-8601; a value without zone is UTC (as on Fluent)."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise FluentError(INVALID_DATE, f"Invalid date {value!r}: expected an ISO-8601 date-time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _bind_scalars(schema: GraphQLSchema) -> None:
    date_time = schema.type_map["DateTime"]
    assert isinstance(date_time, GraphQLScalarType)
    # An SDL-built scalar passes values through unchanged; DateTime gets its conversions on the built type.
    date_time.serialize = _serialize_datetime  # type: ignore[method-assign]
    date_time.parse_value = _parse_datetime  # type: ignore[method-assign]
    # Json keeps graphql-core's defaults: values pass through, literals become plain Python values.


@dataclass
class PreparedDocument:
    """A parsed and validated document (``errors`` non-empty when it is not executable)."""

    document: DocumentNode | None
    errors: list[GraphQLError]
    fragments: dict[str, FragmentDefinitionNode] = field(default_factory=dict)
    # Complexity per operation name, for operations whose score does not depend on variables.
    complexity: dict[str | None, int] = field(default_factory=dict)

    def operation(self, name: str | None) -> OperationDefinitionNode | None:
        """The operation to run, chosen as graphql-core chooses it (None where graphql-core reports an error)."""
        if self.document is None:
            return None
        operations = [d for d in self.document.definitions if isinstance(d, OperationDefinitionNode)]
        if name is None:
            return operations[0] if len(operations) == 1 else None
        return next((op for op in operations if op.name and op.name.value == name), None)


class _DocumentCache:
    """LRU of prepared documents by query text, bounded by the total length of the cached texts: a batch of
    aliased mutations can be 2 MB, and its syntax tree many times that."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self._chars = 0
        self._entries: OrderedDict[str, PreparedDocument] = OrderedDict()

    def get(self, query: str, prepare: Callable[[str], PreparedDocument]) -> PreparedDocument:
        prepared = self._entries.get(query)
        if prepared is not None:
            self._entries.move_to_end(query)
            return prepared
        prepared = prepare(query)
        if len(query) <= self.max_chars:
            self._entries[query] = prepared
            self._chars += len(query)
            while self._chars > self.max_chars:
                evicted, _ = self._entries.popitem(last=False)
                self._chars -= len(evicted)
        return prepared


class GraphQLEngine:
    """The emulator's GraphQL API: the schema with resolvers bound, and :meth:`run` for one request."""

    def __init__(
        self,
        sdl: str,
        resolvers: ResolverRegistry,
        validator: InputValidator,
        *,
        max_complexity: int,
        default_page_size: int,
        cache_chars: int = 4 * 1024 * 1024,
    ) -> None:
        self.schema = build_schema(sdl)
        self.max_complexity = max_complexity
        self.default_page_size = default_page_size
        self._cache = _DocumentCache(cache_chars)
        _bind_scalars(self.schema)
        for (type_name, field_name), resolver in resolvers.resolvers.items():
            owner = self.schema.get_type(type_name)
            if not isinstance(owner, GraphQLObjectType) or field_name not in owner.fields:
                raise ValueError(f"resolver for {type_name}.{field_name}, which the schema does not have")
            field_def = owner.fields[field_name]
            field_def.resolve = validator.guard(type_name, field_def, resolver)

    def prepare(self, query: str) -> PreparedDocument:
        return self._cache.get(query, self._prepare)

    def _prepare(self, query: str) -> PreparedDocument:
        try:
            document = parse(query)
        except GraphQLError as error:
            return PreparedDocument(None, [error])
        errors = validate(self.schema, document)
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        return PreparedDocument(document, errors, fragments)

    def targets(self, query: str, operation_name: str | None) -> list[str]:
        """The operation name and root field names, for fault matching and request counting."""
        prepared = self.prepare(query)
        operation = prepared.operation(operation_name)
        if operation is None:
            return []
        names = [operation.name.value] if operation.name else []
        fields = [node.name.value for node in _root_fields(operation.selection_set, prepared.fragments)]
        return list(dict.fromkeys([*names, *fields]))

    def record_keys(self, query: str, operation_name: str | None, variables: Mapping[str, Any] | None) -> list[str]:
        """The records a mutation request writes, by the ``username`` or ``ref`` of each root field's ``input``
        (for fault rules that pick records). A query writes none."""
        prepared = self.prepare(query)
        operation = prepared.operation(operation_name)
        if operation is None or operation.operation is not OperationType.MUTATION:
            return []
        keys: list[str] = []
        for node in _root_fields(operation.selection_set, prepared.fragments):
            for argument in node.arguments:
                if argument.name.value != "input":
                    continue
                value = value_from_ast_untyped(argument.value, dict(variables or {}))
                key = (value.get("username") or value.get("ref")) if isinstance(value, dict) else None
                if isinstance(key, str):
                    keys.append(key)
        return keys

    def run(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        context: RequestContext,
        placement: ErrorPlacement,
    ) -> dict[str, Any]:
        """Execute one request; returns the response body (``data`` and/or ``errors``)."""
        prepared = self.prepare(query)
        if prepared.document is None or prepared.errors:
            return {"errors": [self._entry(error, _own_code(error), placement) for error in prepared.errors]}
        operation = prepared.operation(operation_name)
        if operation is not None:
            complexity = self._complexity(prepared, operation, variables or {})
            if complexity > self.max_complexity:
                message = f"Query complexity {complexity} exceeds the maximum of {self.max_complexity}"
                return {"data": None, "errors": [error_entry(message, COMPLEXITY_TOO_HIGH, placement)]}
        if operation is not None and operation.operation is OperationType.MUTATION:
            with context.store.transaction() as transaction:
                data, errors = self._execute(prepared.document, variables, operation_name, context, placement)
                if errors and data is not None:
                    transaction.rollback()
                    data = dict.fromkeys(data)
        else:
            data, errors = self._execute(prepared.document, variables, operation_name, context, placement)
        return {"data": data, "errors": errors} if errors else {"data": data}

    def _execute(
        self,
        document: DocumentNode,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        context: RequestContext,
        placement: ErrorPlacement,
    ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        result = execute_sync(
            self.schema, document, context_value=context, variable_values=variables, operation_name=operation_name
        )
        # Fluent's root fields are all nullable, so data is None only when execution never started
        # (variables could not be coerced, or no operation could be chosen).
        coercion = result.data is None
        errors = [self._entry(error, _code(error, coercion), placement) for error in result.errors or ()]
        return result.data, errors

    def _complexity(
        self, prepared: PreparedDocument, operation: OperationDefinitionNode, variables: Mapping[str, Any]
    ) -> int:
        key = operation.name.value if operation.name else None
        cached = prepared.complexity.get(key)
        if cached is not None:
            return cached
        meter = ComplexityMeter(self.schema, operation, prepared.fragments, variables, self.default_page_size)
        complexity = meter.measure()
        if not meter.uses_variables:
            prepared.complexity[key] = complexity
        return complexity

    @staticmethod
    def _entry(error: GraphQLError, code: str | None, placement: ErrorPlacement) -> dict[str, Any]:
        formatted = error.formatted
        return error_entry(
            error.message, code, placement, locations=formatted.get("locations"), path=formatted.get("path")
        )


def _root_fields(selection_set: SelectionSetNode, fragments: Mapping[str, FragmentDefinitionNode]) -> list[FieldNode]:
    nodes: list[FieldNode] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            nodes.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            nodes.extend(_root_fields(selection.selection_set, fragments))
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            nodes.extend(_root_fields(fragments[selection.name.value].selection_set, fragments))
    return nodes


def _own_code(error: GraphQLError) -> str | None:
    """The code a resolver or scalar attached (e.g. C0100E for a bad DateTime literal)."""
    original = error.original_error
    while isinstance(original, GraphQLError):  # variable coercion wraps the scalar's error once more
        original = original.original_error
    return original.code if isinstance(original, FluentError) else None


def _code(error: GraphQLError, coercion: bool) -> str | None:
    code = _own_code(error)
    if code is not None:
        return code
    if coercion:
        # Bad or missing variables (e.g. a required input field not given): Fluent's "missing variables".
        on_variable = any(isinstance(node, VariableDefinitionNode) for node in error.nodes or ())
        return MISSING_VARIABLES if on_variable else None
    if error.original_error is not None:
        logger.error("resolver failed", exc_info=error.original_error)
        return SERVER_ERROR
    return None
