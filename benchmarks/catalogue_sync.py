"""Benchmark: the initial load of a catalogue (categories, standard and variant products) into Fluent through the
Dagster assets, against the sandbox.

    .venv/bin/python -m benchmarks.catalogue_sync                  # 10,000 products x 5 variants, 20 ms per call
    .venv/bin/python -m benchmarks.catalogue_sync --products 1000 --variants 3

The sandbox runs in its own process (``ctfluent-sandbox``) with a fixed latency added to every Fluent request; the
sync runs in a fresh child process, so its peak memory is its own. The assets run one after the other in
dependency order (categories, then standard products, then variants). Printed per phase: time and records; the
push time against the batched bound ``records / (batch size x concurrency) x latency``; requests per record (and how
many of them set the status of what was just created); the sync's peak memory and CPU; and a second run with nothing
changed, whose push time is set against its read time.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from benchmarks.common import (
    add_common_arguments,
    batched_bound,
    benchmark_runs,
    mutations,
    push_processes,
    summary_line,
)

READS = ("commercetools/categories", "commercetools/products")
PUSHES = ("fluent/categories", "fluent/standard_products", "fluent/variant_products")
ASSETS = ("commercetools/categories", "fluent/categories", "commercetools/products", "fluent/standard_products",
          "fluent/variant_products")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--variants", type=int, default=5, help="variants per product")
    parser.add_argument("--quick", action="store_true", help="1,000 products x 3 variants over 5 days")
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.quick:
        args.products, args.variants, args.days = 1_000, 3, 5

    seed_args = ["--customers", "0", "--products", str(args.products), "--variants", str(args.variants)]
    runs = benchmark_runs(args, seed_args, ASSETS)
    report(args, runs)


def report(args: argparse.Namespace, runs: dict[str, Any]) -> None:
    initial, again = runs["initial"], runs["no-change"]
    read = sum(initial[name]["seconds"] for name in READS)
    push = sum(initial[name]["seconds"] for name in PUSHES)
    created = sum(initial[name]["metadata"]["created"] for name in PUSHES)
    records = sum(initial[name]["metadata"]["records"] for name in READS)
    bound = batched_bound(created, args)
    push_cpu = sum(initial[name]["cpu"] for name in PUSHES)
    requests_total = initial["fluent_requests"]["total"]
    # An initial load updates nothing but the status of what it creates (activate_after_create), in the create
    # requests themselves: requests are counted under each of their root fields, and by their operation's name.
    by_target = initial["fluent_requests"]["by_target"]
    activating = sum(n for name, n in by_target.items() if "Then" in name)
    apart = sum(n for name, n in by_target.items() if name.startswith("Update"))
    # The no-change comparison uses the assets' own time (without each benchmark run's Dagster start-up).
    again_read = sum(again[name]["metadata"]["seconds"] for name in READS)
    again_push = sum(again[name]["metadata"]["seconds"] for name in PUSHES)
    lines = [
        f"catalogue sync benchmark: {args.products:,} products x {args.variants} variants over {args.days} days, "
        f"Fluent latency {args.latency_ms:g} ms, concurrency {args.concurrency}, batch size {args.batch_size}, "
        f"ledger {args.ledger}, "
        f"{os.cpu_count()} CPU(s), Python {sys.version.split()[0]}",
    ]
    for name in ASSETS:
        phase = initial[name]
        meta = phase["metadata"]
        counts = (f"{meta['records']:,} staged" if name in READS else
                  f"{meta['created']:,} created, {meta['skipped']:,} skipped, {meta['waiting']:,} waiting, "
                  f"{meta['failed']:,} failed")  # fmt: skip
        lines.append(f"  {name:<28} {phase['seconds']:8.1f} s   {counts}; peak memory so far {phase['rss_mb']:.0f} MB")
    lines += [
        f"  read (commercetools -> Parquet): {read:8.1f} s   ({records:,} commercetools records)",
        f"  push (Parquet -> Fluent):        {push:8.1f} s   ({created:,} Fluent records created)",
        f"  batched bound N/(batch x conc.) x latency: {bound:6.1f} s",
        f"  push time / bound:               {push / bound:8.2f} x   (aim: <= 1.5)",
        f"  Fluent requests per record:      {requests_total / created:8.3f}     ({requests_total:,} requests)",
        f"  create requests that also activate what they create: {activating:,}; update requests of their own: "
        f"{apart:,} (activate_after_create)",
        f"  processes of each push:          {push_processes(initial, PUSHES)}",
        f"  peak memory per sync process: {initial['peak_rss_mb']:8.0f} MB   (aim: < 400 MB)",
        f"  CPU of the sync process:         {sum(initial[n]['cpu'] for n in ASSETS):8.1f} s",
        f"  CPU of the sandbox process:      {initial['sandbox_cpu']:8.1f} s",
        f"  second run, no change (in-asset): read {again_read:.1f} s, push {again_push:.1f} s = "
        f"{again_push / again_read:.0%} of the read (aim: < 10%), {mutations(again)} mutations, "
        f"{sum(again[name]['metadata']['unchanged'] for name in PUSHES):,} unchanged",
        summary_line(
            "catalogue_sync",
            args,
            records=created,
            push_s=push,
            bound_s=bound,
            ratio=push / bound,
            sync_cpu_ms_per_record=1000 * push_cpu / created,
            sandbox_cpu_ms_per_record=1000 * initial["sandbox_cpu"] / created,
            peak_mb=initial["peak_rss_mb"],
            no_change_push_of_read=again_push / again_read,
        ),
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
