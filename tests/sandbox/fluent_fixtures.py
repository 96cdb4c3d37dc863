"""Fixtures and helpers for the Fluent emulator tests: one real HTTP server per test module, reset before each
test, and a small client that talks to it the way the product does (token, then GraphQL over HTTP).

Test modules import the fixture functions (``fluent_fixture``, ``fluent_server_fixture``, ``real_schema_fixture``,
``webhook_receiver_fixture``); the fixtures are named ``fluent``, ``fluent_server``, ``real_schema`` and
``webhook_receiver``, so test arguments do not shadow the imports.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

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

    def admin_request(self, method: str, path: str, body: Any = None) -> requests.Response:
        """An admin request whatever its answer (``admin.call`` raises on an error status); ``path`` below
        ``/_admin``, each segment given as is (quoted here)."""
        quoted = "/".join(quote(segment, safe="") for segment in path.split("/"))
        return self.session.request(method, f"{self.base_url}/_admin{quoted}", json=body, timeout=30)

    def admin_ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        """The JSON answer of an admin request that must answer ``status``."""
        response = self.admin_request(method, path, body)
        assert response.status_code == status, response.text
        return response.json()

    def fast_webhooks(self, url: str) -> None:
        """Send webhooks to ``url``, retrying quickly."""
        self.admin.call("PUT", "/webhooks", {"url": url, "timeout_seconds": 2, "retry_delays_seconds": [0.05]})

    def webhooks_sent(self) -> int:
        """Events sent so far: counted when a change is answered, before any delivery."""
        sent: int = self.admin.call("GET", "/webhooks")["counters"]["sent"]
        return sent


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
    """A client of a freshly reset emulator (seeded retailers, product catalogue and the default inventory: network
    ``NETWORK:ONLINE``, locations ``LOC_1`` to ``LOC_3``, virtual catalogue ``VC:ATS:1`` without positions; nothing
    else, no faults, clock reset)."""
    client = FluentClient(fluent_server)
    client.admin.reset()
    return client


class WebhookReceiver:
    """An HTTP endpoint on loopback recording every event POSTed to it (answering 200)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._changed:
                    receiver.events.append(json.loads(body))
                    receiver._changed.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/fluent/webhooks"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def wait(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The first ``count`` events, once they are there."""
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.events) >= count, timeout), self.events
            return list(self.events[:count])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(name="webhook_receiver")
def webhook_receiver_fixture() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]
