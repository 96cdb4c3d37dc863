"""The GraphQL documents the project sends to Fluent: one named operation per file in ``operations/``.

Every file is validated against the real Fluent schema by a test. A document changed at run time (an extension
hook altering the selected fields) is validated again before it is sent, by :class:`FluentClient`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from graphql import (
    FieldNode,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    parse,
    print_ast,
    visit,
)

OPERATIONS_DIR = Path(__file__).with_name("operations")

# Mutations keyed by a business key: replaying an applied create fails as "already exists" (which the sync
# resolves by lookup), and an update sets the same values again. Only these may be retried after a lost answer.
KEYED_MUTATIONS = frozenset({"CreateCustomer", "UpdateCustomer"})


@dataclass(frozen=True)
class Operation:
    name: str
    document: str
    is_mutation: bool
    root_field: str
    keyed: bool = False  # a batch of a keyed mutation is keyed too

    @property
    def retry_safe(self) -> bool:
        return not self.is_mutation or self.keyed or self.name in KEYED_MUTATIONS

    def _definition(self) -> OperationDefinitionNode:
        definition = parse(self.document).definitions[0]
        assert isinstance(definition, OperationDefinitionNode)
        return definition

    def root_selection(self) -> list[str]:
        """The fields selected under the root field, e.g. ``["id", "ref", "username"]``."""
        root = self._definition().selection_set.selections[0]
        assert isinstance(root, FieldNode) and root.selection_set is not None
        return [print_ast(selection) for selection in root.selection_set.selections]

    def batched(self, count: int) -> Operation:
        """The root field ``count`` times under aliases ``item0..``, with variables suffixed ``0..``.

        Fluent's documented alias batching: one request, several mutations, and "partial mutations are not
        permitted", so the caller must treat a failed batch as nothing applied and retry item by item.
        """
        definition = self._definition()
        root = definition.selection_set.selections[0]
        assert isinstance(root, FieldNode)
        variables: list[VariableDefinitionNode] = []
        fields: list[FieldNode] = []
        for index in range(count):
            renamer = _SuffixVariables(str(index))
            variables += [visit(v, renamer) for v in definition.variable_definitions or ()]
            aliased = visit(root, renamer)
            aliased.alias = NameNode(value=f"item{index}")
            fields.append(aliased)
        name = f"{self.name}Batch"
        batch = OperationDefinitionNode(
            operation=definition.operation,
            name=NameNode(value=name),
            variable_definitions=tuple(variables),
            directives=(),
            selection_set=type(definition.selection_set)(selections=tuple(fields)),
        )
        return replace(self, name=name, document=print_ast(batch), keyed=self.retry_safe)

    def with_root_selection(self, fields: Sequence[str]) -> Operation:
        """The same operation selecting ``fields`` (each a field, optionally with a sub-selection)."""
        selection = parse("{ " + " ".join(fields) + " }").definitions[0]
        assert isinstance(selection, OperationDefinitionNode)
        document = parse(self.document)
        definition = document.definitions[0]
        assert isinstance(definition, OperationDefinitionNode)
        root = definition.selection_set.selections[0]
        assert isinstance(root, FieldNode)
        root.selection_set = selection.selection_set
        return replace(self, document=print_ast(document))


class _SuffixVariables(Visitor):
    def __init__(self, suffix: str) -> None:
        super().__init__()
        self.suffix = suffix

    def enter_variable(self, node: VariableNode, *_: object) -> VariableNode:
        return VariableNode(name=NameNode(value=node.name.value + self.suffix))


def _load(path: Path) -> Operation:
    document = path.read_text(encoding="utf-8")
    definitions = parse(document).definitions
    if len(definitions) != 1 or not isinstance(definitions[0], OperationDefinitionNode):
        raise ValueError(f"{path.name}: expected exactly one operation")
    definition = definitions[0]
    if definition.name is None or definition.name.value != path.stem:
        raise ValueError(f"{path.name}: the operation must be named {path.stem}")
    root = definition.selection_set.selections
    if len(root) != 1 or not isinstance(root[0], FieldNode):
        raise ValueError(f"{path.name}: expected exactly one root field")
    return Operation(
        name=path.stem,
        document=document,
        is_mutation=definition.operation is OperationType.MUTATION,
        root_field=root[0].name.value,
    )


@cache
def all_operations() -> dict[str, Operation]:
    return {path.stem: _load(path) for path in sorted(OPERATIONS_DIR.glob("*.graphql"))}


def operation(name: str) -> Operation:
    return all_operations()[name]
