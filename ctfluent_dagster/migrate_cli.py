"""``ctfluent-migrate``: bring the ledger database (``CTFLUENT_LEDGER_URL``) to the latest migration.

Runs the ledger's Alembic migrations, serialised across processes, so that services with a role that may not run
DDL (the webhook receiver) find their tables; in Kubernetes, a Job before the other components start. The Dagster
runs migrate too (their role owns the tables); this command is what a deployment runs first.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from ctfluent_dagster.ledger.store import Ledger
from ctfluent_dagster.settings import ledger_url


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ctfluent-migrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--ledger-url", help="the ledger database (default: CTFLUENT_LEDGER_URL, else the local "
                        "default under DAGSTER_HOME)")  # fmt: skip
    args = parser.parse_args(argv)
    ledger = Ledger(ledger_url(args.ledger_url))
    try:
        ledger.migrate()
        problem = ledger.unmigrated()
    except SQLAlchemyError as exc:
        print(f"ctfluent-migrate: {type(exc).__name__}: {exc.orig if hasattr(exc, 'orig') else exc}", file=sys.stderr)
        return 1
    finally:
        ledger.engine.dispose()
    if problem is not None:
        print(f"ctfluent-migrate: {problem}", file=sys.stderr)
        return 1
    print(f"{ledger!r}: at the latest migration")
    return 0


if __name__ == "__main__":
    sys.exit(main())
