"""The Fluent emulator's webhooks (fact sheet §7, §9 item 13): an order status change posts the order's event,
signed with the emulator's key pair, to a receiver on loopback; retries resend the same event; the sandbox's
environment publishes the public key and the commercetools write client."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import pytest
import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ctfluent_sandbox.cli import SandboxCredentials
from ctfluent_sandbox.server import BackgroundSandbox
from tests.sandbox.fluent_fixtures import (
    FluentClient,
    fluent_fixture,  # noqa: F401 (fixture)
    fluent_server_fixture,  # noqa: F401 (fixture)
)

PROJECT = "ctfluent-demo"
MASTER = "PC:MASTER:1"
FAST = {"timeout_seconds": 0.3, "retry_delays_seconds": [0.05, 0.05, 0.05]}
HANG_SECONDS = 0.8  # longer than FAST's timeout
CREATE_PRODUCT = """
mutation CreateStandardProduct($input: CreateStandardProductInput!) { createStandardProduct(input: $input) { ref } }
"""
CREATE_ORDER = "mutation CreateOrder($input: CreateOrderInput!) { createOrder(input: $input) { id ref type status } }"
EVENT_FIELDS = {
    "id", "name", "accountId", "retailerId", "entityType", "entitySubtype", "entityId", "entityRef", "entityStatus",
    "rootEntityType", "rootEntityId", "rootEntityRef", "type", "attributes", "meta", "trailLogs", "errorLogs",
}  # fmt: skip


# -- a webhook receiver ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.body)
        return event


class Receiver:
    """An HTTP endpoint on loopback that records every POST and answers each in turn as ``script`` says: a status,
    or ``"hang"`` (no answer for ``HANG_SECONDS``); 200 once the script is used up."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: list[int | str] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._changed:
                    receiver.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                    answer = receiver.script.pop(0) if receiver.script else 200
                    receiver._changed.notify_all()
                if answer == "hang":
                    time.sleep(HANG_SECONDS)
                    answer = 200
                try:
                    self.send_response(int(answer))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the sender gave up waiting and closed the connection
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/fluent/webhooks"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def wait(self, count: int, timeout: float = 5.0) -> list[Received]:
        """The first ``count`` requests, once they are there."""
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.received) >= count, timeout), self.received
            return list(self.received[:count])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver()
    yield endpoint
    endpoint.close()


# -- helpers -----------------------------------------------------------------------------------------


def configure(fluent: FluentClient, **settings: Any) -> dict[str, Any]:
    result: dict[str, Any] = fluent.admin.call("PUT", "/webhooks", settings)
    return result


def webhooks(fluent: FluentClient) -> dict[str, Any]:
    result: dict[str, Any] = fluent.admin.call("GET", "/webhooks")
    return result


def settled(fluent: FluentClient, timeout: float = 5.0) -> dict[str, Any]:
    """The webhook state once no delivery is under way."""
    deadline = time.monotonic() + timeout
    while (state := webhooks(fluent))["counters"]["pending"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert state["counters"]["pending"] == 0, state
    return state


def place_order(fluent: FluentClient, ref: str = "HD-1001", order_type: str = "HD") -> dict[str, Any]:
    """An order created through the API (with its product and customer), status CREATED."""
    product = {"ref": f"P-{ref}", "catalogue": {"ref": MASTER}, "type": "STANDARD", "gtin": "4006381333931"}
    assert "errors" not in fluent.gql(CREATE_PRODUCT, {"input": {**product, "name": "Shirt"}})
    customer = fluent.create_customer(f"1_{ref.lower()}@example.com")
    item = {"ref": "LI-1", "productRef": product["ref"], "productCatalogueRef": MASTER, "quantity": 1}
    order_input = {"ref": ref, "type": order_type, "retailer": {"id": "1"}, "customer": {"id": customer["id"]}}
    body = fluent.gql(CREATE_ORDER, {"input": {**order_input, "items": [item]}})
    assert "errors" not in body, body
    order: dict[str, Any] = body["data"]["createOrder"]
    return order


def set_status(fluent: FluentClient, ref: str, status: str) -> None:
    response = fluent.admin.session.post(
        f"{fluent.base_url}/_admin/orders/{quote(ref, safe='')}/status", json={"status": status}, timeout=10
    )
    assert response.status_code == 200, response.text


def public_key(encoded: str) -> rsa.RSAPublicKey:
    key = serialization.load_der_public_key(base64.b64decode(encoded, validate=True))
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def verifies(key: str, body: bytes, signature: str, algorithm: hashes.HashAlgorithm | None = None) -> bool:
    """What a receiver does: RSASSA-PKCS1-v1_5 over the raw bytes (SHA-512 unless told)."""
    try:
        public_key(key).verify(base64.b64decode(signature), body, padding.PKCS1v15(), algorithm or hashes.SHA512())
    except InvalidSignature:
        return False
    return True


# -- events and signatures ---------------------------------------------------------------------------


def test_a_status_change_sends_one_signed_event(fluent: FluentClient, receiver: Receiver) -> None:
    order = place_order(fluent, "CC-1001", "CC")
    configure(fluent, url=receiver.url, **FAST)
    set_status(fluent, "CC-1001", "AWAITING_PICKUP")
    [request] = receiver.wait(1)
    event = request.event
    assert set(event) == EVENT_FIELDS
    assert event == {
        "id": event["id"],
        "name": "OrderStatus",
        "accountId": "CTFLUENT",
        "retailerId": "1",
        "entityType": "ORDER",
        "entitySubtype": "CC",
        "entityId": order["id"],
        "entityRef": "CC-1001",
        "entityStatus": "AWAITING_PICKUP",
        "rootEntityType": "ORDER",
        "rootEntityId": order["id"],
        "rootEntityRef": "CC-1001",
        "type": "NORMAL",
        "attributes": {},
        "meta": {},
        "trailLogs": [],
        "errorLogs": [],
    }
    assert len(event["id"]) == 36 and event["id"].count("-") == 4
    assert request.headers["content-type"] == "application/json"

    state = settled(fluent)
    key = state["public_key"]
    assert public_key(key).key_size == 2048 and "\n" not in key
    assert verifies(key, request.body, request.headers["fluent-signature"])
    assert verifies(key, request.body, request.headers["flex.signature"], hashes.MD5())
    changed = request.body.replace(b"AWAITING_PICKUP", b"COMPLETE")
    assert not verifies(key, changed, request.headers["fluent-signature"])
    assert not verifies(key, request.body + b" ", request.headers["fluent-signature"])
    assert state["counters"] == {"sent": 1, "attempts": 1, "retried": 0, "delivered": 1, "failed": 0, "pending": 0}
    assert state["deliveries"] == [
        {"event_id": event["id"], "attempts": 1, "outcome": "delivered", "status": 200, "error": None}
    ]


def test_every_status_change_is_a_new_event_with_the_configured_name(fluent: FluentClient, receiver: Receiver) -> None:
    place_order(fluent)
    configure(fluent, url=receiver.url, event_name="fc.connect.order.webhook.status-update", **FAST)
    for status in ("BOOKED", "COMPLETE", "COMPLETE"):
        set_status(fluent, "HD-1001", status)
    events = [request.event for request in receiver.wait(3)]
    # Deliveries run concurrently: they may arrive in any order (as Fluent's: it promises none).
    assert sorted((e["entityStatus"], e["entitySubtype"]) for e in events) == [
        ("BOOKED", "HD"),
        ("COMPLETE", "HD"),
        ("COMPLETE", "HD"),
    ]
    assert {e["name"] for e in events} == {"fc.connect.order.webhook.status-update"}
    assert len({e["id"] for e in events}) == 3


def test_bad_signature_mode_signs_other_bytes(fluent: FluentClient, receiver: Receiver) -> None:
    place_order(fluent)
    configure(fluent, url=receiver.url, bad_signature=True, **FAST)
    set_status(fluent, "HD-1001", "BOOKED")
    [request] = receiver.wait(1)
    key = webhooks(fluent)["public_key"]
    assert request.event["entityStatus"] == "BOOKED"
    assert request.headers["fluent-signature"] and request.headers["flex.signature"]
    assert not verifies(key, request.body, request.headers["fluent-signature"])
    assert not verifies(key, request.body, request.headers["flex.signature"], hashes.MD5())


def test_no_url_sends_nothing(fluent: FluentClient, receiver: Receiver) -> None:
    place_order(fluent)
    set_status(fluent, "HD-1001", "BOOKED")
    assert configure(fluent, url=receiver.url)["url"] == receiver.url
    assert configure(fluent, url=None)["url"] is None
    set_status(fluent, "HD-1001", "COMPLETE")
    time.sleep(0.2)
    assert receiver.received == []
    assert settled(fluent)["counters"]["sent"] == 0
    send = fluent.admin.session.post(f"{fluent.base_url}/_admin/webhooks/send", json={"id": "e-1"}, timeout=10)
    assert send.status_code == 409


# -- delivery and retries ----------------------------------------------------------------------------


def test_a_timeout_and_an_error_are_retried_with_the_same_event(fluent: FluentClient, receiver: Receiver) -> None:
    place_order(fluent)
    configure(fluent, url=receiver.url, **FAST)
    receiver.script = ["hang", 503]
    set_status(fluent, "HD-1001", "BOOKED")
    requests_seen = receiver.wait(3)
    assert len({request.body for request in requests_seen}) == 1  # the same bytes, so the same id
    assert len({request.headers["fluent-signature"] for request in requests_seen}) == 1
    state = settled(fluent)
    assert state["counters"] == {"sent": 1, "attempts": 3, "retried": 2, "delivered": 1, "failed": 0, "pending": 0}
    [delivery] = state["deliveries"]
    assert delivery == {
        "event_id": requests_seen[0].event["id"],
        "attempts": 3,
        "outcome": "delivered",
        "status": 200,
        "error": None,
    }


def test_delivery_gives_up_after_three_retries(fluent: FluentClient, receiver: Receiver) -> None:
    place_order(fluent)
    configure(fluent, url=receiver.url, **FAST)
    receiver.script = [503, 500, 502, 503]  # a fifth attempt would get 200
    set_status(fluent, "HD-1001", "BOOKED")
    requests_seen = receiver.wait(4)
    assert len({request.event["id"] for request in requests_seen}) == 1
    state = settled(fluent)
    time.sleep(0.15)  # more than a retry delay: no fifth attempt
    assert len(receiver.received) == 4
    assert state["counters"] == {"sent": 1, "attempts": 4, "retried": 3, "delivered": 0, "failed": 1, "pending": 0}
    assert state["deliveries"][0]["status"] == 503 and state["deliveries"][0]["outcome"] == "failed"


def test_a_refused_connection_is_retried_then_failed(fluent: FluentClient) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    place_order(fluent)
    configure(fluent, url=f"http://127.0.0.1:{closed_port}/hooks", **FAST)
    set_status(fluent, "HD-1001", "BOOKED")
    state = settled(fluent)
    assert state["counters"] == {"sent": 1, "attempts": 4, "retried": 3, "delivered": 0, "failed": 1, "pending": 0}
    assert state["deliveries"][0]["error"].startswith("connection")


def test_the_admin_route_sends_a_raw_event_as_it_is(fluent: FluentClient, receiver: Receiver) -> None:
    configure(fluent, url=receiver.url, **FAST)
    raw = b'{"id": "replayed-1",  "name": "OrderStatus", "entityRef": "X"}'
    response = fluent.admin.session.post(
        f"{fluent.base_url}/_admin/webhooks/send",
        data=raw,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"sent": True, "id": "replayed-1"}
    [request] = receiver.wait(1)
    assert request.body == raw
    assert verifies(webhooks(fluent)["public_key"], raw, request.headers["fluent-signature"])
    bad = fluent.admin.session.post(f"{fluent.base_url}/_admin/webhooks/send", json=[1], timeout=10)
    assert bad.status_code == 400


def test_settings_are_checked_and_reset_restores_the_defaults(fluent: FluentClient, receiver: Receiver) -> None:
    defaults = webhooks(fluent)
    assert {k: v for k, v in defaults.items() if k not in ("public_key", "counters")} == {
        "url": None,
        "bad_signature": False,
        "timeout_seconds": 10.0,
        "retry_delays_seconds": [2.0, 4.0, 8.0],  # Fluent: "retried 3 times within 14 seconds"
        "event_name": "OrderStatus",
        "deliveries": [],
    }
    for bad in (
        {"url": "ftp://example.com"},
        {"timeout_seconds": 0},
        {"retry_delays_seconds": [1, 1, 1, 1]},
        {"retry_delays_seconds": [-1]},
        {"bad_signature": "yes"},
        {"event_name": ""},
        {"colour": "red"},
    ):
        response = fluent.admin.session.put(f"{fluent.base_url}/_admin/webhooks", json=bad, timeout=10)
        assert response.status_code == 400, bad
    place_order(fluent)
    configure(fluent, url=receiver.url, bad_signature=True, **FAST)
    set_status(fluent, "HD-1001", "BOOKED")
    receiver.wait(1)
    settled(fluent)
    fluent.admin.reset()
    assert webhooks(fluent) == defaults  # the key pair stays


# -- the sandbox's environment -----------------------------------------------------------------------


def test_the_environment_has_the_webhook_key_and_a_commercetools_write_client(receiver: Receiver) -> None:
    credentials = SandboxCredentials.fresh()
    ct, fluent_emulator = credentials.emulators(PROJECT)
    ct.seed(customers=1, days=1, seed=1, products=1, orders=1, categories=1, variants=1)
    [order] = list(ct.orders.collection)
    with BackgroundSandbox({"ct": (ct, 0), "fluent": (fluent_emulator, 0)}) as sandbox:
        env = credentials.connection_env(sandbox.urls["ct"], sandbox.urls["fluent"], PROJECT)
        fluent = FluentClient(sandbox.urls["fluent"])

        # The public key: the emulator's, and what its signatures verify with.
        [key] = env["FLUENT_WEBHOOK_PUBLIC_KEYS"].split(",")
        assert key == fluent_emulator.webhook_public_key == webhooks(fluent)["public_key"]
        configure(fluent, url=receiver.url, **FAST)
        raw = b'{"id":"e-1","name":"OrderStatus"}'
        fluent.admin.session.post(f"{fluent.base_url}/_admin/webhooks/send", data=raw, timeout=10)
        [request] = receiver.wait(1)
        assert verifies(key, raw, request.headers["fluent-signature"])

        # The write client: a token with exactly its scopes, and an order update.
        assert env["CTP_WRITE_SCOPES"] == "manage_orders view_orders manage_channels manage_stores manage_products"
        assert env["CTP_WRITE_CLIENT_ID"] != env["CTP_CLIENT_ID"]
        write = ct_token(env, "CTP_WRITE_CLIENT_ID", "CTP_WRITE_CLIENT_SECRET", env["CTP_WRITE_SCOPES"])
        assert set(write["scope"].split()) == {f"{scope}:{PROJECT}" for scope in env["CTP_WRITE_SCOPES"].split()}
        refused = ct_token_response(env, "CTP_WRITE_CLIENT_ID", "CTP_WRITE_CLIENT_SECRET", "view_customers")
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"
        read = ct_token(env, "CTP_CLIENT_ID", "CTP_CLIENT_SECRET", env["CTP_SCOPES"])

        state = "Complete" if order["orderState"] != "Complete" else "Confirmed"
        update = change_order_state(env, read["access_token"], order, state)
        assert update.status_code == 403, update.text
        update = change_order_state(env, write["access_token"], order, state)
        assert update.status_code == 200, update.text
        assert update.json()["orderState"] == state


def ct_token_response(env: dict[str, str], client_id: str, secret: str, scopes: str) -> requests.Response:
    """A token for the client named by the env variables, with ``scopes`` qualified as the product does."""
    scope = " ".join(f"{name}:{env['CTP_PROJECT_KEY']}" for name in scopes.split())
    return requests.post(
        f"{env['CTP_AUTH_URL']}/oauth/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(env[client_id], env[secret]),
        timeout=10,
    )


def ct_token(env: dict[str, str], client_id: str, secret: str, scopes: str) -> dict[str, Any]:
    response = ct_token_response(env, client_id, secret, scopes)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def change_order_state(env: dict[str, str], token: str, order: dict[str, Any], state: str) -> requests.Response:
    return requests.post(
        f"{env['CTP_API_URL']}/{env['CTP_PROJECT_KEY']}/orders/{order['id']}",
        json={"version": order["version"], "actions": [{"action": "changeOrderState", "orderState": state}]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
