"""``ctfluent-forget EMAIL|CUSTOMER_ID``: erase one person from what this project holds (see ``forget.py``), and say
how to erase them where it cannot: commercetools, Fluent, Dagster's run history."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from ctfluent_dagster.configuration import read_settings
from ctfluent_dagster.forget import Erasure, Findings, erase, find
from ctfluent_dagster.ledger.store import Ledger
from ctfluent_dagster.privacy import mask_email, redact
from ctfluent_dagster.settings import ledger_url
from ctfluent_dagster.staging import DatasetStore

NOTHING_FOUND, HELD, FAILED = 1, 3, 2
LISTED = 20  # ids and order numbers named in the instructions, at most

DESCRIPTION = """\
Erase one person, named by an email or a commercetools customer id, from what this project holds: their records in
every staged dataset (their customers, the orders that name them, the payments of those orders), their customers'
ledger rows (whose commercetools id and username become digests) and those customers' attempt history. The ledger
rows and history of their orders and financial transactions stay: order numbers and ids, nothing personal. It prints
what it removed (emails masked) and how to erase the person in commercetools and Fluent, which it does not touch.

Erase them in commercetools first: until then, the next sync reads their records from there again.

Exit code 0 when something was removed (or would be, with --dry-run), 1 when nothing matched, 3 when a running sync
holds some of their ledger rows (run it again once that run has ended), 2 on an error.
"""

EPILOG = """\
environment:
  CTFLUENT_LEDGER_URL      the ledger database, unless --ledger-url (default: SQLite under DAGSTER_HOME or .ctfluent/)
  CTFLUENT_SETTINGS_FILE, CTFLUENT_STAGING_DIR, CTFLUENT_STAGING_ENCRYPTION, CTFLUENT_STAGING_KMS_KEY_ID
                           where the staged datasets are and how they are written, as for the code location
                           (--staging-dir overrides the location)
  AWS_*                    for an s3:// staging location, as for the code location
"""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ctfluent-forget",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("identifier", metavar="EMAIL|CUSTOMER_ID", help="the person's email or commercetools id")
    parser.add_argument("--ledger-url", help="the ledger database (default: CTFLUENT_LEDGER_URL, else local SQLite)")
    parser.add_argument("--staging-dir", help="the staged datasets (default: the settings' staging_dir)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be removed; change nothing")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = read_settings()
        location = args.staging_dir or settings.staging_dir
        store = (DatasetStore(location, settings.staging_encryption, settings.staging_kms_key_id) if location
                 else DatasetStore.from_settings(settings))  # fmt: skip
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors())
        print(f"ctfluent-forget: the settings are invalid: {reasons}", file=sys.stderr)
        return FAILED
    except ValueError as exc:
        print(f"ctfluent-forget: {exc}", file=sys.stderr)
        return FAILED
    ledger = Ledger(ledger_url(args.ledger_url))
    try:
        ledger.migrate()
        findings = find(args.identifier, ledger, store)
        erasure = erase(findings, ledger, store, dry_run=args.dry_run)
    except SQLAlchemyError as exc:
        print(f"ctfluent-forget: cannot use the ledger {ledger!r}: {type(exc).__name__}", file=sys.stderr)
        return FAILED
    except OSError as exc:
        print(f"ctfluent-forget: cannot use the staged datasets at {store.root}: {redact(str(exc))}", file=sys.stderr)
        return FAILED
    finally:
        ledger.engine.dispose()
    sys.stdout.write(render(args.identifier, findings, erasure, store, ledger, dry_run=args.dry_run))
    if not erasure.anything:
        return NOTHING_FOUND
    return HELD if erasure.ledger.held else 0


def render(
    identifier: str, findings: Findings, erasure: Erasure, store: DatasetStore, ledger: Ledger, *, dry_run: bool
) -> str:
    """What was removed, what was kept and why, and how to erase the person where this cannot (emails masked)."""
    person = findings.person
    named = mask_email(identifier) if "@" in identifier else f"commercetools customer {identifier.strip()}"
    lines = [f"ctfluent-forget: {named}" + (" (dry run: nothing is changed)" if dry_run else "")]
    if not erasure.anything:
        lines.append("Nothing found: no staged record, ledger row or attempt names them.")
        if findings.forgotten_before:
            last = max(entry.updated_at for entry in findings.forgotten_before)
            lines.append(f"{len(findings.forgotten_before)} customer row(s) of theirs were forgotten already, the "
                         f"last on {last:%Y-%m-%d %H:%M} UTC.")  # fmt: skip
        return "\n".join(lines) + "\n"
    removed, forgotten, deleted = ("would be removed", "would be forgotten", "would be deleted") if dry_run else (
        "removed", "forgotten", "deleted")  # fmt: skip
    emails = ", ".join(sorted(mask_email(email) for email in person.emails)) or "none known"
    lines += [f"Found: {len(person.customer_ids)} commercetools customer(s); email(s) {emails}.", "",
              f"Staged datasets ({store.root}):"]  # fmt: skip
    lines += [f"  {dataset}: {count} record(s) {removed}" for dataset, count in sorted(erasure.records.items())]
    lines += [f"  {dataset.entity}/{dataset.partition_key}/{dataset.name}.gone.json: {count} id(s) {removed}"
              for dataset, count in sorted(erasure.gone.items())]  # fmt: skip
    if not erasure.records and not erasure.gone:
        lines.append("  none of theirs")
    held = erasure.ledger.held
    lines += [
        "",
        f"Ledger ({make_url(ledger.url).render_as_string(hide_password=True)}):",
        f"  ctfluent_sync_state: {len(erasure.ledger.forgotten)} customer row(s) {forgotten} (commercetools id and "
        "username replaced by digests; status deleted, code FORGOTTEN)",
        *([f"  ctfluent_sync_state: {len(held)} row(s) held by a running sync: left as they are; run "
           "ctfluent-forget again once that run has ended"] if held else []),
        f"  ctfluent_sync_attempts: {erasure.ledger.attempts} attempt(s) {deleted}",
        "  ctfluent_fluent_events: nothing to remove (Fluent's webhook events: ids and statuses only)",
    ]  # fmt: skip
    kept = Counter(entry.key.entity_type for entry in findings.kept)
    if kept:
        counts = " and ".join(f"{count} {entity_type}" for entity_type, count in sorted(kept.items()))
        lines.append(f"  kept: the rows of their {counts} record(s), with their history: order numbers and ids, "
                     "nothing personal (orders are business records)")  # fmt: skip
    lines += ["", *instructions(findings)]
    return "\n".join(lines) + "\n"


def instructions(findings: Findings) -> list[str]:
    """How to erase the person where this project cannot."""
    customer_ids = _listed(sorted(findings.person.customer_ids))
    orders = _listed(sorted({entry.label or entry.key.source_id for entry in findings.kept
                             if entry.key.entity_type == "order"}))  # fmt: skip
    in_fluent = _listed(sorted({f"{entry.fluent_id} (retailer {entry.key.target_key})"
                                for entry in findings.customers if entry.fluent_id}))  # fmt: skip
    return [
        "Not erased by ctfluent-forget, to erase there:",
        "  commercetools: DELETE /{projectKey}/customers/{id}?version={its version}&dataErasure=true (scope",
        f"    manage_customers) for each of their customers ({customer_ids or 'none known here'}). Deleting a",
        "    customer leaves its orders, which keep the email and addresses: DELETE",
        "    /{projectKey}/orders/{id}?version={its version}&dataErasure=true the ones you need not keep",
        f"    ({orders or 'none known here'}). Until they are erased there, the sync reads them again: run",
        "    ctfluent-forget once more afterwards.",
        "  Fluent: its API deletes no customer. Overwrite the personal fields of their Fluent customers (username",
        f"    <retailerId>_<email> in each retailer; Fluent ids known here: {in_fluent or 'none'}) with",
        "    updateCustomer (firstName, lastName, primaryEmail, primaryPhone, ...). The username identifies the",
        "    customer and cannot change, nor can a placed order's addresses: ask Fluent support to erase those.",
        "  Dagster: run configs and event logs hold commercetools ids (delta runs) and masked labels, and an email",
        "    only where a record_journey run was launched with one in clear: dagster run delete <run id>.",
    ]


def _listed(values: Sequence[str]) -> str:
    shown = ", ".join(values[:LISTED])
    return shown + (f" and {len(values) - LISTED} more" if len(values) > LISTED else "")


if __name__ == "__main__":
    sys.exit(main())
