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
| ``POST /api/v4.1/event/sync``, ``/async`` | the Event API, bearer-authenticated (:mod:`.events`) |
| ``GET``/``DELETE /_admin/events`` | every event sent to the Event API, with its outcome; forget them |
| ``GET``/``PUT /_admin/event-rules`` | ``{cancel: [event names]}``: the ORDER events that cancel the order |
| ``GET``/``PUT /_admin/inventory`` | the inventory seed; a ``PUT`` resets the data to a changed one (below) |
| ``POST /_admin/inventory/positions`` | ``{skus?}``: add the missing positions for these SKUs (below) |
| ``POST /_admin/locations`` | add a location (:func:`.locations.insert_location`) |
| ``POST /_admin/locations/{ref}`` | ``{name?, type?, status?, supportPhoneNumber?, address?}``: change a location |
| ``POST /_admin/positions`` | ``{catalogue, productRef, groupRef, quantity, status?}``: create or set a position |
| ``DELETE /_admin/positions/{catalogue}/{ref}`` | remove a position |
| ``POST /_admin/orders/{ref}/fulfilments`` | a fulfilment of some of the order's items, and its article (below) |
| ``POST /_admin/fulfilments/{ref}/status`` | ``{status}``: set a fulfilment's status |
| ``POST /_admin/fulfilments/{ref}/consignments`` | a consignment of the fulfilment's articles (below) |
| ``POST /_admin/consignments/{ref}/status`` | ``{status}``: set a consignment's status |

Bodies: a location ``{ref, name, type?, status?, supportPhoneNumber?, network?, address?, retailer?}``; a fulfilment
``{ref?, items: [{orderItemRef or productRef, quantity, filledQuantity?}], fromLocation?, status?, type?,
deliveryType?, article?}`` (:mod:`.fulfilments`); a consignment ``{ref?, carrier: {ref, name?}, consignmentReference,
trackingLabel?, labelUrl?, status?}``. The inventory seed is any of ``{network, locations, inactive_locations,
catalogue, skus, seed}`` (:class:`~ctfluent_sandbox.seed_inventory.InventorySeed`); like ``PUT /_admin/config``, a
``PUT`` lasts until the next reset, which restores the seed as constructed; it replaces all data but keeps tokens,
settings and the record of events. Added positions are for the given SKUs, or the variant products of the virtual
catalogue's product catalogue (once the project synced them), at every location of the catalogue's networks;
existing positions stay as they are. Admin writes are all or nothing: 400 for a bad body or reference, 409 for a
taken ref, 404 for a missing target.

With a webhook ``url``, each order status set through the admin route (the same status too) sends the order's
event, as a workflow's ``SendWebhook`` rule would; so does an order an event cancels, and every admin change to a
location (``LOCATION``), a position (``VIRTUAL_POSITION``), a fulfilment (``FULFILMENT``, root ``ORDER``) or a
consignment (``CONSIGNMENT``), each of which moves the entity's ``updatedOn``. Seeding sends nothing. Settings
(defaults): ``url`` (null), ``bad_signature`` (false), ``timeout_seconds`` (10), ``retry_delays_seconds``
([2, 4, 8]), ``event_name`` (``OrderStatus``, for every entity type).

Besides retailers and product catalogues, the emulator seeds a network of locations, an aggregate virtual catalogue
and its positions per SKU and location (:mod:`ctfluent_sandbox.seed_inventory`; the ``inventory`` argument,
:meth:`FluentEmulator.seed_inventory` or ``PUT /_admin/inventory`` size it), and restores them on reset.

The base class adds the shared admin routes (state, reset, request counts, faults, clock). A GraphQL request is
counted, and matched by fault rules, as ``POST /graphql``, its operation name and its root field names; an event
as ``POST /api/v4.1/event/sync`` (or ``async``). Webhooks (signatures, retries, counters): :mod:`.webhooks`; a reset
clears the target and counters, the key pair stays; it also forgets the events and restores the event rules.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from http.client import responses
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from ctfluent_sandbox.app import ADMIN_PREFIX, Emulator
from ctfluent_sandbox.clock import Clock, iso_ms
from ctfluent_sandbox.faults import FaultRule, retry_after_header
from ctfluent_sandbox.fluent import (
    catalogues,
    categories,
    customers,
    fulfilments,
    inventory,
    locations,
    orders,
    products,
    retailers,
)
from ctfluent_sandbox.fluent.auth import Account, OAuthError, TokenIssuer
from ctfluent_sandbox.fluent.catalogues import CATALOGUE_REF, CATALOGUES, REF, new_product_catalogue
from ctfluent_sandbox.fluent.engine import GraphQLEngine, InputValidator, RequestContext, ResolverRegistry
from ctfluent_sandbox.fluent.errors import ERROR_PLACEMENTS, FAULT_MESSAGES, ErrorPlacement, FluentError, error_entry
from ctfluent_sandbox.fluent.events import (
    ASYNC_PATH,
    CANCELLED,
    COMPLETE,
    FAILED,
    REJECTED,
    SYNC_PATH,
    EventError,
    EventLog,
    EventRules,
    apply_event,
    check_event,
)
from ctfluent_sandbox.fluent.fulfilments import ARTICLES, CONSIGNMENTS, FULFILMENTS
from ctfluent_sandbox.fluent.inventory import POSITIONS, VIRTUAL_CATALOGUES
from ctfluent_sandbox.fluent.limits import (
    DEFAULT_MAX_LENGTH,
    DEFAULT_PAGE_SIZE,
    MAX_BODY_BYTES,
    MAX_COMPLEXITY,
    MAX_LENGTHS,
)
from ctfluent_sandbox.fluent.locations import LOCATIONS, NETWORKS
from ctfluent_sandbox.fluent.products import VARIANT
from ctfluent_sandbox.fluent.retailers import new_retailer
from ctfluent_sandbox.fluent.store import EntityStore, Record
from ctfluent_sandbox.fluent.webhooks import DEFAULT_ACCOUNT_ID, Subject, WebhookSender
from ctfluent_sandbox.seed_inventory import InventorySeed
from ctfluent_sandbox.seed_inventory import locations as seeded_locations
from ctfluent_sandbox.seed_inventory import quantities as seeded_quantities

GRAPHQL_PATH = "/graphql"
SCHEMA_SDL = Path(__file__).with_name("schema.graphql").read_text(encoding="utf-8")
MODULES = (retailers, customers, catalogues, categories, products, orders, locations, inventory, fulfilments)
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
DEFAULT_INVENTORY = InventorySeed()
NETWORK_TYPE = "BASE"
VIRTUAL_CATALOGUE_TYPE = "AGGREGATE"
VIRTUAL_CATALOGUE_NAME = "ctfluent available to sell"
_T = TypeVar("_T")


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
        inventory: InventorySeed = DEFAULT_INVENTORY,
    ) -> None:
        """``webhook_key``: the key pair webhooks are signed with (default: a new one, made on first use).
        ``inventory``: the network, locations, virtual catalogue and positions to seed (default: 3 locations, no
        positions)."""
        super().__init__(clock, faults)
        self._inventory_seed = inventory  # what a reset restores
        self._inventory = inventory  # what the data was last seeded with (an admin PUT lasts until a reset)
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
        self.events = EventLog()
        self.event_rules = EventRules()
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
        app.add_routes(
            [
                web.post("/oauth/token", self._token),
                web.post(GRAPHQL_PATH, self._graphql),
                web.post(SYNC_PATH, self._event),
                web.post(ASYNC_PATH, self._event),
            ]
        )

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
                web.get(f"{ADMIN_PREFIX}/events", self._admin_events),
                web.delete(f"{ADMIN_PREFIX}/events", self._admin_clear_events),
                web.get(f"{ADMIN_PREFIX}/event-rules", self._admin_event_rules),
                web.put(f"{ADMIN_PREFIX}/event-rules", self._admin_set_event_rules),
                web.get(f"{ADMIN_PREFIX}/inventory", self._admin_inventory),
                web.put(f"{ADMIN_PREFIX}/inventory", self._admin_set_inventory),
                web.post(f"{ADMIN_PREFIX}/inventory/positions", self._admin_seed_positions),
                web.post(f"{ADMIN_PREFIX}/locations", self._admin_add_location),
                web.post(f"{ADMIN_PREFIX}/locations/{{ref}}", self._admin_change_location),
                web.post(f"{ADMIN_PREFIX}/positions", self._admin_upsert_position),
                web.delete(f"{ADMIN_PREFIX}/positions/{{catalogue}}/{{ref}}", self._admin_delete_position),
                web.post(f"{ADMIN_PREFIX}/orders/{{ref}}/fulfilments", self._admin_add_fulfilment),
                web.post(f"{ADMIN_PREFIX}/fulfilments/{{ref}}/status", self._admin_set_fulfilment_status),
                web.post(f"{ADMIN_PREFIX}/fulfilments/{{ref}}/consignments", self._admin_add_consignment),
                web.post(f"{ADMIN_PREFIX}/consignments/{{ref}}/status", self._admin_set_consignment_status),
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

    def reset(self) -> None:
        # The clock first: the seeded records are stamped with the reset clock, not a test's advanced one.
        self.clock.reset()
        super().reset()

    def reset_store(self) -> None:
        """Seeded retailers, product catalogues and inventory, nothing else, no tokens, no events, configuration as
        constructed."""
        with self._lock:
            self.auth.clear()
            self.auth.ttl_seconds, self.error_code_placement = self._default_config
            self.webhooks.reset()
            self.events.clear()
            self.event_rules = EventRules()
        self._reset_data(self._inventory_seed)

    def _reset_data(self, inventory_seed: InventorySeed) -> None:
        """Replace all data by the seeded data (tokens, settings and the record of events stay)."""
        with self._lock:
            self._inventory = inventory_seed
            self.store.clear()
            now = self._now()
            for seed in self._retailer_seed:
                self.store.insert("retailers", new_retailer(seed["ref"], seed.get("tradingName"), now), seed["id"])
            for catalogue in self._catalogue_seed:
                self.store.insert(CATALOGUES, new_product_catalogue(catalogue, now))
            self._seed_inventory(now)

    @property
    def inventory(self) -> InventorySeed:
        """The inventory seed the data was last seeded with."""
        return self._inventory

    def seed_inventory(self, **changes: Any) -> dict[str, Any]:
        """Change the inventory seed (any :class:`InventorySeed` field; ``skus`` any iterable of SKUs), as if the
        emulator had been constructed with it, and replace all data by the seeded data (tokens, settings, events,
        faults, counters and clock stay): for a sandbox or benchmark that sizes the inventory, e.g.
        ``seed_inventory(skus=skus_of(ct_products), locations=5)``. Returns what was seeded and how long it took."""
        if "skus" in changes:
            changes["skus"] = list(changes["skus"])
        self._inventory_seed = self._inventory_seed.updated(changes)
        return self._reseed(self._inventory_seed)

    def _reseed(self, inventory_seed: InventorySeed) -> dict[str, Any]:
        started = time.perf_counter()
        self._reset_data(inventory_seed)
        with self._lock:
            counts = {table: len(self.store.records(table)) for table in (NETWORKS, LOCATIONS, POSITIONS)}
        return {**counts, "seconds": round(time.perf_counter() - started, 3)}

    def _seed_inventory(self, now: datetime) -> None:
        """The network, its locations, the virtual catalogue and its positions (under the lock)."""
        seed, store = self._inventory, self.store
        retailer = self._retailer_seed[0]["id"]
        network = store.insert(NETWORKS, locations.new_network(seed.network, NETWORK_TYPE, now))
        for fields in seeded_locations(seed):
            locations.insert_location(store, {**fields, "network": seed.network}, retailer, now)
        product_catalogue = self._catalogue_seed[0]["ref"] if self._catalogue_seed else None
        record = inventory.new_virtual_catalogue(
            seed.catalogue,
            VIRTUAL_CATALOGUE_TYPE,
            VIRTUAL_CATALOGUE_NAME,
            product_catalogue=product_catalogue,
            network_ids=[network["id"]],
            retailer_refs=[retailer],
            now=now,
        )
        catalogue = store.insert(VIRTUAL_CATALOGUES, record)
        inventory.insert_positions(store, catalogue, seeded_quantities(seed.skus, seed.location_refs(), seed.seed), now)

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
        if not self._authenticated(request):
            return _unauthorized()
        if isinstance(parsed, web.HTTPException):
            raise parsed
        with self._lock:
            context = RequestContext(self.store, self._now())
            result = self.engine.run(
                parsed.query, parsed.variables, parsed.operation_name, context, self.error_code_placement
            )
        return web.json_response(result)

    async def _event(self, request: web.Request) -> web.Response:
        """The Event API: record the event, apply the rules (see :mod:`.events`), answer as the mode does."""
        if not self._authenticated(request):
            return _unauthorized()
        sync = request.path == SYNC_PATH
        mode = "sync" if sync else "async"
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        now = self._now()
        try:
            event = check_event(body)
        except EventError as error:
            self.events.record(mode, body, now, REJECTED, error=error.message)
            return _event_error(error)
        try:
            with self._lock, self.store.transaction():
                applied = apply_event(self.store, event, self.event_rules, now)
        except EventError as error:
            event_id = self.events.record(mode, event, now, REJECTED if sync else FAILED, error=error.message)
            return _event_error(error) if sync else web.json_response({"id": event_id}, status=202)
        order = applied.changed_order
        effect = None if order is None else f"order status {CANCELLED}"
        event_id = self.events.record(mode, event, now, COMPLETE, entity_id=applied.entity["id"], effect=effect)
        if order is not None:
            self.webhooks.order_status_changed(order)
        if not sync:
            return web.json_response({"id": event_id}, status=202)
        return web.json_response({"eventId": event_id, "entityId": applied.entity["id"], "eventStatus": COMPLETE})

    def _authenticated(self, request: web.Request) -> bool:
        with self._lock:
            return self.auth.authenticate(request.headers.get("Authorization"))

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

    # -- admin: events and inventory -------------------------------------------------------------

    async def _admin_events(self, request: web.Request) -> web.Response:
        return web.json_response(self.events.to_json())

    async def _admin_clear_events(self, request: web.Request) -> web.Response:
        self.events.clear()
        return web.json_response({"cleared": True})

    async def _admin_event_rules(self, request: web.Request) -> web.Response:
        return web.json_response(self.event_rules.to_json())

    async def _admin_set_event_rules(self, request: web.Request) -> web.Response:
        try:
            self.event_rules = self.event_rules.updated(await _json_object(request))
        except ValueError as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.json_response(self.event_rules.to_json())

    async def _admin_inventory(self, request: web.Request) -> web.Response:
        return web.json_response(self._inventory.to_json())

    async def _admin_set_inventory(self, request: web.Request) -> web.Response:
        """Seed with these changes to the current inventory seed, until the next reset (as ``PUT /_admin/config``)."""
        body = await _json_object(request)
        try:
            changed = self._inventory.updated(body)
        except ValueError as error:
            return web.json_response({"error": str(error)}, status=400)
        seeded = self._reseed(changed)
        return web.json_response({**changed.to_json(), "seeded": seeded})

    async def _admin_seed_positions(self, request: web.Request) -> web.Response:
        """Positions for SKUs the emulator learnt after seeding (the project synced the products), no webhooks."""
        body = await _json_object(request)
        skus = body.get("skus")
        if set(body) - {"skus"} or not (
            skus is None or (isinstance(skus, list) and all(isinstance(sku, str) and sku for sku in skus))
        ):
            return web.json_response({"error": "expected {skus?: [string]}"}, status=400)
        return web.json_response(self._write(lambda now: self._add_positions(skus, now)))

    def _add_positions(self, skus: list[str] | None, now: datetime) -> dict[str, Any]:
        seed, store = self._inventory, self.store
        catalogue = store.find_required(VIRTUAL_CATALOGUES, REF, (seed.catalogue,))
        if skus is None:
            skus = [
                variant["ref"]
                for variant in store.records(VARIANT)
                if variant["catalogue"] == catalogue["productCatalogueRef"]
            ]
        networks = set(catalogue["networkIds"])
        refs = [record["ref"] for record in store.records(LOCATIONS) if networks & set(record["networks"])]
        missing = (
            row
            for row in seeded_quantities(dict.fromkeys(skus), refs, seed.seed)
            if store.find(POSITIONS, CATALOGUE_REF, (catalogue["ref"], inventory.position_ref(row[0], row[1]))) is None
        )
        created = inventory.insert_positions(store, catalogue, missing, now)
        return {"created": created, "skus": len(set(skus)), "locations": len(refs)}

    # -- admin: locations, positions, fulfilments, consignments -----------------------------------

    async def _admin_add_location(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        retailer = self._retailer_seed[0]["id"]
        location = self._write(lambda now: locations.insert_location(self.store, body, retailer, now))
        self.webhooks.entity_changed(locations.location_subject(location))
        return web.json_response(_jsonable(location), status=201)

    async def _admin_change_location(self, request: web.Request) -> web.Response:
        body, ref = await _json_object(request), request.match_info["ref"]
        location = _found(
            self._write(lambda now: locations.update_location(self.store, ref, body, now)), "location", ref
        )
        self.webhooks.entity_changed(locations.location_subject(location))
        return web.json_response(_jsonable(location))

    async def _admin_upsert_position(self, request: web.Request) -> web.Response:
        body = await _json_object(request)

        def upsert(now: datetime) -> tuple[Record, bool, Subject]:
            position, created = inventory.upsert_position(self.store, body, now)
            return position, created, inventory.position_subject(self.store, position)

        position, created, subject = self._write(upsert)
        self.webhooks.entity_changed(subject)
        return web.json_response(_jsonable(position), status=201 if created else 200)

    async def _admin_delete_position(self, request: web.Request) -> web.Response:
        catalogue, ref = request.match_info["catalogue"], request.match_info["ref"]

        def delete(now: datetime) -> tuple[Record, Subject] | None:
            removed = inventory.delete_position(self.store, catalogue, ref)
            if removed is None:
                return None
            return removed, inventory.position_subject(self.store, removed, inventory.DELETED_STATUS)

        position, subject = _found(self._write(delete), "position", f"{catalogue}/{ref}")
        self.webhooks.entity_changed(subject)
        return web.json_response(_jsonable(position))

    async def _admin_add_fulfilment(self, request: web.Request) -> web.Response:
        body, ref = await _json_object(request), request.match_info["ref"]

        def create(now: datetime) -> tuple[Record, list[Record], Subject] | None:
            created = fulfilments.create_fulfilment(self.store, ref, body, now)
            if created is None:
                return None
            parcels = self.store.grouped(ARTICLES, "fulfilment", created["id"])
            return created, parcels, fulfilments.fulfilment_subject(self.store, created)

        fulfilment, parcels, subject = _found(self._write(create), "order", ref)
        self.webhooks.entity_changed(subject)
        return web.json_response(_jsonable({**fulfilment, "articles": parcels}), status=201)

    async def _admin_set_fulfilment_status(self, request: web.Request) -> web.Response:
        status, ref = await _status_body(request), request.match_info["ref"]

        def change(now: datetime) -> tuple[Record, Subject] | None:
            changed = fulfilments.set_status(self.store, FULFILMENTS, ref, status, now)
            return None if changed is None else (changed, fulfilments.fulfilment_subject(self.store, changed))

        fulfilment, subject = _found(self._write(change), "fulfilment", ref)
        self.webhooks.entity_changed(subject)
        return web.json_response(_jsonable(fulfilment))

    async def _admin_add_consignment(self, request: web.Request) -> web.Response:
        body, ref = await _json_object(request), request.match_info["ref"]

        def create(now: datetime) -> tuple[Record, list[Record]] | None:
            created = fulfilments.create_consignment(self.store, ref, body, now)
            if created is None:
                return None
            links = self.store.grouped(fulfilments.CONSIGNMENT_ARTICLES, "consignment", created["id"])
            return created, [self.store.require(ARTICLES, link["article"]) for link in links]

        consignment, parcels = _found(self._write(create), "fulfilment", ref)
        self.webhooks.entity_changed(fulfilments.consignment_subject(consignment))
        return web.json_response(_jsonable({**consignment, "articles": parcels}), status=201)

    async def _admin_set_consignment_status(self, request: web.Request) -> web.Response:
        status, ref = await _status_body(request), request.match_info["ref"]
        change = self._write(lambda now: fulfilments.set_status(self.store, CONSIGNMENTS, ref, status, now))
        consignment = _found(change, "consignment", ref)
        self.webhooks.entity_changed(fulfilments.consignment_subject(consignment))
        return web.json_response(_jsonable(consignment))

    def _write(self, change: Callable[[datetime], _T]) -> _T:
        """Run an admin change under the lock, all or nothing: a ``ValueError`` (a bad body or reference) is 400,
        a taken key (``FluentError``) 409; either leaves the store as it was."""
        try:
            with self._lock, self.store.transaction():
                return change(self._now())
        except ValueError as error:
            raise _admin_error(web.HTTPBadRequest, str(error)) from None
        except FluentError as error:
            raise _admin_error(web.HTTPConflict, error.message) from None

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


def _unauthorized() -> web.Response:
    body = {"error": "invalid_token", "error_description": "Missing, unknown or expired access token"}
    return web.json_response(body, status=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def _event_error(error: EventError) -> web.Response:
    """The emulator's 400 for an event (Fluent's body is unknown): the reason, and what was wrong."""
    return web.json_response({"error": "Bad Request", "status": 400, "message": error.message}, status=400)


def _admin_error(kind: type[web.HTTPException], message: str) -> web.HTTPException:
    return kind(text=json.dumps({"error": message}), content_type="application/json")


def _found(value: _T | None, entity: str, ref: str) -> _T:
    """An admin route's target, or 404 naming it."""
    if value is None:
        raise _admin_error(web.HTTPNotFound, f"no {entity} with ref {ref!r}")
    return value


async def _status_body(request: web.Request) -> str:
    """The status of an admin ``{status}`` body; anything else is answered with 400."""
    body = await _json_object(request)
    status = body.get("status")
    if set(body) != {"status"} or not isinstance(status, str) or not status:
        raise _admin_error(web.HTTPBadRequest, "expected {status: non-empty string}")
    return status


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
