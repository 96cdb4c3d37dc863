"""The GraphQL documents the project sends to Fluent: one named operation per ``.graphql`` file.

Each entity keeps its documents in its own ``operations/`` folder (the core keeps the few it needs itself in
``fluent/operations/``); :class:`OperationSet` loads one folder. Every file is validated against the real Fluent
schema by a test. A document changed at run time (an extension hook altering the selected fields) is validated
again before it is sent, by :class:`FluentClient`.

Whether a mutation may be sent again after a lost answer is declared in its file, by a comment line
``# retry-safe: <why>`` (e.g. keyed by a unique ref, so a replayed create fails as "already exists" and an update
sets the same values again). Queries are always safe to retry; other mutations never are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
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

CORE_OPERATIONS_DIR = Path(__file__).with_name("operations")
_RETRY_SAFE = re.compile(r"^#\s*retry-safe:\s*\S", re.MULTILINE)


@dataclass(frozen=True)
class Operation:
    name: str
    document: str
    is_mutation: bool
    root_field: str
    keyed: bool = False  # declared retry-safe in its file; a batch of a keyed mutation is keyed too

    @property
    def retry_safe(self) -> bool:
        return not self.is_mutation or self.keyed

    def _definition(self) -> OperationDefinitionNode:
        definition = parse(self.document).definitions[0]
        assert isinstance(definition, OperationDefinitionNode)
        return definition

    def root_selection(self) -> list[str]:
        """The fields selected under the root field, e.g. ``["id", "ref", "username"]``."""
        root = self._definition().selection_set.selections[0]
        assert isinstance(root, FieldNode) and root.selection_set is not None
        return [print_ast(selection) for selection in root.selection_set.selections]

    def batched(self, count: int, alias: str = "item", suffix: str = "") -> Operation:
        """The root field ``count`` times under aliases ``item0..`` (``<alias>0..``), with variables suffixed ``0..``
        (``<suffix>0..``).

        Fluent's documented alias batching: one request, several mutations, and "partial mutations are not
        permitted", so the caller must treat a failed batch as nothing applied and retry item by item.
        """
        definition = self._definition()
        root = definition.selection_set.selections[0]
        assert isinstance(root, FieldNode)
        variables: list[VariableDefinitionNode] = []
        fields: list[FieldNode] = []
        for index in range(count):
            renamer = _SuffixVariables(f"{suffix}{index}")
            variables += [visit(v, renamer) for v in definition.variable_definitions or ()]
            aliased = visit(root, renamer)
            aliased.alias = NameNode(value=f"{alias}{index}")
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

    def then(self, other: Operation) -> Operation:
        """This operation's fields, then ``other``'s, in one request: a mutation's root fields run one after the
        other, and Fluent permits no partial mutation, so all of them apply or none. Variable names must differ."""
        first, second = self._definition(), other._definition()
        if first.operation != second.operation:
            raise ValueError(f"{self.name} and {other.name} are not of one kind (query, mutation)")
        name = f"{self.name}Then{other.name}"
        joined = OperationDefinitionNode(
            operation=first.operation,
            name=NameNode(value=name),
            variable_definitions=(*(first.variable_definitions or ()), *(second.variable_definitions or ())),
            directives=(),
            selection_set=type(first.selection_set)(
                selections=(*first.selection_set.selections, *second.selection_set.selections)
            ),
        )
        return replace(self, name=name, document=print_ast(joined), keyed=self.retry_safe and other.retry_safe)

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
        keyed=bool(_RETRY_SAFE.search(document)),
    )


class OperationSet:
    """The operations of one folder, by name (loaded once)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @cached_property
    def by_name(self) -> dict[str, Operation]:
        return {path.stem: _load(path) for path in sorted(self.directory.glob("*.graphql"))}

    def __getitem__(self, name: str) -> Operation:
        try:
            return self.by_name[name]
        except KeyError:
            raise KeyError(f"no operation {name!r} in {self.directory}") from None


CORE_OPERATIONS = OperationSet(CORE_OPERATIONS_DIR)
