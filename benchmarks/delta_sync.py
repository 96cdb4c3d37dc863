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
    parser.add_argument("--interval", type=int, default=5, help="sensor minimum interval (s)")
    parser.add_argument("--settle", type=int, default=2, help="settle delay (s)")
    args = parser.parse_args()

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
        LocalStack(Path(tmp), customers=1000, days=3, extra_env=settings) as stack,
    ):
        backfill = stack.webserver.launch_backfill(recent_days(3), title="benchmark initial load")
        stack.webserver.finished_backfill(backfill, seconds=3600)
        latencies = measure_latency(stack, args.changes, args.spacing)
        ticks = measure_backlog(stack, args.backlog)

    aim = args.interval + args.settle + 15
    median = statistics.median(latencies)
    lines = [
        f"delta sync benchmark: sensor interval {args.interval} s, settle {args.settle} s, {os.cpu_count()} CPU(s), "
        f"Python {sys.version.split()[0]}",
        f"  change -> visible in Fluent, {len(latencies)} changes {args.spacing:g} s apart:",
        f"    median {median:6.1f} s   p90 {statistics.quantiles(latencies, n=10)[-1]:6.1f} s   "
        f"worst {max(latencies):6.1f} s   best {min(latencies):6.1f} s   (aim: median < {aim} s)",
        f"  sensor ticks for a backlog of {args.backlog:,} messages:",
        *(f"    tick {n + 1}: {t['seconds']:5.1f} s, {t['runs']} run(s) requested for {t['ids']:,} customer ids"
          for n, t in enumerate(ticks)),
        f"    slowest tick {max(t['seconds'] for t in ticks):.1f} s (Dagster's limit per evaluation: 60 s)",
    ]  # fmt: skip
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
