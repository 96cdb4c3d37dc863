"""Every GraphQL document the project sends validates against the real Fluent schema (../shared/fluent-schema).

The documents are found by globbing every ``operations/`` folder of the package (the core's and each entity's), so
a new entity's operations are covered without touching this file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate

import ctfluent_dagster
from ctfluent_dagster.entities.customers.sync import OPERATIONS as CUSTOMER_OPERATIONS
from ctfluent_dagster.entities.shared import ACTIVATION, created_then_activated
from ctfluent_dagster.fluent.operations import CORE_OPERATIONS, Operation, OperationSet

PACKAGE = Path(ctfluent_dagster.__file__).resolve().parent
DOCUMENTS = sorted(PACKAGE.glob("**/operations/*.graphql"))


def _id(path: Path) -> str:
    return str(path.relative_to(PACKAGE))


def load(path: Path) -> Operation:
    return OperationSet(path.parent)[path.stem]


@pytest.fixture(scope="module")
def fluent_schema(shared_dir: Path) -> GraphQLSchema:
    return build_schema((shared_dir / "fluent-schema" / "fluent-schema-2023-01.graphql").read_text())


def test_operations_are_found() -> None:
    assert {path.stem for path in DOCUMENTS} >= {"CreateCustomer", "UpdateCustomer", "CustomerByRef", "RetailerById"}
    assert set(CORE_OPERATIONS.by_name) == {p.stem for p in (PACKAGE / "fluent" / "operations").glob("*.graphql")}
    assert set(CUSTOMER_OPERATIONS.by_name) == {
        "CreateCustomer",
        "UpdateCustomer",
        "CustomerByRef",
        "CustomersByUsername",
    }


@pytest.mark.parametrize("path", DOCUMENTS, ids=_id)
def test_operation_validates_against_the_real_schema(path: Path, fluent_schema: GraphQLSchema) -> None:
    assert validate(fluent_schema, parse(load(path).document)) == []


def test_retry_safety_is_declared_in_the_operation_file() -> None:
    # Replaying these after a lost answer is harmless (keyed by username): each file says so and why.
    assert CUSTOMER_OPERATIONS["CreateCustomer"].retry_safe and CUSTOMER_OPERATIONS["UpdateCustomer"].retry_safe
    assert CUSTOMER_OPERATIONS["CustomerByRef"].retry_safe  # a query
    undeclared = Operation(name="Plain", document="mutation Plain { x }", is_mutation=True, root_field="x")
    assert not undeclared.retry_safe


def test_the_check_catches_a_field_fluent_does_not_have(fluent_schema: GraphQLSchema) -> None:
    broken = CUSTOMER_OPERATIONS["CreateCustomer"].with_root_selection(["id", "ref", "loyaltyPoints"])
    errors = validate(fluent_schema, parse(broken.document))
    assert [e.message for e in errors] == ["Cannot query field 'loyaltyPoints' on type 'Customer'."]


def test_reselected_fields_keep_the_operation(fluent_schema: GraphQLSchema) -> None:
    changed = CUSTOMER_OPERATIONS["CreateCustomer"].with_root_selection(["id", "ref", "status", "retailer { id }"])
    assert changed.name == "CreateCustomer" and changed.is_mutation and changed.retry_safe
    assert changed.root_selection() == ["id", "ref", "status", "retailer {\n  id\n}"]
    assert validate(fluent_schema, parse(changed.document)) == []


@pytest.mark.parametrize("kind", ["Category", "StandardProduct", "VariantProduct"])
def test_a_batch_of_creates_with_their_activations_validates_and_keeps_them_apart(
    kind: str, fluent_schema: GraphQLSchema
) -> None:
    folder = "categories" if kind == "Category" else "products"
    operations = OperationSet(PACKAGE / "entities" / folder / "operations")
    joined = created_then_activated(operations[f"Create{kind}"], operations[f"Update{kind}"], 3)
    assert validate(fluent_schema, parse(joined.document)) == []
    assert joined.is_mutation and joined.retry_safe  # both keyed by ref: a replay fails as "already exists"
    fields = [line.split(":")[0].strip() for line in joined.document.splitlines() if line.strip().startswith(
        ("item", ACTIVATION))]  # fmt: skip
    assert fields == ["item0", "item1", "item2", f"{ACTIVATION}0", f"{ACTIVATION}1", f"{ACTIVATION}2"]  # in order
