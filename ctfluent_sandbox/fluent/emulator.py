"""The Fluent Commerce emulator: the OAuth token endpoint and the GraphQL API over a subset of the real schema.

| route | does |
| --- | --- |
| ``POST /oauth/token`` | password and refresh-token grants, parameters in the query string or a form body |
| ``POST /graphql`` | ``{query, variables, operationName}`` with ``Authorization: Bearer <token>`` |
| ``GET``/``PUT /_admin/config`` | ``{error_code_placement: extensions/message/both, token_ttl_seconds}`` |
| ``POST /_admin/retailers`` | add a retailer ``{id?, ref, tradingName?}`` |
| ``POST /_admin/product-catalogues`` | add a product catalogue ``{ref, type?, name?, description?, retailerRefs?}`` |
| ``POST /_admin/orders/{ref}/status`` | ``{status}``: set an order's status (as a workflow would), bump ``updatedOn`` |
| ``GET /_admin/webhooks`` | webhook settings, ``public_key`` (base64 DER SPKI), ``counters``, recent ``deliveries`` |
| ``PUT /_admin/webhooks`` | change any of the webhook settings (below); ``{"url": null}``: no webhooks |
| ``POST /_admin/webhooks/send`` | send the body (a JSON object, e.g. an event) as it is, signed, to the ``url`` |

With a webhook ``url``, each order status set through the admin route (the same status too) sends the order's
event, as a workflow's ``SendWebhook`` rule would. Settings (defaults): ``url`` (null), ``bad_signature`` (false),
``timeout_seconds`` (10), ``retry_delays_seconds`` ([2, 4, 8]), ``event_name`` (``OrderStatus``).

The base class adds the shared admin routes (state, reset, request counts, faults, clock). A GraphQL request is
counted, and matched by fault rules, as ``POST /graphql``, its operation name and its root field names. Webhooks
(signatures, retries, counters): :mod:`.webhooks`; a reset clears the target and counters, the key pair stays.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from http.client import responses
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from ctfluent_sandbox.app import ADMIN_PREFIX, Emulator
from ctfluent_sandbox.clock import Clock, iso_ms
from ctfluent_sandbox.faults import FaultRule, retry_after_header
from ctfluent_sandbox.fluent import catalogues, categories, customers, orders, products, retailers
from ctfluent_sandbox.fluent.auth import Account, OAuthError, TokenIssuer
from ctfluent_sandbox.fluent.catalogues import CATALOGUES, new_product_catalogue
from ctfluent_sandbox.fluent.engine import GraphQLEngine, InputValidator, RequestContext, ResolverRegistry
from ctfluent_sandbox.fluent.errors import ERROR_PLACEMENTS, FAULT_MESSAGES, ErrorPlacement, FluentError, error_entry
from ctfluent_sandbox.fluent.limits import (
    DEFAULT_MAX_LENGTH,
    DEFAULT_PAGE_SIZE,
    MAX_BODY_BYTES,
    MAX_COMPLEXITY,
    MAX_LENGTHS,
)
from ctfluent_sandbox.fluent.retailers import new_retailer
from ctfluent_sandbox.fluent.store import EntityStore
from ctfluent_sandbox.fluent.webhooks import DEFAULT_ACCOUNT_ID, WebhookSender

GRAPHQL_PATH = "/graphql"
SCHEMA_SDL = Path(__file__).with_name("schema.graphql").read_text(encoding="utf-8")
MODULES = (retailers, customers, catalogues, categories, products, orders)
TABLES = tuple(spec for module in MODULES for spec in module.TABLES)
RESOLVERS = ResolverRegistry.combine(module.RESOLVERS for module in MODULES)

DEFAULT_RETAILERS: tuple[Mapping[str, str], ...] = (
    {"id": "1", "ref": "CTFLUENT_EU", "tradingName": "ctfluent EU"},
    {"id": "2", "ref": "CTFLUENT_US", "tradingName": "ctfluent US"},
    {"id": "3", "ref": "CTFLUENT_AU", "tradingName": "ctfluent AU"},
)
# Fluent's naming for a retailer's master catalogue; retailerRefs holds retailer ids, as in COMPATIBILITY:<id>.
DEFAULT_PRODUCT_CATALOGUES: tuple[Mapping[str, Any], ...] = (
    {"ref": "PC:MASTER:1", "type": "MASTER", "name": "ctfluent EU master catalogue", "retailerRefs": ["1"]},
)


@dataclass(frozen=True)
class GraphQLRequest:
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None


# The body is read (and parsed) once, by request_targets in the middleware, and reused by the handler.
_GRAPHQL_REQUEST = web.RequestKey[GraphQLRequest | web.HTTPException]("fluent_graphql_request")


class FluentEmulator(Emulator):
    name = "fluent"
    max_body_bytes = MAX_BODY_BYTES

    def __init__(
        self,
        clock: Clock | None = None,
        faults: Iterable[FaultRule] = (),
        *,
        client_id: str = "ctfluent-sandbox",
        client_secret: str = "ctfluent-sandbox-secret",
        username: str = "sync-user",
        password: str = "sync-password",
        retailers: Iterable[Mapping[str, str]] = DEFAULT_RETAILERS,
        product_catalogues: Iterable[Mapping[str, Any]] = DEFAULT_PRODUCT_CATALOGUES,
        token_ttl_seconds: int = 86_400,
        error_code_placement: ErrorPlacement = "both",
        account_id: str = DEFAULT_ACCOUNT_ID,
        webhook_key: RSAPrivateKey | None = None,
    ) -> None:
        """``webhook_key``: the key pair webhooks are signed with (default: a new one, made on first use)."""
        super().__init__(clock, faults)
        self._retailer_seed = [dict(retailer) for retailer in retailers]
        if not self._retailer_seed:
            raise ValueError("the emulator needs at least one retailer (the API user belongs to the first)")
        self._catalogue_seed = [dict(catalogue) for catalogue in product_catalogues]
        self._default_config: tuple[int, ErrorPlacement] = (token_ttl_seconds, error_code_placement)
        self.error_code_placement: ErrorPlacement = error_code_placement
        account = Account(client_id, client_secret, username, password, retailer_id=self._retailer_seed[0]["id"])
        self.auth = TokenIssuer(self.clock, account, token_ttl_seconds)
        self.store = EntityStore(TABLES)
        validator = InputValidator(MAX_LENGTHS, DEFAULT_MAX_LENGTH)
        self.engine = GraphQLEngine(
            SCHEMA_SDL, RESOLVERS, validator, max_complexity=MAX_COMPLEXITY, default_page_size=DEFAULT_PAGE_SIZE
        )
        # Requests run on the event loop one at a time; the lock covers callers on other threads (tests calling
        # state() or reset() directly).
        self._lock = threading.Lock()
        self.webhooks = WebhookSender(webhook_key, account_id)
        self.reset_store()

    @property
    def webhook_public_key(self) -> str:
        """The public key webhooks verify with: base64 DER X.509 SubjectPublicKeyInfo, one line."""
        return self.webhooks.public_key

    # -- Emulator interface ----------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = super().build_app()
        app.on_cleanup.append(self.webhooks.close)  # deliveries under way stop with the server
        return app

    def add_routes(self, app: web.Application) -> None:
        app.add_routes([web.post("/oauth/token", self._token), web.post(GRAPHQL_PATH, self._graphql)])

    def add_admin_routes(self, app: web.Application) -> None:
        app.add_routes(
            [
                web.get(f"{ADMIN_PREFIX}/config", self._admin_config),
                web.put(f"{ADMIN_PREFIX}/config", self._admin_set_config),
                web.post(f"{ADMIN_PREFIX}/retailers", self._admin_add_retailer),
                web.post(f"{ADMIN_PREFIX}/product-catalogues", self._admin_add_product_catalogue),
                web.post(f"{ADMIN_PREFIX}/orders/{{ref}}/status", self._admin_set_order_status),
                web.get(f"{ADMIN_PREFIX}/webhooks", self._admin_webhooks),
                web.put(f"{ADMIN_PREFIX}/webhooks", self._admin_set_webhooks),
                web.post(f"{ADMIN_PREFIX}/webhooks/send", self._admin_send_webhook),
            ]
        )

    async def request_targets(self, request: web.Request) -> list[str]:
        targets = await super().request_targets(request)
        if request.method == "POST" and request.path == GRAPHQL_PATH:
            parsed = await self._graphql_request(request)
            if isinstance(parsed, GraphQLRequest):
                targets += self.engine.targets(parsed.query, parsed.operation_name)
        return targets

    async def record_keys(self, request: web.Request) -> list[str]:
        if request.method == "POST" and request.path == GRAPHQL_PATH:
            parsed = await self._graphql_request(request)
            if isinstance(parsed, GraphQLRequest):
                return self.engine.record_keys(parsed.query, parsed.operation_name, parsed.variables)
        return []

    def fault_response(self, rule: FaultRule) -> web.Response:
        headers = retry_after_header(rule)
        if rule.error_code is not None:
            message = FAULT_MESSAGES.get(rule.error_code, f"Injected error {rule.error_code}")
            errors = [error_entry(message, rule.error_code, self.error_code_placement)]
            return web.json_response({"data": None, "errors": errors}, status=rule.status or 200, headers=headers)
        status = rule.status or 500
        return web.json_response(
            {"error": responses.get(status, "Error"), "status": status}, status=status, headers=headers
        )

    def state(self) -> dict[str, Any]:
        with self._lock:
            tables = self.store.dump()
            return {"config": self._config(), **{name: _jsonable(records) for name, records in tables.items()}}

    def reset_store(self) -> None:
        """Seeded retailers and product catalogues, nothing else, no tokens, configuration as constructed."""
        with self._lock:
            self.store.clear()
            self.auth.clear()
            self.auth.ttl_seconds, self.error_code_placement = self._default_config
            self.webhooks.reset()
            now = self._now()
            for seed in self._retailer_seed:
                self.store.insert("retailers", new_retailer(seed["ref"], seed.get("tradingName"), now), seed["id"])
            for catalogue in self._catalogue_seed:
                self.store.insert(CATALOGUES, new_product_catalogue(catalogue, now))

    def _now(self) -> datetime:
        """The clock at the millisecond precision Fluent shows: a timestamp a client read back and uses as a
        ``DateRange`` bound must match the stored value exactly."""
        now = self.clock.now()
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    # -- API routes ------------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            params.update({name: value for name, value in form.items() if isinstance(value, str)})
        try:
            with self._lock:
                body = self.auth.grant(params)
        except OAuthError as error:
            return web.json_response(error.body, status=error.status)
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    async def _graphql(self, request: web.Request) -> web.Response:
        parsed = await self._graphql_request(request)
        if isinstance(parsed, web.HTTPRequestEntityTooLarge):
            raise parsed  # size is checked before authentication, as by a proxy in front of the API
        with self._lock:
            authenticated = self.auth.authenticate(request.headers.get("Authorization"))
        if not authenticated:
            body = {"error": "invalid_token", "error_description": "Missing, unknown or expired access token"}
            return web.json_response(body, status=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if isinstance(parsed, web.HTTPException):
            raise parsed
        with self._lock:
            context = RequestContext(self.store, self._now())
            result = self.engine.run(
                parsed.query, parsed.variables, parsed.operation_name, context, self.error_code_placement
            )
        return web.json_response(result)

    async def _graphql_request(self, request: web.Request) -> GraphQLRequest | web.HTTPException:
        if _GRAPHQL_REQUEST not in request:
            try:
                request[_GRAPHQL_REQUEST] = _parse_graphql_body(await request.read(), request.content_type)
            except web.HTTPRequestEntityTooLarge as too_large:
                request[_GRAPHQL_REQUEST] = too_large
        return request[_GRAPHQL_REQUEST]

    # -- admin routes ----------------------------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        return {"error_code_placement": self.error_code_placement, "token_ttl_seconds": self.auth.ttl_seconds}

    async def _admin_config(self, request: web.Request) -> web.Response:
        return web.json_response(self._config())

    async def _admin_set_config(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        unknown = set(body) - {"error_code_placement", "token_ttl_seconds"}
        placement = body.get("error_code_placement", self.error_code_placement)
        ttl = body.get("token_ttl_seconds", self.auth.ttl_seconds)
        if unknown or placement not in ERROR_PLACEMENTS or not isinstance(ttl, int) or ttl <= 0:
            problem = f"unknown keys {sorted(unknown)}" if unknown else "bad value"
            return web.json_response(
                {"error": f"{problem}; expected error_code_placement in {ERROR_PLACEMENTS}, token_ttl_seconds > 0"},
                status=400,
            )
        with self._lock:
            self.error_code_placement, self.auth.ttl_seconds = placement, ttl
        return web.json_response(self._config())

    async def _admin_add_retailer(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        ref, retailer_id = body.get("ref"), body.get("id")
        if not isinstance(ref, str) or not (retailer_id is None or str(retailer_id).isdigit()):
            return web.json_response({"error": "expected {id?: numeric, ref: string, tradingName?}"}, status=400)
        record = new_retailer(ref, body.get("tradingName"), self._now())
        return self._admin_insert("retailers", record, None if retailer_id is None else str(retailer_id))

    async def _admin_add_product_catalogue(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        try:
            record = new_product_catalogue(body, self._now())
        except ValueError as error:
            return web.json_response({"error": str(error)}, status=400)
        return self._admin_insert(CATALOGUES, record)

    async def _admin_set_order_status(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        status, ref = body.get("status"), request.match_info["ref"]
        if set(body) != {"status"} or not isinstance(status, str) or not status:
            return web.json_response({"error": "expected {status: non-empty string}"}, status=400)
        with self._lock:
            order = orders.set_status(self.store, ref, status, self._now())
        if order is None:
            return web.json_response({"error": f"no order with ref {ref!r}"}, status=404)
        self.webhooks.order_status_changed(order)
        return web.json_response(_jsonable(order))

    async def _admin_webhooks(self, request: web.Request) -> web.Response:
        return web.json_response(self.webhooks.to_json())

    async def _admin_set_webhooks(self, request: web.Request) -> web.Response:
        try:
            self.webhooks.configure(await _json_object(request))
        except ValueError as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.json_response(self.webhooks.to_json())

    async def _admin_send_webhook(self, request: web.Request) -> web.Response:
        """The body exactly as it came (so a test can send any event, or a replay of one), signed."""
        raw = await request.read()
        try:
            event = json.loads(raw)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            return web.json_response({"error": "expected a JSON object"}, status=400)
        event_id = str(event.get("id", ""))
        if not self.webhooks.send(raw, event_id):
            return web.json_response({"error": "no webhook url configured (PUT /_admin/webhooks)"}, status=409)
        return web.json_response({"sent": True, "id": event_id}, status=202)

    def _admin_insert(self, table: str, record: dict[str, Any], record_id: str | None = None) -> web.Response:
        """Store what an admin route seeds: 201 with the record, or 409 when its id or key is taken."""
        try:
            with self._lock:
                created = self.store.insert(table, record, record_id)
        except FluentError as error:
            return web.json_response({"error": error.message}, status=409)
        return web.json_response(_jsonable(created), status=201)


def _parse_graphql_body(raw: bytes, content_type: str) -> GraphQLRequest | web.HTTPException:
    if content_type != "application/json":
        return _bad_request(web.HTTPUnsupportedMediaType, "Content-Type must be application/json")
    try:
        payload = json.loads(raw)
    except ValueError:
        return _bad_request(web.HTTPBadRequest, "The body is not valid JSON")
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return _bad_request(web.HTTPBadRequest, "The body must be a JSON object with a string 'query'")
    variables, operation_name = payload.get("variables"), payload.get("operationName")
    if not isinstance(variables, dict | None) or not isinstance(operation_name, str | None):
        return _bad_request(web.HTTPBadRequest, "'variables' must be an object and 'operationName' a string")
    return GraphQLRequest(payload["query"], variables, operation_name)


def _bad_request(kind: type[web.HTTPException], message: str) -> web.HTTPException:
    return kind(text=json.dumps({"errors": [{"message": message}]}), content_type="application/json")


async def _json_object(request: web.Request) -> dict[str, Any]:
    """An admin request's JSON object body; anything else is answered with 400."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=json.dumps({"error": "expected a JSON object"}), content_type="application/json")
    return body


def _jsonable(value: Any) -> Any:
    """Records as JSON: timestamps in Fluent's format."""
    if isinstance(value, datetime):
        return iso_ms(value)
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value
