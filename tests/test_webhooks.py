"""The Fluent webhook receiver: signatures, the account, the types and retailers it takes, dedupe, limits against
hostile bodies and slow clients, and the event store (on SQLite and the real PostgreSQL), over Starlette's test client
and over a real uvicorn server; the service command, which runs no DDL, and its launches of Dagster jobs."""

from __future__ import annotations

import ast
import base64
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses as responses_lib
import uvicorn
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from starlette.applications import Starlette

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its test client and warns when it finds httpx (what is installed here).
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient

from ctfluent_dagster import webhook_service
from ctfluent_dagster.webhooks.app import COUNTERS, ReceiverScope, create_app
from ctfluent_dagster.webhooks.events import FluentEvent, FluentEventStore, InvalidEvent
from ctfluent_dagster.webhooks.settings import ConfigurationError, WebhookSettings
from ctfluent_dagster.webhooks.signature import InvalidPublicKey, SignatureVerifier, load_public_key

PACKAGE = Path(__file__).resolve().parent.parent / "ctfluent_dagster" / "webhooks"
PATH = "/fluent/webhooks"
SETTINGS_VARIABLES = (
    "FLUENT_WEBHOOK_PUBLIC_KEYS", "CTFLUENT_LEDGER_URL", "CTFLUENT_WEBHOOKS__PATH",
    "CTFLUENT_WEBHOOKS__MAX_BODY_BYTES", "CTFLUENT_WEBHOOKS__HOST", "CTFLUENT_WEBHOOKS__PORT", "FLUENT_ACCOUNT_ID",
    "FLUENT_HOST", "FLUENT_RETAILER_ID", "CTFLUENT_WEBHOOKS__LOCAL", "CTFLUENT_WEBHOOKS__DAGSTER_URL",
    "CTFLUENT_WEBHOOKS__DAGSTER_HEADERS", "CTFLUENT_SETTINGS_FILE",
)  # fmt: skip
# What the receiver takes in these tests: account ACME's order events, for retailer 1.
SCOPE = ReceiverScope("ACME", frozenset({"ORDER"}), frozenset({"1"}))
# Something personal an event's attributes could carry: it must never reach the store or the logs.
PERSONAL = "jane.doe@example.com"


# -- keys and events -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fluent_key() -> rsa.RSAPrivateKey:
    """The sending environment's key (the sandbox's are 2048-bit)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def rotated_key() -> rsa.RSAPrivateKey:
    """A second configured key, 1024-bit like Fluent's production keys (``MIGfMA0GCSqGSIb3DQEBAQUAA4GNAD...``)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


@pytest.fixture(scope="module")
def stranger_key() -> rsa.RSAPrivateKey:
    """A key nobody configured (a forger's)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_der(key: rsa.RSAPrivateKey) -> str:
    """The public key as Fluent hands it out: X.509 SubjectPublicKeyInfo, base64 DER."""
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def sign(key: rsa.RSAPrivateKey, body: bytes, algorithm: hashes.HashAlgorithm | None = None) -> str:
    return base64.b64encode(key.sign(body, padding.PKCS1v15(), algorithm or hashes.SHA512())).decode()


def event_json(event_id: str = "b34281d0-5a8a-4f2b-9d0e-1f0c2e3d4a5b", **overrides: Any) -> dict[str, Any]:
    """An order status event like Fluent's (docs/fluent-api.md section 7), with personal data in its attributes."""
    event = {
        "id": event_id,
        "name": "OrderStatus",
        "accountId": "ACME",
        "retailerId": "1",
        "entityType": "ORDER",
        "entitySubtype": "HD",
        "entityId": "3786",
        "entityRef": "HD_387_56",
        "entityStatus": "COMPLETE",
        "rootEntityType": "ORDER",
        "rootEntityId": "3786",
        "rootEntityRef": "HD_387_56",
        "type": "NORMAL",
        "attributes": {"customerEmail": PERSONAL},
        "meta": {"mode": "SYNC"},
        "trailLogs": [],
        "errorLogs": [],
    }
    event.update(overrides)
    return {name: value for name, value in event.items() if value is not None}


def body_of(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


# -- the store and the app -----------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def store(ledger_url: str) -> Iterator[FluentEventStore]:
    """The event store on the ledger's database, SQLite and PostgreSQL (the ``ledger_url`` fixture)."""
    event_store = FluentEventStore(ledger_url)
    yield event_store
    event_store.close()


def settings_for(*keys: rsa.RSAPrivateKey, **values: Any) -> WebhookSettings:
    return WebhookSettings(public_keys=",".join(public_der(key) for key in keys), **values)


@pytest.fixture
def app(store: FluentEventStore, fluent_key: rsa.RSAPrivateKey, rotated_key: rsa.RSAPrivateKey) -> Starlette:
    return create_app(settings_for(fluent_key, rotated_key, max_body_bytes=4096), SCOPE, store)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def post(client: TestClient, body: bytes, signature: str | None, path: str = PATH, **headers: str) -> Any:
    if signature is not None:
        headers["fluent-signature"] = signature
    return client.post(path, content=body, headers={"content-type": "application/json", **headers})


def counters(client: TestClient) -> dict[str, int]:
    response = client.get("/health")
    assert response.status_code == 200 and response.json()["status"] == "ok"
    found: dict[str, int] = response.json()["counters"]
    return found


def only(**counts: int) -> dict[str, int]:
    return {name: counts.get(name, 0) for name in COUNTERS}


# -- receiving -----------------------------------------------------------------------------------------------------


def test_a_signed_event_is_recorded_once_and_a_redelivery_is_a_duplicate(
    store: FluentEventStore, fluent_key: rsa.RSAPrivateKey
) -> None:
    app = create_app(settings_for(fluent_key), SCOPE, store)
    body = body_of(event_json())
    with TestClient(app) as client:
        first = post(client, body, sign(fluent_key, body))
        assert (first.status_code, first.json()) == (200, {"status": "accepted"})
        # Fluent retries a request that timed out: the same bytes, the same signature.
        for _ in range(3):
            again = post(client, body, sign(fluent_key, body))
            assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
        assert counters(client) == only(accepted=1, duplicates=3)

    (event,) = store.pending()
    assert event == FluentEvent(
        event_id="b34281d0-5a8a-4f2b-9d0e-1f0c2e3d4a5b", name="OrderStatus", entity_type="ORDER",
        entity_subtype="HD", entity_id="3786", entity_ref="HD_387_56", entity_status="COMPLETE", retailer_id="1",
        received_at=event.received_at,  # the account is checked, not kept: every stored event is ACME's
    )  # fmt: skip
    assert event.received_at.tzinfo is not None
    assert timedelta(0) <= datetime.now(UTC) - event.received_at < timedelta(minutes=1)
    assert store.counts() == {"pending": 1, "handled": 0}


def test_an_event_signed_by_the_second_configured_key_is_accepted(
    client: TestClient, rotated_key: rsa.RSAPrivateKey, store: FluentEventStore
) -> None:
    body = body_of(event_json("rotated-1"))
    assert post(client, body, sign(rotated_key, body)).json() == {"status": "accepted"}
    assert [e.event_id for e in store.pending()] == ["rotated-1"]


def _forgeries(fluent: rsa.RSAPrivateKey, stranger: rsa.RSAPrivateKey, body: bytes) -> dict[str, Any]:
    """(body sent, headers) of requests that must be refused, by the counter they count in."""
    altered = bytearray(body)
    altered[body.index(b"COMPLETE")] = ord("K")  # signed, then one byte changed: "KOMPLETE"
    signature = sign(fluent, body)
    flipped = bytearray(base64.b64decode(signature))
    flipped[-1] ^= 1
    return {
        "missing": (body, {}, "rejected_unsigned"),
        "empty": (body, {"fluent-signature": "  "}, "rejected_unsigned"),
        # The legacy MD5 signature alone (a valid one, by the right key) is not enough.
        "md5 only": (body, {"flex.signature": sign(fluent, body, hashes.MD5())}, "rejected_unsigned"),
        "other key": (body, {"fluent-signature": sign(stranger, body)}, "rejected_forged"),
        "modified body": (bytes(altered), {"fluent-signature": signature}, "rejected_forged"),
        "flipped bit": (body, {"fluent-signature": base64.b64encode(bytes(flipped)).decode()}, "rejected_forged"),
        "sha256": (body, {"fluent-signature": sign(fluent, body, hashes.SHA256())}, "rejected_forged"),
        "garbage": (body, {"fluent-signature": "not base64 at all!"}, "rejected_forged"),
        "base64 garbage": (body, {"fluent-signature": "AAAA"}, "rejected_forged"),
        "huge header": (body, {"fluent-signature": "A" * 4000}, "rejected_forged"),
    }


@pytest.mark.parametrize(
    "case",
    ["missing", "empty", "md5 only", "other key", "modified body", "flipped bit", "sha256", "garbage",
     "base64 garbage", "huge header"],
)  # fmt: skip
def test_unsigned_forged_and_garbled_requests_are_refused_and_counted(
    case: str,
    client: TestClient,
    fluent_key: rsa.RSAPrivateKey,
    stranger_key: rsa.RSAPrivateKey,
    store: FluentEventStore,
) -> None:
    body, headers, counter = _forgeries(fluent_key, stranger_key, body_of(event_json()))[case]
    response = post(client, body, None, **headers)
    assert response.status_code == 401
    assert "error" in response.json()
    assert counters(client) == only(**{counter: 1})
    assert store.pending() == []
    assert store.counts() == {"pending": 0, "handled": 0}


def test_a_body_over_the_limit_is_refused_with_413(
    client: TestClient, fluent_key: rsa.RSAPrivateKey, store: FluentEventStore
) -> None:
    body = body_of(event_json(filler="x" * 5000))  # the app's limit: 4096 bytes
    assert post(client, body, sign(fluent_key, body)).status_code == 413

    def chunked() -> Iterator[bytes]:  # no Content-Length: found while streaming
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    response = client.post(PATH, content=chunked(), headers={"fluent-signature": sign(fluent_key, body)})
    assert response.status_code == 413
    assert counters(client) == only(rejected_too_large=2)
    assert store.pending() == []

    within = body_of(event_json("small", filler="x" * 3000))
    assert len(within) <= 4096
    assert post(client, within, sign(fluent_key, within)).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe",
        b"[1, 2]",
        b"",
        body_of(event_json(id=None)),
        body_of(event_json(entityType=None)),
        body_of(event_json(entityStatus="")),
        body_of(event_json(entityId=None, entityRef=None)),
        body_of(event_json(id={"nested": "object"})),
        body_of(event_json(id="x" * 129)),
    ],
    ids=["not json", "not utf-8", "array", "empty", "no id", "no entityType", "empty status", "no entity", "id object",
         "id too long"],
)  # fmt: skip
def test_a_signed_body_that_is_no_event_is_refused_with_400(
    body: bytes, client: TestClient, fluent_key: rsa.RSAPrivateKey, store: FluentEventStore
) -> None:
    response = post(client, body, sign(fluent_key, body))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid event"
    assert counters(client) == only(rejected_invalid=1)
    assert store.pending() == []


@pytest.mark.parametrize(
    "body",
    [b'{"id": "deep", "attributes": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
     b'{"id": "long", "entityType": "ORDER", "entityRef": "R", "entityStatus": "X", "n": ' + b"7" * 5_000 + b"}",
     b'{"id": "float", "entityType": "ORDER", "entityRef": "R", "entityStatus": "X", "n": 1e' + b"9" * 50 + b"}",
     b'{"id": "deep-object", "a": ' + b'{"a": ' * 40 + b"1" + b"}" * 40 + b"}"],
    ids=["nested 30,000 deep", "a 5,000-digit number", "a 50-digit exponent", "objects 40 deep"],
)  # fmt: skip
def test_a_signed_but_hostile_body_is_refused_with_400_never_500(
    body: bytes, fluent_key: rsa.RSAPrivateKey, store: FluentEventStore
) -> None:
    with TestClient(create_app(settings_for(fluent_key), SCOPE, store)) as client:  # the default 64 KiB limit
        response = post(client, body, sign(fluent_key, body))
        assert response.status_code == 400
        assert response.json()["error"] == "invalid event"
        assert counters(client) == only(rejected_invalid=1)
        assert store.pending() == []
        # Digits and brackets inside strings are text, not structure.
        text = body_of(event_json("strings", entityRef="[" * 100 + "9" * 100))
        assert post(client, text, sign(fluent_key, text)).json() == {"status": "accepted"}


@pytest.mark.parametrize("account", ["SOMEONE_ELSE", None, ""], ids=["another account", "no account", "empty"])
def test_a_signed_event_of_another_account_is_refused_with_403_and_counted(
    account: str | None, client: TestClient, fluent_key: rsa.RSAPrivateKey, store: FluentEventStore
) -> None:
    """Fluent signs every account of a region and environment with one key: a valid signature does not prove the
    event is this account's."""
    body = body_of(event_json("theirs", accountId=account, retailerId="999", entityStatus="CANCELLED"))
    response = post(client, body, sign(fluent_key, body))
    assert (response.status_code, response.json()["error"]) == (403, "not an event of this account")
    assert counters(client) == only(rejected_account=1)
    assert store.pending() == [] and store.counts() == {"pending": 0, "handled": 0}
    ours = body_of(event_json("ours", accountId="acme"))  # the account name, whatever its case
    assert post(client, ours, sign(fluent_key, ours)).json() == {"status": "accepted"}


def test_events_the_project_does_not_act_on_are_answered_but_not_recorded(
    client: TestClient, fluent_key: rsa.RSAPrivateKey, store: FluentEventStore
) -> None:
    for number in range(1000):  # a flood of a type no consumer handles
        body = body_of(event_json(f"position-{number}", entityType="INVENTORY_POSITION", entityRef=f"P{number}"))
        assert post(client, body, sign(fluent_key, body)).json() == {"status": "ignored"}
    other_retailer = body_of(event_json("elsewhere", retailerId="2"))
    assert post(client, other_retailer, sign(fluent_key, other_retailer)).json() == {"status": "ignored"}
    order = body_of(event_json("the-order"))
    assert post(client, order, sign(fluent_key, order)).json() == {"status": "accepted"}
    assert counters(client) == only(ignored_type=1000, ignored_retailer=1, accepted=1)
    assert [e.event_id for e in store.pending()] == ["the-order"]


def test_the_path_is_configurable_and_other_methods_are_not_allowed(
    store: FluentEventStore, fluent_key: rsa.RSAPrivateKey
) -> None:
    app = create_app(settings_for(fluent_key, path="/hooks/fluent/"), SCOPE, store)
    body = body_of(event_json())
    with TestClient(app) as client:
        assert post(client, body, sign(fluent_key, body), path="/hooks/fluent").status_code == 200
        assert post(client, body, sign(fluent_key, body), path=PATH).status_code == 404
        assert client.get("/hooks/fluent").status_code == 405


def test_a_store_failure_answers_503_so_that_a_redelivery_can_succeed(
    client: TestClient, app: Starlette, fluent_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(event: FluentEvent) -> bool:
        raise ConnectionError(f"database unreachable while storing {event.entity_ref}")

    monkeypatch.setattr(app.state.store, "record", broken)
    body = body_of(event_json())
    assert post(client, body, sign(fluent_key, body)).status_code == 503
    monkeypatch.undo()
    assert post(client, body, sign(fluent_key, body)).json() == {"status": "accepted"}
    assert counters(client) == only(store_errors=1, accepted=1)


def test_logs_name_the_event_but_never_the_body(
    client: TestClient, fluent_key: rsa.RSAPrivateKey, stranger_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = body_of(event_json("logged-1"))
    post(client, body, sign(fluent_key, body))
    post(client, body, sign(fluent_key, body))
    post(client, body, sign(stranger_key, body))
    post(client, body, None)
    invalid = body_of(event_json(entityType=None))
    post(client, invalid, sign(fluent_key, invalid))
    big = body_of(event_json(filler="x" * 5000))
    post(client, big, sign(fluent_key, big))

    text = caplog.text
    assert "logged-1" in text and "ORDER" in text and "COMPLETE" in text  # what is logged
    assert PERSONAL not in text and "ACME" not in text and "customerEmail" not in text
    assert '"id"' not in text and "xxxxxxxx" not in text


# -- the event and its store ---------------------------------------------------------------------------------------


def test_an_event_keeps_identifiers_and_status_only() -> None:
    event = FluentEvent.from_json(body_of(event_json(entityId=3786, retailerId=1, unknownField={"a": 1})))
    assert (event.entity_id, event.retailer_id) == ("3786", "1")  # numbers taken as their text
    assert PERSONAL not in repr(event) and "ACME" not in repr(event)
    assert FluentEvent.from_json(event_json(entityId=None)).entity_ref == "HD_387_56"  # ref alone is enough
    assert FluentEvent.from_json(event_json(entityRef=None)).entity_id == "3786"  # and so is the id
    minimal = {"id": "e1", "entityType": "ORDER", "entityRef": "R1", "entityStatus": "BOOKED"}
    assert FluentEvent.from_json(minimal).name is None


def test_an_invalid_event_names_the_fields_not_their_values() -> None:
    with pytest.raises(InvalidEvent) as raised:
        FluentEvent.from_json(event_json(id=None, entityStatus=[PERSONAL], entityId=None, entityRef=None))
    message = str(raised.value)
    assert "id" in message and "entityStatus" in message and PERSONAL not in message
    with pytest.raises(InvalidEvent, match="entityId or entityRef"):
        FluentEvent.from_json(event_json(entityId="", entityRef=None))


def test_pending_is_oldest_first_until_handled(store: FluentEventStore) -> None:
    start = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    for number, minutes in enumerate([5, 1, 3, 2, 4]):
        event = FluentEvent.from_json(event_json(f"e{number}", entityRef=f"HD_{number}"), received_at=start)
        assert store.record(FluentEvent(**{**event.__dict__, "received_at": start + timedelta(minutes=minutes)}))
    assert [e.event_id for e in store.pending()] == ["e1", "e3", "e2", "e4", "e0"]
    assert [e.event_id for e in store.pending(limit=2)] == ["e1", "e3"]
    assert store.pending()[0].received_at == start + timedelta(minutes=1)

    store.mark_handled(["e1", "e3", "unknown"])
    store.mark_handled([])
    assert [e.event_id for e in store.pending()] == ["e2", "e4", "e0"]
    assert store.counts() == {"pending": 3, "handled": 2}
    # A handled event stays known: its redelivery is still a duplicate, and does not come back as pending.
    assert store.record(FluentEvent.from_json(event_json("e1"))) is False
    assert store.counts() == {"pending": 3, "handled": 2}

    store.mark_handled([f"e{number}" for number in range(5)])
    assert store.pending() == []
    assert store.prune(handled_before=datetime.now(UTC) + timedelta(seconds=1)) == 5
    assert store.counts() == {"pending": 0, "handled": 0}


def test_concurrent_deliveries_of_one_event_record_it_once(store: FluentEventStore) -> None:
    event = FluentEvent.from_json(event_json("raced"))
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: store.record(event), range(16)))
    assert results.count(True) == 1
    assert [e.event_id for e in store.pending()] == ["raced"]


def test_the_store_finds_the_ledger_database_like_the_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'from-env.sqlite'}"
    monkeypatch.setenv("CTFLUENT_LEDGER_URL", url)
    event_store = FluentEventStore()
    try:
        assert event_store.url == url
        assert event_store.record(FluentEvent.from_json(event_json()))
    finally:
        event_store.close()
    monkeypatch.setenv("CTFLUENT_LEDGER_URL", "")  # empty: unset, the ledger's default under DAGSTER_HOME
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    default = FluentEventStore(migrate=False)
    try:
        assert default.url == f"sqlite:///{(tmp_path / 'home' / 'ctfluent' / 'ledger.sqlite').resolve()}"
    finally:
        default.close()


# -- settings and keys ---------------------------------------------------------------------------------------------


def test_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, fluent_key: rsa.RSAPrivateKey, rotated_key: rsa.RSAPrivateKey
) -> None:
    monkeypatch.setenv("FLUENT_WEBHOOK_PUBLIC_KEYS", f" {public_der(fluent_key)} ,\n{public_der(rotated_key)},")
    monkeypatch.setenv("CTFLUENT_WEBHOOKS__PATH", "/in/fluent")
    monkeypatch.setenv("CTFLUENT_WEBHOOKS__MAX_BODY_BYTES", "1000")
    monkeypatch.setenv("CTFLUENT_WEBHOOKS__PORT", "")  # empty: the default
    monkeypatch.setenv("CTFLUENT_LEDGER_URL", "sqlite:///x.sqlite")
    settings = WebhookSettings()
    assert (settings.path, settings.max_body_bytes, settings.host, settings.port, settings.ledger_url) == (
        "/in/fluent", 1000, "127.0.0.1", 8090, "sqlite:///x.sqlite"
    )  # fmt: skip
    assert len(settings.verifier().keys) == 2


def test_without_keys_the_service_refuses_to_start(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="FLUENT_WEBHOOK_PUBLIC_KEYS is not set"):
        WebhookSettings(ledger_url=f"sqlite:///{tmp_path / 'l.sqlite'}").verifier()
    assert webhook_service.main(["--port", "0"]) == 2
    assert "FLUENT_WEBHOOK_PUBLIC_KEYS is not set" in capsys.readouterr().err
    assert not (tmp_path / "l.sqlite").exists()  # refused before touching the database


def test_the_account_comes_from_the_fluent_host_unless_configured(fluent_key: rsa.RSAPrivateKey) -> None:
    assert (
        settings_for(fluent_key, fluent_host="https://ACME.sandbox.api.fluentretail.com").expected_account() == "acme"
    )
    assert settings_for(fluent_key, fluent_host="https://acme.api.fluentretail.com/").expected_account() == "acme"
    configured = settings_for(fluent_key, account_id="OTHER", fluent_host="https://acme.api.fluentretail.com")
    assert configured.expected_account() == "OTHER"
    for host in ("http://127.0.0.1:8082", "https://fluentretail.com.evil.example", None):
        with pytest.raises(ConfigurationError, match="FLUENT_ACCOUNT_ID is not set"):
            settings_for(fluent_key, fluent_host=host).expected_account()
        assert settings_for(fluent_key, fluent_host=host, local=True).expected_account() is None  # the sandbox


def test_without_a_ledger_url_the_service_refuses_to_start_unless_local(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fluent_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    monkeypatch.setenv("FLUENT_WEBHOOK_PUBLIC_KEYS", public_der(fluent_key))
    monkeypatch.setenv("FLUENT_ACCOUNT_ID", "ACME")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    assert webhook_service.main(["--port", "0"]) == 2
    assert "CTFLUENT_LEDGER_URL is not set" in capsys.readouterr().err
    assert not (tmp_path / "ctfluent").exists()  # no container-local database that nothing reads
    assert WebhookSettings(local=True).required_ledger_url() is None  # locally: the default ledger


def test_a_key_that_does_not_load_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()  # not RSA
    ec_der = base64.b64encode(
        ec_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ).decode()
    for value, message in [("MIGfMA0GCSqG!!", "public key #1"), (ec_der, "not an RSA public key")]:
        with pytest.raises(ConfigurationError, match=message):
            WebhookSettings(public_keys=value).verifier()
    with pytest.raises(InvalidPublicKey):
        SignatureVerifier([])


def test_a_pem_key_loads_too_and_verification_needs_the_exact_bytes(fluent_key: rsa.RSAPrivateKey) -> None:
    pem = (
        fluent_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    assert load_public_key(pem).public_numbers() == fluent_key.public_key().public_numbers()
    verifier = SignatureVerifier.from_config(public_der(fluent_key))
    body = body_of(event_json())
    assert verifier.verify(body, sign(fluent_key, body))
    assert not verifier.verify(body + b" ", sign(fluent_key, body))  # re-serialised JSON is another body
    assert not verifier.verify(body, None)
    assert not verifier.verify(body, "")


def test_cli_help_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        webhook_service.main(["--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert (
        "--host" in text and "--port" in text and "FLUENT_WEBHOOK_PUBLIC_KEYS" in text and "FLUENT_ACCOUNT_ID" in text
    )


# -- a real server -------------------------------------------------------------------------------------------------


@pytest.fixture
def server(app: Starlette) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, in a thread; its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    uvicorn_server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uvicorn_server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def http(url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_over_a_real_server(server: str, fluent_key: rsa.RSAPrivateKey, store: FluentEventStore) -> None:
    body = body_of(event_json("served-1"))
    headers = {"content-type": "application/json", "fluent-signature": sign(fluent_key, body)}
    assert http(server + PATH, body, headers) == (200, {"status": "accepted"})
    assert http(server + PATH, body, headers) == (200, {"status": "duplicate"})
    assert http(server + PATH, body + b"\n", headers)[0] == 401

    # A huge declared body is refused from its headers: the server answers before it has been sent.
    with socket.create_connection(("127.0.0.1", int(server.rsplit(":", 1)[1])), timeout=10) as conn:
        conn.sendall(
            f"POST {PATH} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {100 * 1024 * 1024}\r\n\r\n".encode()
            + b"{" * 1000
        )
        reply = conn.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 413")

    status, health = http(server + "/health")
    assert status == 200
    assert health["counters"] == only(accepted=1, duplicates=1, rejected_forged=1, rejected_too_large=1)
    assert [e.event_id for e in store.pending()] == ["served-1"]


def test_a_trickled_body_gets_408_and_an_idle_connection_is_closed(
    store: FluentEventStore, fluent_key: rsa.RSAPrivateKey
) -> None:
    """A client that holds a connection by trickling its body, or by keeping it idle, is cut off (the service's
    uvicorn settings: a body timeout in the app, a keep-alive timeout, a concurrency limit)."""
    settings = settings_for(fluent_key, body_timeout_seconds=1, keep_alive_seconds=1)
    app = create_app(settings, SCOPE, store)
    args = webhook_service.parse_args(["--log-level", "warning"])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = webhook_service.uvicorn_config(app, settings, "127.0.0.1", port, args)
    assert (config.timeout_keep_alive, config.limit_concurrency) == (1, settings.max_concurrency)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)
        body = body_of(event_json("trickled"))
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(f"POST {PATH} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(body)}\r\n"
                         f"fluent-signature: {sign(fluent_key, body)}\r\n\r\n".encode())  # fmt: skip
            started = time.monotonic()
            reply = b""
            for byte in body:  # one byte every 0.2 s: the whole body would take minutes
                try:
                    conn.sendall(bytes([byte]))
                except OSError:  # the server answered and closed
                    break
                conn.settimeout(0.2)
                try:
                    reply = conn.recv(4096)
                except TimeoutError:
                    continue
                if reply:
                    break
            waited = time.monotonic() - started
        assert reply.startswith(b"HTTP/1.1 408"), reply
        assert waited < 5
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert conn.recv(4096).startswith(b"HTTP/1.1 200")
            conn.settimeout(5)
            started = time.monotonic()
            assert conn.recv(4096) == b""  # closed by the server once idle for the keep-alive timeout
            assert time.monotonic() - started < 4
        assert store.pending() == []
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def bin_of(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def test_the_command_runs_no_ddl_and_serves_once_migrated(
    ledger_url: str, fluent_key: rsa.RSAPrivateKey, rotated_key: rsa.RSAPrivateKey
) -> None:
    """``ctfluent-webhooks`` as installed: it refuses a database that ``ctfluent-migrate`` has not brought up to
    date (it runs no DDL itself), then serves, and stops on SIGTERM."""
    port = free_port()
    env = {**os.environ, "FLUENT_WEBHOOK_PUBLIC_KEYS": f"{public_der(fluent_key)},{public_der(rotated_key)}",
           "CTFLUENT_LEDGER_URL": ledger_url, "FLUENT_ACCOUNT_ID": "acme", "FLUENT_RETAILER_ID": "1"}  # fmt: skip
    command = [bin_of("ctfluent-webhooks"), "--port", str(port)]
    refused = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "run ctfluent-migrate" in refused.stderr, refused.stderr
    migrated = subprocess.run(
        [bin_of("ctfluent-migrate")], check=False, env=env, capture_output=True, text=True, timeout=120
    )
    assert migrated.returncode == 0 and "at the latest migration" in migrated.stdout, migrated.stderr

    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, health = http(f"http://127.0.0.1:{port}/health")
                break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "ctfluent-webhooks did not start"
                time.sleep(0.2)
        assert status == 200 and health["status"] == "ok"
        body = body_of(event_json("via-cli"))  # account ACME: compared case-insensitively
        headers = {"content-type": "application/json", "fluent-signature": sign(rotated_key, body)}
        assert http(f"http://127.0.0.1:{port}{PATH}", body, headers) == (200, {"status": "accepted"})
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the signal it caught (so the process ends "killed by SIGTERM").
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output
    assert "accepted event via-cli" in output and PERSONAL not in output
    event_store = FluentEventStore(ledger_url, migrate=False)
    try:
        assert [e.event_id for e in event_store.pending()] == ["via-cli"]
    finally:
        event_store.close()


@pytest.mark.postgres
def test_the_receivers_database_role_needs_only_the_documented_grants(
    postgres_database: str, fluent_key: rsa.RSAPrivateKey
) -> None:
    """The README's grants for the receiver's role are enough to receive, and the role can run no DDL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ProgrammingError

    from ctfluent_dagster.ledger.store import Ledger

    owner = Ledger(postgres_database)
    owner.migrate()
    role = f"receiver_{os.urandom(4).hex()}"
    database = make_url(postgres_database).database
    with owner.engine.begin() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        for grant in RECEIVER_GRANTS:
            conn.execute(text(grant.format(role=role, database=database)))
    as_receiver = make_url(postgres_database).set(username=role).render_as_string(hide_password=False)
    store = FluentEventStore(as_receiver, migrate=False)
    try:
        assert store.unmigrated() is None
        with TestClient(create_app(settings_for(fluent_key), SCOPE, store)) as client:
            body = body_of(event_json("granted-1"))
            assert post(client, body, sign(fluent_key, body)).json() == {"status": "accepted"}
            assert post(client, body, sign(fluent_key, body)).json() == {"status": "duplicate"}
        receiver = create_engine(as_receiver)
        with pytest.raises(ProgrammingError, match="permission denied"), receiver.begin() as conn:
            conn.execute(text("CREATE TABLE smuggled (x int)"))
        receiver.dispose()
    finally:
        store.close()
        with owner.engine.begin() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
        owner.engine.dispose()


# The receiver's role (README, "Security"): connect, read the migration version, record events.
RECEIVER_GRANTS = (
    "GRANT CONNECT ON DATABASE {database} TO {role}",
    "GRANT USAGE ON SCHEMA public TO {role}",
    "GRANT SELECT ON ctfluent_ledger_version TO {role}",
    "GRANT SELECT, INSERT ON ctfluent_fluent_events TO {role}",
)


# -- layering and launches ----------------------------------------------------------------------------------------


def test_the_receiver_is_plain_core_and_its_service_loads_no_dagster_unless_it_launches_jobs() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names.append(node.module)
            for name in names:
                assert not (name == "dagster" or name.startswith(("dagster.", "dagster_"))), f"{path.name}: {name}"
                assert not name.startswith(("ctfluent_dagster.entities", "ctfluent_dagster.assets",
                                            "ctfluent_dagster.sensors")), f"{path.name}: {name}"  # fmt: skip
    # Nor through what the service imports (it takes what it acts on from the entities' declarations, plain Python):
    # its process loads Dagster's GraphQL client only to launch jobs.
    check = (
        "import sys, ctfluent_dagster.webhook_service; "
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'dagster' or m.startswith('dagster_')); "
        "print(loaded); assert not loaded"
    )
    result = subprocess.run([sys.executable, "-c", check], check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_service_takes_what_the_declarations_act_on(
    monkeypatch: pytest.MonkeyPatch, fluent_key: rsa.RSAPrivateKey
) -> None:
    monkeypatch.setenv("CTFLUENT_CUSTOMERS__STORE_RETAILERS", '{"eu-store": "7", "au-store": "9"}')
    monkeypatch.setenv("FLUENT_RETAILER_ID", "1")
    scope, jobs = webhook_service.receiver_scope(settings_for(fluent_key, account_id="ACME"))
    assert scope == ReceiverScope("ACME", frozenset(jobs), frozenset({"1", "7", "9"}))
    assert jobs == {"ORDER": "order_status_from_webhooks", "LOCATION": "locations_from_webhooks",
                    "VIRTUAL_POSITION": "inventory_from_webhooks", "FULFILMENT": "fulfilments_from_webhooks",
                    "CONSIGNMENT": "fulfilments_from_webhooks"}  # fmt: skip


@responses_lib.activate
def test_a_new_event_launches_its_types_job_through_dagsters_client_with_the_configured_headers(
    store: FluentEventStore, fluent_key: rsa.RSAPrivateKey
) -> None:
    launches = responses_lib.post(
        "https://org.dagster.test/prod/graphql",
        json={"data": {"launchPipelineExecution": {"__typename": "LaunchRunSuccess", "run": {"runId": "r1"}}}},
    )
    settings = settings_for(fluent_key, dagster_url="https://org.dagster.test/prod",
                            dagster_headers='{"Dagster-Cloud-Api-Token": "secret-token"}')  # fmt: skip
    launcher = webhook_service.DagsterLauncher(settings, {"ORDER": "order_status_from_webhooks"})
    scope = ReceiverScope("ACME", frozenset({"ORDER", "FULFILMENT"}), None)
    body = body_of(event_json())
    other = body_of(event_json("f-1", entityType="FULFILMENT"))  # acted on by the sensors only: no job to launch
    try:
        with TestClient(create_app(settings, scope, store, launch=launcher)) as client:
            post(client, body, sign(fluent_key, body))
            deadline = time.monotonic() + 10
            while launches.call_count < 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            post(client, body, sign(fluent_key, body))  # a redelivery: recorded before, nothing to launch
            post(client, other, sign(fluent_key, other))
            time.sleep(0.3)
            health = counters(client)
    finally:
        launcher.stop()
    assert launches.call_count == 1 and health["jobs_launched"] == 1 and health["job_launches_failed"] == 0
    request = launches.calls[0].request
    assert request.headers["Dagster-Cloud-Api-Token"] == "secret-token"
    selector = json.loads(request.body)["variables"]["executionParams"]["selector"]
    assert (selector["repositoryLocationName"], selector["repositoryName"], selector["pipelineName"]) == (
        "ctfluent_dagster", "__repository__", "order_status_from_webhooks")  # fmt: skip
    assert "secret-token" not in repr(settings)


@responses_lib.activate
def test_a_staged_entitys_webhook_job_is_launched_on_todays_partition(
    store: FluentEventStore, fluent_key: rsa.RSAPrivateKey
) -> None:
    """A partitioned webhook job (an entity read from Fluent and staged per day) needs a partition: today's (UTC)."""
    launches = responses_lib.post(
        "https://org.dagster.test/prod/graphql",
        json={"data": {"launchPipelineExecution": {"__typename": "LaunchRunSuccess", "run": {"runId": "r1"}}}},
    )
    settings = settings_for(fluent_key, dagster_url="https://org.dagster.test/prod")
    jobs = {"ORDER": "order_status_from_webhooks", "LOCATION": "locations_from_webhooks"}
    launcher = webhook_service.DagsterLauncher(settings, jobs, frozenset({"locations_from_webhooks"}))
    try:
        launcher(FluentEvent.from_json(event_json("l-1", entityType="LOCATION")))
        launcher(FluentEvent.from_json(event_json("o-1")))
        deadline = time.monotonic() + 10
        while launches.call_count < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        launcher.stop()
    tags = {}
    for call in launches.calls:
        params = json.loads(call.request.body)["variables"]["executionParams"]
        tags[params["selector"]["pipelineName"]] = {t["key"]: t["value"] for t in params["executionMetadata"]["tags"]}
    assert tags["locations_from_webhooks"]["dagster/partition"] == datetime.now(UTC).strftime("%Y-%m-%d")
    assert "dagster/partition" not in tags["order_status_from_webhooks"]
    assert webhook_service.partitioned_jobs() == {"locations_from_webhooks", "inventory_from_webhooks",
                                                  "fulfilments_from_webhooks"}  # fmt: skip
