"""The commercetools emulator: HTTP routes of the auth service and the project API on one server.

| route | scope |
| --- | --- |
| ``POST /oauth/token``, ``POST /oauth/introspect`` | HTTP Basic client credentials |
| ``GET``/``HEAD``/``POST /{projectKey}`` | ``view_project_settings`` / ``manage_project_settings`` |
| ``GET``/``HEAD``/``POST /{projectKey}/<resources>`` | the resources' view / manage scope (below) |
| ``GET``/``HEAD``/``POST``/``DELETE /{projectKey}/<resources>/{id}`` and ``/key={key}`` | the same |
| ``POST /{projectKey}/orders/import``; orders by ``/order-number={orderNumber}`` instead of ``/key=`` | below |
| ``GET``/``HEAD /{projectKey}/product-projections``, ``/{id}``, ``/key={key}`` | below |
| ``GET``/``HEAD /{projectKey}/shipping-methods``, ``/{id}``, ``/key={key}`` (read only) | below |
| ``GET``/``HEAD /{projectKey}/messages``, ``/{projectKey}/messages/{id}`` | ``view_messages`` |

Where the spec lists several scopes, any one of them suffices:

| resources | view | manage |
| --- | --- | --- |
| ``customers`` | ``view_customers`` | ``manage_customers`` |
| ``stores`` | ``view_stores`` | ``manage_stores`` |
| ``categories`` | ``view_products``, ``view_categories`` | ``manage_products``, ``manage_categories`` |
| ``product-types`` | ``view_product_types``, ``view_products`` | ``manage_product_types``, ``manage_products`` |
| ``products`` | ``view_products`` | ``manage_products`` |
| ``product-projections`` (read only) | ``view_products``, ``view_published_products`` | |
| ``orders`` (``POST /orders`` needs a cart: always 400) | ``view_orders`` | ``manage_orders`` |
| ``payments`` | ``view_payments`` | ``manage_payments`` |
| ``standalone-prices`` | ``view_standalone_prices`` | ``manage_standalone_prices`` |
| ``channels`` | ``view_channels``, ``view_products`` | ``manage_channels``, ``manage_products`` |
| ``inventory`` | ``view_products`` | ``manage_products`` |
| ``customer-groups`` | ``view_customers``, ``view_customer_groups`` | ``manage_customers``, ``manage_customer_groups``|
| ``shipping-methods`` (read only) | ``view_orders``, ``view_shipping_methods``, ``manage_my_orders`` | |

``view_published_products`` reads published (current) projections only: ``staged=true`` needs ``view_products``.
The spec also lists it for ``GET /products`` (the list only) without saying what it returns there; the emulator asks
``view_products`` for every Products endpoint.

Admin routes (beside the shared ones of :mod:`ctfluent_sandbox.app`):

| route | does |
| --- | --- |
| ``POST /_admin/seed`` (options below) | replace all data with seeded stores, customers, catalogue, orders... |
| ``POST /_admin/checkout`` (a checkout draft, see :func:`orders.checkout`) | create an order as a checkout does |
| ``PUT /_admin/messages`` (body below) | message settings; answers the resulting settings |
| ``POST /_admin/api-clients`` ``{client_id, client_secret, scopes, token_ttl_seconds?}`` | add an API client |

``POST /_admin/seed`` takes ``customers`` (default 1000), ``days`` (90), ``seed`` (1), ``products`` (0), ``orders`` (0)
and optionally ``categories``, ``variants`` and ``order_items`` (see :meth:`CommercetoolsEmulator.seed`).
``POST /_admin/checkout`` answers 201 with the order (and records ``OrderCreated``), or the API's error. Seeding
leaves no channels and no inventory; :meth:`CommercetoolsEmulator.load_inventory` adds many entries at once in process.

``PUT /_admin/messages`` takes any of ``enabled``, ``delete_days_after_creation`` (both change the project, as
``changeMessagesConfiguration`` would), ``visibility_delay_seconds``, ``visibility_delay_by_type``
(``{messageType: seconds}``) and ``disabled_status`` (the status of a messages query while querying is off;
default 400 ``InvalidOperation``, since the real status is undocumented).

Handlers do all their work synchronously under one lock (no ``await`` while the store changes), so a write is
atomic for API requests and for in-process callers (tests) alike.
"""

from __future__ import annotations

import gc
import json
import random
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from aiohttp import web
from multidict import MultiMapping

# Modules, not names: the seeds build on this package, so importing a seed first must not find it half-initialised.
from ctfluent_sandbox import seed as customer_seed
from ctfluent_sandbox import seed_catalogue, seed_orders
from ctfluent_sandbox.app import ADMIN_PREFIX, Emulator
from ctfluent_sandbox.clock import Clock
from ctfluent_sandbox.commercetools import (
    categories,
    channels,
    customers,
    inventory,
    orders,
    payments,
    product_types,
    products,
    project,
    shipping_methods,
    standalone_prices,
    stores,
)
from ctfluent_sandbox.commercetools.auth import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_TOKEN_TTL_SECONDS,
    PROJECT_SCOPES,
    WRITE_CLIENT_ID,
    WRITE_SCOPES,
    ApiClient,
    Authority,
    qualify,
    require,
)
from ctfluent_sandbox.commercetools.errors import CtError, duplicate_field, invalid_input, invalid_json, not_found
from ctfluent_sandbox.commercetools.ids import IdSource
from ctfluent_sandbox.commercetools.messages import MESSAGE_SCHEMA, Change, MessageLog
from ctfluent_sandbox.commercetools.projections import ProductCollection
from ctfluent_sandbox.commercetools.query import QueryRequest, flag, parse_query
from ctfluent_sandbox.commercetools.resources import (
    BY_KEY,
    CustomTypes,
    ResourceKind,
    WriteContext,
    check_unique,
    expect_version,
    run_actions,
    update_resource,
)
from ctfluent_sandbox.commercetools.store import Collection, Page, Resource
from ctfluent_sandbox.faults import FaultRule, retry_after_header

Build = Callable[[Mapping[str, Any], WriteContext], tuple[Resource, list[Change]]]

_dumps = partial(json.dumps, ensure_ascii=False, separators=(",", ":"))
_CODE_OF_STATUS = {
    400: "InvalidInput",
    401: "invalid_token",
    403: "insufficient_scope",
    404: "ResourceNotFound",
    409: "ConcurrentModification",
    429: "TooManyRequests",
    500: "General",
    502: "BadGateway",
    503: "OverCapacity",
    504: "GatewayTimeout",
}
_STATUS_OF_CODE = {"General": 500, "BadGateway": 502, "OverCapacity": 503, "PendingOperation": 503}


@dataclass(frozen=True)
class Call:
    """What a synchronous handler gets of a request, after authorisation."""

    project_key: str
    match: Mapping[str, str]
    query: MultiMapping[str]
    body: Any
    client_id: str
    scopes: frozenset[str]  # of the token, for what a handler authorises itself
    head: bool


Reply = tuple[int, Any]  # status and JSON body (None: no body)
Handler = Callable[[Call], Reply]


def default_api_client(project_key: str, client_secret: str = DEFAULT_CLIENT_SECRET) -> ApiClient:
    return ApiClient(DEFAULT_CLIENT_ID, client_secret, qualify(PROJECT_SCOPES, project_key))


def write_api_client(project_key: str, client_secret: str, scopes: Iterable[str] = WRITE_SCOPES) -> ApiClient:
    """The client the code location writes with: the scopes of ``WRITE_SCOPES`` and nothing else."""
    return ApiClient(WRITE_CLIENT_ID, client_secret, qualify(scopes, project_key))


class CommercetoolsEmulator(Emulator):
    name = "commercetools"

    def __init__(
        self,
        clock: Clock | None = None,
        faults: Iterable[FaultRule] = (),
        *,
        project_key: str = "ctfluent-demo",
        api_clients: Iterable[ApiClient] | None = None,
        token_ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS,
        messages_enabled: bool = False,
    ) -> None:
        super().__init__(clock, faults)
        self.project_key = project_key
        self._initial_clients = list(api_clients) if api_clients is not None else [default_api_client(project_key)]
        self._messages_enabled_initially = messages_enabled
        self.lock = threading.RLock()
        self.ids = IdSource()
        self.auth = Authority(self.clock, token_ttl_seconds)
        self.customers = customers.kind(customers.new_collection())
        self.stores = stores.kind(stores.new_collection())
        self.categories = categories.kind(categories.new_collection())
        self.product_types = product_types.kind(product_types.new_collection())
        self.product_collection = ProductCollection()  # the products with their projections
        self.products = products.kind(self.product_collection)
        self.orders = orders.kind(orders.new_collection())
        self.payments = payments.kind(payments.new_collection())
        self.standalone_prices = standalone_prices.kind(standalone_prices.new_collection())
        self.channels = channels.channel_kind()
        self.customer_groups = channels.customer_group_kind()
        self.inventory = inventory.kind(inventory.new_collection())
        self.shipping_methods = shipping_methods.new_collection()  # read only: no kind
        self.kinds = {
            kind.type_id: kind
            for kind in (
                self.customers,
                self.stores,
                self.categories,
                self.product_types,
                self.products,
                self.orders,
                self.payments,
                self.standalone_prices,
                self.channels,
                self.customer_groups,
                self.inventory,
            )
        }
        self.types: CustomTypes
        self.messages: MessageLog
        self.project: Resource
        self.reset_store()

    # -- Emulator interface ----------------------------------------------------------------------------------

    def reset_store(self) -> None:
        with self.lock:
            self.auth.set_clients(self._client(c) for c in self._initial_clients)
            self.types = CustomTypes(self.project_key)
            for kind in self.kinds.values():
                kind.collection.clear()
            self.shipping_methods.clear()
            self.messages = MessageLog(self.clock, self.ids)
            self.project = project.new_project(self.project_key, self._messages_enabled_initially)

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "project": self.project,
                "stores": list(self.stores.collection),
                "customers": list(self.customers.collection),
                "categories": list(self.categories.collection),
                "product_types": list(self.product_types.collection),
                "products": list(self.products.collection),
                "shipping_methods": list(self.shipping_methods),
                "orders": list(self.orders.collection),
                "payments": list(self.payments.collection),
                "standalone_prices": list(self.standalone_prices.collection),
                "channels": list(self.channels.collection),
                "customer_groups": list(self.customer_groups.collection),
                "inventory": list(self.inventory.collection),
                "messages": list(self.messages.collection),
                "message_settings": self.messages.settings.to_json(),
                "api_clients": [client.to_json() for client in self.auth.clients.values()],
            }

    def fault_response(self, rule: FaultRule) -> web.Response:
        status = rule.status or _STATUS_OF_CODE.get(rule.error_code or "", 400)
        code = rule.error_code or _CODE_OF_STATUS.get(status, "General")
        error = CtError(status, code, f"Injected fault: {code} ({status}).")
        return web.json_response(error.body(), status=status, headers=retry_after_header(rule), dumps=_dumps)

    def seed(
        self,
        customers: int,
        days: int,
        seed: int,
        *,
        products: int = 0,
        categories: int | None = None,
        variants: int | None = None,
        orders: int = 0,
        order_items: int | None = None,
    ) -> dict[str, Any]:
        """Replace all data (and messages) with the three stores, the three shipping methods, ``customers`` customers,
        a catalogue of ``products`` products (see :func:`~ctfluent_sandbox.seed_catalogue.generate_catalogue`:
        ``categories`` defaults to a tree fitting the products, ``variants`` to 1-6 per product) and ``orders`` orders
        of those customers and products with a payment each (see :mod:`~ctfluent_sandbox.seed_orders`:
        ``order_items`` line items each, default 1-4)."""
        if min(customers, days, products, categories or 0, orders) < 0:
            raise ValueError("customers, days, products, categories and orders must not be negative")
        started = time.perf_counter()
        now = self.clock.now()
        with _cyclic_gc_paused():
            data = customer_seed.generate(
                customers, days, seed, now, self.types.id_for_key(customer_seed.PREFERENCES_TYPE_KEY)
            )
            catalogue = seed_catalogue.generate_catalogue(
                products, days, seed, now, categories=categories, variants=variants, types=self.types
            )
            seed_orders.check(orders, order_items, catalogue.products)
            setup = WriteContext(
                now - timedelta(days=days + 30),
                DEFAULT_CLIENT_ID,
                IdSource(random.Random(f"setup/{seed}")),
                {},
                self.types,
            )
            with self.lock:
                self.stores.collection.load(data.stores)
                self.shipping_methods.load(shipping_methods.seeded(setup))
                self.customers.collection.load(data.customers)
                self.categories.collection.load(catalogue.categories)
                self.product_types.collection.load(catalogue.product_types)
                self.products.collection.load(catalogue.products)
                # Orders are made from what is loaded now (the checkout looks products and customers up there).
                sales = seed_orders.generate_orders(
                    orders, days, seed, now, collections=self._collections(), types=self.types, items=order_items
                )
                self.payments.collection.load(sales.payments)
                self.orders.collection.load(sales.orders)
                for unseeded in (self.standalone_prices, self.channels, self.customer_groups, self.inventory):
                    unseeded.collection.clear()
                self.messages.clear()
        return {
            "customers": customers,
            "stores": len(data.stores),
            "shipping_methods": len(self.shipping_methods),
            "categories": len(catalogue.categories),
            "product_types": len(catalogue.product_types),
            "products": len(catalogue.products),
            "orders": len(sales.orders),
            "payments": len(sales.payments),
            "seconds": round(time.perf_counter() - started, 3),
        }

    def checkout(self, draft: Mapping[str, Any], client_id: str = DEFAULT_CLIENT_ID) -> Resource:
        """Create an order as a checkout of a cart does (:func:`orders.checkout`), with its ``OrderCreated``
        message: the way to new orders besides the import, since the emulator has no carts."""
        with self.lock:
            return self._add(self.orders, orders.checkout, draft, self._write_context(client_id))

    def load_inventory(self, drafts: Iterable[Mapping[str, Any]], client_id: str = DEFAULT_CLIENT_ID) -> int:
        """Add an inventory entry for each ``InventoryEntryDraft`` at once, with no messages (like seeded data), as
        the API would create them one by one: each draft checked, channels resolved, (SKU, supply channel) and keys
        unique. All or nothing: the first refused draft raises its :class:`CtError`. Answers how many were added.
        Creating a hundred thousand entries through HTTP takes minutes; this takes seconds."""
        with self.lock:
            ctx = self._write_context(client_id)
            collection = self.inventory.collection
            added: list[Resource] = []
            taken: set[tuple[str, str]] = set()
            for draft in drafts:
                entry, _ = inventory.create(draft, ctx)
                check_unique(self.inventory, entry)  # against the stored entries
                for unique in ((("key", entry["key"]),) if "key" in entry else ()) + inventory.unique_entries(entry):
                    if unique in taken:  # against the entries of this batch
                        raise duplicate_field(unique[0], entry[unique[0]])
                    taken.add(unique)
                added.append(entry)
            collection.load([*collection, *added])
            return len(added)

    def _client(self, client: ApiClient) -> ApiClient:
        return ApiClient(
            client.client_id, client.client_secret, qualify(client.scopes, self.project_key), client.token_ttl_seconds
        )

    # -- routes ----------------------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/oauth/token", self._token)
        app.router.add_post("/oauth/introspect", self._introspect)
        project_view, project_manage = ("view_project_settings",), ("manage_project_settings",)
        messages, projections = ("view_messages",), ("view_products", "view_published_products")
        shipping = ("view_orders", "view_shipping_methods", "manage_my_orders")
        routes: list[tuple[str, str, tuple[str, ...], Handler, bool]] = [
            ("GET", "/{pk}", project_view, self._get_project, False),
            ("HEAD", "/{pk}", project_view, self._get_project, False),
            ("POST", "/{pk}", project_manage, self._update_project, True),
            ("GET", "/{pk}/messages", messages, self._query_messages, False),
            ("HEAD", "/{pk}/messages", messages, self._query_messages, False),
            ("GET", "/{pk}/messages/{ident}", messages, self._get_message, False),
            ("HEAD", "/{pk}/messages/{ident}", messages, self._get_message, False),
            ("GET", "/{pk}/product-projections", projections, self._query_projections, False),
            ("HEAD", "/{pk}/product-projections", projections, self._query_projections, False),
            ("GET", "/{pk}/product-projections/{ident}", projections, self._get_projection, False),
            ("HEAD", "/{pk}/product-projections/{ident}", projections, self._get_projection, False),
            ("GET", "/{pk}/shipping-methods", shipping, partial(self._query, self.shipping_methods), False),
            ("HEAD", "/{pk}/shipping-methods", shipping, partial(self._query, self.shipping_methods), False),
            (
                "GET",
                "/{pk}/shipping-methods/{ident}",
                shipping,
                partial(self._get, self.shipping_methods, BY_KEY),
                False,
            ),
            (
                "HEAD",
                "/{pk}/shipping-methods/{ident}",
                shipping,
                partial(self._get, self.shipping_methods, BY_KEY),
                False,
            ),
            # before `/orders/{ident}`, which would take "import" for an id
            ("POST", "/{pk}/orders/import", ("manage_orders",), self._import_order, True),
        ]
        for path, kind, view, manage in (
            ("customers", self.customers, ("view_customers",), ("manage_customers",)),
            ("stores", self.stores, ("view_stores",), ("manage_stores",)),
            (
                "categories",
                self.categories,
                ("view_products", "view_categories"),
                ("manage_products", "manage_categories"),
            ),
            (
                "product-types",
                self.product_types,
                ("view_product_types", "view_products"),
                ("manage_product_types", "manage_products"),
            ),
            ("products", self.products, ("view_products",), ("manage_products",)),
            ("orders", self.orders, ("view_orders",), ("manage_orders",)),
            ("payments", self.payments, ("view_payments",), ("manage_payments",)),
            ("standalone-prices", self.standalone_prices, ("view_standalone_prices",), ("manage_standalone_prices",)),
            ("channels", self.channels, ("view_channels", "view_products"), ("manage_channels", "manage_products")),
            ("inventory", self.inventory, ("view_products",), ("manage_products",)),
            (
                "customer-groups",
                self.customer_groups,
                ("view_customers", "view_customer_groups"),
                ("manage_customers", "manage_customer_groups"),
            ),
        ):
            routes += [
                ("GET", f"/{{pk}}/{path}", view, partial(self._query, kind.collection), False),
                ("HEAD", f"/{{pk}}/{path}", view, partial(self._query, kind.collection), False),
                ("POST", f"/{{pk}}/{path}", manage, partial(self._create, kind), True),
                # `{ident}` is an id or `key=<key>` (`order-number=<orderNumber>`: see ResourceKind.keyed_by)
                ("GET", f"/{{pk}}/{path}/{{ident}}", view, partial(self._get, kind.collection, kind.keyed_by), False),
                ("HEAD", f"/{{pk}}/{path}/{{ident}}", view, partial(self._get, kind.collection, kind.keyed_by), False),
                ("POST", f"/{{pk}}/{path}/{{ident}}", manage, partial(self._update, kind), True),
                ("DELETE", f"/{{pk}}/{path}/{{ident}}", manage, partial(self._delete, kind), False),
            ]
        for method, path, scopes, handler, reads_body in routes:
            app.router.add_route(method, path, self._endpoint(scopes, handler, reads_body))

    def _endpoint(
        self, scopes: tuple[str, ...], handler: Handler, reads_body: bool
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            head = request.method == "HEAD"
            try:
                project_key = request.match_info["pk"]
                with self.lock:
                    token = self.auth.authorize(request.headers.get("Authorization"), scopes, project_key)
                body = _parse_json(await request.read()) if reads_body else None
                call = Call(project_key, request.match_info, request.query, body, token.client_id, token.scopes, head)
                with self.lock:
                    status, payload = handler(call)
            except CtError as error:
                return _error_response(error, head)
            if head or payload is None:
                return web.Response(status=status)
            return web.json_response(payload, status=status, dumps=_dumps)

        return handle

    # -- auth ------------------------------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        fields = await _auth_fields(request)
        with self.lock:
            return self._auth_reply(
                lambda: self.auth.issue(
                    request.headers.get("Authorization"), fields.get("grant_type"), fields.get("scope")
                )
            )

    async def _introspect(self, request: web.Request) -> web.Response:
        fields = await _auth_fields(request)
        with self.lock:
            return self._auth_reply(
                lambda: self.auth.introspect(request.headers.get("Authorization"), fields.get("token"))
            )

    @staticmethod
    def _auth_reply(answer: Callable[[], dict[str, Any]]) -> web.Response:
        try:
            return web.json_response(answer(), dumps=_dumps)
        except CtError as error:
            return _error_response(error, head=False)

    # -- generic resource handlers ---------------------------------------------------------------------------

    def _collections(self) -> dict[str, Collection]:
        """Every collection a write may look resources up in, by typeId."""
        found = {type_id: kind.collection for type_id, kind in self.kinds.items()}
        return {**found, "shipping-method": self.shipping_methods}

    def _write_context(self, client_id: str) -> WriteContext:
        return WriteContext(self.clock.now(), client_id, self.ids, self._collections(), self.types)

    def _context(self, call: Call) -> WriteContext:
        return self._write_context(call.client_id)

    @staticmethod
    def _lookup(collection: Collection, ident: str, keyed_by: tuple[str, str] = BY_KEY) -> Resource:
        segment, index = keyed_by
        value = ident.removeprefix(f"{segment}=")
        found = collection.find(index, value) if value != ident else collection.get(ident)
        if found is None:
            raise not_found(value, index if value != ident else "ID")
        return found

    def _query(self, collection: Collection, call: Call) -> Reply:
        status, body = _query_page(collection, call)
        expand = call.query.getall("expand", [])
        if expand and body is not None:
            body = {**body, "results": [self._with_references(r, expand) for r in body["results"]]}
        return status, body

    def _get(self, collection: Collection, keyed_by: tuple[str, str], call: Call) -> Reply:
        found = self._lookup(collection, call.match["ident"], keyed_by)
        return 200, self._with_references(found, call.query.getall("expand", []))

    def _with_references(self, resource: Resource, expand: Iterable[str]) -> Resource:
        """Reference expansion (``expand=shippingInfo.shippingMethod``): each reference at a path gets ``obj``, the
        referenced resource, when it exists; arrays on the path are walked element by element."""
        expanded = resource
        for path in expand:
            expanded = self._expand_path(expanded, path.replace("[*]", "").split("."))
        return expanded

    def _expand_path(self, value: Any, names: list[str]) -> Any:
        if isinstance(value, list):
            return [self._expand_path(item, names) for item in value]
        if not isinstance(value, dict):
            return value
        if not names:
            target = self._referenced(value.get("typeId"), value.get("id"))
            return value if target is None else {**value, "obj": target}
        head, *rest = names
        return value if head not in value else {**value, head: self._expand_path(value[head], rest)}

    def _referenced(self, type_id: Any, ident: Any) -> Resource | None:
        if type_id == "shipping-method":
            return self.shipping_methods.get(ident)
        kind = self.kinds.get(type_id)
        return None if kind is None else kind.collection.get(ident)

    def _create(self, kind: ResourceKind, call: Call) -> Reply:
        resource = self._add(kind, kind.create, call.body, self._context(call))
        return 201, resource if kind.created_as is None else {kind.created_as: resource}

    def _import_order(self, call: Call) -> Reply:
        return 201, self._add(self.orders, orders.import_order, call.body, self._context(call))

    def _add(self, kind: ResourceKind, build: Build, draft: Any, ctx: WriteContext) -> Resource:
        """Make a new resource of ``kind`` from ``draft`` with ``build``, store it and record its messages."""
        if not isinstance(draft, dict):
            raise invalid_json("expected a draft object")
        resource, changes = build(draft, ctx)
        check_unique(kind, resource)
        kind.collection.put(resource)
        self._record(kind, resource, changes, ctx)
        return resource

    def _update(self, kind: ResourceKind, call: Call) -> Reply:
        current = self._lookup(kind.collection, call.match["ident"], kind.keyed_by)
        ctx = self._context(call)
        updated, changes = update_resource(kind, current, call.body, ctx)
        kind.collection.put(updated)
        if kind.after_update is not None:
            kind.after_update(current, updated, ctx)
        self._record(kind, updated, changes, ctx)
        return 200, updated

    def _delete(self, kind: ResourceKind, call: Call) -> Reply:
        current = self._lookup(kind.collection, call.match["ident"], kind.keyed_by)
        raw_version = call.query.get("version")
        if raw_version is None or not raw_version.isdigit():
            raise invalid_input("Missing or invalid required query parameter 'version'.")
        expect_version(current, int(raw_version))
        ctx = self._context(call)
        if kind.on_delete is not None:
            kind.on_delete(current, ctx)
        kind.collection.remove(current["id"])
        # The deletion is one more change: its messages carry the version after it.
        self._record(kind, {**current, "version": current["version"] + 1}, kind.deleted(current), ctx)
        return 200, current

    def _record(self, kind: ResourceKind, resource: Resource, changes: list[Change], ctx: WriteContext) -> None:
        enabled = bool(self.project["messages"]["enabled"])
        if enabled:
            self.messages.purge(self.project["messages"]["deleteDaysAfterCreation"])
        self.messages.record(
            resource,
            kind.type_id,
            changes=changes,
            identifiers=kind.identifiers(resource),
            at=ctx.moment,
            modified_by=ctx.modified_by,
            store=enabled,
        )

    # -- product projections ---------------------------------------------------------------------------------

    def _projections(self, call: Call) -> Collection:
        """``staged=false`` (default): published products, current data; ``staged=true``: every product, staged
        data, which (like unpublished products) needs ``view_products``, not just ``view_published_products``."""
        if flag(call.query, "staged", default=False):
            require(call.scopes, ("view_products",), call.project_key)
            return self.product_collection.staged
        return self.product_collection.current

    def _query_projections(self, call: Call) -> Reply:
        return _query_page(self._projections(call), call)

    def _get_projection(self, call: Call) -> Reply:
        return 200, self._lookup(self._projections(call), call.match["ident"])

    # -- project ---------------------------------------------------------------------------------------------

    def _get_project(self, call: Call) -> Reply:
        return 200, self.project

    def _update_project(self, call: Call) -> Reply:
        self.project, _ = run_actions(self.project, call.body, project.ACTIONS, self._context(call))
        return 200, self.project

    # -- messages --------------------------------------------------------------------------------------------

    def _readable_messages(self) -> Collection:
        """The message collection after purging, or the refusal the API gives while querying is off."""
        config = self.project["messages"]
        if not config["enabled"]:
            raise CtError(
                self.messages.settings.disabled_status,
                "InvalidOperation",
                f"Querying messages is disabled for project '{self.project_key}'. Enable it with the project update "
                "action changeMessagesConfiguration (messagesConfiguration.enabled = true).",
            )
        self.messages.purge(config["deleteDaysAfterCreation"])
        return self.messages.collection

    def _query_messages(self, call: Call) -> Reply:
        collection = self._readable_messages()
        request = parse_query(call.query, MESSAGE_SCHEMA)
        page = _run(collection, request, call.head, self.messages.visibility())
        if "resource" in request.expand:
            page = Page([self._expanded(m) for m in page.results], page.total)
        return _page_reply(request, page, call.head)

    def _get_message(self, call: Call) -> Reply:
        message = self._readable_messages().get(call.match["ident"])
        if message is None or not self.messages.visibility()(message):
            raise not_found(call.match["ident"])
        return 200, self._expanded(message) if "resource" in call.query.getall("expand", []) else message

    def _expanded(self, message: Resource) -> Resource:
        """``expand=resource``: the *current* state of the resource, when it still exists."""
        kind = self.kinds.get(message["resource"]["typeId"])
        current = None if kind is None else kind.collection.get(message["resource"]["id"])
        if current is None:
            return message
        return {**message, "resource": {**message["resource"], "obj": current}}

    # -- admin -----------------------------------------------------------------------------------------------

    def add_admin_routes(self, app: web.Application) -> None:
        app.router.add_post(f"{ADMIN_PREFIX}/seed", self._admin_seed)
        app.router.add_post(f"{ADMIN_PREFIX}/checkout", self._admin_checkout)
        app.router.add_put(f"{ADMIN_PREFIX}/messages", self._admin_messages)
        app.router.add_post(f"{ADMIN_PREFIX}/api-clients", self._admin_api_client)

    async def _admin_seed(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            defaults = {"customers": 1000, "days": 90, "seed": 1, "products": 0, "orders": 0}
            options = {name: int(body.get(name, default)) for name, default in defaults.items()}
            optional = {
                name: int(body[name])
                for name in ("categories", "variants", "order_items")
                if body.get(name) is not None
            }
            return web.json_response(self.seed(**options, **optional))
        except (TypeError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)

    async def _admin_checkout(self, request: web.Request) -> web.Response:
        try:
            order = self.checkout(_parse_json(await request.read()))
        except CtError as error:
            return _error_response(error, head=False)
        return web.json_response(order, status=201, dumps=_dumps)

    async def _admin_messages(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self.lock:
            try:
                self._configure_messages(body)
            except CtError as error:
                return web.json_response(error.body(), status=400)
            except (TypeError, ValueError) as exc:
                return web.json_response({"error": str(exc)}, status=400)
            return web.json_response({"messages": self.project["messages"], **self.messages.settings.to_json()})

    def _configure_messages(self, body: Mapping[str, Any]) -> None:
        config = dict(self.project["messages"])
        if "enabled" in body:
            config["enabled"] = bool(body["enabled"])
        if "delete_days_after_creation" in body:
            config["deleteDaysAfterCreation"] = project.check_delete_days(body["delete_days_after_creation"])
        settings = self.messages.settings
        delay = float(body.get("visibility_delay_seconds", settings.visibility_delay_seconds))
        by_type = {
            str(k): float(v) for k, v in body.get("visibility_delay_by_type", settings.visibility_delay_by_type).items()
        }
        status = int(body.get("disabled_status", settings.disabled_status))
        if not 400 <= status <= 599:
            raise ValueError("disabled_status must be an HTTP error status (400-599)")
        settings.visibility_delay_seconds, settings.visibility_delay_by_type, settings.disabled_status = (
            delay,
            by_type,
            status,
        )
        if config != self.project["messages"]:  # a settings change is a new project version, as via the API
            self.project = {**self.project, "messages": config, "version": self.project["version"] + 1}

    async def _admin_api_client(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            client = ApiClient(
                client_id=str(body["client_id"]),
                client_secret=str(body["client_secret"]),
                scopes=frozenset(str(s) for s in body["scopes"]),
                token_ttl_seconds=None if body.get("token_ttl_seconds") is None else int(body["token_ttl_seconds"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            return web.json_response({"error": f"bad api client: {exc}"}, status=400)
        with self.lock:
            self.auth.add_client(self._client(client))
            return web.json_response(self.auth.clients[client.client_id].to_json(), status=201)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Seeding allocates millions of small documents, none in a reference cycle (reference counting frees them,
    also after a reseed). Left running, the cyclic collector rescans the growing heap again and again (a third of
    the seeding time), and its first full pass afterwards stalls a request for seconds; so it pauses while seeding,
    and the seeded data is then frozen out of its passes."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


async def _auth_fields(request: web.Request) -> dict[str, str]:
    """The auth service reads its parameters from the form body or the query string."""
    form = await request.post()
    return {**request.query, **{name: str(value) for name, value in form.items()}}


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise invalid_json(str(exc)) from None


def _query_page(collection: Collection, call: Call) -> Reply:
    request = parse_query(call.query, collection.schema)
    return _page_reply(request, _run(collection, request, call.head), call.head)


def _run(
    collection: Collection, request: QueryRequest, head: bool, visible: Callable[[Resource], bool] | None = None
) -> Page:
    if head:  # HEAD answers whether anything matches
        return collection.query(request.predicate, [], offset=0, limit=1, with_total=False, visible=visible)
    return collection.query(
        request.predicate,
        request.sort,
        offset=request.offset,
        limit=request.limit,
        with_total=request.with_total,
        visible=visible,
    )


def _page_reply(request: QueryRequest, page: Page, head: bool) -> Reply:
    if head:
        return (200 if page.results else 404), None
    body: dict[str, Any] = {"limit": request.limit, "offset": request.offset, "count": len(page.results)}
    if page.total is not None:
        body["total"] = page.total
    body["results"] = page.results
    return 200, body


def _error_response(error: CtError, head: bool) -> web.Response:
    headers = (
        {"WWW-Authenticate": f'Bearer error="{error.code}"'}
        if error.code in ("invalid_token", "insufficient_scope")
        else {}
    )
    if head:
        return web.Response(status=error.status, headers=headers)
    return web.json_response(error.body(), status=error.status, headers=headers, dumps=_dumps)
