"""Benchmark: the initial load of N customers into Fluent through the Dagster assets, against the sandbox.

    .venv/bin/python -m benchmarks.customer_sync                      # 100,000 customers, 20 ms per Fluent call
    .venv/bin/python -m benchmarks.customer_sync --customers 10000 --latency-ms 20 --concurrency 16

The sandbox runs in its own process (``ctfluent-sandbox``) with a fixed latency added to every Fluent request;
the sync runs in a fresh child process, so its peak memory is its own. Printed: customers per second, the bound
``N x latency / concurrency`` (one Fluent request per customer: the floor without batching) and the ratio of the
measured push time to it, Fluent requests per customer, the sync's peak memory, CPU seconds of the sync and of
the sandbox, and the time and mutation count of a second run with no change.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from benchmarks.common import add_common_arguments, batched_bound, benchmark_runs, mutations, summary_line

ASSETS = ("commercetools/customers", "fluent/customers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 customers over 5 days")
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.quick:
        args.customers, args.days = 10_000, 5

    runs = benchmark_runs(args, ["--customers", str(args.customers)], ASSETS)
    report(args, runs)


def report(args: argparse.Namespace, runs: dict[str, Any]) -> None:
    initial, again = runs["initial"], runs["no-change"]
    stage, push = initial[ASSETS[0]], initial[ASSETS[1]]
    n = push["metadata"]["records_read"]
    created = push["metadata"]["created"]
    requests_total = initial["fluent_requests"]["total"]
    bound = batched_bound(created, args)
    outcome = f"{created:,} created, {push['metadata']['skipped']:,} skipped, {push['metadata']['failed']:,} failed"
    again_stage, again_push = again[ASSETS[0]], again[ASSETS[1]]
    lines = [
        f"customer sync benchmark: {args.customers:,} customers over {args.days} days, Fluent latency "
        f"{args.latency_ms:g} ms, concurrency {args.concurrency}, batch size {args.batch_size}, "
        f"ledger {args.ledger}, "
        f"{os.cpu_count()} CPU(s), Python {sys.version.split()[0]}",
        f"  stage (commercetools -> Parquet): {stage['seconds']:8.1f} s   {n / stage['seconds']:8.0f} customers/s",
        f"  push  (Parquet -> Fluent):        {push['seconds']:8.1f} s   {n / push['seconds']:8.0f} customers/s "
        f"({outcome})",
        f"  batched bound N/(batch x conc.) x latency: {bound:6.1f} s   (N = {created:,} Fluent customers created)",
        f"  push time / bound:                {push['seconds'] / bound:8.2f} x   (aim: <= 1.5)",
        f"  Fluent requests per customer:     {requests_total / n:8.3f}     ({requests_total:,} requests incl. login)",
        f"  processes of the push:            {push['metadata'].get('push_processes', 1)}",
        f"  peak memory per sync process:  {initial['peak_rss_mb']:8.0f} MB   (after the stage: "
        f"{stage['rss_mb']:.0f} MB)",
        f"  CPU of the sync processes:        {stage['cpu'] + push['cpu']:8.1f} s   (push: {push['cpu']:.1f} s = "
        f"{push['cpu'] / push['seconds']:.0%} of one core, {1000 * push['cpu'] / n:.2f} ms per customer)",
        f"  CPU of the sandbox process:       {initial['sandbox_cpu']:8.1f} s   "
        f"({1000 * initial['sandbox_cpu'] / n:.2f} ms per customer)",
        f"  second run, no change:            {again_stage['seconds'] + again_push['seconds']:8.1f} s   "
        f"(in-asset: read {again_stage['metadata']['seconds']:.1f} s, push {again_push['metadata']['seconds']:.1f} s = "
        f"{again_push['metadata']['seconds'] / again_stage['metadata']['seconds']:.0%} of the read), "
        f"{mutations(again)} mutations, "
        f"{again_push['metadata']['unchanged']:,} unchanged",
        summary_line(
            "customer_sync",
            args,
            records=created,
            push_s=push["seconds"],
            bound_s=bound,
            ratio=push["seconds"] / bound,
            sync_cpu_ms_per_record=1000 * push["cpu"] / n,
            sandbox_cpu_ms_per_record=1000 * initial["sandbox_cpu"] / n,
            peak_mb=initial["peak_rss_mb"],
            no_change_push_of_read=again_push["metadata"]["seconds"] / again_stage["metadata"]["seconds"],
        ),
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
