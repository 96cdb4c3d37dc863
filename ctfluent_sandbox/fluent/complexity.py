"""The emulator's measure of query complexity (Fluent rejects documents above 11,111 with C0001E).

Fluent's weights are server-side and unpublished ("Total Complexity equals the number of queries to be
executed"), so the emulator counts: every selected field counts 1, and a field nested inside a connection counts
once per item of the requested page (``first``/``last``, else the default page size 10), multiplied through
nested connections. ``customers(first: 2000) { edges { node { id ref } } }`` is 1 + 2000 * 4 = 8001;
``first: 3000`` gives 12,001 and is rejected. Aliased mutations add up: ``createCustomer { id ref username }``
is 4 per alias.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInt,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    NamedTypeNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    value_from_ast,
)
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef, TypeNameMetaFieldDef

_META_FIELDS: dict[str, GraphQLField] = {
    "__schema": SchemaMetaFieldDef,
    "__type": TypeMetaFieldDef,
    "__typename": TypeNameMetaFieldDef,
}


def is_connection(named_type: GraphQLNamedType) -> bool:
    """Fluent's connections are the object types with ``edges`` and ``pageInfo``."""
    return isinstance(named_type, GraphQLObjectType) and {"edges", "pageInfo"} <= named_type.fields.keys()


class ComplexityMeter:
    """Measures one operation; ``uses_variables`` tells the caller whether the score may be cached."""

    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        default_page_size: int,
    ) -> None:
        self.schema = schema
        self.operation = operation
        self.fragments = fragments
        self.variables = variables
        self.default_page_size = default_page_size
        self.uses_variables = False

    def measure(self) -> int:
        root = self.schema.get_root_type(self.operation.operation)
        return 0 if root is None else self._selection_set(self.operation.selection_set, root, 1)

    def _selection_set(self, selection_set: SelectionSetNode, parent: GraphQLNamedType, weight: int) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += weight
                if selection.selection_set is None:
                    continue
                field = _META_FIELDS.get(selection.name.value) or getattr(parent, "fields", {})[selection.name.value]
                child = get_named_type(field.type)
                child_weight = weight * self._page_size(selection) if is_connection(child) else weight
                total += self._selection_set(selection.selection_set, child, child_weight)
            elif isinstance(selection, InlineFragmentNode):
                total += self._fragment(selection.type_condition, selection.selection_set, parent, weight)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments[selection.name.value]
                total += self._fragment(fragment.type_condition, fragment.selection_set, parent, weight)
        return total

    def _fragment(
        self, condition: NamedTypeNode | None, selection_set: SelectionSetNode, parent: GraphQLNamedType, weight: int
    ) -> int:
        target = self.schema.get_type(condition.name.value) if condition else None
        return self._selection_set(selection_set, target or parent, weight)

    def _page_size(self, node: FieldNode) -> int:
        sizes = {argument.name.value: argument.value for argument in node.arguments or ()}
        value_node = sizes.get("first") or sizes.get("last")
        if value_node is None:
            return self.default_page_size
        if isinstance(value_node, VariableNode):
            self.uses_variables = True
            name = value_node.name.value
            value = self.variables.get(name, self._variable_default(name))
        else:
            value = value_from_ast(value_node, GraphQLInt)
        return value if isinstance(value, int) and value >= 0 else self.default_page_size

    def _variable_default(self, name: str) -> Any:
        for definition in self.operation.variable_definitions or ():
            if definition.variable.name.value == name and definition.default_value is not None:
                return value_from_ast(definition.default_value, GraphQLInt)
        return None
