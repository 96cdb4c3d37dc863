"""``ctfluent-sandbox``: both emulators, seeded, on chosen loopback ports, until Ctrl-C or SIGTERM.

    ctfluent-sandbox --ct-port 8081 --fluent-port 8082 --customers 1000 --products 500 --orders 2000 --days 30 --seed 1

Prints the base URLs and credentials to use; ``--env-file`` also writes them as the ``CTP_*``/``FLUENT_*``
variables the code location reads: two commercetools API clients (``CTP_CLIENT_*`` reads with ``CTP_SCOPES``,
``CTP_WRITE_CLIENT_*`` writes orders with ``CTP_WRITE_SCOPES``), the Fluent user, and ``FLUENT_WEBHOOK_PUBLIC_KEYS``,
the key the Fluent emulator signs its webhooks with (``--fluent-webhook-url`` or ``PUT /_admin/webhooks`` sets where
they go). Faults: ``--ct-fault``/``--fluent-fault "match=POST /graphql;status=503;times=2"`` (see ``faults.py``), or
later through each emulator's ``/_admin/faults``.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shlex
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from ctfluent_sandbox.app import Emulator
from ctfluent_sandbox.commercetools import CommercetoolsEmulator
from ctfluent_sandbox.commercetools.auth import DEFAULT_CLIENT_ID, WRITE_CLIENT_ID
from ctfluent_sandbox.commercetools.auth import WRITE_SCOPES as CT_WRITE_SCOPES
from ctfluent_sandbox.commercetools.emulator import default_api_client, write_api_client
from ctfluent_sandbox.faults import FaultRule, parse_fault_spec
from ctfluent_sandbox.fluent import FluentEmulator
from ctfluent_sandbox.fluent.webhooks import DEFAULT_ACCOUNT_ID, new_private_key, public_key_base64
from ctfluent_sandbox.seed_inventory import skus_of
from ctfluent_sandbox.server import LOOPBACK, SandboxServer

FLUENT_CLIENT_ID, FLUENT_USERNAME = "ctfluent-sandbox", "sync-user"
# What the code location reads with: customers, the catalogue (categories, published products, product types),
# orders, payments, messages.
READ_SCOPES = (
    "view_customers view_messages view_project_settings view_categories view_published_products view_product_types "
    "view_orders view_payments"
)
# What it writes with (a second API client): orders.
WRITE_SCOPES = " ".join(CT_WRITE_SCOPES)


@dataclass(frozen=True)
class SandboxCredentials:
    """Secrets of one sandbox, new for every start: a client left over from another sandbox (one that reused a
    port) is refused instead of writing into this one."""

    ct_client_secret: str
    fluent_client_secret: str
    fluent_password: str
    ct_write_client_secret: str
    # The Fluent emulator's webhook key pair: the emulator signs with it, the env publishes its public half.
    fluent_webhook_key: RSAPrivateKey = field(repr=False, compare=False)

    @classmethod
    def fresh(cls) -> SandboxCredentials:
        ct, fluent, password, ct_write = (f"sandbox-{secrets.token_urlsafe(12)}" for _ in range(4))
        return cls(ct, fluent, password, ct_write, new_private_key())

    @property
    def fluent_webhook_public_key(self) -> str:
        return public_key_base64(self.fluent_webhook_key)

    def emulators(
        self,
        project_key: str,
        *,
        messages_enabled: bool = True,
        ct_faults: Sequence[FaultRule] = (),
        fluent_faults: Sequence[FaultRule] = (),
    ) -> tuple[CommercetoolsEmulator, FluentEmulator]:
        commercetools = CommercetoolsEmulator(
            faults=ct_faults,
            project_key=project_key,
            api_clients=[
                default_api_client(project_key, self.ct_client_secret),
                write_api_client(project_key, self.ct_write_client_secret),
            ],
            messages_enabled=messages_enabled,
        )
        fluent = FluentEmulator(
            faults=fluent_faults,
            client_id=FLUENT_CLIENT_ID,
            client_secret=self.fluent_client_secret,
            username=FLUENT_USERNAME,
            password=self.fluent_password,
            webhook_key=self.fluent_webhook_key,
        )
        return commercetools, fluent

    def connection_env(self, ct_url: str, fluent_url: str, project_key: str) -> dict[str, str]:
        """The code location's environment for talking to this sandbox."""
        return {
            "CTP_PROJECT_KEY": project_key,
            "CTP_CLIENT_ID": DEFAULT_CLIENT_ID,
            "CTP_CLIENT_SECRET": self.ct_client_secret,
            "CTP_SCOPES": READ_SCOPES,
            "CTP_WRITE_CLIENT_ID": WRITE_CLIENT_ID,
            "CTP_WRITE_CLIENT_SECRET": self.ct_write_client_secret,
            "CTP_WRITE_SCOPES": WRITE_SCOPES,
            "CTP_API_URL": ct_url,
            "CTP_AUTH_URL": ct_url,
            "FLUENT_HOST": fluent_url,
            "FLUENT_CLIENT_ID": FLUENT_CLIENT_ID,
            "FLUENT_CLIENT_SECRET": self.fluent_client_secret,
            "FLUENT_USERNAME": FLUENT_USERNAME,
            "FLUENT_PASSWORD": self.fluent_password,
            "FLUENT_RETAILER_ID": "1",
            "FLUENT_ACCOUNT_ID": DEFAULT_ACCOUNT_ID,  # the account the emulator's webhook events name
            "FLUENT_CATALOGUE_REF": "PC:MASTER:1",  # seeded by the Fluent emulator
            # Comma-separated (a real deployment may trust more than one key); here the emulator's one.
            "FLUENT_WEBHOOK_PUBLIC_KEYS": self.fluent_webhook_public_key,
        }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ctfluent-sandbox", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=LOOPBACK, help="address to bind (default: %(default)s)")
    parser.add_argument("--ct-port", type=int, default=8081, help="commercetools emulator port (0: any free port)")
    parser.add_argument("--fluent-port", type=int, default=8082, help="Fluent emulator port (0: any free port)")
    parser.add_argument("--customers", type=int, default=1000, help="customers to seed (default: %(default)s)")
    parser.add_argument("--products", type=int, default=0, help="products to seed (default: %(default)s)")
    parser.add_argument(
        "--categories", type=int, help="categories to seed (default: a tree sized to the products; none without)"
    )
    parser.add_argument("--variants", type=int, help="variants per product (default: 1 to 6 at random)")
    parser.add_argument(
        "--orders", type=int, default=0, help="orders to seed, a payment each (default: %(default)s; needs products)"
    )
    parser.add_argument("--order-items", type=int, help="line items per order (default: 1 to 4 at random)")
    parser.add_argument("--days", type=int, default=30, help="spread their history over this many days")
    parser.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same data")
    parser.add_argument("--project-key", default="ctfluent-demo")
    parser.add_argument(
        "--no-messages", action="store_true", help="leave message querying off, as on a new real project"
    )
    parser.add_argument(
        "--message-delay", type=float, default=0.0, help="seconds before a new message becomes queryable"
    )
    parser.add_argument("--ct-fault", action="append", default=[], metavar="SPEC", help="commercetools fault rule")
    parser.add_argument("--fluent-fault", action="append", default=[], metavar="SPEC", help="Fluent fault rule")
    parser.add_argument(
        "--fluent-webhook-url",
        metavar="URL",
        help="send the Fluent emulator's webhooks (order status events) here (later: PUT <fluent>/_admin/webhooks)",
    )
    parser.add_argument("--env-file", type=Path, help="write the connection settings as KEY=value lines here")
    return parser


def read_env_file(path: Path) -> dict[str, str]:
    """The variables of an ``--env-file`` (shell-quoted ``KEY=value`` lines)."""
    return dict(shlex.split(line)[0].split("=", 1) for line in path.read_text(encoding="utf-8").splitlines() if line)


async def serve(args: argparse.Namespace) -> None:
    credentials = SandboxCredentials.fresh()
    commercetools, fluent = credentials.emulators(
        args.project_key,
        messages_enabled=not args.no_messages,
        ct_faults=[parse_fault_spec(spec) for spec in args.ct_fault],
        fluent_faults=[parse_fault_spec(spec) for spec in args.fluent_fault],
    )
    commercetools.messages.settings.visibility_delay_seconds = args.message_delay
    if args.fluent_webhook_url:
        fluent.webhooks.configure({"url": args.fluent_webhook_url})
    seeded = commercetools.seed(
        customers=args.customers,
        days=args.days,
        seed=args.seed,
        products=args.products,
        categories=args.categories,
        variants=args.variants,
        orders=args.orders,
        order_items=args.order_items,
    )
    # Fluent's stock: positions of every seeded SKU at each location of its network (the inventory entity reads them).
    stock = fluent.seed_inventory(skus=skus_of(commercetools.products.collection))
    emulators: dict[str, tuple[Emulator, int]] = {
        "ct": (commercetools, args.ct_port),
        "fluent": (fluent, args.fluent_port),
    }
    server = SandboxServer(emulators, host=args.host)
    urls = await server.start()
    env = credentials.connection_env(urls["ct"], urls["fluent"], args.project_key)
    print(f"commercetools emulator: {urls['ct']}  (project {args.project_key}, messages "
          f"{'off' if args.no_messages else 'on'}, {seeded['customers']} customers, {seeded['products']} products "
          f"in {seeded['categories']} categories, {seeded['orders']} orders over {args.days} days, seeded in "
          f"{seeded['seconds']} s)")  # fmt: skip
    print(
        f"Fluent emulator:        {urls['fluent']}  (retailers 1, 2, 3; {stock['locations']} locations, "
        f"{stock['virtual_positions']} stock positions)"
    )
    print(f"Fluent webhooks:        {fluent.webhooks.config.url or 'none'} (<fluent url>/_admin/webhooks)")
    print("admin APIs:             <url>/_admin/state, /_admin/faults, /_admin/requests")
    print("credentials:")
    for name, value in env.items():
        print(f"  {name}={value}")
    if args.env_file:
        lines = "".join(f"{name}={shlex.quote(value)}\n" for name, value in env.items())  # sourceable by a shell
        args.env_file.write_text(lines, encoding="utf-8")
        print(f"wrote {args.env_file}")
    print("Ctrl-C to stop.", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()
    print("sandbox stopped", flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
