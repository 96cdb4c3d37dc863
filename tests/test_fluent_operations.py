"""Every GraphQL document the project sends validates against the real Fluent schema (../shared/fluent-schema)."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate

from ctfluent_dagster.fluent.operations import OPERATIONS_DIR, all_operations, operation


@pytest.fixture(scope="module")
def fluent_schema(shared_dir: Path) -> GraphQLSchema:
    return build_schema((shared_dir / "fluent-schema" / "fluent-schema-2023-01.graphql").read_text())


def test_operations_are_found() -> None:
    names = set(all_operations())
    assert names >= {"CreateCustomer", "UpdateCustomer", "CustomerByRef", "RetailerById"}
    assert names == {path.stem for path in OPERATIONS_DIR.glob("*.graphql")}


@pytest.mark.parametrize("name", sorted(all_operations()))
def test_operation_validates_against_the_real_schema(name: str, fluent_schema: GraphQLSchema) -> None:
    assert validate(fluent_schema, parse(operation(name).document)) == []


def test_the_check_catches_a_field_fluent_does_not_have(fluent_schema: GraphQLSchema) -> None:
    broken = operation("CreateCustomer").with_root_selection(["id", "ref", "loyaltyPoints"])
    errors = validate(fluent_schema, parse(broken.document))
    assert [e.message for e in errors] == ["Cannot query field 'loyaltyPoints' on type 'Customer'."]


def test_reselected_fields_keep_the_operation(fluent_schema: GraphQLSchema) -> None:
    changed = operation("CreateCustomer").with_root_selection(["id", "ref", "status", "retailer { id }"])
    assert changed.name == "CreateCustomer" and changed.is_mutation and changed.retry_safe
    assert changed.root_selection() == ["id", "ref", "status", "retailer {\n  id\n}"]
    assert validate(fluent_schema, parse(changed.document)) == []
