"""The demo behind ``scripts/demo``: the seeded sandbox, Dagster (webserver + daemon), and the customer sync
running on it (a backfill of the seeded history, then the messages sensor), until Ctrl-C.

The sandbox starts empty of sync state each time (fresh emulators), so the demo's state (Dagster's history, the
ledger, staged data) is started afresh under ``.dagster_home/`` too: a ledger that remembers customers a new
Fluent emulator has never seen would push nothing.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import threading
import time
from pathlib import Path

from ctfluent_sandbox.dagster_webserver import recent_days
from ctfluent_sandbox.stack import REPO, LocalStack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--ct-port", type=int, default=8081)
    parser.add_argument("--fluent-port", type=int, default=8082)
    parser.add_argument("--dagster-port", type=int, default=3000)
    parser.add_argument("--workdir", type=Path, default=REPO / ".dagster_home")
    args = parser.parse_args()

    shutil.rmtree(args.workdir, ignore_errors=True)
    settings = {
        "CTFLUENT_SETTINGS_FILE": str(REPO / "ctfluent.example.yaml"),
        "CTFLUENT_START_DATE": time.strftime("%Y-%m-%d", time.gmtime(time.time() - (args.days + 30) * 86400)),
        # The sensor and schedules run from the start, polling in seconds instead of production's minutes.
        "CTFLUENT_MESSAGES__SENSOR_RUNNING": "true",
        "CTFLUENT_MESSAGES__SCHEDULES_RUNNING": "true",
        "CTFLUENT_MESSAGES__POLL_INTERVAL_SECONDS": "5",
        "CTFLUENT_MESSAGES__SETTLE_SECONDS": "2",
        "CTFLUENT_MESSAGES__OVERLAP_SECONDS": "60",
    }
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"starting the sandbox ({args.customers} customers over {args.days} days) and Dagster ...", flush=True)
    with LocalStack(
        args.workdir, customers=args.customers, days=args.days, extra_env=settings,
        ct_port=args.ct_port, fluent_port=args.fluent_port, dagster_port=args.dagster_port,
        pool_limits={"commercetools_api": 1, "fluent_api": 2},
    ) as stack:  # fmt: skip
        backfill = stack.webserver.launch_backfill(recent_days(args.days), title="demo: initial customer load")
        ui = stack.webserver_url
        print(
            f"""
The customer sync is running: backfill {backfill} loads the history, the messages sensor picks up every change
within seconds. Change a customer the way a shop would, and watch it reach Fluent:
  .venv/bin/python -m ctfluent_sandbox.storefront --env-file {args.workdir}/sandbox.env rename-one

In the UI ({ui}):
  Lineage          Lineage: commercetools/customers -> fluent/customers
  Backfill         Overview > Backfills; launch more from Assets > fluent/customers > Materialize
  Failed pushes    Assets > fluent/customers > Checks > no_outstanding_failures (and each run's "failures" table)
  Re-drive         Jobs > redrive_failed_customers > Launchpad (empty ids = every failed customer)
  Delta sync       Automation > commercetools_messages_sensor (ticks, the runs each requested, skipped messages)
  Pre-flight       Jobs > preflight
Emulators: commercetools {stack.env["CTP_API_URL"]}, Fluent {stack.env["FLUENT_HOST"]} (admin: <url>/_admin/state,
/_admin/faults). Logs: {stack.logs}. Ctrl-C stops everything.""",
            flush=True,
        )
        stop.wait()
        print("stopping ...", flush=True)


if __name__ == "__main__":
    main()
