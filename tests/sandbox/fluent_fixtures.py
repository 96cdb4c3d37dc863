"""Fixtures and helpers for the Fluent emulator tests: one real HTTP server per test module, reset before each
test, and a small client that talks to it the way the product does (token, then GraphQL over HTTP).

Test modules import the fixture functions (``fluent_fixture``, ``fluent_server_fixture``, ``real_schema_fixture``);
the fixtures are named ``fluent``, ``fluent_server`` and ``real_schema``, so test arguments do not shadow the
imports.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import requests
from graphql import GraphQLSchema, build_schema, parse, validate

from ctfluent_sandbox.admin_client import AdminClient
from ctfluent_sandbox.fluent import FluentEmulator
from ctfluent_sandbox.server import BackgroundSandbox

CLIENT = {"client_id": "ctfluent-sandbox", "client_secret": "ctfluent-sandbox-secret"}
USER = {"username": "sync-user", "password": "sync-password"}
PASSWORD_GRANT = {"grant_type": "password", **USER, **CLIENT, "scope": "api"}

# The documents the product sends (fact sheet §4.1).
CUSTOMER_BY_REF = "query CustomerByRef($ref: String!) { customer(ref: $ref) { id ref username primaryEmail status } }"
CREATE_CUSTOMER = (
    "mutation CreateCustomer($input: CreateCustomerInput!) { createCustomer(input: $input) { id ref username } }"
)
UPDATE_CUSTOMER = (
    "mutation UpdateCustomer($input: UpdateCustomerInput!) { updateCustomer(input: $input) { id ref updatedOn } }"
)


def customer_input(username: str, **overrides: Any) -> dict[str, Any]:
    """A valid CreateCustomerInput."""
    return {
        "username": username,
        "firstName": "Ada",
        "lastName": "Lovelace",
        "primaryEmail": "ada@example.com",
        "timezone": "Europe/London",
        "promotionOptIn": False,
        "retailer": {"id": "1"},
        **overrides,
    }


class FluentClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.admin = AdminClient(base_url)
        self.token: str | None = None

    def login(self) -> dict[str, Any]:
        response = self.session.post(f"{self.base_url}/oauth/token", data=PASSWORD_GRANT, timeout=10)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        self.token = body["access_token"]
        return body

    def post_graphql(
        self, query: str, variables: dict[str, Any] | None = None, operation_name: str | None = None
    ) -> requests.Response:
        if self.token is None:
            self.login()
        payload = {"query": query, "variables": variables, "operationName": operation_name}
        headers = {"Authorization": f"Bearer {self.token}"}
        return self.session.post(f"{self.base_url}/graphql", json=payload, headers=headers, timeout=30)

    def gql(self, query: str, variables: dict[str, Any] | None = None, operation_name: str | None = None) -> Any:
        """The JSON body of a GraphQL request that must come back with HTTP 200."""
        response = self.post_graphql(query, variables, operation_name)
        assert response.status_code == 200, response.text
        return response.json()

    def create_customer(self, username: str, **overrides: Any) -> dict[str, Any]:
        body = self.gql(CREATE_CUSTOMER, {"input": customer_input(username, **overrides)}, "CreateCustomer")
        assert "errors" not in body, body
        created: dict[str, Any] = body["data"]["createCustomer"]
        return created

    def customers_in_state(self) -> list[dict[str, Any]]:
        customers: list[dict[str, Any]] = self.admin.state()["customers"]
        return customers


class CheckedClient:
    """The Fluent client, refusing to send a document the real schema does not validate: the tests exercise only
    what a client of the real API could send."""

    def __init__(self, fluent: FluentClient, schema: GraphQLSchema) -> None:
        self.fluent = fluent
        self.schema = schema
        self._checked = cache(self._check)

    def _check(self, query: str) -> None:
        assert validate(self.schema, parse(query)) == [], query

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        self._checked(query)
        body: dict[str, Any] = self.fluent.gql(query, variables)
        return body

    def ok(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The single root field's value of a request that must succeed (and not answer null)."""
        body = self.gql(query, variables)
        assert "errors" not in body, body
        [value] = body["data"].values()
        assert value is not None
        result: dict[str, Any] = value
        return result

    def fails(self, query: str, variables: dict[str, Any] | None = None) -> list[str]:
        """The error codes of a mutation that must fail without effect."""
        before = self.fluent.admin.state()
        body = self.gql(query, variables)
        assert all(value is None for value in body["data"].values()), body
        assert self.fluent.admin.state() == before
        return error_codes(body)


@pytest.fixture(scope="module", name="real_schema")
def real_schema_fixture(shared_dir: Path) -> GraphQLSchema:
    """The real Fluent schema from ``../shared``."""
    return build_schema((shared_dir / "fluent-schema" / "fluent-schema-2023-01.graphql").read_text(encoding="utf-8"))


@pytest.fixture(scope="module", name="fluent_server")
def fluent_server_fixture() -> Iterator[str]:
    """The base URL of a Fluent emulator served over HTTP for the whole test module."""
    with BackgroundSandbox({"fluent": (FluentEmulator(), 0)}) as sandbox:
        yield sandbox.urls["fluent"]


@pytest.fixture(name="fluent")
def fluent_fixture(fluent_server: str) -> FluentClient:
    """A client of a freshly reset emulator (seeded retailers and product catalogue, nothing else, no faults,
    clock reset)."""
    client = FluentClient(fluent_server)
    client.admin.reset()
    return client


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]
