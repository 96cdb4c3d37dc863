"""The demo behind ``scripts/demo``: the seeded sandbox, Dagster (webserver + daemon), and the sync of categories,
products and customers running on it (a backfill of the seeded history, then the messages sensor), until Ctrl-C.

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
    parser.add_argument("--products", type=int, default=200)
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
    print(f"starting the sandbox ({args.customers} customers, {args.products} products over {args.days} days) and "
          "Dagster ...", flush=True)  # fmt: skip
    with LocalStack(
        args.workdir, customers=args.customers, products=args.products, days=args.days, extra_env=settings,
        ct_port=args.ct_port, fluent_port=args.fluent_port, dagster_port=args.dagster_port,
        pool_limits={"commercetools_api": 1, "fluent_api": 2},
    ) as stack:  # fmt: skip
        backfill = stack.webserver.launch_backfill(recent_days(args.days), title="demo: initial load")
        ui = stack.webserver_url
        print(
            f"""
The sync is running: backfill {backfill} loads the history of categories, products and customers, the messages
sensor picks up every change within seconds. Change things the way a shop would, and watch them reach Fluent:
  .venv/bin/python -m ctfluent_sandbox.storefront --env-file {args.workdir}/sandbox.env rename-one
  .venv/bin/python -m ctfluent_sandbox.storefront --env-file {args.workdir}/sandbox.env rename-product --name "New"
  .venv/bin/python -m ctfluent_sandbox.storefront --env-file {args.workdir}/sandbox.env unpublish

In the UI ({ui}):
  Lineage          Lineage: commercetools/categories -> fluent/categories -> fluent/standard_products ->
                   fluent/variant_products; commercetools/customers -> fluent/customers
  Backfill         Overview > Backfills; launch more from Assets > Materialize (select all, pick a date range)
  Failed pushes    Assets > fluent/<entity> > Checks > no_outstanding_failures (waiting records listed beside)
  Re-drive         Jobs > redrive_failed_<entity> > Launchpad (any partition; empty ids = every failed record)
  Delta sync       Automation > commercetools_messages_sensor; waiting_records_sensor
  Pre-flight       Jobs > preflight
Emulators: commercetools {stack.env["CTP_API_URL"]}, Fluent {stack.env["FLUENT_HOST"]} (admin: <url>/_admin/state,
/_admin/faults). Logs: {stack.logs}. Ctrl-C stops everything.""",
            flush=True,
        )
        stop.wait()
        print("stopping ...", flush=True)


if __name__ == "__main__":
    main()
