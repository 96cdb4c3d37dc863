"""The webhook receiver: Fluent posts events (workflow rule ``SendWebhook``), signed; they are verified, recorded
once per event id in the ledger database, and answered at once. A Dagster sensor acts on them later.

``POST <path>`` (default ``/fluent/webhooks``):

- the raw body is read up to ``max_body_bytes`` (a larger one: 413, without reading the rest);
- ``fluent-signature`` must be a valid signature of exactly those bytes by a configured key (missing or wrong: 401);
- the body must be a Fluent event (see :meth:`FluentEvent.from_json`; otherwise 400);
- recorded: 200 ``{"status": "accepted"}``, or ``{"status": "duplicate"}`` for an id seen before (Fluent redelivers
  a request that timed out); the database unavailable: 503, so that a redelivery can succeed.

With ``dagster_url`` and ``launch_job`` set, each new event also launches that job at once (see ``launcher.py``).

``GET /health``: 200 with the counters of this process. Logs name the event id, name, entity type and status only,
never the body.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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
    "rejected_unsigned",
    "rejected_forged",
    "rejected_too_large",
    "rejected_invalid",
    "store_errors",
)


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


async def read_body(request: Request, limit: int) -> bytes | None:
    """The raw body, or None when it is longer than ``limit`` bytes (found from Content-Length before reading, or
    while streaming a body without one: the rest is never read)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    settings: WebhookSettings, store: FluentEventStore | None = None, verifier: SignatureVerifier | None = None
) -> Starlette:
    """The webhook app. Without ``store``, one is opened on ``settings.ledger_url`` (the ledger database, migrated)
    and closed on shutdown. Raises :class:`ConfigurationError` without usable public keys."""
    verifier = verifier or settings.verifier()
    own_store = store is None
    event_store = store or FluentEventStore(settings.ledger_url)
    stats = WebhookStats()
    limit = settings.max_body_bytes
    launcher = settings.launcher()

    def reject(counter: str, status: int, error: str, detail: str | None = None) -> JSONResponse:
        stats.count(counter)
        log.warning("rejected a webhook request: %s (%d)%s", error, status, f": {detail}" if detail else "")
        body = {"error": error} if detail is None else {"error": error, "detail": detail}
        return JSONResponse(body, status_code=status)

    async def receive_event(request: Request) -> JSONResponse:
        body = await read_body(request, limit)
        if body is None:
            return reject("rejected_too_large", 413, f"body larger than {limit} bytes")
        header = request.headers.get(SIGNATURE_HEADER)
        if header is None or not header.strip():
            return reject("rejected_unsigned", 401, f"missing {SIGNATURE_HEADER} header")
        if not verifier.verify(body, header):
            return reject("rejected_forged", 401, "invalid signature")
        try:
            event = FluentEvent.from_json(body)
        except InvalidEvent as exc:
            return reject("rejected_invalid", 400, "invalid event", str(exc))
        try:
            new = await run_in_threadpool(event_store.record, event)
        except Exception as exc:  # the database is down or refuses: let Fluent's redelivery try again
            stats.count("store_errors")
            log.error("could not record %s: %s", event.describe(), type(exc).__name__)
            return JSONResponse({"error": "event store unavailable"}, status_code=503)
        if new:
            stats.count("accepted")
            log.info("accepted %s", event.describe())
            if launcher is not None:
                launcher.nudge()
            return JSONResponse({"status": "accepted"})
        stats.count("duplicates")
        log.info("duplicate %s (a redelivery): already recorded", event.describe())
        return JSONResponse({"status": "duplicate"})

    async def health(request: Request) -> JSONResponse:
        counters = stats.snapshot()
        if launcher is not None:
            counters |= {"jobs_launched": launcher.launched, "job_launches_failed": launcher.failed}
        return JSONResponse({"status": "ok", "counters": counters})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if launcher is not None:
                launcher.stop()
            if own_store:
                event_store.close()

    app = Starlette(
        routes=[
            Route(settings.path, receive_event, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = event_store
    app.state.stats = stats
    return app
