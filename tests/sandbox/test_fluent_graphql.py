"""GraphQL machinery of the Fluent emulator: all-or-nothing requests, connections, filters, limits, caching."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from graphql import build_client_schema, build_schema, get_introspection_query, print_schema

from ctfluent_sandbox.fluent import engine
from ctfluent_sandbox.fluent.emulator import SCHEMA_SDL
from tests.sandbox.fluent_fixtures import (
    CREATE_CUSTOMER,
    UPDATE_CUSTOMER,
    FluentClient,
    customer_input,
    error_codes,
    fluent_fixture,  # noqa: F401 (fixture)
    fluent_server_fixture,  # noqa: F401 (fixture)
)

TWO_CREATES = """
mutation Two($a: CreateCustomerInput!, $b: CreateCustomerInput!) {
  a: createCustomer(input: $a) { id }
  b: createCustomer(input: $b) { id }
}
"""

PAGE = """
query Page($first: Int, $after: String, $last: Int, $before: String) {
  customers(first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { id username } }
    pageInfo { hasNextPage hasPreviousPage }
  }
}
"""


def usernames(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["username"] for edge in connection["edges"]]


def page(fluent: FluentClient, **variables: Any) -> dict[str, Any]:
    body = fluent.gql(PAGE, variables)
    assert "errors" not in body, body
    connection: dict[str, Any] = body["data"]["customers"]
    return connection


# -- all-or-nothing ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["a", "b"])
def test_aliased_mutations_are_all_or_nothing(fluent: FluentClient, bad: str) -> None:
    variables = {"a": customer_input("1_a@example.com"), "b": customer_input("1_b@example.com")}
    variables[bad]["firstName"] = "x" * 51
    body = fluent.gql(TWO_CREATES, variables)
    assert body["data"] == {"a": None, "b": None}
    assert error_codes(body) == ["C0141E"]
    assert body["errors"][0]["path"] == [bad]
    assert fluent.customers_in_state() == []


def test_aliased_mutations_all_apply_when_all_succeed(fluent: FluentClient) -> None:
    body = fluent.gql(TWO_CREATES, {"a": customer_input("1_a@example.com"), "b": customer_input("1_b@example.com")})
    assert "errors" not in body
    assert {c["username"] for c in fluent.customers_in_state()} == {"1_a@example.com", "1_b@example.com"}


def test_a_failing_mutation_rolls_back_an_earlier_update(fluent: FluentClient) -> None:
    fluent.create_customer("1_a@example.com")
    before = fluent.customers_in_state()
    fluent.admin.advance_clock(60)
    document = """
    mutation Mixed($u: UpdateCustomerInput!, $c: CreateCustomerInput!) {
      u: updateCustomer(input: $u) { id }
      c: createCustomer(input: $c) { id }
    }
    """
    variables = {
        "u": {
            "username": "1_a@example.com",
            "firstName": "Changed",
            "attributes": [{"name": "x", "type": "S", "value": 1}],
        },
        "c": customer_input("1_a@example.com"),  # duplicate username
    }
    body = fluent.gql(document, variables)
    assert body["data"] == {"u": None, "c": None}
    assert error_codes(body) == ["C0121E"]
    assert fluent.customers_in_state() == before
    # The rolled-back customer is still found by its unique key.
    assert fluent.gql(UPDATE_CUSTOMER, {"input": {"username": "1_a@example.com"}})["data"]["updateCustomer"]


# -- connections ---------------------------------------------------------------------------------


def test_connection_default_page_is_10_and_a_first_after_walk_returns_everything_once(fluent: FluentClient) -> None:
    created = [fluent.create_customer(f"1_{n:02d}@example.com")["username"] for n in range(25)]

    default = page(fluent)
    assert usernames(default) == created[:10]
    assert default["pageInfo"] == {"hasNextPage": True, "hasPreviousPage": False}

    seen: list[str] = []
    pages: list[dict[str, Any]] = []
    after = None
    while True:
        connection = page(fluent, first=7, after=after)
        pages.append(connection)
        seen += usernames(connection)
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["edges"][-1]["cursor"]
    assert seen == created
    assert [len(p["edges"]) for p in pages] == [7, 7, 7, 4]
    assert [p["pageInfo"]["hasPreviousPage"] for p in pages] == [False, True, True, True]


def test_connection_has_no_end_cursor_or_total_count(fluent: FluentClient) -> None:
    body = fluent.gql("{ customers { totalCount pageInfo { endCursor } } }")
    assert "data" not in body
    assert len(body["errors"]) == 2


def test_last_and_before_page_backwards(fluent: FluentClient) -> None:
    created = [fluent.create_customer(f"1_{n}@example.com")["username"] for n in range(6)]
    tail = page(fluent, last=2)
    assert usernames(tail) == created[-2:]
    assert tail["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": True}
    earlier = page(fluent, last=3, before=tail["edges"][0]["cursor"])
    assert usernames(earlier) == created[1:4]
    assert earlier["pageInfo"] == {"hasNextPage": True, "hasPreviousPage": True}


def test_bad_cursor_and_negative_first_are_errors(fluent: FluentClient) -> None:
    assert error_codes(fluent.gql(PAGE, {"after": "not a cursor"})) == ["C0160E"]
    assert error_codes(fluent.gql(PAGE, {"first": -1})) == ["C0122E"]


def test_list_filters(fluent: FluentClient) -> None:
    fluent.create_customer("1_a@example.com", primaryEmail="a@example.com")
    fluent.create_customer("1_b@example.com", primaryEmail="b@example.com", promotionOptIn=True)
    fluent.create_customer("1_c@example.com", primaryEmail="c@example.com")
    query = """
    query F($ref: [String], $email: [String], $optIn: [Boolean], $status: [String]) {
      customers(ref: $ref, primaryEmail: $email, promotionOptIn: $optIn, status: $status) {
        edges { node { username } }
      }
    }
    """

    def found(**variables: Any) -> list[str]:
        return usernames(fluent.gql(query, variables)["data"]["customers"])

    assert found(ref=["1_a@example.com", "1_c@example.com"]) == ["1_a@example.com", "1_c@example.com"]
    assert found(email=["b@example.com"]) == ["1_b@example.com"]
    assert found(optIn=[True]) == ["1_b@example.com"]
    assert found(status=["ACTIVE"], ref=["1_c@example.com"]) == ["1_c@example.com"]
    assert found(status=["INACTIVE"]) == []


def test_date_range_is_inclusive_and_needs_a_bound(fluent: FluentClient) -> None:
    stamps = []
    for n in range(3):
        fluent.create_customer(f"1_{n}@example.com")
        stamps.append(fluent.customers_in_state()[-1]["createdOn"])
        fluent.admin.advance_clock(3600)
    query = """
    query Since($range: DateRange) { customers(createdOn: $range) { edges { node { username } } } }
    """

    def found(**bounds: str) -> list[str]:
        body = fluent.gql(query, {"range": bounds})
        assert "errors" not in body, body
        return usernames(body["data"]["customers"])

    assert found(**{"from": stamps[1]}) == ["1_1@example.com", "1_2@example.com"]
    assert found(to=stamps[1]) == ["1_0@example.com", "1_1@example.com"]
    assert found(**{"from": stamps[1], "to": stamps[1]}) == ["1_1@example.com"]
    # A value without zone is UTC.
    assert found(**{"from": stamps[2].removesuffix("Z")}) == ["1_2@example.com"]

    assert error_codes(fluent.gql(query, {"range": {}})) == ["C0101E"]
    assert error_codes(fluent.gql(query, {"range": {"from": "yesterday"}})) == ["C0100E"]


# -- limits --------------------------------------------------------------------------------------


def post_raw(fluent: FluentClient, body: bytes, content_type: str = "application/json") -> requests.Response:
    fluent.login()
    headers = {"Authorization": f"Bearer {fluent.token}", "Content-Type": content_type}
    return requests.post(f"{fluent.base_url}/graphql", data=body, headers=headers, timeout=30)


def test_body_over_2_mb_is_413(fluent: FluentClient) -> None:
    def body_of(size: int) -> bytes:
        head = json.dumps({"query": "{ __typename }", "pad": ""}).encode()
        return head[:-2] + b"x" * (size - len(head)) + head[-2:]

    assert post_raw(fluent, body_of(2 * 1024 * 1024)).status_code == 200
    assert post_raw(fluent, body_of(2 * 1024 * 1024 + 1)).status_code == 413


def test_malformed_requests_are_rejected(fluent: FluentClient) -> None:
    assert post_raw(fluent, b"{not json").status_code == 400
    assert post_raw(fluent, b'{"variables": {}}').status_code == 400
    assert post_raw(fluent, b'{"query": "{ __typename }", "variables": [1]}').status_code == 400
    assert post_raw(fluent, b'{"query": "{ __typename }"}', "text/plain").status_code == 415


def test_over_complex_query_is_c0001e(fluent: FluentClient) -> None:
    query = "query Big($n: Int) { customers(first: $n) { edges { node { id ref } } } }"
    assert "errors" not in fluent.gql(query, {"n": 2000})  # 1 + 2000 * 4 = 8001
    body = fluent.gql(query, {"n": 3000})  # 12001
    assert body["data"] is None
    assert error_codes(body) == ["C0001E"]
    literal = fluent.gql("{ customers(first: 3000) { edges { node { id ref } } } }")
    assert error_codes(literal) == ["C0001E"]


def test_batch_of_aliased_creates_within_the_limits_works(fluent: FluentClient) -> None:
    count = 200
    definitions = ", ".join(f"$c{n}: CreateCustomerInput!" for n in range(count))
    fields = " ".join(f"c{n}: createCustomer(input: $c{n}) {{ id ref username }}" for n in range(count))
    variables = {f"c{n}": customer_input(f"1_{n}@example.com") for n in range(count)}
    body = fluent.gql(f"mutation Batch({definitions}) {{ {fields} }}", variables)
    assert "errors" not in body
    assert len(fluent.customers_in_state()) == count


def test_documents_are_parsed_once_per_query_text(fluent: FluentClient, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []

    def counting_parse(source: str) -> Any:
        parsed.append(source)
        return real_parse(source)

    real_parse = engine.parse
    monkeypatch.setattr(engine, "parse", counting_parse)
    for n in range(5):
        fluent.create_customer(f"1_{n}@example.com")
    assert parsed.count(CREATE_CUSTOMER) <= 1
    assert len(fluent.customers_in_state()) == 5


def test_introspection_gives_the_subset_schema(fluent: FluentClient) -> None:
    """Clients check their documents against the server's schema by introspection."""
    body = fluent.gql(get_introspection_query(descriptions=False))
    assert "errors" not in body
    assert print_schema(build_client_schema(body["data"])) == print_schema(build_schema(SCHEMA_SDL))
