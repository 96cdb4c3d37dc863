"""Personal data with a lifetime, against the sandbox: the daily job deletes staged datasets past their retention (a
Fluent step re-executed after that asks for its commercetools step), and ``ctfluent-forget`` erases one person from
the staged datasets, the ledger and the attempt history, leaving everyone else's data as it was and the sync working.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from dagster import DagsterEventType, DefaultScheduleStatus
from sqlalchemy import create_engine, select

from ctfluent_dagster.assets import ENTITY_DEFINITIONS
from ctfluent_dagster.configuration import settings_class
from ctfluent_dagster.forget_cli import main as forget
from ctfluent_dagster.jobs import prune_staging, staging_schedule
from ctfluent_dagster.ledger.schema import metadata, sync_state
from ctfluent_dagster.ledger.store import FORGOTTEN_CODE, Claim, Ledger
from ctfluent_dagster.privacy import email_digest, id_digest, mask_email
from ctfluent_dagster.records import LedgerKey
from ctfluent_dagster.resources import SyncSettingsResource
from ctfluent_dagster.settings import MessagesSettings
from ctfluent_dagster.staging import DatasetStore
from tests.harness import Sandbox
from tests.support import FLUENT_CUSTOMERS_ASSET, busiest_day, ledger, today

# Every partitioned asset of the entities read from commercetools (what holds its personal data).
EVERYTHING = [asset for entity in ENTITY_DEFINITIONS.values() if not entity.entity.from_fluent
              for asset in entity.assets if asset.partitions_def]  # fmt: skip
Row = tuple[str, tuple[Any, ...]]  # (table, the row's values)


def staged(root: Path) -> dict[tuple[str, str], str]:
    """Every staged record, by (dataset, commercetools id), as its JSON; and each gone list, by (its file, "")."""
    found = {(str(path.relative_to(root)), ""): path.read_text(encoding="utf-8") for path in root.rglob("*.gone.json")}
    for path in root.rglob("*.parquet"):
        table = pq.read_table(path, columns=["id", "record"])
        for source_id, record in zip(table["id"].to_pylist(), table["record"].to_pylist(), strict=True):
            found[str(path.relative_to(root)), source_id] = record
    return found


def ledger_rows(url: str) -> list[Row]:
    """Every row of the ledger's tables."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [(table.name, tuple(row)) for table in metadata.sorted_tables for row in conn.execute(select(table))]
    finally:
        engine.dispose()


def named(rows: Iterable[Row], values: Iterable[str]) -> list[Row]:
    """The rows that hold one of these values in clear, whatever its case."""
    wanted = [value.lower() for value in values]
    return [row for row in rows if any(value in str(row[1]).lower() for value in wanted)]


def every_day(shop: Sandbox) -> tuple[str, str]:
    state = shop.ct.state()
    stamps = [record["lastModifiedAt"][:10] for kind in ("categories", "products", "customers", "orders", "payments")
              for record in state[kind]]  # fmt: skip
    return min(stamps), today(shop)


def ordering_as_guests_too(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Customers who also ordered as guests (with their email, not signed in) and paid: such an order names them by
    email only, and its payment by the order's id only."""
    emails = {order["customerEmail"].lower() for order in state["orders"]
              if not order.get("customerId") and order.get("paymentInfo", {}).get("payments")}  # fmt: skip
    return [customer for customer in state["customers"] if customer["email"].lower() in emails]


def theirs(state: dict[str, Any], people: Iterable[dict[str, Any]]) -> set[str]:
    """The commercetools ids of these customers' records: them, their orders (signed in or not), their payments."""
    ids, emails = {c["id"] for c in people}, {c["email"].lower() for c in people}
    orders = [o for o in state["orders"] if o.get("customerId") in ids or o["customerEmail"].lower() in emails]
    return ids | {o["id"] for o in orders} | {p["id"] for o in orders for p in o["paymentInfo"].get("payments", [])}


def test_forgetting_one_person_by_email_and_another_by_id_leaves_nothing_of_them_and_the_rest_as_it_was(
    shop: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    state = shop.ct.state()
    assert shop.sync(every_day(shop), assets=EVERYTHING).success
    root, url = Path(os.environ["CTFLUENT_STAGING_DIR"]), shop.ledger_url
    customers = {customer["id"]: customer for customer in state["customers"]}
    by_email, by_id, *_ = ordering_as_guests_too(state)
    people = (by_email, by_id)
    ids, emails, records = {c["id"] for c in people}, {c["email"].lower() for c in people}, theirs(state, people)
    # The first is erased in commercetools first, as ctfluent-forget advises: the sync marks them deleted in Fluent,
    # and its delta run stages their id as gone.
    shop.ct_delete(by_email["id"])
    assert shop.sync(today(shop), ids=[by_email["id"]]).success
    staged_before, rows_before = staged(root), ledger_rows(url)
    assert [key for key, text in staged_before.items() if key[0].endswith(".gone.json") and by_email["id"] in text]
    assert {source_id for _, source_id in staged_before} >= records  # all of them staged
    assert named(rows_before, [by_email["email"], by_id["id"]])
    customer_rows = {e.key: e for e in ledger(shop).entries("customer", source_ids=sorted(ids))}
    assert len(customer_rows) >= 2

    # A dry run says what it would remove, and changes nothing.
    assert forget([by_email["email"], "--ledger-url", url, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run" in out and "record(s) would be removed" in out and mask_email(by_email["email"]) in out
    assert by_email["email"].lower() not in out.lower()
    assert (staged(root), ledger_rows(url)) == (staged_before, rows_before)

    # One by email (in another case), the other by commercetools id.
    assert forget([by_email["email"].upper(), "--ledger-url", url]) == 0
    out = capsys.readouterr().out
    assert by_email["email"].lower() not in out.lower() and mask_email(by_email["email"]) in out
    assert "ctfluent_sync_attempts" in out and "dataErasure=true" in out and "updateCustomer" in out
    assert forget([by_id["id"], "--ledger-url", url]) == 0
    capsys.readouterr()

    # Nothing of theirs is left in clear: not in a staged record, a gone list, a ledger row or an attempt.
    staged_after, rows_after = staged(root), ledger_rows(url)
    for person in people:
        assert not [key for key, text in staged_after.items() if person["email"].lower() in text.lower()]
        assert not [key for key, text in staged_after.items() if person["id"] in text]
        assert named(rows_after, [person["email"], person["id"]]) == []
    assert not records & {source_id for _, source_id in staged_after}
    # What is left of their customers' rows: digests, the retailer, the Fluent id, that they were forgotten.
    tombstones = {e.key.source_id: e for e in ledger(shop).entries("customer") if e.error_code == FORGOTTEN_CODE}
    for key, before in customer_rows.items():
        tombstone = tombstones.pop(id_digest(key.source_id))
        email = customers[key.source_id]["email"]
        assert (tombstone.status, tombstone.fluent_ref, tombstone.fluent_id, tombstone.label) == (
            "deleted", email_digest(email), before.fluent_id, None)  # fmt: skip
    assert tombstones == {}
    # Everyone else's data is as it was.
    assert {key: text for key, text in staged_before.items() if key[1] not in records and key[1]} == {
        key: text for key, text in staged_after.items() if key[1]
    }
    lookups = {email_digest(email) for email in emails}
    untouched = [row for row in rows_before if not (row[1][1] in ids if row[0] == "ctfluent_sync_state" else
                 row[0] == "ctfluent_sync_attempts" and (row[1][3] in ids or row[1][-1] in lookups))]  # fmt: skip
    assert sorted(row for row in rows_after if FORGOTTEN_CODE not in row[1]) == sorted(untouched)
    assert [row for row in rows_after if row[0] == "ctfluent_sync_state" and row[1][1] in records - ids]  # orders kept

    # Again: nothing left, and it says so; nor is anyone unknown found.
    assert forget([by_email["email"], "--ledger-url", url]) == 1
    assert "forgotten already" in capsys.readouterr().out
    assert forget(["nobody@example.invalid", "--ledger-url", url]) == 1
    assert "Nothing found" in capsys.readouterr().out

    # The second is still in commercetools. A later sync: no duplicate in Fluent, the second found there again by its
    # username (its Fluent customer, re-linked), the first not read again, everyone else as before.
    in_fluent = len(shop.fluent_customers())
    statuses = {e.key: e.status for e in ledger(shop).entries("customer") if e.error_code != FORGOTTEN_CODE}
    assert shop.sync(every_day(shop), assets=EVERYTHING).success
    assert len(shop.fluent_by_username()) == in_fluent  # no customer twice
    relinked = {e.key: e for e in ledger(shop).entries("customer", source_ids=[by_id["id"]])}
    assert {key: (e.status, e.fluent_id) for key, e in relinked.items()} == {
        key: ("synced", e.fluent_id) for key, e in customer_rows.items() if key.source_id == by_id["id"]
    }
    assert ledger(shop).entries("customer", source_ids=[by_email["id"]]) == []
    assert {e.key: e.status for e in ledger(shop).entries("customer")
            if e.key.source_id not in ids and e.error_code != FORGOTTEN_CODE} == statuses  # fmt: skip


def test_a_person_is_found_by_what_is_left_of_them_the_staged_records_alone_or_the_ledger_alone(
    shop: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    state = shop.ct.state()
    root, url = Path(os.environ["CTFLUENT_STAGING_DIR"]), shop.ledger_url
    first, second, third, fourth, *_ = ordering_as_guests_too(state)

    # Staged, nothing synced yet: the ledger knows nobody. Their customer record tells their email, which finds their
    # guest orders, whose ids find those orders' payments.
    from_commercetools = [asset for asset in EVERYTHING if asset.key.path[0] == "commercetools"]
    assert shop.sync(every_day(shop), assets=from_commercetools).success
    assert forget([first["id"], "--ledger-url", url]) == 0
    left = staged(root)
    assert not theirs(state, [first]) & {source_id for _, source_id in left}
    assert not [key for key, text in left.items() if first["email"].lower() in text.lower()]

    # Synced long ago: the staged days and the attempt history are pruned; only their orders were staged since. The
    # ledger's rows find them, a customer's username tells its email, which finds its guest orders.
    assert shop.sync(every_day(shop), assets=EVERYTHING).success
    # A customer whose ledger rows were lost (a restored backup): its attempts, found by the email's digest, go too.
    with ledger(shop).engine.begin() as conn:
        conn.execute(sync_state.delete().where(sync_state.c.source_id == fourth["id"]))
    assert forget([fourth["email"], "--ledger-url", url]) == 0
    assert named(ledger_rows(url), [fourth["id"]]) == []
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert DatasetStore(root).prune(later) and ledger(shop).prune_attempts(later)
    orders_since = [asset for asset in from_commercetools if asset.key.path[1] in ("orders", "payments")]
    assert shop.sync(every_day(shop), assets=orders_since).success
    for identifier, person in ((second["email"], second), (third["id"], third)):
        assert forget([identifier, "--ledger-url", url]) == 0
        assert "1 customer row(s) forgotten" in capsys.readouterr().out
        assert named(ledger_rows(url), [person["email"], person["id"]]) == []
        left = staged(root)
        assert not theirs(state, [person]) & {source_id for _, source_id in left}
        assert not [key for key, text in left.items() if person["email"].lower() in text.lower()]


def test_staged_records_are_found_by_whole_values_whatever_their_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("CTFLUENT_SETTINGS_FILE", "CTFLUENT_STAGING_DIR", "CTFLUENT_STAGING_ENCRYPTION"):
        monkeypatch.delenv(name, raising=False)
    store = DatasetStore(tmp_path / "staging")
    with store.writer("customers", "2026-03-14") as writer:
        writer.write(
            [{"id": "c-1", "email": "Jane.Doe@Example.com"}, {"id": "c-2", "email": "jane.doe@example.com.au"}]
        )
    with store.writer("orders", "2026-03-15") as writer:
        writer.write([
            {"id": "o-1", "customerEmail": "JANE.DOE@EXAMPLE.COM", "note": 'said "hi"'},  # a guest order of hers
            {"id": "o-2", "customerEmail": "x@example.com", "note": "for jane.doe@example.com"},  # a mention only
            {"id": "o-3", "customerId": "c-1"},
        ])  # fmt: skip
    arguments = ["--staging-dir", str(tmp_path / "staging"), "--ledger-url", f"sqlite:///{tmp_path / 'ledger.sqlite'}"]
    assert forget(["jane.doe@example.com", *arguments]) == 0
    assert "j***@e***.com" in capsys.readouterr().out
    assert {source_id for _, source_id in staged(tmp_path / "staging")} == {"c-2", "o-2"}


def test_a_record_a_running_sync_holds_is_left_as_it_is_until_that_run_has_ended(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("CTFLUENT_SETTINGS_FILE", "CTFLUENT_STAGING_DIR", "CTFLUENT_STAGING_ENCRYPTION"):
        monkeypatch.delenv(name, raising=False)
    store = Ledger(ledger_url)
    store.migrate()
    key = LedgerKey("customer", "c-1", "1")
    assert store.claim([Claim(key, 1)], owner="run-live", lease_seconds=600).claimed
    arguments = ["c-1", "--ledger-url", ledger_url, "--staging-dir", str(tmp_path / "staging")]

    assert forget(arguments) == 3
    assert "1 row(s) held by a running sync" in capsys.readouterr().out
    assert [entry.key for entry in store.entries("customer")] == [key]
    store.release([key], owner="run-live")
    assert forget(arguments) == 0
    assert [entry.key.source_id for entry in store.entries("customer")] == [id_digest("c-1")]


def test_the_daily_prune_deletes_staged_days_past_their_retention_and_a_step_then_asks_for_its_staging(
    sandbox: Sandbox,
) -> None:
    day, current = busiest_day(sandbox), today(sandbox)
    assert sandbox.sync(day).success and sandbox.sync(current).success
    root = Path(os.environ["CTFLUENT_STAGING_DIR"])
    old, recent = root / "customers" / day / "full.parquet", root / "customers" / current / "full.parquet"
    staged_at = old.stat().st_mtime - timedelta(days=8).total_seconds()  # the retention is 7 days
    os.utime(old, (staged_at, staged_at))

    assert prune_staging.execute_in_process(resources={"sync_settings": SyncSettingsResource()}).success
    assert not old.exists() and recent.exists()

    # The Fluent step of that day again (a re-execution): it fails, saying what to run first.
    again = sandbox.sync(day, assets=[FLUENT_CUSTOMERS_ASSET], raise_on_error=False)
    (failure,) = [e for e in again.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert failure.step_failure_data is not None and failure.step_failure_data.error is not None
    message = failure.step_failure_data.error.to_string()  # the step's error and its cause, the dataset missing
    assert "deleted staging_retention_days after it was staged" in message
    assert f"commercetools/customers for {day}" in message
    assert sandbox.sync(day).success  # staged again, then pushed


def test_the_prune_schedule_runs_daily_when_the_schedules_run() -> None:
    settings = settings_class()(messages=MessagesSettings(schedules_running=True), staging_prune_cron="15 4 * * *")
    schedule = staging_schedule(settings)
    assert (schedule.job_name, schedule.cron_schedule, schedule.default_status) == (
        "prune_staging", "15 4 * * *", DefaultScheduleStatus.RUNNING)  # fmt: skip
    assert staging_schedule(settings_class()()).default_status == DefaultScheduleStatus.STOPPED
