"""``ctfluent-webhooks``: serve the Fluent webhook receiver (see ``app.py``) with uvicorn."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import uvicorn
from pydantic import ValidationError

from ctfluent_dagster.webhooks.app import create_app
from ctfluent_dagster.webhooks.events import FluentEventStore
from ctfluent_dagster.webhooks.settings import PUBLIC_KEYS_VARIABLE, ConfigurationError, WebhookSettings

DESCRIPTION = """\
Receive Fluent Commerce webhooks (workflow rule SendWebhook): verify each request's fluent-signature
(RSA / SHA-512 over the raw body) against Fluent's public keys, record the event once per event id in the
ledger database (duplicates are answered 200 and ignored) and answer at once. A Dagster sensor acts on the
recorded events. GET /health reports counters.
"""

EPILOG = f"""\
environment:
  {PUBLIC_KEYS_VARIABLE}   required: Fluent's public key(s), base64 DER, comma-separated
  CTFLUENT_LEDGER_URL          the ledger database (default: SQLite under DAGSTER_HOME or .ctfluent/)
  CTFLUENT_WEBHOOKS__PATH      the POST path (default /fluent/webhooks)
  CTFLUENT_WEBHOOKS__MAX_BODY_BYTES  larger bodies get 413 (default 65536)
  CTFLUENT_WEBHOOKS__HOST, CTFLUENT_WEBHOOKS__PORT  defaults for --host and --port

Fluent calls https on port 443 only: put the service behind a TLS-terminating proxy or ingress.
"""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ctfluent-webhooks",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", help="interface to listen on (default: CTFLUENT_WEBHOOKS__HOST, else 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default: CTFLUENT_WEBHOOKS__PORT, else 8090)")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="log level (default: %(default)s)",
    )
    parser.add_argument(
        "--access-log", action="store_true", help="also log every request line (uvicorn's access log; off by default)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = WebhookSettings()
    except ValidationError as exc:
        print(f"ctfluent-webhooks: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    host: str = settings.host if args.host is None else args.host
    port: int = settings.port if args.port is None else args.port
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        verifier = settings.verifier()
    except ConfigurationError as exc:
        print(f"ctfluent-webhooks: {exc}", file=sys.stderr)
        return 2
    store = FluentEventStore(settings.ledger_url)  # migrates the ledger database first
    logging.getLogger(__name__).info(
        "receiving Fluent webhooks at %s on %s:%d (%d public key(s)); events go to %r",
        settings.path, host, port, len(verifier.keys), store,
    )  # fmt: skip
    app = create_app(settings, store=store, verifier=verifier)
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level=args.log_level,
            access_log=args.access_log,
            server_header=False,
        )
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
