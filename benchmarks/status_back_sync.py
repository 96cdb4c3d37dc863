"""Benchmark: N Fluent order status changes written back to commercetools (the order status back-sync), against the
sandbox: the sensor tick that finds them, the runs it requests, and the same again with nothing new.

    .venv/bin/python -m benchmarks.status_back_sync               # 10,000 orders completed in Fluent, 20 ms per call
    .venv/bin/python -m benchmarks.status_back_sync --orders 500

Setup (timed, not measured): the sandbox runs in its own process, seeded through its admin API with N orders (and a
small catalogue and customer base for them); a child process syncs the catalogue, the customers and the orders into
Fluent (every order sent: no age or state filter), with the benchmark's latency on every Fluent request; then each of
the N Fluent orders is set to COMPLETE through the Fluent emulator's admin API, as a workflow would, and the same
latency is added to every commercetools API request.

Measured: (1) one evaluation of ``fluent_order_status_sensor`` in process, with a fresh cursor so that it polls
Fluent: time, CPU (its own and the sandbox's), Fluent requests, the run requests and changes it returns, the size of
its cursor; (2) those runs of ``order_status_back_sync``, one after the other, each in a fresh child process as the
daemon launches a run (its peak memory its own): time per run, in and around the asset, commercetools requests (a read
and, unless the order is there already, an update per order) against the bound ``commercetools requests /
concurrency x latency``, and the time of a request as the run sees it (the run process times ``requests`` calls:
instrumentation only); (3) afterwards: the N commercetools orders' states, a second tick (the poll due again: nothing
new expected), and the same runs again (a re-delivery: nothing to write, the ledger and the orders untouched).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from benchmarks.common import (
    add_common_arguments,
    execute,
    own_cpu_seconds,
    process_cpu_seconds,
    push_settings,
    sandbox,
    seeded_days,
    summary_line,
    sync_once,
)
from ctfluent_dagster.ledger.store import Ledger
from ctfluent_sandbox.admin_client import AdminClient

SETUP_ASSETS = ("commercetools/categories", "fluent/categories", "commercetools/products", "fluent/standard_products",
                "fluent/variant_products", "commercetools/customers", "fluent/customers", "commercetools/orders",
                "fluent/orders")  # fmt: skip
OP = "commercetools__order_status"
SENSOR = "fluent_order_status_sensor"
POLL_INTERVAL = 1  # seconds: the second tick polls again after this


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=10_000, help="orders completed in Fluent")
    parser.add_argument("--customers", type=int, default=1_000, help="registered customers in the seed")
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="1,000 orders, 200 customers, 50 products")
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.quick:
        args.orders, args.customers, args.products = 1_000, 200, 50

    settings = push_settings(args) | {
        "CTFLUENT_ORDERS__MAX_AGE_DAYS": "0",
        "CTFLUENT_ORDERS__SKIP_ORDER_STATES": "[]",
        "CTFLUENT_PRODUCTS__MISSING_GTIN": "sku",
        "CTFLUENT_ORDER_STATUS__POLL_INTERVAL_SECONDS": str(POLL_INTERVAL),
    }
    with (
        tempfile.TemporaryDirectory(prefix="ctfluent-bench-") as tmp,
        sandbox(Path(tmp), ["--customers", "0", "--days", str(args.days)], settings, args.latency_ms, args.ledger) as (
            process,
            env,
        ),
    ):
        setup = prepare(args, env)
        load = os.getloadavg()[0]
        result = measure(args, process, env, setup["orders"])
    result["load"] = (load, os.getloadavg()[0])
    report(args, setup, result)


# -- setup: N orders in Fluent and the ledger, completed in Fluent ----------------------------------------------


def prepare(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    started = time.perf_counter()
    seeded: dict[str, Any] = AdminClient(env["CTP_API_URL"], timeout=3600).call("POST", "/seed", {
        "customers": args.customers, "days": args.days, "seed": 1, "products": args.products, "orders": args.orders,
    })  # fmt: skip
    seeded["wall_seconds"] = time.perf_counter() - started

    first_day, today = seeded_days(args.days)
    started = time.perf_counter()
    synced = sync_once(env, first_day, today, SETUP_ASSETS)
    sync_seconds = time.perf_counter() - started

    ledger = Ledger(env["CTFLUENT_LEDGER_URL"])
    in_ledger = sorted((e.key.source_id, e.fluent_ref or "") for e in ledger.entries("order", status="synced"))
    orders = dict(in_ledger[: args.orders])  # commercetools id -> Fluent ref
    ct_states = Counter(o["orderState"] for o in ct_orders(env, set(orders)).values())

    started = time.perf_counter()
    fluent_admin = f"{env['FLUENT_HOST']}/_admin"
    refs = list(orders.values())
    with ThreadPoolExecutor(4) as pool:
        sessions = [requests.Session() for _ in range(4)]

        def complete(index: int) -> None:
            session = sessions[index % 4]
            for ref in refs[index::4]:
                session.post(f"{fluent_admin}/orders/{ref}/status", json={"status": "COMPLETE"},
                             timeout=30).raise_for_status()  # fmt: skip

        list(pool.map(complete, range(4)))
    completed_seconds = time.perf_counter() - started
    return {
        "seeded": seeded,
        "sync": synced,
        "sync_seconds": sync_seconds,
        "orders": orders,
        "in_ledger": len(in_ledger),
        "ct_states_before": ct_states,
        "completed_seconds": completed_seconds,
    }


def ct_orders(env: dict[str, str], ids: set[str]) -> dict[str, dict[str, Any]]:
    """These commercetools orders as the emulator holds them."""
    state = AdminClient(env["CTP_API_URL"], timeout=600).state()
    return {o["id"]: o for o in state["orders"] if o["id"] in ids}


# -- measured: tick, runs, tick again, runs again ---------------------------------------------------------------


def measure(args: argparse.Namespace, process: Any, env: dict[str, str], orders: dict[str, str]) -> dict[str, Any]:
    ct_admin = AdminClient(env["CTP_API_URL"])
    fluent_admin = AdminClient(env["FLUENT_HOST"])
    ct_admin.add_fault(match=f"* /{env['CTP_PROJECT_KEY']}/*", latency_ms=args.latency_ms)
    # The code location reads its settings when it loads: point it at the sandbox first.
    os.environ.update(env)
    from dagster import DagsterInstance

    from ctfluent_dagster.definitions import defs

    instance = DagsterInstance.ephemeral()  # the daemon's, which exists before the tick
    ledger = Ledger(env["CTFLUENT_LEDGER_URL"])
    first = tick(defs, instance, None, process, fluent_admin)
    runs = [{"job_name": r["job_name"], "run_config": r["run_config"], "tags": r["tags"]} for r in first["requests"]]
    written = execute(process, env, runs, ct_admin, fluent_admin)
    after = ct_orders(env, set(orders))
    ledger_after = ledger_snapshot(ledger)

    time.sleep(POLL_INTERVAL)  # the poll is due again
    second = tick(defs, instance, first["cursor"], process, fluent_admin)
    again = execute(process, env, runs, ct_admin, fluent_admin)
    after_again = ct_orders(env, set(orders))
    ledger_again = ledger_snapshot(ledger)
    return {
        "first_tick": first,
        "second_tick": second,
        "written": written,
        "again": again,
        "ct_states_after": Counter(o["orderState"] for o in after.values()),
        "ledger_after": Counter(status for status, *_ in ledger_after.values()),
        "versions_changed": sum(after[i]["version"] != after_again[i]["version"] for i in after),
        "ledger_changed": sum(ledger_after[k][:3] != ledger_again.get(k, ("",))[:3] for k in ledger_after)
        + len(ledger_again.keys() - ledger_after.keys()),
        "ledger_touched": sum(ledger_after[k] != ledger_again.get(k) for k in ledger_after),
    }


def ledger_snapshot(ledger: Ledger) -> dict[str, tuple[Any, ...]]:
    """The order_status entries: Fluent ref -> (status, version, payload hash, updated at, run)."""
    return {e.key.source_id: (e.status, e.source_version, e.payload_hash, e.updated_at, e.run_id)
            for e in ledger.entries("order_status")}  # fmt: skip


def tick(defs: Any, instance: Any, cursor: str | None, process: Any, fluent_admin: AdminClient) -> dict[str, Any]:
    """One evaluation of the sensor, in process, as the daemon's tick would run it."""
    from dagster import SensorResult, build_sensor_context

    sensor = defs.get_sensor_def(SENSOR)
    fluent_admin.clear_request_counts()
    sandbox_cpu = process_cpu_seconds(process.pid)
    cpu, wall = own_cpu_seconds(), time.perf_counter()
    with build_sensor_context(cursor=cursor, resources=defs.resources, instance=instance) as context:
        result = sensor(context)
    seconds, cpu = time.perf_counter() - wall, own_cpu_seconds() - cpu
    assert isinstance(result, SensorResult)
    run_requests = result.run_requests or []
    return {
        "seconds": seconds,
        "cpu": cpu,
        "sandbox_cpu": process_cpu_seconds(process.pid) - sandbox_cpu,
        "fluent_requests": fluent_admin.request_counts(),
        "requests": [{"job_name": r.job_name, "run_config": r.run_config, "tags": dict(r.tags)} for r in run_requests],
        "changes": [len(r.run_config["ops"][OP]["config"]["ids"]) for r in run_requests],
        "skip_reason": result.skip_reason.skip_message if result.skip_reason else None,
        "cursor": result.cursor,
    }


# -- the report -------------------------------------------------------------------------------------------------


def report(args: argparse.Namespace, setup: dict[str, Any], result: dict[str, Any]) -> None:
    seeded, synced = setup["seeded"], setup["sync"]
    first, second, written, again = result["first_tick"], result["second_tick"], result["written"], result["again"]
    n = len(setup["orders"])
    ct_total = sum(written["ct_requests"].values())
    reads = sum(c for r, c in written["ct_requests"].items() if r.startswith("GET ") and r.endswith("/orders/{id}"))
    updates = sum(c for r, c in written["ct_requests"].items() if r.startswith("POST ") and r.endswith("/orders/{id}"))
    others = ", ".join(f"{r} {c:,}" for r, c in written["ct_requests"].most_common() if not r.endswith("/orders/{id}"))
    bound = ct_total / args.concurrency * args.latency_ms / 1000
    run_seconds = sum(run["seconds"] for run in written["runs"])
    in_asset = sum(run["metadata"]["seconds"] for run in written["runs"])
    timings: dict[str, list[float]] = {}
    for run in written["runs"]:
        for method, values in run["request_seconds"].items():
            timings.setdefault(method, []).extend(values)
    in_requests = sum(sum(values) for values in timings.values())
    mean_ms = ", ".join(f"{method} {1000 * sum(v) / len(v):.1f} ms" for method, v in sorted(timings.items()))
    cpu = sum(run["cpu"] for run in written["runs"])
    pages = first["fluent_requests"]["by_target"].get("OrdersUpdatedBetween", 0)
    states = ", ".join(f"{count:,} {state}" for state, count in sorted(setup["ct_states_before"].items()))
    states_after = ", ".join(f"{count:,} {state}" for state, count in sorted(result["ct_states_after"].items()))
    created = ", ".join(f"{synced[name]['metadata']['created']:,} {name.split('/')[1]}"
                        for name in SETUP_ASSETS if name.startswith("fluent/"))  # fmt: skip
    again_counts = Counter[str]()
    for run in again["runs"]:
        again_counts.update({k: run["metadata"][k] for k in ("created", "unchanged", "skipped", "failed")})
    again_runs = sum(run["seconds"] for run in again["runs"])
    again_in_asset = sum(run["metadata"]["seconds"] for run in again["runs"])
    lines = [
        f"order status back-sync benchmark: {n:,} Fluent orders set to COMPLETE, written back to commercetools; "
        f"latency {args.latency_ms:g} ms on every Fluent and commercetools API request, concurrency "
        f"{args.concurrency}, {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}; load average "
        f"{result['load'][0]:.1f} before the measured part, {result['load'][1]:.1f} after",
        "  setup (not measured):",
        f"    seeding the commercetools emulator: {seeded['wall_seconds']:.1f} s   ({seeded['orders']:,} orders, "
        f"{seeded['customers']:,} customers, {seeded['products']:,} products over {args.days} days)",
        f"    catalogue, customers and orders into Fluent (one child process, batches of {args.batch_size}): "
        f"{setup['sync_seconds']:.1f} s   ({created}; fluent/orders {synced['fluent/orders']['seconds']:.1f} s); "
        f"{setup['in_ledger']:,} orders synced in the ledger",
        f"    {n:,} Fluent orders set to COMPLETE (admin API, 4 sessions): {setup['completed_seconds']:.1f} s; their "
        f"commercetools states before: {states}",
        f"  sensor tick, fresh cursor (polls Fluent): {first['seconds']:6.2f} s   ({sum(first['changes']):,} "
        f"changes in {len(first['changes'])} run request(s) of {', '.join(f'{c:,}' for c in first['changes'])}; "
        f"{first['fluent_requests']['total']} Fluent requests, {pages} of them pages of orders(status, updatedOn) = "
        f"{pages * args.latency_ms / 1000:.2f} s of latency; CPU {first['cpu']:.2f} s in the tick, "
        f"{first['sandbox_cpu']:.2f} s in the sandbox; cursor {len(first['cursor'] or '') / 1024:.0f} KB)",
        f"  write-back, {len(written['runs'])} run(s) one after the other, each in its own process: "
        f"{written['seconds']:.1f} s   (runs {run_seconds:.1f} s, of which in the asset {in_asset:.1f} s; "
        f"process start-up and imports {written['seconds'] - run_seconds:.1f} s)",
        *(f"    run {i + 1}: {run['seconds']:5.1f} s   (in-asset {run['metadata']['seconds']:5.1f} s, Dagster "
          f"around it {run['seconds'] - run['metadata']['seconds']:.1f} s)   {run['metadata']['records_read']:,} "
          f"changes: {run['metadata']['created']:,} written, {run['metadata']['unchanged']:,} unchanged, "
          f"{run['metadata']['skipped']:,} skipped, {run['metadata']['failed']:,} failed; peak memory "
          f"{run['peak_mb']:.0f} MB"
          for i, run in enumerate(written["runs"])),
        f"    commercetools requests: {ct_total:,} ({reads:,} order reads, {updates:,} order updates, "
        f"{ct_total - reads - updates:,} other: {others or 'none'}); Fluent requests: "
        f"{written['fluent_requests']['total']:,}",
        f"    bound, commercetools requests / concurrency x latency: {ct_total:,} / {args.concurrency} x "
        f"{args.latency_ms:g} ms = {bound:.1f} s",
        f"    push time (in-asset) / bound: {in_asset / bound:5.2f} x   (runs: {run_seconds / bound:.2f} x; with "
        f"process start-up: {written['seconds'] / bound:.2f} x; {n / in_asset:.0f} orders/s in the asset)",
        f"    a commercetools request as the run sees it: {mean_ms} (latency {args.latency_ms:g} ms); the "
        f"{args.concurrency} threads spent {in_requests / (args.concurrency * in_asset):.0%} of the asset's time "
        "in requests",
        f"    peak memory of a run process: {max(run['peak_mb'] for run in written['runs']):.0f} MB; CPU of the runs "
        f"{cpu:.1f} s ({cpu / run_seconds:.0%} of one core, {1000 * cpu / max(n, 1):.2f} ms per order); sandbox CPU "
        f"{written['sandbox_cpu']:.1f} s",
        f"  afterwards: the {n:,} commercetools orders: {states_after}; ledger order_status: "
        + ", ".join(f"{c:,} {s}" for s, c in sorted(result["ledger_after"].items())),
        f"  second tick (cursor of the first, poll due again): {second['seconds']:6.2f} s   "
        f"({len(second['changes'])} run request(s): {second['skip_reason'] or ''}; "
        f"{second['fluent_requests']['total']} Fluent requests; CPU {second['cpu']:.2f} s in the tick, "
        f"{second['sandbox_cpu']:.2f} s in the sandbox)",
        f"  the same runs again (a re-delivery): {again['seconds']:.1f} s   (runs {again_runs:.1f} s, in-asset "
        f"{again_in_asset:.1f} s); {again_counts['created']:,} written, {again_counts['unchanged']:,} unchanged, "
        f"{again_counts['failed']:,} failed; {sum(again['ct_requests'].values()):,} commercetools requests, "
        f"{again['fluent_requests']['total']:,} Fluent requests; commercetools order versions changed: "
        f"{result['versions_changed']:,}; ledger entries changed: {result['ledger_changed']:,} (touched at all: "
        f"{result['ledger_touched']:,})",
        summary_line("status_back_sync", args, records=n, push_s=in_asset, bound_s=bound, ratio=in_asset / bound,
                     sync_cpu_ms_per_record=1000 * cpu / max(n, 1),
                     sandbox_cpu_ms_per_record=1000 * written["sandbox_cpu"] / max(n, 1),
                     peak_mb=max(run["peak_mb"] for run in written["runs"]),
                     redelivery_in_asset_s=again_in_asset),
    ]  # fmt: skip
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
