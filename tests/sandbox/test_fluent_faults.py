"""Fault injection, request counting and the admin routes of the Fluent emulator."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from ctfluent_sandbox.faults import key_in_share, parse_fault_spec
from tests.sandbox.fluent_fixtures import (
    CREATE_CUSTOMER,
    CUSTOMER_BY_REF,
    FluentClient,
    customer_input,
    error_codes,
    fluent_fixture,  # noqa: F401 (fixture)
    fluent_server_fixture,  # noqa: F401 (fixture)
)

RETAILER = "query Retailer($id: ID!) { retailerById(id: $id) { id ref tradingName status } }"


def create(fluent: FluentClient, username: str) -> requests.Response:
    return fluent.post_graphql(CREATE_CUSTOMER, {"input": customer_input(username)}, "CreateCustomer")


# -- faults --------------------------------------------------------------------------------------


@pytest.mark.parametrize("placement", ["extensions", "message"])
def test_error_code_fault_answers_like_a_fluent_graphql_error(fluent: FluentClient, placement: str) -> None:
    fluent.admin.call("PUT", "/config", {"error_code_placement": placement})
    fluent.admin.add_fault(match="createCustomer", error_code="C0011E", times=1)
    response = create(fluent, "1_a@example.com")
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    if placement == "extensions":
        assert error == {"message": "Rate limit exceeded", "extensions": {"code": "C0011E"}}
    else:
        assert error == {"message": "C0011E: Rate limit exceeded"}
    assert fluent.customers_in_state() == []
    assert create(fluent, "1_a@example.com").json()["data"]["createCustomer"]["ref"] == "1_a@example.com"


def test_error_code_fault_with_status(fluent: FluentClient) -> None:
    fluent.admin.add_fault(match="POST /graphql", error_code="S0001E", status=500)
    response = create(fluent, "1_a@example.com")
    assert response.status_code == 500
    assert error_codes(response.json()) == ["S0001E"]


def test_status_fault_with_retry_after(fluent: FluentClient) -> None:
    fluent.admin.add_fault(match="CreateCustomer", status=429, retry_after=2)
    response = create(fluent, "1_a@example.com")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert response.json() == {"error": "Too Many Requests", "status": 429}
    # Other operations are not matched.
    assert fluent.post_graphql(CUSTOMER_BY_REF, {"ref": "x"}).status_code == 200


def test_drop_after_loses_the_answer_but_not_the_write(fluent: FluentClient) -> None:
    fluent.admin.add_fault(match="createCustomer", drop="after", times=1)
    with pytest.raises(requests.ConnectionError):
        create(fluent, "1_a@example.com")
    assert [c["username"] for c in fluent.customers_in_state()] == ["1_a@example.com"]
    # What a retrying client then sees.
    assert error_codes(create(fluent, "1_a@example.com").json()) == ["C0121E"]


def test_latency_delays_only_the_matching_request(fluent: FluentClient) -> None:
    fluent.login()
    rule_id = fluent.admin.add_fault(match="CustomerByRef", latency_ms=1000)
    finished: list[str] = []

    def slow() -> None:
        client = FluentClient(fluent.base_url)
        client.token = fluent.token
        client.post_graphql(CUSTOMER_BY_REF, {"ref": "x"}, "CustomerByRef")
        finished.append("slow")

    thread = threading.Thread(target=slow)
    thread.start()
    deadline = time.monotonic() + 10
    while not any(rule["id"] == rule_id and rule["seen"] for rule in fluent.admin.call("GET", "/faults")):
        assert time.monotonic() < deadline, "the slow request never reached the emulator"
        time.sleep(0.01)
    assert fluent.post_graphql(RETAILER, {"id": "1"}).status_code == 200
    finished.append("fast")
    thread.join(timeout=10)
    assert finished == ["fast", "slow"]


def test_a_share_fault_fails_the_same_records_alone_and_in_a_batch(fluent: FluentClient) -> None:
    usernames = [f"1_customer{n}@example.com" for n in range(200)]
    picked = {u for u in usernames if key_in_share(u, 0.1)}
    assert 5 < len(picked) < 40  # about a tenth, by a stable hash
    fluent.admin.add_fault(match="createCustomer", error_code="C0160E", share=0.1)
    # A query writes no record: never matched.
    assert "errors" not in fluent.gql(CUSTOMER_BY_REF, {"ref": sorted(picked)[0]}, "CustomerByRef")
    bad, good = sorted(picked)[0], next(u for u in usernames if u not in picked)
    two = "mutation Two($a: CreateCustomerInput!, $b: CreateCustomerInput!) { a: createCustomer(input: $a) { id } b: createCustomer(input: $b) { id } }"  # noqa: E501
    batch = fluent.gql(two, {"a": customer_input(good), "b": customer_input(bad)})
    assert error_codes(batch) == ["C0160E"]  # one picked record fails its whole batch
    for _ in range(2):  # and fails alone, every time
        assert error_codes(create(fluent, bad).json()) == ["C0160E"]
    created = [u for u in usernames if "errors" not in create(fluent, u).json()]
    assert set(created) == set(usernames) - picked
    fluent.admin.clear_faults()
    assert "errors" not in create(fluent, bad).json()


def test_a_share_must_be_a_fraction(fluent: FluentClient) -> None:
    for share in (0, 1.5):
        response = requests.post(
            f"{fluent.base_url}/_admin/faults", json={"error_code": "C0160E", "share": share}, timeout=10
        )
        assert response.status_code == 400
    assert parse_fault_spec("match=createCustomer;error_code=C0160E;share=0.05").share == 0.05


# -- request counts ------------------------------------------------------------------------------


def test_requests_are_counted_by_route_operation_and_root_field(fluent: FluentClient) -> None:
    fluent.login()
    create(fluent, "1_a@example.com")
    create(fluent, "1_b@example.com")
    fluent.post_graphql(CUSTOMER_BY_REF, {"ref": "1_a@example.com"}, "CustomerByRef")
    two = "mutation Two($a: CreateCustomerInput!, $b: CreateCustomerInput!) { a: createCustomer(input: $a) { id } b: createCustomer(input: $b) { id } }"  # noqa: E501
    fluent.post_graphql(two, {"a": customer_input("1_c@example.com"), "b": customer_input("1_d@example.com")})
    counts = fluent.admin.request_counts()
    assert counts["total"] == 5
    assert counts["by_target"] == {
        "POST /oauth/token": 1,
        "POST /graphql": 4,
        "CreateCustomer": 2,
        "createCustomer": 3,  # one per request, however many aliases
        "CustomerByRef": 1,
        "customer": 1,
        "Two": 1,
    }


# -- admin routes --------------------------------------------------------------------------------


def test_config_route_validates(fluent: FluentClient) -> None:
    assert fluent.admin.call("GET", "/config") == {"error_code_placement": "both", "token_ttl_seconds": 86_400}
    for bad in ({"error_code_placement": "header"}, {"token_ttl_seconds": 0}, {"colour": "red"}):
        response = requests.put(f"{fluent.base_url}/_admin/config", json=bad, timeout=10)
        assert response.status_code == 400
    changed = fluent.admin.call("PUT", "/config", {"error_code_placement": "message", "token_ttl_seconds": 5})
    assert changed == {"error_code_placement": "message", "token_ttl_seconds": 5}
    fluent.admin.reset()
    assert fluent.admin.call("GET", "/config") == {"error_code_placement": "both", "token_ttl_seconds": 86_400}


def test_retailers_are_seeded_and_can_be_added(fluent: FluentClient) -> None:
    seeded = fluent.admin.state()["retailers"]
    assert [(r["id"], r["ref"]) for r in seeded] == [("1", "CTFLUENT_EU"), ("2", "CTFLUENT_US"), ("3", "CTFLUENT_AU")]

    added = fluent.admin.call("POST", "/retailers", {"ref": "CTFLUENT_NZ", "tradingName": "ctfluent NZ"})
    assert added["id"].isdigit() and added["id"] not in {"1", "2", "3"}
    explicit = fluent.admin.call("POST", "/retailers", {"id": 40, "ref": "CTFLUENT_UK"})
    assert explicit["id"] == "40"
    body = fluent.gql(RETAILER, {"id": added["id"]})
    assert body["data"]["retailerById"] == {
        "id": added["id"],
        "ref": "CTFLUENT_NZ",
        "tradingName": "ctfluent NZ",
        "status": "ACTIVE",
    }
    assert fluent.create_customer("40_a@example.com", retailer={"id": "40"})["ref"] == "40_a@example.com"
    duplicate = requests.post(f"{fluent.base_url}/_admin/retailers", json={"id": "40", "ref": "OTHER"}, timeout=10)
    assert duplicate.status_code == 409

    fluent.admin.reset()
    state = fluent.admin.state()
    assert [(r["id"], r["ref"]) for r in state["retailers"]] == [(r["id"], r["ref"]) for r in seeded]
    assert state["customers"] == []
