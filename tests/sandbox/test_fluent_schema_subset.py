"""The emulator's SDL is a faithful subset of the real Fluent schema, and its length table restates the real
"Max character limit" descriptions (and the one limit stated on an output field instead)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
    get_named_type,
    is_introspection_type,
    is_specified_scalar_type,
    parse,
    validate,
)

from ctfluent_sandbox.fluent.emulator import SCHEMA_SDL, FluentEmulator
from ctfluent_sandbox.fluent.limits import MAX_LENGTHS
from tests.sandbox.fluent_fixtures import real_schema_fixture  # noqa: F401 (fixture)

LIMIT = re.compile(r"Max character limit:\s*(\d+)")
# The input types whose field limits are stated on the same field of the output type they set, where the input
# field's description has none (FulfilmentChoice.deliveryInstruction: "... (250 character limit)").
LIMIT_ON_OUTPUT = {"CreateFulfilmentChoiceWithOrderInput": "FulfilmentChoice"}
OUTPUT_LIMIT = re.compile(r"\((\d+) character limit\)")
PRODUCT_OPERATIONS = sorted(
    (Path(__file__).parents[2] / "ctfluent_dagster" / "fluent" / "operations").glob("*.graphql")
)


@pytest.fixture(scope="module")
def subset() -> GraphQLSchema:
    return build_schema(SCHEMA_SDL)


def own_types(schema: GraphQLSchema) -> list[GraphQLNamedType]:
    return [
        named
        for named in schema.type_map.values()
        if not is_introspection_type(named) and not is_specified_scalar_type(named)
    ]


def mismatches(subset: GraphQLSchema, real: GraphQLSchema) -> list[str]:
    """Everything in the subset that the real schema lacks or types differently."""
    problems: list[str] = []
    for mine in own_types(subset):
        theirs = real.type_map.get(mine.name)
        if theirs is None or type(theirs) is not type(mine):
            problems.append(f"type {mine.name}: missing or of another kind in the real schema")
            continue
        if isinstance(mine, GraphQLObjectType | GraphQLInterfaceType):
            assert isinstance(theirs, GraphQLObjectType | GraphQLInterfaceType)
            real_interfaces = {interface.name for interface in theirs.interfaces}
            problems += [
                f"{mine.name} implements {interface.name}: not in the real schema"
                for interface in mine.interfaces
                if interface.name not in real_interfaces
            ]
            for name, field in mine.fields.items():
                real_field = theirs.fields.get(name)
                if real_field is None or str(real_field.type) != str(field.type):
                    problems.append(f"{mine.name}.{name}: {field.type} vs {real_field and real_field.type}")
                    continue
                for arg_name, arg in field.args.items():
                    real_arg = real_field.args.get(arg_name)
                    if real_arg is None or str(real_arg.type) != str(arg.type):
                        problems.append(f"{mine.name}.{name}({arg_name}): {arg.type} vs {real_arg and real_arg.type}")
                    elif real_arg.default_value != arg.default_value:
                        problems.append(f"{mine.name}.{name}({arg_name}): default differs")
        elif isinstance(mine, GraphQLInputObjectType):
            assert isinstance(theirs, GraphQLInputObjectType)
            for name, input_field in mine.fields.items():
                real_input = theirs.fields.get(name)
                if real_input is None or str(real_input.type) != str(input_field.type):
                    problems.append(f"{mine.name}.{name}: {input_field.type} vs {real_input and real_input.type}")
        elif isinstance(mine, GraphQLEnumType):
            assert isinstance(theirs, GraphQLEnumType)
            problems += [f"{mine.name}.{value}: no such value" for value in mine.values if value not in theirs.values]
        elif isinstance(mine, GraphQLUnionType):
            assert isinstance(theirs, GraphQLUnionType)
            real_members = {member.name for member in theirs.types}
            problems += [f"{mine.name} | {member.name}" for member in mine.types if member.name not in real_members]
    return problems


def test_every_type_field_and_argument_of_the_subset_is_real(subset: GraphQLSchema, real_schema: GraphQLSchema) -> None:
    assert mismatches(subset, real_schema) == []


def test_the_comparison_catches_an_invented_or_mistyped_field(real_schema: GraphQLSchema) -> None:
    wrong = build_schema(
        """
        type Query { customer(ref: String): Customer }
        type Customer { id: ID ref: String madeUp: Int }
        input RetailerId { id: String! }
        """
    )
    problems = mismatches(wrong, real_schema)
    assert "Query.customer(ref): String vs String!" in problems
    assert "Customer.id: ID vs ID!" in problems
    assert "Customer.madeUp: Int vs None" in problems
    assert "RetailerId.id: String! vs ID!" in problems


def test_the_subset_carries_no_descriptions(subset: GraphQLSchema) -> None:
    described = []
    for named in own_types(subset):
        if named.description:
            described.append(named.name)
        fields = getattr(named, "fields", {})
        described += [f"{named.name}.{name}" for name, field in fields.items() if field.description]
        for name, field in fields.items():
            described += [
                f"{named.name}.{name}({a})" for a, arg in getattr(field, "args", {}).items() if arg.description
            ]
    assert described == []


def test_the_length_table_restates_the_real_descriptions(subset: GraphQLSchema, real_schema: GraphQLSchema) -> None:
    """Every String field of the subset's input types: the table has exactly the real limit, or nothing (255)."""
    real_limits: dict[tuple[str, str], int] = {}
    for mine in own_types(subset):
        if not isinstance(mine, GraphQLInputObjectType):
            continue
        theirs = real_schema.type_map[mine.name]
        assert isinstance(theirs, GraphQLInputObjectType)
        output = real_schema.type_map.get(LIMIT_ON_OUTPUT.get(mine.name, ""))
        for name, input_field in mine.fields.items():
            match = LIMIT.search(theirs.fields[name].description or "")
            if match is None and isinstance(output, GraphQLObjectType):
                match = OUTPUT_LIMIT.search(output.fields[name].description or "")
            if get_named_type(input_field.type).name == "String" and match:
                real_limits[mine.name, name] = int(match.group(1))
    assert real_limits  # the real descriptions were found at all
    assert real_limits == MAX_LENGTHS


def test_every_root_field_of_the_subset_has_a_resolver() -> None:
    schema = FluentEmulator().engine.schema
    unresolved = [
        f"{root.name}.{name}"
        for root in (schema.query_type, schema.mutation_type)
        if root is not None
        for name, field in root.fields.items()
        if field.resolve is None
    ]
    assert unresolved == []


@pytest.mark.parametrize("path", PRODUCT_OPERATIONS, ids=[path.name for path in PRODUCT_OPERATIONS])
def test_the_product_documents_validate_against_the_emulator(subset: GraphQLSchema, path: Path) -> None:
    """A document the product sends that the emulator cannot run means the subset needs extending."""
    assert validate(subset, parse(path.read_text(encoding="utf-8"))) == []
