"""The demo behind ``scripts/demo``: the seeded sandbox, Dagster (webserver + daemon), and the sync of categories,
products and customers running on it (a backfill of the seeded history, then the messages sensor), until Ctrl-C.

The sandbox starts empty of sync state each time (fresh emulators), so the demo's state (Dagster's history, the
ledger, staged data) is started afresh under ``.dagster_home/`` too: a ledger that remembers customers a new
Fluent emulator has never seen would push nothing. The partitions start on the first day of the seeded history and
the backfill covers every one of them, today's included, so a fresh demo ends fully materialized.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ctfluent_sandbox.dagster_webserver import days_since, synced_asset_paths
from ctfluent_sandbox.stack import REPO, LocalStack
from ctfluent_sandbox.storefront import command as storefront_command

DESCRIPTION = """\
Run the whole sync locally until Ctrl-C:
- the commercetools and Fluent emulators, seeded with a category tree, products,
  customers and orders with payments whose history spans the last DAYS days;
- the Dagster UI and daemon, and the Fluent webhook receiver (ctfluent-webhooks);
- a backfill of every asset over that history, today's partition first: the
  daily partitions start on its first day, so the backfills load all of them;
- the messages sensor, which brings each later change to Fluent within about
  10 seconds, and the order status sensor, which brings an order completed or
  cancelled in Fluent back to commercetools within seconds.

Each start is fresh: the emulators are reseeded and WORKDIR (Dagster's history,
the ledger, the staged data, the logs) is deleted first."""

EPILOG = """\
examples:
  scripts/demo
      1,000 customers, 200 products and 500 orders over 30 days, the UI on port 3000
  scripts/demo --customers 100000 --products 10000 --orders 50000 --days 90
  scripts/demo --fail-share 0.05
      5% of the records fail in Fluent: watch the check, then re-drive them
  scripts/demo --dagster-port 3005 --ct-port 8091 --fluent-port 8092
      beside another demo

While it runs, change things as a shop would and find them in Fluent:
  .venv/bin/python -m ctfluent_sandbox.storefront --help"""

# The permanent Fluent error --fail-share injects: "custom validation" (fact sheet, error codes), so the sync
# records the push as failed instead of retrying it, and a re-drive after clear-faults heals it.
FAIL_CODE = "C0160E"


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in the help, and the description and epilog as written."""


def share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scripts/demo", description=DESCRIPTION, epilog=EPILOG, formatter_class=_Help)
    parser.add_argument("--customers", type=int, default=1000, metavar="N", help="customers to seed")
    parser.add_argument(
        "--products", type=int, default=200, metavar="N",
        help="products to seed (1 to 6 variants each, in a category tree sized to them)",
    )  # fmt: skip
    parser.add_argument(
        "--orders", type=int, default=500, metavar="N",
        help="orders to seed, each with a payment (guests, several stores and currencies, click & collect, some "
        "complete or cancelled)",
    )  # fmt: skip
    parser.add_argument(
        "--days", type=int, default=30, metavar="DAYS",
        help="days of history to seed; the partitions start on its first day and the backfill loads them all",
    )  # fmt: skip
    parser.add_argument(
        "--fail-share", type=share, default=0.0, metavar="SHARE",
        help=f"share of the records (0 to 1, e.g. 0.05) whose Fluent pushes fail with {FAIL_CODE} (custom "
        "validation, permanent) until the fault is cleared with `storefront clear-faults`; 0: none",
    )  # fmt: skip
    parser.add_argument(
        "--dagster-port", type=int, default=3000, metavar="PORT", help="Dagster UI port (0: any free port)"
    )
    parser.add_argument(
        "--ct-port", type=int, default=8081, metavar="PORT", help="commercetools emulator port (0: any free port)"
    )
    parser.add_argument(
        "--fluent-port", type=int, default=8082, metavar="PORT", help="Fluent emulator port (0: any free port)"
    )
    parser.add_argument(
        "--workdir", type=Path, default=Path(".dagster_home"),
        help="the demo's state, deleted at each start: Dagster home, ledger, staged data, logs, sandbox.env "
        "(relative to the repository)",
    )  # fmt: skip
    return parser


def main() -> None:
    args = build_parser().parse_args()
    workdir = args.workdir if args.workdir.is_absolute() else REPO / args.workdir
    shutil.rmtree(workdir, ignore_errors=True)
    # The seeded history spans the `days` days before the sandbox starts: its first day is the first partition.
    first_day = datetime.now(UTC).date() - timedelta(days=args.days)
    settings = {
        "CTFLUENT_SETTINGS_FILE": str(REPO / "ctfluent.example.yaml"),
        "CTFLUENT_START_DATE": first_day.isoformat(),
        # The sensor and schedules run from the start, polling in seconds instead of production's minutes.
        "CTFLUENT_MESSAGES__SENSOR_RUNNING": "true",
        "CTFLUENT_MESSAGES__SCHEDULES_RUNNING": "true",
        "CTFLUENT_MESSAGES__POLL_INTERVAL_SECONDS": "5",
        "CTFLUENT_MESSAGES__SETTLE_SECONDS": "2",
        "CTFLUENT_MESSAGES__OVERLAP_SECONDS": "60",
        # The whole seeded history is the demo's present: its orders are sent, not skipped as history.
        "CTFLUENT_ORDERS__MAX_AGE_DAYS": str(args.days + 1),
        # Order status back to commercetools: webhook events handled every 2 s, Fluent polled every 30 s.
        "CTFLUENT_ORDER_STATUS__SENSOR_RUNNING": "true",
        "CTFLUENT_ORDER_STATUS__TICK_SECONDS": "2",
        "CTFLUENT_ORDER_STATUS__POLL_INTERVAL_SECONDS": "30",
        "CTFLUENT_ORDER_STATUS__WEBHOOK_GRACE_SECONDS": "15",  # the receiver launches the job itself
        # The same for the entities read from Fluent: locations, stock and fulfilments into commercetools.
        **{
            f"CTFLUENT_{section}__{name}": value
            for section in ("LOCATIONS", "INVENTORY", "FULFILMENTS")
            for name, value in (
                ("SENSOR_RUNNING", "true"),
                ("TICK_SECONDS", "2"),
                ("POLL_INTERVAL_SECONDS", "30"),
                ("WEBHOOK_GRACE_SECONDS", "15"),
            )
        },
    }
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"starting the sandbox ({args.customers} customers, {args.products} products, {args.orders} orders over "
          f"{args.days} days) and Dagster ...", flush=True)  # fmt: skip
    with LocalStack(
        workdir, customers=args.customers, products=args.products, orders=args.orders, days=args.days,
        extra_env=settings, webhooks=True,
        ct_port=args.ct_port, fluent_port=args.fluent_port, dagster_port=args.dagster_port,
        pool_limits={"commercetools_api": 1, "fluent_api": 2},
    ) as stack:  # fmt: skip
        if args.fail_share:
            stack.fluent_admin.add_fault(match="POST /graphql", error_code=FAIL_CODE, share=args.fail_share)
        partitions = days_since(first_day)
        # Today's partition first, as one run (the run queue starts it at once; a backfill waits for the backfill
        # daemon's next pass): its records are in Fluent seconds after the UI is up. The history's backfill beside.
        today = stack.webserver.launch_run("__ASSET_JOB", partitions[-1], assets=synced_asset_paths())
        backfill = stack.webserver.launch_backfill(partitions[:-1], title="demo: the seeded history")
        print(guide(args, stack, workdir, today, backfill, partitions), flush=True)
        stop.wait()
        print("stopping ...", flush=True)


def guide(
    args: argparse.Namespace, stack: LocalStack, workdir: Path, today: str, backfill: str, partitions: list[str]
) -> str:
    """What the demo prints once it runs: what to change, where to look."""
    storefront, ui, fluent = storefront_command(workdir / "sandbox.env"), stack.webserver_url, stack.env["FLUENT_HOST"]
    failing = ""
    if args.fail_share:
        failing = f"""
Failing pushes (--fail-share {args.fail_share}): about {args.fail_share:.0%} of the records fail in Fluent with
{FAIL_CODE} (custom validation), the same ones on every attempt. See them in Assets > fluent/<target> > Checks >
no_outstanding_failures (what waits for them is listed beside), then clear the fault and re-drive them:
  {storefront} clear-faults    (or: curl -X DELETE {fluent}/_admin/faults)
  Jobs > redrive_failed_<entity> > Launchpad: pick a partition (today's) > Launch Run (empty ids: every failed record)
"""
    return f"""
The sync is running. Run {today} loads today's partition ({partitions[-1]}); Backfill {backfill} loads the
other {len(partitions) - 1} daily partitions from {partitions[0]}: categories, then products, beside customers, then
orders (created within orders.max_age_days and neither complete nor cancelled; the others are skipped with that
reason) and their payments' successful transactions; and from Fluent, its locations as channels, its stock as
inventory entries, its fulfilments as deliveries. The messages sensor then brings every change to Fluent within
about 10 seconds, and Fluent's webhooks bring its changes to commercetools.

Change things the way a shop would with {storefront} <command>
(each change command then says how to find the result in Fluent):
  rename-one                          a customer's first name
  create --email new@example.com      a new customer
  rename-product --name "New name"    a product's name
  unpublish / publish                 a product: inactive / active again in Fluent
  delete-customer / delete-product    ctDeleted: true / inactive in Fluent
  place-order                         a guest's order: in Fluent with its customer seconds later
  complete-order / cancel-order       in Fluent, as its workflow would: Complete / Cancelled in
                                      commercetools within seconds (webhook receiver: {stack.webhooks_url})
  cancel-in-commercetools             the back office cancels an order: CancelOrder reaches Fluent
  set-stock <sku> <quantity>          Fluent stock at LOC_1: the SKU's inventory entry (stock <sku> shows it)
  fulfil-order / consign <ref>        Fluent fulfils and ships: a delivery, its parcel, the shipment state
  find <id, email, key, SKU or order> the Fluent record(s) of a commercetools record
{failing}
In the UI ({ui}):
  Lineage          commercetools/categories -> fluent/categories -> fluent/standard_products ->
                   fluent/variant_products; commercetools/customers -> fluent/customers; both ->
                   fluent/orders -> fluent/financial_transactions
  Backfill         Overview > Backfills; launch more from Assets > Materialize (select all, pick a date range)
  Failed pushes    Assets > fluent/<target> > Checks > no_outstanding_failures (waiting records listed beside)
  Re-drive         Jobs > redrive_failed_<entity> > Launchpad: pick any partition (today's); empty ids = every
                   failed record of the entity
  Delta sync       Automation > commercetools_messages_sensor; waiting_records_sensor
  Status back      Automation > fluent_order_status_sensor; Assets > commercetools/order_status
  A record's story Jobs > record_journey (identifier: a commercetools id, email, order number or SKU), or
                   .venv/bin/ctfluent-journey <identifier>; Jobs > sync_overview: every entity at a glance
  Pre-flight       Jobs > preflight
Emulators: commercetools {stack.env["CTP_API_URL"]}, Fluent {fluent} (admin: <url>/_admin/state, /_admin/faults).
Logs: {stack.logs}. Ctrl-C stops everything."""


if __name__ == "__main__":
    main()
