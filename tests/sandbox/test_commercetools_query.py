"""Querying the emulator as a client does: predicates, variables, sorting, paging bounds, cursors, HEAD."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from tests.sandbox.ct_fixtures import CtSandbox, error_code, running

QUOTE_EMAIL = '"john.q"@example.com'
BACKSLASH_EMAIL = '"back\\\\slash"@example.org'  # a quoted local part with an escaped backslash: "back\\slash"
APOSTROPHE_EMAIL = "siobhan.o'connor@example.ie"

# label -> CustomerDraft (without password); stores are created first
CUSTOMERS: dict[str, dict[str, Any]] = {
    "anna": {
        "email": "Anna.Schmidt@Example.de",
        "firstName": "Anna",
        "lastName": "Schmidt",
        "key": "anna",
        "dateOfBirth": "1990-05-01",
        "addresses": [{"country": "DE", "city": "Berlin"}],
        "stores": [{"typeId": "store", "key": "eu-store"}],
        "custom": {"type": {"typeId": "type", "key": "customer-preferences"}, "fields": {"newsletter": True}},
    },
    "bob": {
        "email": "bob@example.com",
        "firstName": "Bob",
        "lastName": "Smith",
        "key": "bob",
        "addresses": [{"country": "US", "city": "Boston"}, {"country": "DE", "city": "Köln"}],
        "stores": [{"typeId": "store", "key": "us-store"}, {"typeId": "store", "key": "eu-store"}],
        "custom": {"type": {"typeId": "type", "key": "customer-preferences"}, "fields": {"newsletter": False}},
    },
    "quote": {"email": QUOTE_EMAIL, "firstName": 'John "Q"', "lastName": "Public", "addresses": [{"country": "US"}]},
    "apostrophe": {"email": APOSTROPHE_EMAIL, "lastName": "O'Connor"},
    "backslash": {"email": BACKSLASH_EMAIL, "lastName": "Slash", "key": "back-slash"},
    "unicode": {
        "email": "jürgen.müller@example.de",
        "firstName": "Jürgen",
        "lastName": "Müller",
        "addresses": [{"country": "DE", "city": "München"}],
        "stores": [{"typeId": "store", "key": "eu-store"}],
    },
    "kanji": {"email": "yui@example.jp", "firstName": "結衣", "lastName": "佐藤", "addresses": [{"country": "JP"}]},
}
ALL = set(CUSTOMERS)
NO_STORE = {"quote", "apostrophe", "backslash", "kanji"}


@pytest.fixture(scope="module")
def handmade() -> Iterator[tuple[CtSandbox, dict[str, str]]]:
    """A few customers with the awkward values; yields the sandbox and label -> id."""
    with running() as ct:
        for key in ("eu-store", "us-store"):
            assert ct.post("/stores", {"key": key, "name": {"en": key}}).status_code == 201
        ids = {label: ct.create_customer(**draft)["id"] for label, draft in CUSTOMERS.items()}
        yield ct, ids


@pytest.fixture(scope="module")
def seeded() -> Iterator[CtSandbox]:
    with running() as ct:
        ct.emulator.seed(customers=1234, days=30, seed=11)
        yield ct


@pytest.fixture(scope="module")
def large() -> Iterator[CtSandbox]:
    with running() as ct:
        ct.emulator.seed(customers=20_000, days=60, seed=5)
        yield ct


PREDICATES: list[tuple[str | list[str], dict[str, str | list[str]], set[str]]] = [
    ('firstName = "Anna"', {}, {"anna"}),
    ('lowerCaseEmail = "anna.schmidt@example.de"', {}, {"anna"}),
    ('email = "anna.schmidt@example.de"', {}, set()),  # email itself is case-sensitive
    ('addresses(country = "DE")', {}, {"anna", "bob", "unicode"}),
    ('addresses(country = "DE" and city = "Köln")', {}, {"bob"}),
    ('addresses(country = "US") and addresses(country = "DE")', {}, {"bob"}),
    ('addresses(city = "M\\u00fcnchen")', {}, {"unicode"}),
    ("custom(fields(newsletter = true))", {}, {"anna"}),
    ('custom(fields(newsletter = false)) or key = "anna"', {}, {"anna", "bob"}),
    ('stores(key = "eu-store")', {}, {"anna", "bob", "unicode"}),
    ('not(stores(key = "eu-store"))', {}, NO_STORE),
    ("stores is empty", {}, NO_STORE),
    ("stores is not empty", {}, ALL - NO_STORE),
    ("firstName is not defined", {}, {"apostrophe", "backslash"}),
    ('firstName IS DEFINED And lastName = "Smith"', {}, {"bob"}),
    ('NOT (firstName = "Anna") AND lastName = "Schmidt"', {}, set()),
    ('key in ("anna", "bob", "nobody")', {}, {"anna", "bob"}),
    ('key not in ("anna")', {}, ALL - {"anna"}),  # like `!=`, also matches customers without a key
    ('key != "anna"', {}, ALL - {"anna"}),
    ('key <> "anna" and key is defined', {}, {"bob", "backslash"}),
    ("key in :keys", {"keys": ["anna", "back-slash"]}, {"anna", "backslash"}),
    ("key in :keys", {"keys": "anna"}, {"anna"}),
    ("email = :e", {"e": QUOTE_EMAIL}, {"quote"}),
    ("email = :e", {"e": BACKSLASH_EMAIL}, {"backslash"}),
    (f"email = {json.dumps(QUOTE_EMAIL)}", {}, {"quote"}),
    (f"email = {json.dumps(BACKSLASH_EMAIL)}", {}, {"backslash"}),
    ('email = "\\"john.q\\"@example.com"', {}, {"quote"}),
    (f'email = "{APOSTROPHE_EMAIL}"', {}, {"apostrophe"}),
    ('firstName = "John \\"Q\\""', {}, {"quote"}),
    ('firstName = "J\\u00fcrgen"', {}, {"unicode"}),
    ('lastName = "佐藤"', {}, {"kanji"}),
    ('lastName > "S" and lastName < "T"', {}, {"anna", "bob", "backslash"}),
    ('dateOfBirth >= "1990-01-01"', {}, {"anna"}),
    ("version = 1", {}, ALL),
    ("version = :v", {"v": "1"}, ALL),
    ("version > 1", {}, set()),
    ("isEmailVerified = false", {}, ALL),
    ('lastName contains any ("Smith", "Müller")', {}, {"bob", "unicode"}),
    (["firstName is defined", 'addresses(country = "DE")'], {}, {"anna", "bob", "unicode"}),  # where ANDed
]


@pytest.mark.parametrize(("where", "variables", "expected"), PREDICATES)
def test_predicate(
    handmade: tuple[CtSandbox, dict[str, str]],
    where: str | list[str],
    variables: dict[str, str | list[str]],
    expected: set[str],
) -> None:
    ct, ids = handmade
    params: dict[str, str | Sequence[str]] = {"where": where, "limit": "500"}
    params.update({f"var.{name}": value for name, value in variables.items()})
    found = set(ct.query_ids("/customers", **params))
    assert found == {ids[label] for label in expected}


@pytest.mark.parametrize(
    ("where", "variables", "fragment"),
    [
        ('firstName = "Anna', {}, "syntax error"),
        ("firstName =", {}, "syntax error"),
        ("firstName == 1", {}, "syntax error"),
        ("unknownField = 1", {}, "'unknownField' does not exist"),
        ('addresses(street = "x")', {}, "'street' does not exist"),
        ('addresses = "x"', {}, "is an object"),
        ("firstName(x = 1)", {}, "is not an object"),
        ("email = :missing", {}, "var.missing"),
        ("email = :e", {"e": ["a", "b"]}, "has 2 values"),
        ('email = "\\q"', {}, "invalid string literal"),
        ("version = :v", {"v": "x"}, "not a number"),
    ],
)
def test_invalid_predicate_is_400_invalid_input(
    handmade: tuple[CtSandbox, dict[str, str]], where: str, variables: dict[str, str | list[str]], fragment: str
) -> None:
    ct, _ = handmade
    response = ct.get("/customers", where=where, **{f"var.{k}": v for k, v in variables.items()})
    assert response.status_code == 400
    assert error_code(response) == "InvalidInput"
    assert fragment in response.json()["message"]
    assert response.json()["message"].startswith("Malformed parameter: where:")


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"limit": "500"}, 200),
        ({"limit": "0"}, 200),
        ({"limit": "501"}, 400),
        ({"limit": "-1"}, 400),
        ({"limit": "ten"}, 400),
        ({"offset": "10000"}, 200),
        ({"offset": "10001"}, 400),
        ({"withTotal": "maybe"}, 400),
        ({"sort": "id"}, 400),
        ({"sort": "id sideways"}, 400),
        ({"sort": "nope asc"}, 400),
    ],
)
def test_paging_and_sort_parameter_bounds(
    handmade: tuple[CtSandbox, dict[str, str]], params: dict[str, str], status: int
) -> None:
    ct, _ = handmade
    response = ct.get("/customers", **params)
    assert response.status_code == status, response.text
    if status == 400:
        assert error_code(response) == "InvalidInput"


def test_page_shape_defaults_and_with_total(seeded: CtSandbox) -> None:
    page = seeded.ok("/customers")
    assert (page["limit"], page["offset"], page["count"], page["total"]) == (20, 0, 20, 1234)
    assert len(page["results"]) == page["count"]
    without = seeded.ok("/customers", withTotal="false", limit="7", offset="5")
    assert "total" not in without
    assert (without["limit"], without["offset"], without["count"]) == (7, 5, 7)
    assert seeded.ok("/customers", offset="1230")["count"] == 4
    assert seeded.ok("/customers", limit="0")["results"] == []


def test_id_cursor_paging_returns_every_customer_exactly_once(seeded: CtSandbox) -> None:
    seen: list[str] = []
    while True:
        params: dict[str, str | Sequence[str]] = {"sort": "id asc", "limit": "100", "withTotal": "false"}
        if seen:
            params["where"] = f'id > "{seen[-1]}"'
        page = seeded.ok("/customers", **params)
        seen += [c["id"] for c in page["results"]]
        if page["count"] < 100:
            break
    assert len(seen) == 1234
    assert seen == sorted(set(seen))


def test_id_cursor_with_a_last_modified_window(seeded: CtSandbox) -> None:
    everyone = list(seeded.emulator.customers.collection)
    stamps = sorted(c["lastModifiedAt"] for c in everyone)
    start, end = stamps[300], stamps[900]
    expected = sorted(c["id"] for c in everyone if start <= c["lastModifiedAt"] < end)
    window = f'lastModifiedAt >= "{start}" and lastModifiedAt < "{end}"'
    seen: list[str] = []
    while True:
        where = [window] + ([f'id > "{seen[-1]}"'] if seen else [])
        page = seeded.ok("/customers", where=where, sort="id asc", limit="50", withTotal="false")
        seen += [c["id"] for c in page["results"]]
        if page["count"] < 50:
            break
    assert seen == expected


def test_last_modified_keyset_paging(seeded: CtSandbox) -> None:
    everyone = sorted(seeded.emulator.customers.collection, key=lambda c: (c["lastModifiedAt"], c["id"]))
    seen: list[dict[str, Any]] = []
    while True:
        params: dict[str, str | Sequence[str]] = {
            "sort": ["lastModifiedAt asc", "id asc"],
            "limit": "200",
            "withTotal": "false",
        }
        if seen:
            last = seen[-1]
            params["where"] = "lastModifiedAt > :t or (lastModifiedAt = :t and id > :id)"
            params["var.t"], params["var.id"] = last["lastModifiedAt"], last["id"]
        page = seeded.ok("/customers", **params)
        seen += page["results"]
        if page["count"] < 200:
            break
    assert [c["id"] for c in seen] == [c["id"] for c in everyone]


@pytest.mark.parametrize(
    "sort",
    [
        ["createdAt desc"],
        ["lastModifiedAt asc", "id asc"],
        ["key asc", "id desc"],
        ["lastName desc", "email asc"],
        ["email asc"],
        ["version desc", "createdAt asc"],
    ],
)
def test_sort_applies_every_key_in_order(seeded: CtSandbox, sort: list[str]) -> None:
    everyone = list(seeded.emulator.customers.collection)
    expected = sorted(everyone, key=lambda c: c["id"], reverse=sort[0].endswith("desc"))  # ties: id, same direction
    for spec in reversed(sort):  # missing values sort first
        name, direction = spec.split()
        expected.sort(key=lambda c, n=name: (n in c, c.get(n, "")), reverse=direction == "desc")
    got = seeded.query_ids("/customers", sort=sort, limit="500", offset="100")
    assert got == [c["id"] for c in expected[100:600]]


def test_ties_come_in_the_same_order_whichever_plan_serves_the_page() -> None:
    with running() as ct:
        ct.emulator.seed(customers=60, days=5, seed=3)
        collection = ct.emulator.customers.collection
        tied = [{**c, "lastModifiedAt": "2026-01-01T00:00:00.000Z"} for c in list(collection)[:20]]
        with ct.emulator.lock:
            for customer in tied:
                collection.put(customer)
        by_ids = {"where": "id in :ids", "var.ids": [c["id"] for c in tied]}  # direct lookups, sorted in memory
        by_range = {"where": 'lastModifiedAt = "2026-01-01T00:00:00.000Z"'}  # a walk of the lastModifiedAt index
        for direction in ("asc", "desc"):
            sort = f"lastModifiedAt {direction}"
            in_memory = ct.query_ids("/customers", sort=sort, **by_ids)
            assert in_memory == ct.query_ids("/customers", sort=sort, **by_range)
            assert in_memory == sorted(in_memory, reverse=direction == "desc")


def test_total_is_capped_at_10000_with_a_predicate(large: CtSandbox) -> None:
    assert large.ok("/customers", limit="1")["total"] == 20_000
    assert large.ok("/customers", limit="1", where='id > ""')["total"] == 10_000
    few = large.ok("/customers", where='key in ("customer-000001", "customer-000002", "x")')
    assert few["total"] == few["count"] <= 2


def test_an_id_cursor_page_is_an_index_range_scan(large: CtSandbox) -> None:
    collection = large.emulator.customers.collection
    middle = sorted(c["id"] for c in collection)[10_000]
    collection.evaluations = 0
    page = large.ok("/customers", sort="id asc", where=f'id > "{middle}"', limit="500", withTotal="false")
    assert page["count"] == 500
    assert collection.evaluations <= 501  # one evaluation per returned customer, not one per customer


def test_a_windowed_cursor_page_reads_only_the_window(large: CtSandbox) -> None:
    collection = large.emulator.customers.collection
    stamps = sorted(c["lastModifiedAt"] for c in collection)
    start, end = stamps[5_000], stamps[5_600]  # a 600-customer window
    collection.evaluations = 0
    where = f'id > "0" and lastModifiedAt >= "{start}" and lastModifiedAt < "{end}"'
    page = large.ok("/customers", sort="id asc", where=where, limit="500", withTotal="false")
    assert page["count"] == 500
    assert collection.evaluations <= 601
    collection.evaluations = 0
    large.ok("/customers", where=where, limit="500", withTotal="false", sort="email asc")  # unindexed sort
    assert collection.evaluations <= 601


def test_get_by_id_and_key_and_404(handmade: tuple[CtSandbox, dict[str, str]]) -> None:
    ct, ids = handmade
    assert ct.ok(f"/customers/{ids['anna']}")["key"] == "anna"
    assert ct.ok("/customers/key=anna")["id"] == ids["anna"]
    missing = ct.get("/customers/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert error_code(missing) == "ResourceNotFound"
    assert ct.get("/customers/key=nobody").status_code == 404


def test_head_answers_whether_something_exists(handmade: tuple[CtSandbox, dict[str, str]]) -> None:
    ct, ids = handmade
    assert ct.request("HEAD", f"/customers/{ids['bob']}").status_code == 200
    assert ct.request("HEAD", "/customers/key=bob").status_code == 200
    assert ct.request("HEAD", "/customers/nope").status_code == 404
    assert ct.request("HEAD", "/customers", {"where": 'key = "anna"'}).status_code == 200
    assert ct.request("HEAD", "/customers", {"where": 'key = "nobody"'}).status_code == 404
    assert ct.request("HEAD", "/customers", {"where": "nope = 1"}).status_code == 400
    assert ct.request("HEAD", "").status_code == 200


def test_expand_is_accepted(handmade: tuple[CtSandbox, dict[str, str]]) -> None:
    ct, _ = handmade
    assert ct.ok("/customers", expand="customerGroup", limit="1")["count"] == 1
