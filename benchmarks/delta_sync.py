"""Benchmark: how fast a commercetools change reaches Fluent with the messages sensor running, and how long a
sensor tick takes on a backlog of messages.

    .venv/bin/python benchmarks/delta_sync.py                       # 50 changes, a 10,000-message backlog

The whole stack runs for real (sandbox + ``dg dev`` with webserver and daemon). Part 1 changes one customer
every ``--spacing`` seconds through the commercetools API and measures, per change, the time until Fluent shows
it; aim: median under the sensor interval + the settle delay + 15 s. Part 2 stops the sensor, makes ``--backlog``
changes, and evaluates the sensor in process tick by tick until it has caught up, timing each tick.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def measure_latency(stack: Any, changes: int, spacing: float) -> list[float]:
    from ctfluent_dagster.entities.customers.mapping import fluent_username
    from ctfluent_sandbox.storefront import Storefront

    storefront = Storefront(stack.env)
    in_fluent = {c["username"] for c in stack.fluent_admin.state()["customers"]}
    # Customers the initial load synced (a customer skipped by the mapping, e.g. for a too-long phone, never shows).
    targets = [
        c for c in storefront.customers(limit=500)
        if not c.get("stores") and fluent_username("1", c["email"]) in in_fluent
    ][:changes]  # fmt: skip
    pending: dict[str, tuple[float, str]] = {}  # username -> (changed at, expected first name)
    latencies: list[float] = []
    lock = threading.Lock()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            state = {c["username"]: c for c in stack.fluent_admin.state()["customers"]}
            now = time.monotonic()
            with lock:
                for username, (changed_at, expected) in list(pending.items()):
                    if state.get(username, {}).get("firstName") == expected:
                        latencies.append(now - changed_at)
                        del pending[username]
            time.sleep(0.25)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    for index, customer in enumerate(targets):
        expected = f"Latency{index}"
        storefront.update(customer["id"], {"action": "setFirstName", "firstName": expected})
        with lock:
            pending[fluent_username("1", customer["email"])] = (time.monotonic(), expected)
        time.sleep(spacing)
    deadline = time.monotonic() + 180
    while pending and time.monotonic() < deadline:
        time.sleep(0.5)
    done.set()
    watcher.join()
    if pending:
        raise RuntimeError(f"{len(pending)} change(s) never reached Fluent")
    return latencies


def measure_chains(stack: Any, chains: int, spacing: float) -> list[float]:
    """Changes that cross entities: a new category and two new products in it, made one after the other; per chain,
    the time from its last change until Fluent has the category and both products' variants."""
    from ctfluent_sandbox.storefront import Storefront

    storefront = Storefront(stack.env)
    model = next(p for p in storefront.products(limit=100) if p["masterData"]["published"] and p.get("key"))
    variant = model["masterData"]["current"]["masterVariant"]
    prices = [{k: v for k, v in price.items() if k not in ("id", "key")} for price in variant.get("prices", [])]
    latencies = []
    for chain in range(chains):
        draft = {"key": f"chain-{chain}", "name": {"en": f"Chain {chain}"}, "slug": {"en": f"chain-{chain}"}}
        category = storefront.session.post(f"{storefront.base}/categories", json=draft, timeout=10).json()
        skus = []
        for n in range(2):
            sku = f"CHAIN-{chain}-{n}"
            gtin = f"{4006381000000 + chain * 10 + n}"
            attributes = [a | {"value": gtin} if a["name"] == "gtin" else a for a in variant.get("attributes", [])]
            product = {"key": f"chain-{chain}-{n}", "productType": model["productType"], "name": {"en": sku},
                     "slug": {"en": sku.lower()}, "publish": True,
                     "categories": [{"typeId": "category", "id": category["id"]}],
                     "masterVariant": {"sku": sku, "attributes": attributes, "prices": prices}}  # fmt: skip
            storefront.session.post(f"{storefront.base}/products", json=product, timeout=10).raise_for_status()
            skus.append(sku)
        last_change = time.monotonic()
        deadline = last_change + 180
        while time.monotonic() < deadline:
            state = stack.fluent_admin.state()
            categories = {c["ref"] for c in state["categories"]}
            variants = {v["ref"].rsplit(":", 1)[-1] for v in state["variant_products"]}
            if f"chain-{chain}" in categories and set(skus) <= variants:
                latencies.append(time.monotonic() - last_change)
                break
            time.sleep(0.25)
        else:
            raise RuntimeError(f"chain {chain} never reached Fluent")
        time.sleep(spacing)
    return latencies


def measure_backlog(stack: Any, backlog: int) -> list[dict[str, Any]]:
    # The code location reads its connection settings when it loads: point it at the stack first.
    os.environ.update(stack.env)
    os.environ.update(stack.extra_env)
    from dagster import SensorResult, build_sensor_context

    from ctfluent_dagster.definitions import defs
    from ctfluent_dagster.sensors.messages import SENSOR_NAME
    from ctfluent_sandbox.storefront import Storefront

    stack.webserver.stop_sensor(SENSOR_NAME)
    # The sensor starts where the stack's sensor stopped: at the end of what it already processed.
    cursor = stack.webserver.query(
        '{ sensorOrError(sensorSelector: {repositoryLocationName: "ctfluent_dagster", repositoryName: '
        f'"__repository__", sensorName: "{SENSOR_NAME}"}}) {{ ... on Sensor {{ sensorState {{ typeSpecificData '
        "{ ... on SensorData { lastCursor } } } } } }"
    )["sensorOrError"]["sensorState"]["typeSpecificData"]["lastCursor"]
    storefront = Storefront(stack.env)
    customers = storefront.customers(limit=500)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: storefront.update(customers[n % len(customers)]["id"],
                                                  {"action": "setLastName", "lastName": f"Backlog{n}"}),
                      range(backlog)))  # fmt: skip
    time.sleep(3)  # past the settle delay

    sensor = defs.get_sensor_def(SENSOR_NAME)
    ticks = []
    while True:
        started = time.perf_counter()
        with build_sensor_context(cursor=cursor, resources=defs.resources) as context:
            result = sensor(context)
        assert isinstance(result, SensorResult)
        seconds = time.perf_counter() - started
        ids = sum(len(r.run_config["ops"]["fluent__customers"]["config"]["ids"]) for r in result.run_requests or [])
        ticks.append({"seconds": seconds, "runs": len(result.run_requests or []), "ids": ids})
        if not result.run_requests:
            break
        cursor = result.cursor
    return ticks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--spacing", type=float, default=2.0, help="seconds between two changes")
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--chains", type=int, default=5, help="a new category and two products in it, each")
    parser.add_argument("--interval", type=int, default=5, help="sensor minimum interval (s)")
    parser.add_argument("--settle", type=int, default=2, help="settle delay (s)")
    parser.add_argument("--quick", action="store_true", help="10 changes, 2 chains, a backlog of 2,000")
    args = parser.parse_args()
    if args.quick:
        args.changes, args.chains, args.backlog = 10, 2, 2_000

    from ctfluent_sandbox.dagster_webserver import recent_days
    from ctfluent_sandbox.stack import LocalStack

    settings = {
        "CTFLUENT_MESSAGES__SENSOR_RUNNING": "true",
        "CTFLUENT_MESSAGES__POLL_INTERVAL_SECONDS": str(args.interval),
        "CTFLUENT_MESSAGES__SETTLE_SECONDS": str(args.settle),
        "CTFLUENT_MESSAGES__OVERLAP_SECONDS": "60",
    }
    with (
        tempfile.TemporaryDirectory(prefix="ctfluent-delta-") as tmp,
        LocalStack(Path(tmp), customers=1000, products=50, days=3, extra_env=settings) as stack,
    ):
        backfill = stack.webserver.launch_backfill(recent_days(3), title="benchmark initial load")
        stack.webserver.finished_backfill(backfill, seconds=3600)
        latencies = measure_latency(stack, args.changes, args.spacing)
        chains = measure_chains(stack, args.chains, 10.0) if args.chains else []
        ticks = measure_backlog(stack, args.backlog)

    aim = args.interval + args.settle + 15
    median = statistics.median(latencies)
    lines = [
        f"delta sync benchmark: sensor interval {args.interval} s, settle {args.settle} s, {os.cpu_count()} CPU(s), "
        f"Python {sys.version.split()[0]}",
        f"  change -> visible in Fluent, {len(latencies)} changes {args.spacing:g} s apart:",
        f"    median {median:6.1f} s   p90 {statistics.quantiles(latencies, n=10)[-1]:6.1f} s   "
        f"worst {max(latencies):6.1f} s   best {min(latencies):6.1f} s   (aim: median < {aim} s)",
        *([f"  a chain (a new category, then two new products in it) -> all in Fluent, {len(chains)} chains, from "
           f"the last change: median {statistics.median(chains):.1f} s, worst {max(chains):.1f} s, best "
           f"{min(chains):.1f} s (aim: median <= 15 s; a single change: median <= 8 s)"] if chains else []),
        f"  sensor ticks for a backlog of {args.backlog:,} messages:",
        *(f"    tick {n + 1}: {t['seconds']:5.1f} s, {t['runs']} run(s) requested for {t['ids']:,} customer ids"
          for n, t in enumerate(ticks)),
        f"    slowest tick {max(t['seconds'] for t in ticks):.1f} s (Dagster's limit per evaluation: 60 s)",
        f"summary benchmark=delta_sync cpus={os.cpu_count()} interval_s={args.interval} settle_s={args.settle} "
        f"single_median_s={median:.2f} single_worst_s={max(latencies):.2f}"
        + (f" chain_median_s={statistics.median(chains):.2f} chain_worst_s={max(chains):.2f}" if chains else ""),
    ]  # fmt: skip
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
