"""``ctfluent-journey IDENTIFIER``: a record's journey (see ``journey.py``) in a terminal."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from ctfluent_dagster.commercetools.client import BASE_READ_SCOPES, CommercetoolsClient, CommercetoolsSettings
from ctfluent_dagster.journey import (
    DEFAULT_MESSAGES_LIMIT,
    SEARCHED_AS,
    MessagesReader,
    commercetools_messages,
    find_journey,
    render_text,
)
from ctfluent_dagster.ledger.store import Ledger
from ctfluent_dagster.privacy import email_digest
from ctfluent_dagster.settings import ledger_url

DEFAULT_UI_URL = "http://127.0.0.1:3000"
CREDENTIALS = ("CTP_PROJECT_KEY", "CTP_CLIENT_ID", "CTP_CLIENT_SECRET")

DESCRIPTION = f"""\
Everything the project knows about one record, found by its
{SEARCHED_AS}: the records the ledger holds for it (entity type, commercetools id, status, Fluent ref and id,
what it waits for), every push attempt with its outcome, the runs that touched it, and the commercetools
messages of its resource (their type and time, never their content). Emails, usernames and names appear
masked. Exit code 1 when nothing is found.
"""

EPILOG = f"""\
environment:
  CTFLUENT_LEDGER_URL      the ledger database, unless --ledger-url (default: SQLite under DAGSTER_HOME or .ctfluent/)
  {", ".join(CREDENTIALS)}
                           commercetools API client (needs view_messages); unset: messages are not read
  CTP_SCOPES, CTP_REGION or CTP_API_URL and CTP_AUTH_URL
                           as for the code location
  DAGSTER_WEBSERVER_URL    the Dagster UI runs link to, unless --ui-url (default: {DEFAULT_UI_URL})
"""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ctfluent-journey",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("identifier", help="a commercetools id, an email, an order number, a SKU or a Fluent ref")
    parser.add_argument("--ledger-url", help="the ledger database (default: CTFLUENT_LEDGER_URL, else local SQLite)")
    parser.add_argument("--ui-url", help=f"the Dagster UI (default: DAGSTER_WEBSERVER_URL, else {DEFAULT_UI_URL})")
    parser.add_argument("--no-messages", action="store_true", help="do not read commercetools messages")
    parser.add_argument("--limit", type=int, default=500, help="at most this many attempts (default: %(default)s)")
    parser.add_argument(
        "--digest", action="store_true",
        help="only print the digest of the email given, to launch the record_journey job with (Dagster keeps a "
        "run's config, so an email given there would stay in clear)",
    )  # fmt: skip
    return parser.parse_args(argv)


def messages_reader(env: Mapping[str, str]) -> tuple[MessagesReader | None, str | None]:
    """A reader of commercetools messages built from the code location's variables, else why there is none."""
    missing = [name for name in CREDENTIALS if not env.get(name)]
    if missing:
        return None, f"commercetools messages not read: {', '.join(missing)} not set"
    try:
        settings = CommercetoolsSettings(
            project_key=env["CTP_PROJECT_KEY"],
            client_id=env["CTP_CLIENT_ID"],
            client_secret=env["CTP_CLIENT_SECRET"],
            scopes=env.get("CTP_SCOPES") or env.get("CTP_SCOPE") or " ".join(BASE_READ_SCOPES),
            region=env.get("CTP_REGION") or None,
            api_url=env.get("CTP_API_URL") or None,
            auth_url=env.get("CTP_AUTH_URL") or None,
        )
    except ValidationError as exc:  # the messages only: pydantic's text would quote the inputs, the secret too
        reasons = "; ".join(str(error["msg"]) for error in exc.errors())
        return None, f"commercetools messages not read: {reasons}"
    return commercetools_messages(CommercetoolsClient(settings), DEFAULT_MESSAGES_LIMIT), None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.limit < 1:
        print("ctfluent-journey: --limit must be at least 1", file=sys.stderr)
        return 2
    if args.digest:
        if "@" not in args.identifier:
            print("ctfluent-journey: --digest takes an email", file=sys.stderr)
            return 2
        print(email_digest(args.identifier))
        return 0
    ui = (args.ui_url or os.environ.get("DAGSTER_WEBSERVER_URL") or DEFAULT_UI_URL).rstrip("/")
    reader: MessagesReader | None = None
    note: str | None = "commercetools messages not read (--no-messages)"
    if not args.no_messages:
        reader, note = messages_reader(os.environ)
    ledger = Ledger(ledger_url(args.ledger_url))
    try:
        ledger.migrate()
        journey = find_journey(ledger, args.identifier, reader, limit=args.limit, messages_note=note)
    except SQLAlchemyError as exc:
        print(f"ctfluent-journey: cannot read the ledger {ledger!r}: {type(exc).__name__}", file=sys.stderr)
        return 2
    finally:
        ledger.engine.dispose()
    sys.stdout.write(render_text(journey, lambda run_id: f"{ui}/runs/{run_id}"))
    return 0 if journey.found else 1


if __name__ == "__main__":
    sys.exit(main())
