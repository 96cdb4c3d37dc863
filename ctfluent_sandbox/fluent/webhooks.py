"""The Fluent emulator's webhook sender: what a workflow's ``SendWebhook`` rule does (fact sheet §7, §9 item 13).

- An event names its entity (``entityType``, ``entitySubtype``, ``entityId``, ``entityRef``, ``entityStatus``) and the
  entity's root: an order, a location and a consignment are their own root, a fulfilment's is its order, a virtual
  position's its virtual catalogue (:class:`Subject`). Every event carries the configured ``event_name``, whatever
  the entity type: Fluent names events per workflow rule, which the emulator has none of, and receivers route by
  ``entityType``.

- The emulator has its own RSA key pair (2048 bits, made on first use, one per emulator); its public key is
  published as Fluent's are, base64 DER X.509 SubjectPublicKeyInfo on one line (:attr:`WebhookSender.public_key`).
- An event is POSTed as compact JSON with ``Content-Type: application/json``, ``fluent-signature`` (base64
  RSASSA-PKCS1-v1_5 with SHA-512 over the exact body bytes) and ``flex.signature`` (the same with MD5, Fluent's
  legacy header). In bad-signature mode both sign other bytes, so a receiver that verifies must reject the request.
- Delivery runs on the emulator's event loop, after the request that caused it has been answered. A timeout, a
  failed connection or a non-2xx answer is retried with the same body (so the same event ``id``) after each of
  ``retry_delays_seconds`` (default 2, 4, 8 s: Fluent's "retried 3 times within 14 seconds"), then given up.
- Counters: ``sent`` events, ``attempts`` (requests), ``retried`` (requests after the first of their event),
  ``delivered`` and ``failed`` events, ``pending`` (still being delivered). Bodies are never logged or kept; the
  recent deliveries list holds event ids and outcomes only.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "fluent-signature"  # SHA512withRSA
LEGACY_SIGNATURE_HEADER = "flex.signature"  # MD5withRSA
DEFAULT_EVENT_NAME = "OrderStatus"
DEFAULT_ACCOUNT_ID = "CTFLUENT"
DEFAULT_RETRY_DELAYS = (2.0, 4.0, 8.0)
MAX_RETRIES = 3
KEY_BITS = 2048
RECENT_DELIVERIES = 50
_BAD_SIGNATURE_PREFIX = b"not-the-body:"


# -- keys and signatures ---------------------------------------------------------------------------


def new_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def public_key_base64(key: rsa.RSAPrivateKey) -> str:
    """The public half as Fluent publishes its keys: base64 of the DER X.509 SubjectPublicKeyInfo, one line."""
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


def signature_headers(key: rsa.RSAPrivateKey, body: bytes, *, bad: bool = False) -> dict[str, str]:
    """``fluent-signature`` and ``flex.signature`` over ``body`` (over other bytes when ``bad``)."""
    signed = _BAD_SIGNATURE_PREFIX + body if bad else body
    return {
        SIGNATURE_HEADER: _sign(key, signed, hashes.SHA512()),
        LEGACY_SIGNATURE_HEADER: _sign(key, signed, hashes.MD5()),
    }


def verify_signature(public_key: str, body: bytes, signature: str, *, legacy: bool = False) -> bool:
    """Whether ``signature`` (a header value) signs ``body`` with the key ``public_key`` (base64 DER SPKI):
    SHA-512, or MD5 for the ``legacy`` ``flex.signature``. What a receiver does; the tests use it."""
    loaded = serialization.load_der_public_key(base64.b64decode(public_key))
    if not isinstance(loaded, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    try:
        loaded.verify(
            base64.b64decode(signature), body, padding.PKCS1v15(), hashes.MD5() if legacy else hashes.SHA512()
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def _sign(key: rsa.RSAPrivateKey, data: bytes, algorithm: hashes.HashAlgorithm) -> str:
    return base64.b64encode(key.sign(data, padding.PKCS1v15(), algorithm)).decode("ascii")


# -- events ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """The entity an event is about, in its current status, and its root entity."""

    entity_type: str
    entity_subtype: str | None
    entity_id: str
    entity_ref: str
    entity_status: str | None
    retailer_id: str | None
    root_type: str
    root_id: str
    root_ref: str

    @classmethod
    def root(
        cls, entity_type: str, record: Mapping[str, Any], retailer_id: str | None, subtype: str | None = None
    ) -> Subject:
        """A subject that is its own root (an order, a location, a consignment); ``subtype`` defaults to the
        record's ``type``."""
        return cls(
            entity_type,
            record.get("type") if subtype is None else subtype,
            record["id"],
            record["ref"],
            record.get("status"),
            retailer_id,
            entity_type,
            record["id"],
            record["ref"],
        )


def order_subject(order: Mapping[str, Any]) -> Subject:
    return Subject.root("ORDER", order, str(order["retailer"]))


def entity_event(subject: Subject, *, name: str, account_id: str) -> dict[str, Any]:
    """The event a workflow's ``SendWebhook`` posts for an entity in its current status: a new id every time."""
    return {
        "id": str(uuid.uuid4()),
        "name": name,
        "accountId": account_id,
        "retailerId": subject.retailer_id,
        "entityType": subject.entity_type,
        "entitySubtype": subject.entity_subtype,
        "entityId": subject.entity_id,
        "entityRef": subject.entity_ref,
        "entityStatus": subject.entity_status,
        "rootEntityType": subject.root_type,
        "rootEntityId": subject.root_id,
        "rootEntityRef": subject.root_ref,
        "type": "NORMAL",
        "attributes": {},
        "meta": {},
        "trailLogs": [],
        "errorLogs": [],
    }


def order_event(order: Mapping[str, Any], *, name: str, account_id: str) -> dict[str, Any]:
    """The event for ``order`` in its current status."""
    return entity_event(order_subject(order), name=name, account_id=account_id)


def encode_event(event: Mapping[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# -- configuration ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookConfig:
    url: str | None = None  # None: no webhooks
    bad_signature: bool = False
    timeout_seconds: float = 10.0
    retry_delays_seconds: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    event_name: str = DEFAULT_EVENT_NAME

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "bad_signature": self.bad_signature,
            "timeout_seconds": self.timeout_seconds,
            "retry_delays_seconds": list(self.retry_delays_seconds),
            "event_name": self.event_name,
        }

    def updated(self, changes: Mapping[str, Any]) -> WebhookConfig:
        """This configuration with the keys of an admin ``PUT`` body; ``ValueError`` names what is wrong."""
        unknown = set(changes) - set(self.to_json())
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}; known: {sorted(self.to_json())}")
        url = changes.get("url", self.url)
        if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
            raise ValueError("url must be an http:// or https:// URL, or null")
        bad = changes.get("bad_signature", self.bad_signature)
        if not isinstance(bad, bool):
            raise ValueError("bad_signature must be a boolean")
        timeout = changes.get("timeout_seconds", self.timeout_seconds)
        if not _number(timeout) or timeout <= 0:
            raise ValueError("timeout_seconds must be a number > 0")
        delays = changes.get("retry_delays_seconds", self.retry_delays_seconds)
        if (
            not isinstance(delays, list | tuple)
            or len(delays) > MAX_RETRIES
            or not all(_number(d) and d >= 0 for d in delays)
        ):
            raise ValueError(f"retry_delays_seconds must be a list of at most {MAX_RETRIES} numbers >= 0")
        name = changes.get("event_name", self.event_name)
        if not isinstance(name, str) or not name:
            raise ValueError("event_name must be a non-empty string")
        return replace(
            self,
            url=url,
            bad_signature=bad,
            timeout_seconds=float(timeout),
            retry_delays_seconds=tuple(float(d) for d in delays),
            event_name=name,
        )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass
class _Counters:
    sent: int = 0
    attempts: int = 0
    retried: int = 0
    delivered: int = 0
    failed: int = 0
    pending: int = 0
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT_DELIVERIES))

    def to_json(self) -> dict[str, int]:
        return {
            "sent": self.sent,
            "attempts": self.attempts,
            "retried": self.retried,
            "delivered": self.delivered,
            "failed": self.failed,
            "pending": self.pending,
        }


# -- the sender ------------------------------------------------------------------------------------


class WebhookSender:
    """One emulator's key pair, webhook target and deliveries. :meth:`send` runs on the emulator's event loop;
    configuration, counters and :meth:`reset` are safe from other threads too."""

    def __init__(self, key: rsa.RSAPrivateKey | None = None, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        self.account_id = account_id
        self._key = key
        self._config = WebhookConfig()
        self._counters = _Counters()
        self._generation = 0  # bumped by reset: deliveries of an older generation stop and count nowhere
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    @property
    def key(self) -> rsa.RSAPrivateKey:
        with self._lock:
            if self._key is None:
                self._key = new_private_key()
            return self._key

    @property
    def public_key(self) -> str:
        """Base64 DER SubjectPublicKeyInfo, what a receiver verifies ``fluent-signature`` with."""
        return public_key_base64(self.key)

    @property
    def config(self) -> WebhookConfig:
        with self._lock:
            return self._config

    def configure(self, changes: Mapping[str, Any]) -> WebhookConfig:
        """Apply an admin ``PUT`` body (``ValueError`` when invalid); the new configuration."""
        with self._lock:
            self._config = self._config.updated(changes)
            return self._config

    def to_json(self) -> dict[str, Any]:
        public_key = self.public_key
        with self._lock:
            return {
                **self._config.to_json(),
                "public_key": public_key,
                "counters": self._counters.to_json(),
                "deliveries": list(self._counters.recent),
            }

    def reset(self) -> None:
        """No target, default settings, zero counters; deliveries under way stop. The key pair stays."""
        with self._lock:
            self._config = WebhookConfig()
            self._counters = _Counters()
            self._generation += 1

    # -- sending -----------------------------------------------------------------------------------

    def order_status_changed(self, order: Mapping[str, Any]) -> dict[str, Any] | None:
        """Send the order's status event when a target is configured; the event, or None when nothing is sent."""
        return self.entity_changed(order_subject(order))

    def entity_changed(self, subject: Subject) -> dict[str, Any] | None:
        """Send the event of ``subject`` when a target is configured; the event, or None when nothing is sent."""
        config = self.config
        if config.url is None:
            return None
        event = entity_event(subject, name=config.event_name, account_id=self.account_id)
        self.send(encode_event(event), str(event["id"]))
        return event

    def send(self, body: bytes, event_id: str) -> bool:
        """Start delivering ``body`` (an event's JSON) to the configured target, from the running event loop;
        False when there is no target."""
        with self._lock:
            config, generation = self._config, self._generation
            if config.url is None:
                return False
            self._counters.sent += 1
            self._counters.pending += 1
        headers = {"Content-Type": "application/json", **signature_headers(self.key, body, bad=config.bad_signature)}
        task = asyncio.get_running_loop().create_task(self._deliver(config, generation, body, headers, event_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def close(self, _app: object = None) -> None:
        """Stop deliveries under way and close the HTTP session (the emulator's app cleanup)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        self._session, self._session_loop = None, None

    async def _deliver(
        self, config: WebhookConfig, generation: int, body: bytes, headers: dict[str, str], event_id: str
    ) -> None:
        assert config.url is not None
        delays = (0.0, *config.retry_delays_seconds)
        outcome: dict[str, Any] = {"event_id": event_id, "attempts": 0, "outcome": "failed"}
        try:
            for attempt, delay in enumerate(delays):
                if delay:
                    await asyncio.sleep(delay)
                if not self._count(generation, attempts=1, retried=int(attempt > 0)):
                    return
                outcome["attempts"] = attempt + 1
                status, error = await self._post(config, body, headers)
                outcome["status"], outcome["error"] = status, error
                if error is None and status is not None and 200 <= status < 300:
                    outcome["outcome"] = "delivered"
                    break
                log.info("webhook %s attempt %d to %s: %s", event_id, attempt + 1, config.url, error or status)
        except asyncio.CancelledError:
            outcome["outcome"] = "cancelled"  # the emulator stopped
            raise
        finally:
            delivered, failed = (int(outcome["outcome"] == name) for name in ("delivered", "failed"))
            self._count(generation, pending=-1, delivered=delivered, failed=failed, recent=outcome)

    async def _post(self, config: WebhookConfig, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
        """The answer's status, or an error: ``timeout`` or ``connection: <reason>``."""
        assert config.url is not None
        try:
            timeout = aiohttp.ClientTimeout(total=config.timeout_seconds)
            async with self._client().post(config.url, data=body, headers=headers, timeout=timeout) as response:
                return response.status, None
        except TimeoutError:
            return None, "timeout"
        except aiohttp.ClientError as error:
            return None, f"connection: {type(error).__name__}"

    def _count(self, generation: int, recent: dict[str, Any] | None = None, **changes: int) -> bool:
        """Add to the counters, unless a reset came since the delivery started (then False: stop)."""
        with self._lock:
            if generation != self._generation:
                return False
            for name, change in changes.items():
                setattr(self._counters, name, getattr(self._counters, name) + change)
            if recent is not None:
                self._counters.recent.append(recent)
            return True

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session_loop is not loop or self._session.closed:
            self._session, self._session_loop = aiohttp.ClientSession(), loop
        return self._session
