"""Benchmark: Fluent's available-to-sell stock into commercetools (locations -> channels, virtual positions ->
inventory entries): the initial load, a re-run with nothing changed, and a burst of stock changes by webhook.

    .venv/bin/python -m benchmarks.inventory_sync            # 20,000 SKUs x 5 locations = 100,000 positions, 20 ms
    .venv/bin/python -m benchmarks.inventory_sync --quick    # 2,000 SKUs x 5 locations, a burst of 200

Setup (timed, not measured): the sandbox in its own process; the Fluent emulator's inventory seeded through its admin
API (``PUT /_admin/inventory``: a network of ``--locations`` locations, the aggregate virtual catalogue ``VC:ATS:1``
with a position per SKU and location); the benchmark's latency on every Fluent and every commercetools API request.

Measured: (1) the four assets ``fluent/locations``, ``commercetools/channels``, ``fluent/virtual_positions``,
``commercetools/inventory`` materialized in a fresh child process, and (2) again with nothing changed: time and CPU
per asset, commercetools requests by route against the bound ``commercetools requests / concurrency x latency``;
(3) a burst: ``--changes`` positions changed in Fluent (admin API, 4 sessions), each signed webhook delivered by the
emulator to ``ctfluent-webhooks`` (a real receiver process, recording into the ledger's database); one tick of
``fluent_inventory_sensor`` in process (its poll not due: the webhook events alone), and the run it requests in a
fresh child process, as the daemon would launch it. A change's latency is from its admin write in Fluent to the end
of the run that wrote it (the daemon's wait for its next tick, at most ``tick_seconds``, is not in it). Afterwards
every entry is compared with its position, and the entries whose version moved are counted.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from benchmarks.common import (
    REPO,
    add_common_arguments,
    by_route,
    execute,
    own_cpu_seconds,
    process_cpu_seconds,
    push_settings,
    sandbox,
    summary_line,
    sync_once,
)
from ctfluent_dagster.webhooks.events import FluentEventStore
from ctfluent_sandbox.admin_client import AdminClient

CATALOGUE = "VC:ATS:1"
ASSETS = ("fluent/locations", "commercetools/channels", "fluent/virtual_positions", "commercetools/inventory")
SENSOR = "fluent_inventory_sensor"
COUNTS = ("records", "records_read", "created", "updated", "unchanged", "waiting", "skipped", "failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, default=20_000)
    parser.add_argument("--locations", type=int, default=5)
    parser.add_argument("--changes", type=int, default=1_000, help="stock changes in the burst")
    parser.add_argument("--quick", action="store_true", help="2,000 SKUs and a burst of 200")
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.quick:
        args.skus, args.changes = 2_000, 200

    settings = push_settings(args) | {
        "CTFLUENT_INVENTORY__VIRTUAL_CATALOGUE_REF": CATALOGUE,
        # The sensor's first tick takes nothing from before it, and the tick after the burst does not poll: the
        # burst arrives by webhook events alone.
        "CTFLUENT_INVENTORY__INITIAL_LOOKBACK_HOURS": "0",
        "CTFLUENT_INVENTORY__POLL_INTERVAL_SECONDS": "86400",
    }
    with (
        tempfile.TemporaryDirectory(prefix="ctfluent-bench-") as tmp,
        sandbox(
            Path(tmp), ["--customers", "0", "--products", "1", "--days", "1"], settings, args.latency_ms, args.ledger
        ) as (
            process,
            env,
        ),
    ):
        ct_admin, fluent_admin = AdminClient(env["CTP_API_URL"], timeout=600), AdminClient(env["FLUENT_HOST"], 600)
        started = time.perf_counter()
        skus = [f"SKU-{n:06d}" for n in range(1, args.skus + 1)]
        fluent_admin.call("PUT", "/inventory", {"skus": skus, "locations": args.locations})
        seeded = time.perf_counter() - started
        ct_admin.add_fault(match=f"* /{env['CTP_PROJECT_KEY']}/*", latency_ms=args.latency_ms)
        load = os.getloadavg()[0]
        today = time.strftime("%Y-%m-%d", time.gmtime())
        runs = {}
        for label in ("initial", "no-change"):
            ct_admin.clear_request_counts()
            fluent_admin.clear_request_counts()
            sandbox_cpu = process_cpu_seconds(process.pid)
            runs[label] = sync_once(env, today, today, ASSETS)
            runs[label]["sandbox_cpu"] = process_cpu_seconds(process.pid) - sandbox_cpu
            runs[label]["ct_requests"] = by_route(ct_admin.request_counts()["by_target"])
            runs[label]["fluent_requests"] = fluent_admin.request_counts()
        burst = measure_burst(args, process, env, Path(tmp), ct_admin, fluent_admin)
        check = compare(ct_admin, fluent_admin, burst["versions_before"])
    report(args, seeded, (load, os.getloadavg()[0]), runs, burst, check)


# -- the burst: changes in Fluent, signed webhooks, one sensor tick, its run -----------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_receiver(env: dict[str, str], work: Path, public_key: str) -> tuple[subprocess.Popen[bytes], str]:
    """``ctfluent-webhooks`` on a free port, recording into the ledger's database; its webhook URL."""
    port = free_port()
    receiver_env = os.environ | env | {"FLUENT_WEBHOOK_PUBLIC_KEYS": public_key, "CTFLUENT_WEBHOOKS__LOCAL": "true"}
    log = (work / "receiver.log").open("wb")
    receiver = subprocess.Popen([str(REPO / ".venv" / "bin" / "ctfluent-webhooks"), "--host", "127.0.0.1", "--port",
                                 str(port)], env=receiver_env, stdout=log, stderr=log)  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).ok:
                return receiver, f"http://127.0.0.1:{port}/fluent/webhooks"
        except requests.ConnectionError:
            pass
        if receiver.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"ctfluent-webhooks did not start: {(work / 'receiver.log').read_text()[-2000:]}")
        time.sleep(0.2)


def sensor_tick(defs: Any, instance: Any, cursor: str | None) -> dict[str, Any]:
    from dagster import SensorResult, build_sensor_context

    cpu, wall = own_cpu_seconds(), time.perf_counter()
    with build_sensor_context(cursor=cursor, resources=defs.resources, instance=instance) as context:
        result = defs.get_sensor_def(SENSOR)(context)
    assert isinstance(result, SensorResult)
    return {
        "seconds": time.perf_counter() - wall,
        "cpu": own_cpu_seconds() - cpu,
        "cursor": result.cursor,
        "requests": [request_of(r) for r in result.run_requests or []],
    }


def request_of(request: Any) -> dict[str, Any]:
    """A run request as the run process takes it."""
    return {"job_name": request.job_name, "run_config": request.run_config, "tags": dict(request.tags),
            "partition_key": request.partition_key}  # fmt: skip


def measure_burst(
    args: argparse.Namespace,
    process: subprocess.Popen[bytes],
    env: dict[str, str],
    work: Path,
    ct_admin: AdminClient,
    fluent_admin: AdminClient,
) -> dict[str, Any]:
    os.environ.update(env)  # the code location reads its settings when it loads
    from dagster import DagsterInstance

    from ctfluent_dagster.definitions import defs

    store = FluentEventStore(env["CTFLUENT_LEDGER_URL"])
    receiver, url = start_receiver(env, work, fluent_admin.call("GET", "/webhooks")["public_key"])
    try:
        fluent_admin.call("PUT", "/webhooks", {"url": url})
        instance = DagsterInstance.ephemeral()
        cursor = sensor_tick(defs, instance, None)["cursor"]  # the sensor running before the burst
        positions = fluent_admin.state()["virtual_positions"]
        chosen = random.Random(1).sample(positions, args.changes)
        versions_before = {(e["sku"], e["supplyChannel"]["id"]): e["version"] for e in ct_admin.state()["inventory"]}

        changed_at: dict[str, float] = {}
        sessions = [requests.Session() for _ in range(4)]
        admin = f"{env['FLUENT_HOST']}/_admin/positions"

        def change(index: int) -> None:
            for position in chosen[index::4]:
                body = {"catalogue": CATALOGUE, "productRef": position["productRef"],
                        "groupRef": position["groupRef"], "quantity": position["quantity"] + 7}  # fmt: skip
                sessions[index].post(admin, json=body, timeout=30).raise_for_status()
                changed_at[position["ref"]] = time.monotonic()

        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(change, range(4)))
        burst_seconds = time.monotonic() - started
        while len(store.pending(["VIRTUAL_POSITION"], limit=args.changes + 1)) < args.changes:
            if time.monotonic() - started > 300:
                raise RuntimeError("the burst's webhook events did not all arrive")
            time.sleep(0.05)
        recorded_seconds = time.monotonic() - started

        sandbox_cpu = process_cpu_seconds(process.pid)
        tick = sensor_tick(defs, instance, cursor)
        written = execute(process, env, tick["requests"], ct_admin, fluent_admin)
        finished = time.monotonic()
        written["sandbox_cpu"] = process_cpu_seconds(process.pid) - sandbox_cpu
        deliveries = fluent_admin.call("GET", "/webhooks")["counters"]
    finally:
        receiver.terminate()
        receiver.wait(timeout=30)
        store.close()
    return {
        "burst_seconds": burst_seconds,
        "recorded_seconds": recorded_seconds,
        "tick": tick,
        "written": written,
        "latencies": sorted(finished - at for at in changed_at.values()),
        "deliveries": deliveries,
        "chosen": {(p["productRef"], p["groupRef"]) for p in chosen},
        "versions_before": versions_before,
    }


def compare(ct_admin: AdminClient, fluent_admin: AdminClient, versions_before: dict[Any, int]) -> dict[str, Any]:
    """Every position against its entry (by SKU and the channel keyed by the position's location)."""
    ct = ct_admin.state()
    channel_keys = {channel["id"]: channel["key"] for channel in ct["channels"]}
    entries = {(e["sku"], channel_keys[e["supplyChannel"]["id"]]): e for e in ct["inventory"]}
    positions = {(p["productRef"], p["groupRef"]): p for p in fluent_admin.state()["virtual_positions"]}
    equal = sum(key in entries and entries[key]["quantityOnStock"] == p["quantity"] for key, p in positions.items())
    moved = {(e["sku"], channel_keys[e["supplyChannel"]["id"]]) for e in ct["inventory"]
             if versions_before.get((e["sku"], e["supplyChannel"]["id"])) != e["version"]}  # fmt: skip
    return {"positions": len(positions), "entries": len(entries), "equal": equal, "moved": moved}


# -- the report -------------------------------------------------------------------------------------------------


def asset_line(name: str, phase: dict[str, Any]) -> str:
    m = phase["metadata"]
    counts = ", ".join(f"{m[k]:,} {k}" for k in COUNTS if k in m)
    return f"    {name:<26} {phase['seconds']:6.1f} s   (CPU {phase['cpu']:5.1f} s; {counts})"


def run_lines(label: str, run: dict[str, Any], args: argparse.Namespace, positions: int) -> list[str]:
    ct = run["ct_requests"]
    total = sum(ct.values())
    bound = total / args.concurrency * args.latency_ms / 1000
    push = run["commercetools/inventory"]
    read = run["fluent/virtual_positions"]
    routes = ", ".join(f"{route} {count:,}" for route, count in ct.most_common())
    return [
        f"  {label}: {sum(run[name]['seconds'] for name in ASSETS):.1f} s in the assets; peak memory of the sync "
        f"process {run['peak_rss_mb']:.0f} MB; sandbox CPU {run['sandbox_cpu']:.1f} s",
        *(asset_line(name, run[name]) for name in ASSETS),
        f"    commercetools requests: {total:,} ({routes}); Fluent requests: {run['fluent_requests']['total']:,}",
        f"    bound, commercetools requests / concurrency x latency: {total:,} / {args.concurrency} x "
        f"{args.latency_ms:g} ms = {bound:.1f} s; commercetools/inventory / bound: "
        + (f"{push['seconds'] / bound:.2f} x" if bound else "no requests")
        + (f"; push / read (fluent/virtual_positions): {push['seconds'] / read['seconds']:.0%}" if not total else "")
        + "; sync CPU "
        f"{1000 * push['cpu'] / positions:.2f} ms per position in the push, {1000 * read['cpu'] / positions:.2f} ms "
        "in the read",
    ]


def report(
    args: argparse.Namespace,
    seeded: float,
    load: tuple[float, float],
    runs: dict[str, Any],
    burst: dict[str, Any],
    check: dict[str, Any],
) -> None:
    positions = args.skus * args.locations
    latencies, tick, written = burst["latencies"], burst["tick"], burst["written"]
    (run,) = written["runs"] if len(written["runs"]) == 1 else (None,)
    moved_outside = check["moved"] - burst["chosen"]
    ct_total = sum(written["ct_requests"].values())
    lines = [
        f"inventory benchmark: {args.skus:,} SKUs x {args.locations} locations = {positions:,} Fluent virtual "
        f"positions into commercetools inventory entries; latency {args.latency_ms:g} ms on every Fluent and "
        f"commercetools API request, concurrency {args.concurrency}, {os.cpu_count()} CPU(s), Python "
        f"{sys.version.split()[0]}; load average {load[0]:.1f} before, {load[1]:.1f} after",
        f"  setup (not measured): Fluent inventory seeded through the admin API in {seeded:.2f} s",
        *run_lines("initial run", runs["initial"], args, positions),
        *run_lines("no-change run", runs["no-change"], args, positions),
        f"  burst: {args.changes:,} positions changed in Fluent in {burst['burst_seconds']:.1f} s (admin API, 4 "
        f"sessions); every signed webhook recorded by ctfluent-webhooks {burst['recorded_seconds']:.1f} s after the "
        f"first change (deliveries: {burst['deliveries']})",
        f"    sensor tick (webhook events, no poll): {tick['seconds']:.2f} s, CPU {tick['cpu']:.2f} s, "
        f"{len(tick['requests'])} run request(s)",
        f"    the run, in its own process: {written['seconds']:.1f} s"
        + (f" (in-asset {run['metadata']['seconds']:.1f} s; {run['metadata']['records_read']:,} read, "
           f"{run['metadata'].get('updated', 0):,} updated, {run['metadata'].get('unchanged', 0):,} unchanged; "
           f"peak memory {run['peak_mb']:.0f} MB)" if run else "")
        + f"; commercetools requests {ct_total:,}, bound {ct_total / args.concurrency * args.latency_ms / 1000:.1f} s",
        f"    a change's latency, Fluent write to commercetools written: median {statistics.median(latencies):.1f} s, "
        f"worst {latencies[-1]:.1f} s, best {latencies[0]:.1f} s",
        f"  afterwards: {check['equal']:,} of {check['positions']:,} positions equal to their entry "
        f"({check['entries']:,} entries); entries whose version moved in the burst: {len(check['moved']):,} "
        f"({len(moved_outside):,} of them not changed in Fluent)",
    ]  # fmt: skip
    initial, again = runs["initial"], runs["no-change"]
    bound = sum(initial["ct_requests"].values()) / args.concurrency * args.latency_ms / 1000
    push = initial["commercetools/inventory"]
    lines.append(summary_line(
        "inventory_sync", args, records=positions, push_s=push["seconds"], bound_s=bound, ratio=push["seconds"] / bound,
        sync_cpu_ms_per_record=1000 * push["cpu"] / positions,
        sandbox_cpu_ms_per_record=1000 * initial["sandbox_cpu"] / positions, peak_mb=initial["peak_rss_mb"],
        no_change_push_of_read=again["commercetools/inventory"]["metadata"]["seconds"]
        / again["fluent/virtual_positions"]["metadata"]["seconds"],
        burst_median_s=statistics.median(latencies), burst_worst_s=latencies[-1],
    ))  # fmt: skip
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
