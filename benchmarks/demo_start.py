"""Benchmark: the first minutes of a newcomer. ``scripts/demo`` (its defaults: 1,000 customers, 200 products, 500
orders over 30 days) from its start: when the UI answers, when the first records are in Fluent, and when today's
run and the history's backfill have ended.

    .venv/bin/python -m benchmarks.demo_start          # the demo on free ports, under a temporary workdir

The demo runs as a user starts it (``python -m ctfluent_sandbox.demo``: the sandbox, the webserver and daemon, the
webhook receiver), on ports of its own. Times are from the start of the command; Fluent's state is read through the
emulator's admin API every half second. Aims (issue 20): first records within 15 s of the start, the whole seeded
history within 60 s.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO
from ctfluent_sandbox.admin_client import AdminClient
from ctfluent_sandbox.cli import read_env_file
from ctfluent_sandbox.dagster_webserver import BACKFILL_ENDED, DagsterWebserver

KINDS = ("categories", "standard_products", "variant_products", "customers", "orders", "financial_transactions")
BACKFILL = re.compile(r"Backfill (\w+) loads")
RUN = re.compile(r"Run ([0-9a-f-]+) loads")
RUN_ENDED = ("SUCCESS", "FAILURE", "CANCELED")
UI_MARK = "UI up, first backfill launched"
UI = re.compile(r"In the UI \((http://[^)]+)\)")


def fluent_counts(admin: AdminClient) -> dict[str, int]:
    state = admin.state()
    return {kind: len(state.get(kind, [])) for kind in KINDS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ctfluent-demo-") as tmp:
        work = Path(tmp) / "home"
        command = [sys.executable, "-m", "ctfluent_sandbox.demo", "--workdir", str(work), "--dagster-port", "0",
                   "--ct-port", "0", "--fluent-port", "0"]  # fmt: skip
        started = time.monotonic()
        demo = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True, start_new_session=True)
        backfills: list[str] = []
        runs: list[str] = []
        ui: list[str] = []

        def read_output() -> None:
            assert demo.stdout is not None
            for line in demo.stdout:
                backfills.extend(BACKFILL.findall(line))
                runs.extend(RUN.findall(line))
                ui.extend(UI.findall(line))

        threading.Thread(target=read_output, daemon=True).start()
        try:
            report = watch(work, started, runs, backfills, ui, args.timeout)
        finally:
            os.killpg(demo.pid, signal.SIGINT)
            demo.wait(timeout=120)
    print_report(report)


def watch(
    work: Path, started: float, runs: list[str], backfills: list[str], ui: list[str], timeout: float
) -> dict[str, Any]:
    """Until today's run and the backfill have ended: when things happened, when each kind first appeared in
    Fluent."""
    env_file = work / "sandbox.env"
    marks: dict[str, float] = {}
    first: dict[str, float] = {}
    while time.monotonic() - started < timeout:
        time.sleep(0.5)
        now = time.monotonic() - started
        if not env_file.exists() or not env_file.read_text():
            continue
        env = read_env_file(env_file)
        counts = fluent_counts(AdminClient(env["FLUENT_HOST"]))
        for kind, count in counts.items():
            if count:
                first.setdefault(kind, now)
        if any(counts.values()):
            marks.setdefault("first records in Fluent", now)
        webserver = DagsterWebserver(ui[0]) if ui else None
        if webserver is not None:
            marks.setdefault(UI_MARK, now)
        if webserver is not None and runs and backfills:
            run, backfill = webserver.run(runs[0]).get("status"), webserver.backfill(backfills[0]).get("status")
            if run in RUN_ENDED:
                marks.setdefault("today's run ended", now)
            if run in RUN_ENDED and backfill in BACKFILL_ENDED:
                marks["history loaded (backfill ended)"] = now
                return {"marks": marks, "first": first, "counts": counts, "statuses": [run, backfill]}
    raise RuntimeError(f"the demo did not load its history within {timeout:.0f} s: {marks}, backfills {backfills}")


def by_time(item: tuple[str, float]) -> float:
    return item[1]


def print_report(report: dict[str, Any]) -> None:
    marks, first, counts = report["marks"], report["first"], report["counts"]
    lines = [
        f"demo start benchmark: scripts/demo defaults, {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}",
        *(f"  {name:<32} {seconds:6.1f} s after the start" for name, seconds in sorted(marks.items(), key=by_time)),
        "  first record of each kind in Fluent: "
        + ", ".join(f"{kind} {seconds:.1f} s" for kind, seconds in sorted(first.items(), key=by_time)),
        "  in Fluent at the end: " + ", ".join(f"{counts[kind]:,} {kind}" for kind in KINDS)
        + f"; today's run {report['statuses'][0]}, the backfill {report['statuses'][1]}",
        f"summary benchmark=demo_start cpus={os.cpu_count()} first_records_s={marks['first records in Fluent']:.1f} "
        f"history_loaded_s={marks['history loaded (backfill ended)']:.1f} ui_s={marks.get(UI_MARK, 0):.1f}",
    ]  # fmt: skip
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
