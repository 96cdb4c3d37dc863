"""What every emulator shares: fault injection, request counting and the admin API under ``/_admin``.

The admin API is the test, benchmark and demo control surface; it lives outside the emulated API paths and is
never used by the product code.

| route | does |
| --- | --- |
| ``GET /_admin/state`` | the emulator's full state as JSON |
| ``POST /_admin/reset`` | empty the store, clear faults and counters, reset the clock |
| ``GET /_admin/requests``, ``DELETE /_admin/requests`` | requests counted per target (route or GraphQL operation) |
| ``GET/POST/DELETE /_admin/faults``, ``DELETE /_admin/faults/{id}`` | list, add, clear, remove fault rules |
| ``POST /_admin/clock`` ``{"advance_seconds": n}`` | move this emulator's clock forward |
"""

from __future__ import annotations

import abc
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ClassVar

from aiohttp import web

from ctfluent_sandbox.clock import Clock
from ctfluent_sandbox.faults import FaultInjector, FaultRule, apply_faults

ADMIN_PREFIX = "/_admin"


class Emulator(abc.ABC):
    name: ClassVar[str]
    max_body_bytes: ClassVar[int] = 10 * 1024 * 1024

    def __init__(self, clock: Clock | None = None, faults: Iterable[FaultRule] = ()) -> None:
        self.clock = clock or Clock()
        self.faults = FaultInjector(faults)
        self._counts: Counter[str] = Counter()
        self._total = 0
        self._counts_lock = threading.Lock()

    # -- what each emulator provides -------------------------------------------------------------

    @abc.abstractmethod
    def add_routes(self, app: web.Application) -> None:
        """Register the emulated API routes."""

    @abc.abstractmethod
    def fault_response(self, rule: FaultRule) -> web.Response:
        """The body this API answers with for an injected status or error code."""

    @abc.abstractmethod
    def state(self) -> dict[str, Any]:
        """Everything the emulator holds, JSON-serialisable."""

    @abc.abstractmethod
    def reset_store(self) -> None:
        """Forget all data (and re-create whatever the emulator needs to be usable, e.g. credentials)."""

    async def request_targets(self, request: web.Request) -> list[str]:
        """Names a fault rule can match and the request counter counts; Fluent adds GraphQL operations."""
        return [f"{request.method} {request.path}"]

    async def record_keys(self, request: web.Request) -> list[str]:
        """The keys of the records a request writes, for fault rules with a ``share``; Fluent's are its mutation
        inputs' usernames and refs. None by default: such a rule never fires here."""
        return []

    @abc.abstractmethod
    def add_admin_routes(self, app: web.Application) -> None:
        """Emulator-specific admin routes (seeding, configuration)."""

    # -- shared machinery ------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=self.max_body_bytes)
        admin = [
            web.get(f"{ADMIN_PREFIX}/state", self._admin_state),
            web.post(f"{ADMIN_PREFIX}/reset", self._admin_reset),
            web.get(f"{ADMIN_PREFIX}/requests", self._admin_requests),
            web.delete(f"{ADMIN_PREFIX}/requests", self._admin_clear_requests),
            web.get(f"{ADMIN_PREFIX}/faults", self._admin_faults),
            web.post(f"{ADMIN_PREFIX}/faults", self._admin_add_fault),
            web.delete(f"{ADMIN_PREFIX}/faults", self._admin_clear_faults),
            web.delete(f"{ADMIN_PREFIX}/faults/{{rule_id}}", self._admin_remove_fault),
            web.post(f"{ADMIN_PREFIX}/clock", self._admin_clock),
        ]
        app.add_routes(admin)
        self.add_admin_routes(app)
        self.add_routes(app)
        return app

    def reset(self) -> None:
        self.reset_store()
        self.faults.clear()
        self.clear_counts()
        self.clock.reset()

    def counts(self) -> dict[str, Any]:
        with self._counts_lock:
            return {"total": self._total, "by_target": dict(self._counts)}

    def clear_counts(self) -> None:
        with self._counts_lock:
            self._counts.clear()
            self._total = 0

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path.startswith(ADMIN_PREFIX):
            return await handler(request)
        targets = await self.request_targets(request)
        with self._counts_lock:
            self._total += 1
            self._counts.update(targets)
        keys = await self.record_keys(request) if self.faults.picks_records else []
        rules = self.faults.take(targets, keys)
        if not rules:
            return await handler(request)
        return await apply_faults(request, rules, handler, self.fault_response)

    async def _admin_state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state())

    async def _admin_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"reset": True})

    async def _admin_requests(self, request: web.Request) -> web.Response:
        return web.json_response(self.counts())

    async def _admin_clear_requests(self, request: web.Request) -> web.Response:
        self.clear_counts()
        return web.json_response({"cleared": True})

    async def _admin_faults(self, request: web.Request) -> web.Response:
        return web.json_response([rule.to_json() for rule in self.faults.rules()])

    async def _admin_add_fault(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            rule = FaultRule(**{k: v for k, v in body.items() if k not in {"id", "seen", "fired"}})
        except (TypeError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(self.faults.add(rule).to_json(), status=201)

    async def _admin_clear_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return web.json_response({"cleared": True})

    async def _admin_remove_fault(self, request: web.Request) -> web.Response:
        removed = self.faults.remove(int(request.match_info["rule_id"]))
        return web.json_response({"removed": removed}, status=200 if removed else 404)

    async def _admin_clock(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.clock.advance(float(body["advance_seconds"]))
        return web.json_response({"now": self.clock.now().isoformat()})
