"""Benchmark: the initial load of N customers into Fluent through the Dagster assets, against the sandbox.

    .venv/bin/python benchmarks/customer_sync.py                      # 100,000 customers, 20 ms per Fluent call
    .venv/bin/python benchmarks/customer_sync.py --customers 10000 --latency-ms 20 --concurrency 16

The sandbox runs in its own process (``ctfluent-sandbox``) with a fixed latency added to every Fluent request;
the sync runs in a fresh child process, so its peak memory is its own. Printed: customers per second, the bound
``N x latency / concurrency`` (one Fluent request per customer: the floor without batching) and the ratio of the
measured push time to it, Fluent requests per customer, the sync's peak memory, CPU seconds of the sync and of
the sandbox, and the time and mutation count of a second run with no change.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from ctfluent_sandbox.cli import read_env_file

REPO = Path(__file__).resolve().parent.parent
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_sync(env: dict[str, str], first_day: str, last_day: str, results: Any) -> None:
    """In the child process: stage (commercetools asset) then push (Fluent asset), timing each."""
    os.environ.update(env)
    from dagster import DagsterInstance, materialize

    from ctfluent_dagster.assets.customers import commercetools_customers, fluent_customers
    from ctfluent_dagster.definitions import defs

    tags = {RANGE_START: first_day, RANGE_END: last_day}
    instance = DagsterInstance.ephemeral()
    phases = {}
    for name, asset in (("stage", commercetools_customers), ("push", fluent_customers)):
        cpu, wall = own_cpu_seconds(), time.perf_counter()
        result = materialize([asset], resources=defs.resources, tags=tags, instance=instance)
        events = result.get_asset_materialization_events()
        metadata = {
            k: v.value for k, v in events[0].materialization.metadata.items() if not hasattr(v.value, "records")
        }
        phases[name] = {"seconds": time.perf_counter() - wall, "cpu": own_cpu_seconds() - cpu, "metadata": metadata}
    phases["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results.put(phases)


def start_sandbox(customers: int, days: int, env_file: Path) -> subprocess.Popen[bytes]:
    command = [
        str(REPO / ".venv" / "bin" / "ctfluent-sandbox"), "--ct-port", "0", "--fluent-port", "0",
        "--customers", str(customers), "--days", str(days), "--seed", "1", "--env-file", str(env_file),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while not env_file.exists() or not env_file.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the sandbox did not start")
        time.sleep(0.2)
    return process


def sync_once(env: dict[str, str], first_day: str, last_day: str) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=run_sync, args=(env, first_day, last_day, results))
    child.start()
    while True:
        try:
            phases: dict[str, Any] = results.get(timeout=5)
            break
        except queue.Empty:
            if not child.is_alive():
                raise RuntimeError(f"the sync process failed (exit code {child.exitcode})") from None
    child.join()
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=8, help="Fluent requests in flight (threads)")
    parser.add_argument("--batch-size", type=int, default=10, help="mutations per Fluent request (1: none)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ctfluent-bench-") as tmp:
        work = Path(tmp)
        sandbox = start_sandbox(args.customers, args.days, work / "sandbox.env")
        try:
            env = read_env_file(work / "sandbox.env")
            env |= {
                "CTFLUENT_STAGING_DIR": str(work / "staging"),
                "CTFLUENT_LEDGER_URL": f"sqlite:///{work / 'ledger.sqlite'}",
                "CTFLUENT_FLUENT_CONCURRENCY": str(args.concurrency),
                "CTFLUENT_FLUENT_BATCH_SIZE": str(args.batch_size),
                "CTFLUENT_START_DATE": "2020-01-01",
            }
            fluent_admin = f"{env['FLUENT_HOST']}/_admin"
            requests.post(f"{fluent_admin}/faults", json={"match": "POST /graphql", "latency_ms": args.latency_ms},
                          timeout=10).raise_for_status()  # fmt: skip
            today = time.strftime("%Y-%m-%d", time.gmtime())
            first_day = time.strftime("%Y-%m-%d", time.gmtime(time.time() - (args.days + 1) * 86400))

            runs = {}
            for label in ("initial", "no-change"):
                requests.delete(f"{fluent_admin}/requests", timeout=10)
                sandbox_cpu = process_cpu_seconds(sandbox.pid)
                runs[label] = sync_once(env, first_day, today)
                runs[label]["sandbox_cpu"] = process_cpu_seconds(sandbox.pid) - sandbox_cpu
                runs[label]["fluent_requests"] = requests.get(f"{fluent_admin}/requests", timeout=10).json()
        finally:
            os.killpg(sandbox.pid, signal.SIGTERM)
            sandbox.wait(timeout=30)
    report(args, runs)


def report(args: argparse.Namespace, runs: dict[str, Any]) -> None:
    initial, again = runs["initial"], runs["no-change"]
    stage, push = initial["stage"], initial["push"]
    n = push["metadata"]["records_read"]
    created = push["metadata"]["created"]
    requests_total = initial["fluent_requests"]["total"]
    bound = created * args.latency_ms / 1000 / args.concurrency
    mutations = sum(again["fluent_requests"]["by_target"].get(op, 0) for op in ("createCustomer", "updateCustomer"))
    outcome = f"{created:,} created, {push['metadata']['skipped']:,} skipped, {push['metadata']['failed']:,} failed"
    lines = [
        f"customer sync benchmark: {args.customers:,} customers over {args.days} days, Fluent latency "
        f"{args.latency_ms:g} ms, concurrency {args.concurrency}, batch size {args.batch_size}, "
        f"{os.cpu_count()} CPU(s), Python {sys.version.split()[0]}",
        f"  stage (commercetools -> Parquet): {stage['seconds']:8.1f} s   {n / stage['seconds']:8.0f} customers/s",
        f"  push  (Parquet -> Fluent):        {push['seconds']:8.1f} s   {n / push['seconds']:8.0f} customers/s "
        f"({outcome})",
        f"  bound N x latency / concurrency:  {bound:8.1f} s   (N = {created:,} Fluent customers created)",
        f"  push time / bound:                {push['seconds'] / bound:8.2f} x   (aim: <= 1.25)",
        f"  Fluent requests per customer:     {requests_total / n:8.3f}     ({requests_total:,} requests incl. login)",
        f"  peak memory of the sync process:  {initial['peak_rss_mb']:8.0f} MB",
        f"  CPU of the sync process:          {stage['cpu'] + push['cpu']:8.1f} s   (push: {push['cpu']:.1f} s = "
        f"{push['cpu'] / push['seconds']:.0%} of one core, {1000 * push['cpu'] / n:.2f} ms per customer)",
        f"  CPU of the sandbox process:       {initial['sandbox_cpu']:8.1f} s   "
        f"({1000 * initial['sandbox_cpu'] / n:.2f} ms per customer)",
        f"  second run, no change:            {again['stage']['seconds'] + again['push']['seconds']:8.1f} s   "
        f"(push {again['push']['seconds']:.1f} s), {mutations} mutations, "
        f"{again['push']['metadata']['unchanged']:,} unchanged",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
