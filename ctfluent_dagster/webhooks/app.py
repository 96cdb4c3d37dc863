"""The webhook receiver: Fluent posts events (workflow rule ``SendWebhook``), signed; the receiver checks what a
signature cannot prove, records the events the project acts on once per event id in the ledger database, and answers
at once. A Dagster sensor (or the job the receiver launches) acts on them later, by reading the entity from Fluent:
an event says *that* something changed, never what to write.

``POST <path>`` (default ``/fluent/webhooks``), in this order:

- the raw body is read up to ``max_body_bytes`` (a larger one: 413, without reading the rest) and within
  ``body_timeout_seconds`` (a body trickled slower: 408);
- ``fluent-signature`` must be a valid signature of exactly those bytes by a configured key (missing or wrong: 401);
- the body must be a Fluent event of a sane shape (nested at most ``max_json_depth``, numbers of at most
  ``max_number_digits`` digits; else 400, never an error of the server);
- of the configured account (Fluent signs every account of a region and environment with one key): another
  account, or none: 403;
- of an entity type the project acts on, and of a retailer it serves: otherwise 200 ``{"status": "ignored"}``, not
  recorded;
- recorded: 200 ``{"status": "accepted"}``, or ``{"status": "duplicate"}`` for an id seen before (Fluent redelivers
  a request that timed out); the database unavailable: 503, so that a redelivery can succeed.

With a ``launch`` callable, each new event is passed to it (the service launches the type's webhook job in Dagster).

``GET /health``: 200 with the counters of this process. Logs name the event id, name, entity type and status only,
never the body.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ctfluent_dagster.webhooks.events import FluentEvent, FluentEventStore, InvalidEvent
from ctfluent_dagster.webhooks.settings import WebhookSettings
from ctfluent_dagster.webhooks.signature import SIGNATURE_HEADER, SignatureVerifier

log = logging.getLogger(__name__)

COUNTERS = (
    "accepted",
    "duplicates",
    "ignored_type",
    "ignored_retailer",
    "rejected_unsigned",
    "rejected_forged",
    "rejected_account",
    "rejected_too_large",
    "rejected_slow",
    "rejected_invalid",
    "store_errors",
)


class Launcher(Protocol):
    """What is told of each new event (the service launches the type's webhook job in Dagster)."""

    def __call__(self, event: FluentEvent) -> None: ...

    def counters(self) -> dict[str, int]:
        """For ``/health``: launches made and failed."""
        ...


@dataclass(frozen=True)
class ReceiverScope:
    """What the receiver takes: one account's events, of the entity types the project acts on, for the retailers
    it serves."""

    account_id: str | None  # compared case-insensitively; None: any account (running locally only)
    event_types: frozenset[str]  # entityType values a consumer handles (e.g. ORDER)
    retailer_ids: frozenset[str] | None = None  # None: every retailer

    def is_ours(self, event: FluentEvent) -> bool:
        if self.account_id is None:
            return True
        return (event.account_id or "").casefold() == self.account_id.casefold()


class WebhookStats:
    """Counters of what this process received (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def count(self, name: str) -> None:
        if name not in COUNTERS:
            raise KeyError(name)
        with self._lock:
            self._counts[name] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {name: self._counts[name] for name in COUNTERS}


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, limit: int, timeout_seconds: float) -> bytes:
    """The raw body. :class:`BodyTooLarge` when it is longer than ``limit`` bytes (found from Content-Length before
    reading, or while streaming a body without one: the rest is never read); :class:`TimeoutError` when it is not
    complete within ``timeout_seconds`` (a body trickled to hold the connection)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async with asyncio.timeout(timeout_seconds):
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    settings: WebhookSettings,
    scope: ReceiverScope,
    store: FluentEventStore,
    verifier: SignatureVerifier | None = None,
    launch: Launcher | None = None,
) -> Starlette:
    """The webhook app, on an open event store (the service closes it). Raises :class:`ConfigurationError` without
    usable public keys."""
    verifier = verifier or settings.verifier()
    stats = WebhookStats()
    limit = settings.max_body_bytes

    def reject(counter: str, status: int, error: str, detail: str | None = None) -> JSONResponse:
        stats.count(counter)
        log.warning("rejected a webhook request: %s (%d)%s", error, status, f": {detail}" if detail else "")
        body = {"error": error} if detail is None else {"error": error, "detail": detail}
        return JSONResponse(body, status_code=status)

    def ignore(counter: str, event: FluentEvent, why: str) -> JSONResponse:
        stats.count(counter)
        log.info("ignored %s: %s", event.describe(), why)
        return JSONResponse({"status": "ignored"})

    async def receive_event(request: Request) -> JSONResponse:
        try:
            body = await read_body(request, limit, settings.body_timeout_seconds)
        except BodyTooLarge:
            return reject("rejected_too_large", 413, f"body larger than {limit} bytes")
        except TimeoutError:
            return reject("rejected_slow", 408, f"body not complete within {settings.body_timeout_seconds:g} s")
        header = request.headers.get(SIGNATURE_HEADER)
        if header is None or not header.strip():
            return reject("rejected_unsigned", 401, f"missing {SIGNATURE_HEADER} header")
        if not verifier.verify(body, header):
            return reject("rejected_forged", 401, "invalid signature")
        try:
            event = FluentEvent.from_json(body, max_depth=settings.max_json_depth,
                                          max_digits=settings.max_number_digits)  # fmt: skip
        except InvalidEvent as exc:
            return reject("rejected_invalid", 400, "invalid event", str(exc))
        if not scope.is_ours(event):
            return reject("rejected_account", 403, "not an event of this account")
        if event.entity_type not in scope.event_types:
            return ignore("ignored_type", event, "no consumer acts on this entity type")
        if scope.retailer_ids is not None and event.retailer_id not in scope.retailer_ids:
            return ignore("ignored_retailer", event, "a retailer the project does not serve")
        try:
            new = await run_in_threadpool(store.record, event)
        except Exception as exc:  # the database is down or refuses: let Fluent's redelivery try again
            stats.count("store_errors")
            log.error("could not record %s: %s", event.describe(), type(exc).__name__)
            return JSONResponse({"error": "event store unavailable"}, status_code=503)
        if new:
            stats.count("accepted")
            log.info("accepted %s", event.describe())
            if launch is not None:
                launch(event)
            return JSONResponse({"status": "accepted"})
        stats.count("duplicates")
        log.info("duplicate %s (a redelivery): already recorded", event.describe())
        return JSONResponse({"status": "duplicate"})

    async def health(request: Request) -> JSONResponse:
        counters = stats.snapshot() | (launch.counters() if launch is not None else {})
        return JSONResponse({"status": "ok", "counters": counters})

    app = Starlette(
        routes=[
            Route(settings.path, receive_event, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )
    app.state.settings = settings
    app.state.store = store
    app.state.stats = stats
    return app
