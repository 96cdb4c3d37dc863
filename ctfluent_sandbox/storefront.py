"""Acting as the storefront: change customers and products through the commercetools (emulator) API, as a shop
would, and look up what reached Fluent.

    python -m ctfluent_sandbox.storefront rename-one
    python -m ctfluent_sandbox.storefront create --email new@example.com
    python -m ctfluent_sandbox.storefront unpublish --product key=product-000001
    python -m ctfluent_sandbox.storefront publish
    python -m ctfluent_sandbox.storefront rename-product --name "Summer Tee"
    python -m ctfluent_sandbox.storefront delete-customer
    python -m ctfluent_sandbox.storefront delete-product
    python -m ctfluent_sandbox.storefront find jane.doe@example.com
    python -m ctfluent_sandbox.storefront stock SKU-1
    python -m ctfluent_sandbox.storefront clear-faults

Used by the demo, the end-to-end tests and the delta benchmark; it talks to the real HTTP API (with the API client
from the env file, by default the demo's ``.dagster_home/sandbox.env``), so every change produces the messages
commercetools would. ``--product`` and ``--customer`` take an id or ``key=<key>``; without them a record in the
right state is picked at random. ``find`` reads the Fluent emulator's admin state (a sandbox shortcut: the sync
itself only uses Fluent's GraphQL API) and prints the records of one commercetools id, email, key or SKU. ``stock``
prints what commercetools holds of a SKU: its inventory entries, one per supply channel.
Creating an order is not here yet: orders are not synced (issue 8).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests

from ctfluent_sandbox.admin_client import AdminClient
from ctfluent_sandbox.cli import read_env_file

DEFAULT_ENV_FILE = Path(".dagster_home") / "sandbox.env"  # what scripts/demo writes, from the repository root


class Storefront:
    def __init__(self, env: dict[str, str], timeout: float = 10.0) -> None:
        self.base = f"{env['CTP_API_URL']}/{env['CTP_PROJECT_KEY']}"
        self.timeout = timeout
        self.session = requests.Session()
        answer = self.session.post(
            f"{env['CTP_AUTH_URL']}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(env["CTP_CLIENT_ID"], env["CTP_CLIENT_SECRET"]),
            timeout=timeout,
        )
        answer.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def _get(self, path: str, **params: Any) -> Any:
        answer = self.session.get(f"{self.base}/{path}", params=params, timeout=self.timeout)
        answer.raise_for_status()
        return answer.json()

    def _apply(self, resource: str, ident: str, actions: tuple[dict[str, Any], ...]) -> dict[str, Any]:
        """Apply update actions to ``/{resource}/{ident}`` at its current version."""
        version = self._get(f"{resource}/{ident}")["version"]
        answer = self.session.post(
            f"{self.base}/{resource}/{ident}", json={"version": version, "actions": list(actions)}, timeout=self.timeout
        )
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def _delete(self, resource: str, ident: str) -> dict[str, Any]:
        """Delete ``/{resource}/{ident}`` at its current version; the record as it was."""
        version = self._get(f"{resource}/{ident}")["version"]
        answer = self.session.delete(
            f"{self.base}/{resource}/{ident}", params={"version": version}, timeout=self.timeout
        )
        answer.raise_for_status()
        deleted: dict[str, Any] = answer.json()
        return deleted

    # -- customers ---------------------------------------------------------------------------------------------

    def customers(self, limit: int = 100) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = self._get("customers", limit=limit)["results"]
        return results

    def customer(self, customer_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._get(f"customers/{customer_id}")
        return result

    def update(self, customer_id: str, *actions: dict[str, Any]) -> dict[str, Any]:
        """Apply update actions at the customer's current version."""
        return self._apply("customers", customer_id, actions)

    def create(self, email: str, first_name: str = "Fresh", last_name: str = "Customer") -> dict[str, Any]:
        draft = {"email": email, "password": "unused-by-the-sync", "firstName": first_name, "lastName": last_name}
        answer = self.session.post(f"{self.base}/customers", json=draft, timeout=self.timeout)
        answer.raise_for_status()
        created: dict[str, Any] = answer.json()["customer"]
        return created

    def delete(self, customer_id: str) -> dict[str, Any]:
        """Delete a customer (id or ``key=<key>``); the customer as it was."""
        return self._delete("customers", customer_id)

    # -- products ----------------------------------------------------------------------------------------------

    def orders(self, limit: int = 100, where: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit} | ({"where": where} if where else {})
        results: list[dict[str, Any]] = self._get("orders", **params)["results"]
        return results

    def products(self, limit: int = 100, where: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit} | ({"where": where} if where else {})
        results: list[dict[str, Any]] = self._get("products", **params)["results"]
        return results

    def product_action(self, product: str, *actions: dict[str, Any]) -> dict[str, Any]:
        """Apply update actions to a product (id or ``key=<key>``) at its current version."""
        return self._apply("products", product, actions)

    def publish(self, product: str) -> dict[str, Any]:
        return self.product_action(product, {"action": "publish"})

    def unpublish(self, product: str) -> dict[str, Any]:
        return self.product_action(product, {"action": "unpublish"})

    def rename_product(self, product: str, name: str, locale: str = "en") -> dict[str, Any]:
        """A new name in one locale, as an editor does it: change the staged name, then publish it."""
        staged = self._get(f"products/{product}")["masterData"]["staged"]["name"]
        return self.product_action(
            product, {"action": "changeName", "name": {**staged, locale: name}}, {"action": "publish"}
        )

    def delete_product(self, product: str) -> dict[str, Any]:
        """Delete a product (id or ``key=<key>``), published or not; the product as it was."""
        return self._delete("products", product)

    # -- orders and payments -----------------------------------------------------------------------------------

    def order(self, order: str) -> dict[str, Any]:
        """An order (id or ``order-number=<number>``) as it is now."""
        found: dict[str, Any] = self._get(f"orders/{order}")
        return found

    def order_action(self, order: str, *actions: dict[str, Any]) -> dict[str, Any]:
        """Apply update actions to an order (id or ``order-number=<number>``) at its current version."""
        return self._apply("orders", order, actions)

    def create_payment(self, draft: dict[str, Any]) -> dict[str, Any]:
        answer = self.session.post(f"{self.base}/payments", json=draft, timeout=self.timeout)
        answer.raise_for_status()
        created: dict[str, Any] = answer.json()
        return created

    def payment_action(self, payment: str, *actions: dict[str, Any]) -> dict[str, Any]:
        return self._apply("payments", payment, actions)

    # -- inventory ---------------------------------------------------------------------------------------------

    def inventory(self, sku: str) -> list[dict[str, Any]]:
        """The inventory entries of a SKU (one per supply channel, or one without), their channels expanded, in
        the order of the channel keys (the entry without a channel first)."""
        params = {"where": "sku = :sku", "var.sku": sku, "expand": "supplyChannel", "limit": 500}
        entries: list[dict[str, Any]] = self._get("inventory", **params)["results"]
        return sorted(entries, key=lambda entry: channel_key(entry) or "")

    def stock(self, sku: str) -> dict[str | None, int]:
        """The stock of a SKU: ``quantityOnStock`` per supply channel key (None: the entry without a channel)."""
        return {channel_key(entry): entry["quantityOnStock"] for entry in self.inventory(sku)}


def channel_key(entry: Mapping[str, Any]) -> str | None:
    """The key of an inventory entry's supply channel (expanded; else its id), None without one."""
    channel = entry.get("supplyChannel")
    if channel is None:
        return None
    return str(channel["obj"]["key"]) if "obj" in channel else str(channel["id"])


# -- what reached Fluent -----------------------------------------------------------------------------------------

# The Fluent tables the sync writes, and how `find` names their records.
FLUENT_KINDS = {
    "customers": "customer",
    "categories": "category",
    "standard_products": "standard product",
    "variant_products": "variant product",
    "orders": "order",
}
# Attributes the sync gives each Fluent record: the commercetools id, and the key of the record or its product.
_IDENTITY_ATTRIBUTES = ("ctCustomerId", "ctCategoryId", "ctProductId", "ctKey", "ctProductKey", "ctOrderId")


def fluent_records(state: Mapping[str, Any], identifier: str) -> list[tuple[str, dict[str, Any]]]:
    """The Fluent records (table, record) of one commercetools record, from the Fluent emulator's admin state.

    ``identifier`` is a commercetools id or key (of a customer, a category or a product), an email (every
    retailer's customer: usernames are ``<retailerId>_<email>``, and the current email is the ``primaryEmail``), a
    Fluent ref (a category's, a standard product's, a variant's: its SKU) or a customer's username. A product
    (by id, key or standard product ref) comes with its variants; a SKU is that variant alone.
    """
    standard = state.get("standard_products") or ()
    products = {
        _attributes(r).get("ctProductId") for r in standard if _is_record_of("standard_products", r, identifier)
    }
    products.discard(None)
    return [
        (table, record)
        for table in FLUENT_KINDS
        for record in state.get(table) or ()
        if _is_record_of(table, record, identifier)
        or (table == "variant_products" and _attributes(record).get("ctProductId") in products)
    ]


def _attributes(record: Mapping[str, Any]) -> dict[str, Any]:
    return {a.get("name"): a.get("value") for a in record.get("attributes") or ()}


def _is_record_of(table: str, record: Mapping[str, Any], identifier: str) -> bool:
    attributes = _attributes(record)
    if identifier in (attributes.get(name) for name in _IDENTITY_ATTRIBUTES):
        return True
    if table != "customers":
        return bool(record.get("ref") == identifier)
    username, email = str(record.get("username") or ""), identifier.casefold()
    return (
        username == identifier
        or username.partition("_")[2].casefold() == email
        or str(record.get("primaryEmail") or "").casefold() == email
    )


def describe(table: str, record: Mapping[str, Any]) -> str:
    """One line naming a Fluent record: kind, ref, id and status (and a deleted customer's mark)."""
    attributes = _attributes(record)
    line = f"Fluent {FLUENT_KINDS[table]} {record.get('ref')} (id {record.get('id')}, status {record.get('status')}"
    if table == "customers":
        line += f", retailer {(record.get('retailer') or {}).get('id')}"
        if attributes.get("ctDeleted"):
            line += ", ctDeleted: deleted in commercetools"
    else:
        line += f", catalogue {record.get('catalogue')}"
    return line + ")"


# -- the command line --------------------------------------------------------------------------------------------

_PRODUCT_COMMANDS = {  # command -> which products it may pick when --product is not given
    "publish": "masterData(published = false or hasStagedChanges = true)",
    "unpublish": "masterData(published = true)",
    "rename-product": "masterData(published = true)",
    "delete-product": "masterData(published = true)",
}
_CUSTOMER_UI = "Automation > commercetools_messages_sensor (the run it requests), Assets > fluent/customers"
_PRODUCT_UI = (
    "Automation > commercetools_messages_sensor (the run it requests), "
    "Assets > fluent/standard_products and fluent/variant_products"
)
_REDRIVE = (
    "Jobs > redrive_failed_<entity> > Launchpad: pick a partition (today's) > Launch Run (empty ids: every failed "
    "record)"
)


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in the help, and the description and epilog as written."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ctfluent_sandbox.storefront",
        formatter_class=_Help,
        description="Change customers and products in the commercetools emulator as a\nshop would (each change "
        "emits the messages the sync's sensor reads), place orders, complete\nthem in Fluent as its workflows "
        "would, and look up what reached the Fluent\nemulator.",
        epilog="--customer and --product take an id or key=<key>; without them a record\nis picked at random.",
    )
    parser.add_argument(
        "--env-file", type=Path, default=DEFAULT_ENV_FILE, help="the sandbox's connection settings, as scripts/demo "
        "(<workdir>/sandbox.env) or ctfluent-sandbox --env-file writes them",
    )  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        # Defaults written out: the options here have none worth printing, or a random pick.
        return commands.add_parser(name, help=help_text, description=help_text)

    rename = command("rename-one", "give a customer the first name 'Renamed'")
    rename.add_argument("--customer", help="id or key=<key> (default: a random customer)")
    create = command("create", "create a customer (first name Fresh, last name Customer)")
    create.add_argument("--email", required=True, help="the new customer's email")
    delete = command("delete-customer", "delete a customer (Fluent has no delete: it gets ctDeleted: true)")
    delete.add_argument("--customer", help="id or key=<key> (default: a random customer)")
    for name, help_text in (
        ("publish", "publish a product: its staged data becomes current, active in Fluent"),
        ("unpublish", "unpublish a product: inactive in Fluent"),
        ("rename-product", "change a product's name and publish it"),
        ("delete-product", "delete a product: inactive in Fluent, variants included"),
    ):
        sub = command(name, help_text)
        sub.add_argument("--product", help="id or key=<key> (default: a random product this applies to)")
        if name == "rename-product":
            sub.add_argument("--name", required=True, help="the new name")
            sub.add_argument("--locale", default="en", help="the locale of the name (default: %(default)s)")
    find = command("find", "print the Fluent record(s) of a commercetools record")
    find.add_argument(
        "identifier", metavar="IDENTIFIER",
        help="a commercetools id (customer, category, product), an email, a key (product, category, customer), "
        "a SKU or a Fluent ref/username",
    )  # fmt: skip
    order = command("place-order", "check out an order of a guest for a published product (EUR, Germany)")
    order.add_argument("--email", default="guest.shopper@example.com", help="the guest's email")
    for name, status in (("complete-order", "COMPLETE"), ("cancel-order", "CANCELLED")):
        sub = command(name, f"set an order's status in Fluent to {status}, as its workflows would: the order "
                      "status back-sync writes it to commercetools")  # fmt: skip
        sub.add_argument("--ref", help="the Fluent order ref (default: a random order in Fluent that is not done)")
    stock = command("stock", "print the stock of a SKU in commercetools: its inventory entries per supply channel")
    stock.add_argument("sku", metavar="SKU", help="a product variant's SKU")
    set_stock = command("set-stock", "in Fluent: set a SKU's available-to-sell quantity at a location (its "
                        "virtual position): fluent_inventory_sensor writes it to commercetools")  # fmt: skip
    set_stock.add_argument("sku", metavar="SKU", help="a product variant's SKU")
    set_stock.add_argument("quantity", metavar="QUANTITY", type=int, help="the new quantity")
    set_stock.add_argument("--location", default="LOC_1", help="the Fluent location ref (default: %(default)s)")
    set_stock.add_argument("--catalogue", default="VC:ATS:1", help="the virtual catalogue (default: %(default)s)")
    fulfil = command("fulfil-order", "in Fluent: fulfil an order's first item(s), as a store would (partial "
                     "unless --items covers them all): fluent_fulfilments_sensor adds the delivery")  # fmt: skip
    fulfil.add_argument("--ref", help="the Fluent order ref (default: a random order in Fluent that is not done)")
    fulfil.add_argument("--items", type=int, default=1, help="how many of its items (default: %(default)s)")
    consign = command("consign", "in Fluent: ship a fulfilment with a carrier (a consignment with its tracking "
                      "number): fluent_fulfilments_sensor adds the parcel and the shipment state")  # fmt: skip
    consign.add_argument("fulfilment", metavar="FULFILMENT", help="the Fluent fulfilment ref (fulfil-order prints it)")
    consign.add_argument("--carrier", default="DHL", help="the carrier (default: %(default)s)")
    consign.add_argument("--tracking", help="the tracking number (default: a new one)")
    consign.add_argument("--status", default="IN_TRANSIT", help="the consignment's status (default: %(default)s)")
    cancel = command("cancel-in-commercetools", "cancel an order in commercetools, as a shop's back office would: "
                     "its Fluent order gets the CancelOrder event")  # fmt: skip
    cancel.add_argument("--order", help="the commercetools order id (default: a random open order)")
    command("clear-faults", "remove every fault rule from both emulators (e.g. scripts/demo --fail-share)")
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.env_file.is_file():
        parser.error(f"{args.env_file} not found: start scripts/demo first (it writes it), or give --env-file")
    env = read_env_file(args.env_file)
    hint = _Hints(args.env_file)
    if args.command == "find":
        if not _find(env, args.identifier):
            sys.exit(1)
        return
    if args.command == "clear-faults":
        _clear_faults(env)
        return
    storefront = Storefront(env)
    if args.command == "stock":
        if not _print_stock(storefront, args.sku):
            sys.exit(1)
        return
    if args.command in ("complete-order", "cancel-order"):
        _finish_order(parser, env, args.ref, "COMPLETE" if args.command == "complete-order" else "CANCELLED")
        return
    if args.command in _FLUENT_SIDE:
        _FLUENT_SIDE[args.command](parser, env, args)
        return
    if args.command == "cancel-in-commercetools":
        order_id = args.order or _pick(parser, storefront.orders(where='orderState = "Open"'), "order")
        cancelled = storefront._apply("orders", order_id, ({"action": "changeOrderState", "orderState": "Cancelled"},))
        print(
            f"order {order_id} ({cancelled.get('orderNumber') or 'no number'}) is Cancelled in commercetools; "
            "the messages sensor's run sends CancelOrder to its Fluent order (once: Fluent's status is read first)"
        )
        print(
            "  in the UI: Automation > commercetools_messages_sensor, Assets > fluent/order_cancellations; "
            f"in Fluent: {command(args.env_file)} find {shlex.quote(cancelled.get('orderNumber') or order_id)}"
        )
        return
    if args.command == "place-order":
        sku = _published_sku(parser, storefront)
        address = {"country": "DE", "firstName": "Guest", "lastName": "Shopper", "streetName": "Torstraße",
                   "streetNumber": "1", "postalCode": "10119", "city": "Berlin"}  # fmt: skip
        draft = {"currency": "EUR", "customerEmail": args.email, "store": {"typeId": "store", "key": "eu-store"},
                 "shippingAddress": address, "lineItems": [{"sku": sku, "quantity": 1}]}  # fmt: skip
        placed = AdminClient(env["CTP_API_URL"]).call("POST", "/checkout", draft)
        print(f"placed order {placed['id']} ({placed.get('orderNumber') or 'no number'}) for {sku}")
        hint.show(placed["id"], "Automation > commercetools_messages_sensor (the run it requests), Assets > "
                  "fluent/orders")  # fmt: skip
        return
    if args.command == "rename-one":
        customer_id = args.customer or _pick(parser, storefront.customers(), "customer")
        updated = storefront.update(customer_id, {"action": "setFirstName", "firstName": "Renamed"})
        print(f"customer {updated['id']} is now version {updated['version']} (first name 'Renamed')")
        hint.show(updated["id"], _CUSTOMER_UI)
    elif args.command == "create":
        created = storefront.create(args.email)
        print(f"created customer {created['id']} ({created['email']})")
        hint.show(created["id"], _CUSTOMER_UI)
    elif args.command == "delete-customer":
        customer_id = args.customer or _pick(parser, storefront.customers(), "customer")
        deleted = storefront.delete(customer_id)
        print(f"deleted customer {deleted['id']} ({deleted['email']}); in Fluent it gets ctDeleted: true")
        hint.show(deleted["id"], _CUSTOMER_UI)
    else:
        candidates = [] if args.product else storefront.products(where=_PRODUCT_COMMANDS[args.command])
        product = args.product or _pick(parser, candidates, "product")
        if args.command == "delete-product":
            gone = storefront.delete_product(product)
            print(f"deleted product {gone['id']} (key {gone.get('key')}); in Fluent its products become inactive")
            hint.show(gone["id"], _PRODUCT_UI)
            return
        if args.command == "rename-product":
            changed = storefront.rename_product(product, args.name, args.locale)
        else:
            changed = storefront.publish(product) if args.command == "publish" else storefront.unpublish(product)
        state = "published" if changed["masterData"]["published"] else "unpublished"
        print(f"product {changed['id']} is now version {changed['version']} ({state})")
        hint.show(changed["id"], _PRODUCT_UI)


def _published_sku(parser: argparse.ArgumentParser, storefront: Storefront) -> str:
    skus = [variant["sku"] for product in storefront.products(where="masterData(published = true)")
            for variant in (product["masterData"]["current"]["masterVariant"],
                            *product["masterData"]["current"]["variants"]) if variant.get("sku")]  # fmt: skip
    if not skus:
        parser.error("no published product with a SKU to order")
    return random.choice(skus)


def _finish_order(parser: argparse.ArgumentParser, env: Mapping[str, str], ref: str | None, status: str) -> None:
    fluent = AdminClient(env["FLUENT_HOST"])
    if ref is None:
        open_orders = [o for o in fluent.state()["orders"] if o["status"] not in ("COMPLETE", "CANCELLED")]
        ref = _pick(parser, [{"id": o["ref"]} for o in open_orders], "ref")
    fluent.call("POST", f"/orders/{ref}/status", {"status": status})
    print(f"Fluent order {ref} is {status} now; fluent_order_status_sensor brings it to the commercetools order "
          "(webhook: seconds; polling alone: within its poll interval). See Automation > fluent_order_status_sensor "
          "and Assets > commercetools/order_status")  # fmt: skip


def _set_stock(parser: argparse.ArgumentParser, env: Mapping[str, str], args: argparse.Namespace) -> None:
    fluent = AdminClient(env["FLUENT_HOST"])
    change = {"catalogue": args.catalogue, "productRef": args.sku, "groupRef": args.location, "quantity": args.quantity}
    fluent.call("POST", "/positions", change)
    print(
        f"Fluent: {args.sku} at {args.location} is {args.quantity} now; fluent_inventory_sensor writes it to "
        "commercetools (webhook: seconds; polling alone: within its poll interval)"
    )
    print(
        f"  in commercetools: {command(args.env_file)} stock {shlex.quote(args.sku)}; in the UI: Automation > "
        "fluent_inventory_sensor, Assets > commercetools/inventory"
    )


def _fulfil(parser: argparse.ArgumentParser, env: Mapping[str, str], args: argparse.Namespace) -> None:
    fluent = AdminClient(env["FLUENT_HOST"])
    orders = fluent.state()["orders"]
    ref = args.ref or _pick(parser, [{"id": o["ref"]} for o in orders if o["status"] not in ("COMPLETE", "CANCELLED")],
                            "ref")  # fmt: skip
    order = next((o for o in orders if o["ref"] == ref), None)
    if order is None:
        parser.error(f"no Fluent order {ref}")
    items = [{"orderItemRef": item["ref"], "quantity": item["quantity"]} for item in order["items"][: args.items]]
    made = fluent.call("POST", f"/orders/{ref}/fulfilments", {"status": "FULFILLED", "items": items})
    print(
        f"Fluent: order {ref} has fulfilment {made['ref']} of {len(items)} of its {len(order['items'])} item(s); "
        "fluent_fulfilments_sensor adds the delivery to the commercetools order"
    )
    print(
        f"  ship it: {command(args.env_file)} consign {shlex.quote(made['ref'])}; in the UI: Automation > "
        "fluent_fulfilments_sensor, Assets > commercetools/deliveries"
    )


def _consign(parser: argparse.ArgumentParser, env: Mapping[str, str], args: argparse.Namespace) -> None:
    fluent = AdminClient(env["FLUENT_HOST"])
    tracking = args.tracking or f"{random.randrange(10**19, 10**20)}"
    made = fluent.call("POST", f"/fulfilments/{args.fulfilment}/consignments", {
        "carrier": {"ref": args.carrier.upper(), "name": args.carrier}, "consignmentReference": tracking,
        "status": args.status})  # fmt: skip
    print(
        f"Fluent: fulfilment {args.fulfilment} ships as consignment {made['ref']} ({args.carrier} {tracking}, "
        f"{args.status}); fluent_fulfilments_sensor adds the parcel and the order's shipment state"
    )
    print("  in the UI: Assets > commercetools/deliveries; in commercetools: the order's shippingInfo.deliveries")


_FLUENT_SIDE = {"set-stock": _set_stock, "fulfil-order": _fulfil, "consign": _consign}


def _pick(parser: argparse.ArgumentParser, records: list[dict[str, Any]], kind: str) -> str:
    if not records:
        parser.error(f"no {kind} this command applies to; give one with --{kind}")
    return str(random.choice(records)["id"])


def command(env_file: Path = DEFAULT_ENV_FILE) -> str:
    """This command line as a user types it here: ``.venv/bin/python -m ctfluent_sandbox.storefront``, with
    ``--env-file`` unless it is the default."""
    python = Path(sys.executable)
    words = [os.path.relpath(python) if python.is_relative_to(Path.cwd()) else str(python)]
    words += ["-m", "ctfluent_sandbox.storefront"]
    if env_file.resolve() != DEFAULT_ENV_FILE.resolve():
        words += ["--env-file", str(env_file)]
    return shlex.join(words)


class _Hints:
    """How to see a change arrive: the `find` command (with this env file) and where to look in the UI."""

    def __init__(self, env_file: Path) -> None:
        self.prefix = command(env_file)

    def find(self, identifier: str) -> str:
        return f"{self.prefix} find {shlex.quote(identifier)}"

    def show(self, identifier: str, ui: str) -> None:
        print(f"  in Fluent within about 10 s (the messages sensor): {self.find(identifier)}")
        print(f"  in the UI: {ui}")


def _find(env: Mapping[str, str], identifier: str) -> bool:
    """Print the Fluent records of ``identifier``; whether there were any."""
    found = fluent_records(AdminClient(env["FLUENT_HOST"]).state(), identifier)
    for table, record in found:
        print(describe(table, record))
        print(json.dumps(record, indent=2, ensure_ascii=False))
    if not found:
        print(
            f"no Fluent record for {identifier!r} (yet): a change reaches Fluent within about 10 s; a record that "
            "failed or waits is listed\nin the UI under Assets > fluent/<target> > Checks > no_outstanding_failures",
            file=sys.stderr,
        )
    return bool(found)


def _print_stock(storefront: Storefront, sku: str) -> bool:
    """Print the inventory entries of ``sku``, one line each; whether there were any."""
    entries = storefront.inventory(sku)
    for entry in entries:
        channel = channel_key(entry) or "(no supply channel)"
        quantities = f"{entry['quantityOnStock']} on stock, {entry['availableQuantity']} available"
        print(f"{channel}: {quantities} (inventory entry {entry['id']}, version {entry['version']})")
    if not entries:
        print(f"no inventory entry for the SKU {sku!r} in commercetools", file=sys.stderr)
    return bool(entries)


def _clear_faults(env: Mapping[str, str]) -> None:
    cleared = False
    for name, url in (("commercetools", env["CTP_API_URL"]), ("Fluent", env["FLUENT_HOST"])):
        admin = AdminClient(url)
        rules: list[dict[str, Any]] = admin.call("GET", "/faults")
        admin.clear_faults()
        cleared = cleared or bool(rules)
        print(f"{name} emulator: cleared fault rules: {'; '.join(map(_rule, rules)) or 'none'}")
    if cleared:
        print(f"the records that failed heal when re-driven: {_REDRIVE}")


def _rule(rule: Mapping[str, Any]) -> str:
    shown = ("match", "status", "error_code", "latency_ms", "drop", "every", "share")
    settings = ", ".join(f"{key}={rule[key]}" for key in shown if rule.get(key) not in (None, 0, 1))
    return f"{settings} (fired {rule.get('fired', 0)} times)"


if __name__ == "__main__":
    main()
