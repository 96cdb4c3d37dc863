"""Benchmark: the initial load of N orders (three items and one payment each) into Fluent through the Dagster
assets, against the sandbox; and how fast a new order reaches Fluent through the messages sensor.

    .venv/bin/python -m benchmarks.order_sync                     # 50,000 orders x 3 items, 20 ms per Fluent call
    .venv/bin/python -m benchmarks.order_sync --orders 500 --changes 5

Part 1, as the catalogue benchmark: the sandbox runs in its own process with a fixed latency added to every Fluent
request, and is seeded through its admin API (timed on its own). A first child process loads what orders need (the
catalogue and the customers); then a fresh child process (its peak memory its own) reads and pushes the orders and
payments, twice (initial, nothing changed). Printed per phase: time and records; the push time against the batched
bound ``creates / (batch size x concurrency) x latency``, the creates being the orders, financial transactions and
customers at order time the run made; Fluent requests per order; the sync's peak memory and CPU, the sandbox's CPU;
the reasons of records left skipped, waiting or failed. Every order is sent by default (no age or state filter);
``--product-filters`` keeps the shipped ones (orders older than 30 days, complete and cancelled orders skipped).

Part 2, as the delta benchmark: the whole stack for real (sandbox + ``dg dev`` with webserver and daemon, sensors
running) with a small shop loaded by a backfill; then ``--changes`` new orders ``--spacing`` seconds apart, each a
checkout with a paid payment on the cart, and per order the time until Fluent has the order, and its financial
transaction. Aim: median under the sensor interval + the settle delay + 15 s.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from benchmarks.common import (
    add_common_arguments,
    batched_bound,
    measured_runs,
    mutations,
    push_settings,
    sandbox,
    seeded_days,
    summary_line,
    sync_once,
)
from ctfluent_dagster.ledger.store import Ledger
from ctfluent_dagster.records import LedgerEntry
from ctfluent_sandbox.admin_client import AdminClient

PREREQUISITES = ("commercetools/categories", "fluent/categories", "commercetools/products", "fluent/standard_products",
                 "fluent/variant_products", "commercetools/customers", "fluent/customers")  # fmt: skip
READS = ("commercetools/orders", "commercetools/payments")
PUSHES = ("fluent/orders", "fluent/financial_transactions")
ORDER_ASSETS = ("commercetools/orders", "fluent/orders")
PAYMENT_ASSETS = ("commercetools/payments", "fluent/financial_transactions")
ASSETS = (*ORDER_ASSETS, *PAYMENT_ASSETS)
# Fluent requests by target (a batch of ten creates is one request): what the order and payment syncs send.
TARGETS = ("createOrder", "createCustomer", "customers", "createFinancialTransaction")
CURRENCIES = {"US": "USD", "JP": "JPY"}  # else EUR, as the sandbox's seeded orders
# SKUs, commercetools ids, order numbers and other numbers, in ledger reasons
GENERALISED = ((r"\b[A-Z]{2}-\d{6}-\d+\b", "<sku>"), (r"\b[0-9a-f]{8}-[0-9a-f-]{27}\b", "<id>"),
               (r"\b[A-Z]+-\d+\b", "<number>"), (r"\b\d+(\.\d+)?\b", "<n>"))  # fmt: skip
RUNS = """{ runsOrError(limit: 1000) { __typename ... on Runs { results {
    jobName status creationTime startTime endTime tags { key value } } } } }"""
GUEST_ADDRESS = {"country": "DE", "firstName": "Gina", "lastName": "Gast", "streetName": "Torstraße",
                 "streetNumber": "1", "postalCode": "10119", "city": "Berlin"}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--items", type=int, default=3, help="line items per order")
    parser.add_argument("--customers", type=int, default=10_000, help="registered customers in the seed")
    parser.add_argument("--products", type=int, default=1_000)
    parser.add_argument("--variants", type=int, default=3, help="variants per product")
    parser.add_argument("--product-filters", action="store_true",
                        help="keep the shipped order filters (age, state) instead of sending every order")  # fmt: skip
    parser.add_argument("--changes", type=int, default=20, help="new orders for the latency part (0: skip it)")
    parser.add_argument("--spacing", type=float, default=2.0, help="seconds between two new orders")
    parser.add_argument("--interval", type=int, default=5, help="sensor minimum interval (s)")
    parser.add_argument("--settle", type=int, default=2, help="settle delay (s)")
    parser.add_argument("--quick", action="store_true",
                        help="1,000 orders, 500 customers, 100 products over 5 days; no latency part")  # fmt: skip
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.quick:
        args.orders, args.customers, args.products, args.days, args.changes = 1_000, 500, 100, 5, 0

    bulk = initial_load(args)
    report_load(args, bulk)
    if args.changes:
        report_latency(args, new_order_latency(args))


def sync_settings(args: argparse.Namespace) -> dict[str, str]:
    settings = push_settings(args)
    if not args.product_filters:
        settings |= {"CTFLUENT_ORDERS__MAX_AGE_DAYS": "0", "CTFLUENT_ORDERS__SKIP_ORDER_STATES": "[]"}
    return settings


def reason(entry: LedgerEntry) -> str:
    """An entry's status and reason, with the SKUs, numbers and ids in it generalised, to count alike ones."""
    text = f"{entry.status}: {entry.error_code or ''} {entry.error_message or ''}"
    for pattern, name in GENERALISED:
        text = re.sub(pattern, name, text)
    return text[:150]


def leftovers(ledger: Ledger, entity_type: str) -> Counter[str]:
    """Why the records of ``entity_type`` not in Fluent are not, counted."""
    return Counter(reason(e) for e in ledger.entries(entity_type, status=("skipped", "waiting", "failed")))


# -- part 1: the initial load ----------------------------------------------------------------------------------


def read_payments_100_per_page() -> None:
    """Workaround, not product behaviour: the payments source reads 100 payments a page instead of 500, so that the
    order query of each page (``paymentInfo(payments(id in :ids))``, one id per payment) stays within the URL length
    the sandbox (like most servers) takes. Runs in the sync's child process, before the definitions load."""
    from ctfluent_dagster.entities.payments.declaration import ENTITY

    object.__setattr__(ENTITY.source, "page_size", 100)


def load_average() -> str:
    """The machine's 1-minute load average: other work on it slows the figures down."""
    return f"{os.getloadavg()[0]:.1f}"


def code_fingerprint() -> str:
    """The project code's fingerprint now (part of every mapping fingerprint: when it changes between the runs, the
    no-change run maps every record again)."""
    from ctfluent_dagster.entity import code_fingerprint as cached

    return cached.__wrapped__()


def initial_load(args: argparse.Namespace) -> dict[str, Any]:
    load_before = load_average()
    seed_args = ["--customers", "0", "--days", str(args.days)]  # seeded through the admin API below, timed
    with (
        tempfile.TemporaryDirectory(prefix="ctfluent-bench-") as tmp,
        sandbox(Path(tmp), seed_args, sync_settings(args), args.latency_ms, args.ledger) as (process, env),
    ):
        started = time.perf_counter()
        seeded: dict[str, Any] = AdminClient(env["CTP_API_URL"], timeout=3600).call("POST", "/seed", {
            "customers": args.customers, "days": args.days, "seed": 1, "products": args.products,
            "variants": args.variants, "orders": args.orders, "order_items": args.items,
        })  # fmt: skip
        seeded["wall_seconds"] = time.perf_counter() - started

        # The days measured_runs syncs.
        first_day, today = seeded_days(args.days)
        started = time.perf_counter()
        prerequisites = sync_once(env, first_day, today, PREREQUISITES)
        prerequisites["wall_seconds"] = time.perf_counter() - started

        fluent = AdminClient(env["FLUENT_HOST"], timeout=600)
        customers_before = len(fluent.state()["customers"])
        code_before = code_fingerprint()
        runs = {"orders": measured_runs(process, env, args.days, ORDER_ASSETS)}
        workaround = None
        try:
            runs["payments"] = measured_runs(process, env, args.days, PAYMENT_ASSETS)
        except RuntimeError as exc:
            workaround = f"{exc} (its traceback is on stderr)"
            runs["payments"] = measured_runs(process, env, args.days, PAYMENT_ASSETS, read_payments_100_per_page)
        state = fluent.state()
        ledger = Ledger(env["CTFLUENT_LEDGER_URL"])
        return {
            "load": f"{load_before} before, {load_average()} after",
            "seeded": seeded,
            "prerequisites": prerequisites,
            "runs": {label: {**runs["orders"][label], **runs["payments"][label]} for label in ("initial", "no-change")},
            "children": runs,
            "payments_workaround": workaround,
            "code_changed": code_fingerprint() != code_before,
            "in_fluent": {name: len(state[name]) for name in ("orders", "financial_transactions", "customers")},
            "customers_at_order_time": len(state["customers"]) - customers_before,
            "leftovers": {kind: leftovers(ledger, kind) for kind in ("order", "financial_transaction")},
        }


def report_load(args: argparse.Namespace, bulk: dict[str, Any]) -> None:
    seeded, prerequisites, children = bulk["seeded"], bulk["prerequisites"], bulk["children"]
    initial, again = bulk["runs"]["initial"], bulk["runs"]["no-change"]
    orders, transactions = initial["fluent/orders"]["metadata"], initial["fluent/financial_transactions"]["metadata"]
    by_target = Counter[str]()
    for child in children.values():
        by_target.update(child["initial"]["fluent_requests"]["by_target"])
    requests_total = sum(child["initial"]["fluent_requests"]["total"] for child in children.values())
    customers = bulk["customers_at_order_time"]
    creates = orders["created"] + transactions["created"] + customers
    read = sum(initial[name]["seconds"] for name in READS)
    push = sum(initial[name]["seconds"] for name in PUSHES)
    in_asset_push = sum(initial[name]["metadata"]["seconds"] for name in PUSHES)
    bound = batched_bound(creates, args)
    per_order = requests_total / max(orders["created"], 1)
    sync_cpu = sum(initial[name]["cpu"] for name in ASSETS)
    push_cpu = sum(initial[name]["cpu"] for name in PUSHES)
    sandbox_cpu = sum(child["initial"]["sandbox_cpu"] for child in children.values())
    peak = {name: child["initial"]["peak_rss_mb"] for name, child in children.items()}
    again_read = sum(again[name]["metadata"]["seconds"] for name in READS)
    again_push = sum(again[name]["metadata"]["seconds"] for name in PUSHES)
    again_mutations = sum(mutations(child["no-change"]) for child in children.values())
    loaded = ", ".join(f"{prerequisites[name]['metadata']['created']:,} {name.split('/')[1]}"
                       for name in PREREQUISITES if name.startswith("fluent/"))  # fmt: skip
    filters = "shipped order filters" if args.product_filters else "every order sent (no age or state filter)"
    lines = [
        f"order sync benchmark: {args.orders:,} orders x {args.items} items, a payment each, {args.customers:,} "
        f"customers, {args.products:,} products x {args.variants} variants over {args.days} days, {filters}, Fluent "
        f"latency {args.latency_ms:g} ms, concurrency {args.concurrency}, batch size {args.batch_size}, "
        f"ledger {args.ledger}, "
        f"{os.cpu_count()} CPU(s), Python {sys.version.split()[0]}; load average {bulk['load']}",
        f"  seeding the commercetools emulator: {seeded['wall_seconds']:6.1f} s   ({seeded['orders']:,} orders, "
        f"{seeded['payments']:,} payments, {seeded['customers']:,} customers, {seeded['products']:,} products; "
        f"in the emulator {seeded['seconds']:.1f} s)",
        f"  prerequisites (catalogue, customers; one run): {prerequisites['wall_seconds']:.1f} s   ({loaded} created)",
    ]
    if bulk["payments_workaround"]:
        lines.append(f"  !! payments as shipped: {bulk['payments_workaround']}; the payment figures below are with "
                     "read_payments_100_per_page (a workaround, not product behaviour)")  # fmt: skip
    for name in ASSETS:
        phase = initial[name]
        meta = phase["metadata"]
        counts = (f"{meta['records']:,} staged" if name in READS else
                  f"{meta['created']:,} created, {meta['skipped']:,} skipped, {meta['waiting']:,} waiting, "
                  f"{meta['failed']:,} failed")  # fmt: skip
        lines.append(f"  {name:<30} {phase['seconds']:7.1f} s   (in-asset {meta['seconds']:6.1f} s)   {counts}; "
                     f"peak memory so far {phase['rss_mb']:.0f} MB")  # fmt: skip
    lines += [
        f"  read (commercetools -> Parquet):   {read:7.1f} s   "
        f"({sum(initial[n]['metadata']['records'] for n in READS):,} commercetools records)",
        f"  push (Parquet -> Fluent):          {push:7.1f} s   (in-asset {in_asset_push:.1f} s; {creates:,} Fluent "
        f"records created: {orders['created']:,} orders, {transactions['created']:,} financial transactions, "
        f"{customers:,} customers at order time)",
        f"  batched bound N/(batch x conc.) x latency: {bound:5.1f} s",
        f"  push time / bound:                 {push / bound:7.2f} x   (aim: <= 1.5; in-asset: "
        f"{in_asset_push / bound:.2f} x)",
        f"  Fluent requests per order:         {per_order:7.3f}     ({requests_total:,} requests: "
        + ", ".join(f"{name} {by_target[name]:,}" for name in TARGETS)
        + f", other {requests_total - sum(by_target[name] for name in TARGETS):,})",
        f"  in Fluent after the run:           {bulk['in_fluent']['orders']:,} orders, "
        f"{bulk['in_fluent']['financial_transactions']:,} financial transactions, "
        f"{bulk['in_fluent']['customers']:,} customers",
        f"  peak memory of the sync process:   {max(peak.values()):7.0f} MB   (aim: < 400 MB; orders run "
        f"{peak['orders']:.0f} MB, payments run {peak['payments']:.0f} MB)",
        f"  CPU of the sync process:           {sync_cpu:7.1f} s   (push: {push_cpu:.1f} s = {push_cpu / push:.0%} "
        f"of one core, {1000 * push_cpu / max(orders['created'], 1):.2f} ms per order created)",
        f"  CPU of the sandbox process:        {sandbox_cpu:7.1f} s   (orders run "
        f"{children['orders']['initial']['sandbox_cpu']:.1f} s, payments run "
        f"{children['payments']['initial']['sandbox_cpu']:.1f} s)",
        f"  second run, no change (in-asset): read {again_read:.1f} s, push {again_push:.1f} s = "
        f"{again_push / again_read:.0%} of the read (aim: < 10%), {again_mutations} mutations, "
        f"{sum(again[name]['metadata']['unchanged'] for name in PUSHES):,} unchanged, "
        f"{sum(child['no-change']['fluent_requests']['total'] for child in children.values()):,} Fluent requests; "
        + ", ".join(f"{name} {again[name]['metadata']['seconds']:.1f} s" for name in ASSETS),
    ]
    lines.append(summary_line(
        "order_sync", args, records=orders["created"], push_s=push, bound_s=bound, ratio=push / bound,
        sync_cpu_ms_per_record=1000 * push_cpu / max(orders["created"], 1),
        sandbox_cpu_ms_per_record=1000 * sandbox_cpu / max(orders["created"], 1), peak_mb=max(peak.values()),
        no_change_push_of_read=again_push / again_read,
    ))  # fmt: skip
    if bulk["code_changed"]:
        lines.append("  !! the project's code changed during the runs (someone edited it): its fingerprint is part of "
                     "the mapping's, so the no-change run mapped every record again")  # fmt: skip
    for kind, reasons in bulk["leftovers"].items():
        for text, count in reasons.most_common(6):
            lines.append(f"  not in Fluent, {kind}: {count:,} x {text}")
    print("\n".join(lines), flush=True)


# -- part 2: new orders through the sensor ---------------------------------------------------------------------


def new_order_latency(args: argparse.Namespace) -> dict[str, Any]:
    from ctfluent_sandbox.dagster_webserver import recent_days
    from ctfluent_sandbox.stack import LocalStack

    settings = {
        "CTFLUENT_MESSAGES__SENSOR_RUNNING": "true",
        "CTFLUENT_MESSAGES__POLL_INTERVAL_SECONDS": str(args.interval),
        "CTFLUENT_MESSAGES__SETTLE_SECONDS": str(args.settle),
        "CTFLUENT_MESSAGES__OVERLAP_SECONDS": "60",
        **sync_settings(args),
    }
    with (
        tempfile.TemporaryDirectory(prefix="ctfluent-orders-") as tmp,
        LocalStack(Path(tmp), customers=1000, products=100, days=3, extra_env=settings) as stack,
    ):
        backfill = stack.webserver.launch_backfill(recent_days(3), title="benchmark initial load")
        status = stack.webserver.finished_backfill(backfill, seconds=3600)["status"]
        stack.fluent_admin.add_fault(match="POST /graphql", latency_ms=args.latency_ms)
        ledger = Ledger(f"sqlite:///{Path(tmp) / 'ledger.sqlite'}")
        since, load_before = time.time(), load_average()
        measured = measure_latency(stack, ledger, args)
        load = f"{load_before} before, {load_average()} after"
        return {"backfill": status, **measured, "runs": run_summary(stack, since), "load": load}


def run_summary(stack: Any, since: float) -> list[dict[str, Any]]:
    """The runs the sensors requested since ``since`` (epoch seconds), per job and trigger: how many, how long each
    was queued (created -> started) and ran (started -> ended)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for run in stack.webserver.query(RUNS)["runsOrError"]["results"]:
        if run["creationTime"] >= since:
            trigger = next((tag["value"] for tag in run["tags"] if tag["key"] == "ctfluent/trigger"), "other")
            groups[(run["jobName"], trigger)].append(run)
    return [
        {
            "job": job,
            "trigger": trigger,
            "runs": len(runs),
            "statuses": Counter(run["status"] for run in runs),
            "queued": statistics.median(run["startTime"] - run["creationTime"] for run in runs if run["startTime"]),
            "running": statistics.median(
                run["endTime"] - run["startTime"] for run in runs if run["startTime"] and run["endTime"]
            ),
        }
        for (job, trigger), runs in sorted(groups.items())
    ]


def measure_latency(stack: Any, ledger: Ledger, args: argparse.Namespace) -> dict[str, Any]:
    from ctfluent_sandbox.storefront import Storefront

    storefront = Storefront(stack.env)
    skus = [e.fluent_ref for e in ledger.entries("variant_product", status="synced") if e.fluent_ref]
    shoppers = [c for c in storefront.customers(limit=500) if c.get("addresses")]
    pending: dict[str, tuple[float, str]] = {}  # Fluent ref (order number, transaction id) -> (checkout at, kind)
    latencies: dict[str, list[float]] = {"order": [], "transaction": []}
    lock = threading.Lock()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            state = stack.fluent_admin.state()
            present = {o["ref"] for o in state["orders"]} | {t["ref"] for t in state["financial_transactions"]}
            now = time.monotonic()
            with lock:
                for ref, (started, kind) in list(pending.items()):
                    if ref in present:
                        latencies[kind].append(now - started)
                        del pending[ref]
            time.sleep(0.25)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    order_ids: dict[str, str] = {}  # order number -> commercetools id
    for index in range(args.changes):
        guest = index % 4 == 3  # one in four, as in the seed
        shopper = shoppers[index % len(shoppers)]
        address = GUEST_ADDRESS if guest else shopper["addresses"][0]
        currency = CURRENCIES.get(address["country"], "EUR")
        amount = {"currencyCode": currency, "centAmount": 1000}
        payment = storefront.create_payment({
            "amountPlanned": amount, "paymentMethodInfo": {"method": "creditCard", "paymentInterface": "adyen"},
            "transactions": [{"type": "Charge", "state": "Success", "amount": amount, "interactionId": f"psp-{index}"}],
        })  # fmt: skip
        number = f"LATENCY-{index:03d}"
        buyer = {"customerEmail": f"latency.guest.{index}@example.org"} if guest else {"customerId": shopper["id"]}
        order = stack.ct_admin.call("POST", "/checkout", {
            **buyer, "currency": currency, "shippingAddress": address, "orderNumber": number,
            "shippingMethod": {"typeId": "shipping-method", "key": "standard"},
            "lineItems": [{"sku": skus[(index * args.items + k) % len(skus)]} for k in range(args.items)],
            "payments": [{"typeId": "payment", "id": payment["id"]}],
        })  # fmt: skip
        order_ids[number] = order["id"]
        with lock:
            checked_out = time.monotonic()
            pending[number] = (checked_out, "order")
            pending[payment["transactions"][0]["id"]] = (checked_out, "transaction")
        time.sleep(args.spacing)
    deadline = time.monotonic() + 180
    while pending and time.monotonic() < deadline:
        time.sleep(0.5)
    done.set()
    watcher.join()
    missing = [ref for ref, (_, kind) in pending.items() if kind == "order"]
    entries = ledger.entries("order", source_ids=[order_ids[ref] for ref in missing]) if missing else []
    return {
        "latencies": latencies,
        "missing": {kind: sum(1 for _, k in pending.values() if k == kind) for kind in latencies},
        "missing_reasons": Counter(reason(e) for e in entries),
    }


def report_latency(args: argparse.Namespace, result: dict[str, Any]) -> None:
    aim = args.interval + args.settle + 15
    lines = [
        f"  change -> in Fluent through the messages sensor (full stack: dg dev, sensor interval {args.interval} s, "
        f"settle {args.settle} s, Fluent latency {args.latency_ms:g} ms; backfill {result['backfill']}; load average "
        f"{result['load']}), "
        f"{args.changes} new orders {args.spacing:g} s apart, a paid payment each (one in four a guest):",
    ]
    for kind, label in (("order", "order"), ("transaction", "its financial transaction")):
        values = result["latencies"][kind]
        missing = result["missing"][kind]
        lost = f"; {missing} never reached Fluent within 180 s" if missing else ""
        if values:
            lines.append(f"    {label:<27} median {statistics.median(values):5.1f} s   worst {max(values):5.1f} s   "
                         f"best {min(values):5.1f} s   (n = {len(values)}{lost}; aim: median < {aim} s)")  # fmt: skip
        else:
            lines.append(f"    {label:<27} none reached Fluent{lost}")
    for text, count in result["missing_reasons"].most_common():
        lines.append(f"    missing order: {count} x {text}")
    for group in result["runs"]:
        statuses = ", ".join(f"{count} {status.lower()}" for status, count in group["statuses"].items())
        lines.append(f"    runs of {group['job']} ({group['trigger']}): {group['runs']} ({statuses}), median "
                     f"{group['queued']:.1f} s from request to start, {group['running']:.1f} s running")  # fmt: skip
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
