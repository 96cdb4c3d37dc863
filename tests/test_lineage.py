"""Lineage of failed pushes: the attempt history, runs that fail when they leave failures, automatic retry with
backoff, per-partition counts, the enriched failures check, the overview and the pruning of the history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dagster import DagsterInstance, RunRequest, SensorDefinition, SensorResult, build_sensor_context
from sqlalchemy import select, update

from ctfluent_dagster.assets import ENTITY_DEFINITIONS
from ctfluent_dagster.entities.customers.declaration import ENTITY as CUSTOMERS
from ctfluent_dagster.entities.shared import fluent_username
from ctfluent_dagster.jobs import prune_attempt_history, sync_overview
from ctfluent_dagster.ledger.schema import sync_attempts
from ctfluent_dagster.privacy import email_digest, redact
from ctfluent_dagster.sensors.retry import build_retry_sensor
from ctfluent_dagster.settings import SyncSettings
from tests.harness import CUSTOMER_ASSETS, Sandbox
from tests.support import check_passed, ledger, materialization_metadata
from tests.test_order_sync import EVERYTHING, all_days, sync


def days(sandbox: Sandbox) -> tuple[str, str]:
    found = sorted(sandbox.days_with_customers())
    return found[0], found[-1]


def attempt_rows(sandbox: Sandbox) -> list[dict[str, Any]]:
    with ledger(sandbox).engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(select(sync_attempts))]


def test_every_attempt_is_kept_and_found_by_id_email_order_number_and_sku(shop: Sandbox) -> None:
    shop.fluent_admin.add_fault(match="createOrder", error_code="C0141E", times=2)  # the first order batch fails
    sync(shop, EVERYTHING)
    store = ledger(shop)
    failed = [e for e in store.entries("order", status="failed") if e.error_code == "C0141E"]
    assert failed
    order = next(o for o in shop.ct.state()["orders"] if o["id"] == failed[0].key.source_id)
    shop.fluent_admin.clear_faults()
    shop.run_job("redrive_failed_orders", all_days(shop)[0])

    history = store.attempts(order["orderNumber"])
    of_order = [a for a in history if a.entity_type == "order"]
    assert [a.outcome for a in of_order][:2] == ["synced", "failed"]  # newest first: re-driven, then the failure
    assert of_order[-1].error_code == "C0141E" and of_order[0].fluent_ref == order["orderNumber"]
    assert len({a.run_id for a in of_order}) == 2 and all(a.partition_key for a in of_order)
    assert {a.entity_type for a in history} >= {"order"}  # its transactions are found by the order number too
    customer = shop.ct.state()["customers"][0]
    by_email = store.attempts(customer["email"].upper())  # any letter case
    assert by_email and {a.source_id for a in by_email} == {customer["id"]}
    assert store.attempts(order["id"])[0].source_id == order["id"]
    sku = order["lineItems"][0]["variant"]["sku"]
    assert any(a.entity_type == "variant_product" and a.fluent_ref == sku for a in store.attempts(sku))
    assert store.attempts("no-such-record") == []

    rows = attempt_rows(shop)
    emails = {c["email"].lower() for c in shop.ct.state()["customers"]} | {
        o["customerEmail"].lower() for o in shop.ct.state()["orders"]
    }
    texts = " ".join(str(v).lower() for row in rows for v in row.values())
    assert not [e for e in emails if e in texts]  # kept as digests and masked labels, never in clear
    assert email_digest(customer["email"]) in {row["lookup"] for row in rows}


def test_a_run_that_leaves_failures_fails_after_recording_everything(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTFLUENT_FAIL_RUNS_WITH_FAILED_RECORDS", "true")
    sandbox.fluent_admin.add_fault(match="createCustomer", error_code="C0141E", share=0.1)
    instance = DagsterInstance.ephemeral()
    result = sandbox.sync(days(sandbox), instance=instance, raise_on_error=False)
    assert not result.success  # the Runs list, run-failure sensors and alerts see it
    failed_steps = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failed_steps == ["fluent__customers_no_failures_in_this_run"]  # the check, last: all was recorded
    metadata = materialization_metadata(result)
    assert metadata["failed"] > 0 and metadata["created"] > 0
    tags = instance.get_run_by_id(result.run_id).tags  # type: ignore[union-attr]
    assert int(tags["ctfluent/customers.failed"]) == metadata["failed"]
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "redrive_failed_customers" in failure.step_failure_data.error.message  # type: ignore[union-attr]

    monkeypatch.setenv("CTFLUENT_FAIL_RUNS_WITH_FAILED_RECORDS", "false")
    assert sandbox.sync(days(sandbox)).success  # configurable: the failures stay in the check only


def test_failed_records_are_retried_by_later_runs_with_backoff_up_to_the_limit(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTFLUENT_RETRY_BACKOFF_SECONDS", "0")
    monkeypatch.setenv("CTFLUENT_AUTOMATIC_RETRY_ATTEMPTS", "2")
    first, last = days(sandbox)
    sandbox.fluent_admin.add_fault(match="createCustomer", status=500, times=4)  # temporary: gone by the retry
    sandbox.sync((first, last), retry_max_attempts=1)
    store = ledger(sandbox)
    failed = {e.key for e in store.entries("customer", status="failed")}
    assert failed
    sandbox.fluent_admin.clear_faults()
    result = sandbox.sync(last)  # a later run of the entity, any partition
    assert materialization_metadata(result)["retried"] == len(failed)
    assert not failed & {e.key for e in store.entries("customer", status="failed")}

    sandbox.fluent_admin.add_fault(match="updateCustomer", error_code="C0141E")  # permanent
    customer = sandbox.ct_update(sandbox.ct_customers()[0]["id"], {"action": "setFirstName", "firstName": "Again"})
    sandbox.sync(customer["lastModifiedAt"][:10])  # fails
    for _ in range(3):  # runs of another day: only the automatic retry touches it, until 2 failed attempts
        sandbox.sync(first)
    (entry,) = [e for e in store.entries("customer", source_ids=[customer["id"]]) if e.status == "failed"]
    assert entry.attempts == 2  # stays failed until re-driven
    assert len([a for a in store.attempts(customer["id"]) if a.outcome == "failed"]) == 2


def retry_tick(sandbox: Sandbox, sensor: SensorDefinition) -> SensorResult:
    with build_sensor_context(resources=sandbox.resources()) as context:
        result = sensor(context)
    assert isinstance(result, SensorResult)
    return result


def retry_sensor(attempts: int, backoff_seconds: int) -> SensorDefinition:
    settings = SyncSettings(automatic_retry_attempts=attempts, retry_backoff_seconds=backoff_seconds)
    return build_retry_sensor(settings, [CUSTOMERS], jobs=ENTITY_DEFINITIONS["customers"].jobs[:1])


def requested_ids(requests: list[RunRequest]) -> set[str]:
    return {i for r in requests for i in r.run_config["ops"]["fluent__customers"]["config"]["ids"]}


def test_the_retry_sensor_retries_due_failures_when_nothing_else_changes_until_the_limit(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTFLUENT_AUTOMATIC_RETRY_ATTEMPTS", "3")
    first, last = days(sandbox)
    fault = sandbox.fluent_admin.add_fault(match="createCustomer", error_code="C0160E")  # until removed
    sandbox.sync((first, last))
    store = ledger(sandbox)
    failed = {e.key.source_id: e.partition_key for e in store.entries("customer", status="failed")}
    assert failed

    assert retry_tick(sandbox, retry_sensor(3, backoff_seconds=3600)).run_requests == []  # backoff not passed yet
    sensor = retry_sensor(2, backoff_seconds=0)
    requests = retry_tick(sandbox, sensor).run_requests or []
    assert requested_ids(requests) == set(failed)  # no message, no edit: the sensor asks for the failed records
    assert {r.partition_key for r in requests} == set(failed.values())  # each in its own partition's run
    assert {(r.job_name, r.tags["ctfluent/trigger"]) for r in requests} == {("customers_sync", "automatic-retry")}
    for request in requests:
        sandbox.run_request(request)  # Fluent still refuses them: a second failure each
    assert {e.attempts for e in store.entries("customer", status="failed")} == {2}
    exhausted = retry_tick(sandbox, sensor)
    assert exhausted.run_requests == [] and "no failed record is due" in str(exhausted.skip_reason)

    sandbox.fluent_admin.call("DELETE", f"/faults/{fault}")  # the cause is gone
    more_patient = retry_tick(sandbox, retry_sensor(3, backoff_seconds=0)).run_requests or []
    assert requested_ids(more_patient) == set(failed)
    assert {r.run_key for r in more_patient}.isdisjoint({r.run_key for r in requests})  # a new round, new runs
    for request in more_patient:
        sandbox.run_request(request)
    assert store.entries("customer", status="failed") == []
    assert {e.status for e in store.entries("customer", source_ids=list(failed))} == {"synced"}


def test_a_run_over_many_partitions_reports_each_partitions_own_counts(sandbox: Sandbox) -> None:
    first, last = days(sandbox)
    metadata = materialization_metadata(sandbox.sync((first, last)))
    assert "this run's" in metadata["figures"]
    per_partition = {r.data["partition"]: r.data for r in metadata["per_partition"].records}
    by_day = sandbox.days_with_customers()
    store = ledger(sandbox)
    for day, row in per_partition.items():
        in_ledger = [e for e in store.entries("customer") if e.partition_key == day]
        assert row["created"] + row["skipped"] == len(in_ledger), day
        assert (row["created"] > 0) == (by_day[day] > 0)
    assert sum(row["created"] for row in per_partition.values()) == metadata["created"]


def test_the_failures_check_links_the_run_and_counts_attempts_and_the_overview_sums_up(sandbox: Sandbox) -> None:
    sandbox.fluent_admin.add_fault(match="createCustomer", error_code="C0141E", share=0.1)
    result = sandbox.sync(days(sandbox))
    check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "no_outstanding_failures")
    assert not check_passed(result)
    metadata = {k: v.value for k, v in check.metadata.items()}
    assert metadata["latest_failed_run"].endswith(f"/runs/{result.run_id}")
    rows = [r.data for r in metadata["outstanding_failures"].records]
    assert rows and all(r["attempts"] == 1 and r["first_failed"] and r["run"].endswith(result.run_id) for r in rows)
    retailers = {r["id"]: r["tradingName"] for r in sandbox.fluent.state()["retailers"]}
    assert all(r["target_name"] == retailers[r["target"]] for r in rows)  # the retailer by name, not only its id
    # Never created, so Fluent has no ref for them: the check shows the one their pushes were writing, masked.
    emails = {c["id"]: c["email"] for c in sandbox.ct_customers()}
    assert all(r["fluent_ref"] == redact(fluent_username(r["target"], emails[r["commercetools_id"]])) for r in rows)
    assert metadata["oldest_unresolved_failure"] != "none"

    overview = sync_overview.execute_in_process(resources=sandbox.resources())
    (output,) = [e for e in overview.all_events if e.event_type_value == "STEP_OUTPUT"]
    report = output.step_output_data.metadata["overview"].value
    line = next(line for line in report.splitlines() if line.startswith("| customers | customer |"))
    assert f"failed C0141E x{len(rows)}" in line and "`redrive_failed_customers`" in line
    assert f"/runs/{result.run_id}" in line


def test_the_attempt_history_is_pruned_to_its_retention(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sandbox.sync(days(sandbox), assets=CUSTOMER_ASSETS).success
    total = len(attempt_rows(sandbox))
    with ledger(sandbox).engine.begin() as conn:  # half of them from long ago
        old = datetime.now(UTC) - timedelta(days=45)
        conn.execute(update(sync_attempts).where(sync_attempts.c.id % 2 == 0).values(at=old))
    monkeypatch.setenv("CTFLUENT_HISTORY_RETENTION_DAYS", "30")
    assert prune_attempt_history.execute_in_process(resources=sandbox.resources()).success
    assert len(attempt_rows(sandbox)) == total - total // 2


def test_a_dry_run_writes_nothing_and_says_what_a_run_would_do_field_by_field(sandbox: Sandbox) -> None:
    first, last = days(sandbox)
    assert sandbox.sync((first, last)).success
    changed = sandbox.ct_update(sandbox.ct_customers()[0]["id"], {"action": "setFirstName", "firstName": "Dryrun"})
    created = sandbox.storefront.create("dry.run.new@example.com")
    today = changed["lastModifiedAt"][:10]
    calls, rows = sandbox.mutations(), attempt_rows(sandbox)
    state = {(e.key, e.status, e.source_version) for e in ledger(sandbox).entries("customer")}

    metadata = materialization_metadata(sandbox.sync(today, scope={"dry_run": True}))
    assert sandbox.mutations() == calls  # nothing written to Fluent
    assert {(e.key, e.status, e.source_version) for e in ledger(sandbox).entries("customer")} == state
    assert len(attempt_rows(sandbox)) == len(rows)  # nor to the ledger or its history
    planned = {(r.data["commercetools_id"], r.data["code"]): r.data["message"] for r in metadata["planned"].records}
    assert (created["id"], "would_create") in planned
    diff = planned[(changed["id"], "would_update")]
    assert "firstName: " in diff and "-> D***" in diff and "Dryrun" not in diff  # the field, values masked
    assert (
        metadata["would_create"] >= 1 and metadata["would_update"] >= 1 and "nothing was written" in metadata["dry_run"]
    )

    real = materialization_metadata(sandbox.sync(today))  # a real run does what the dry run said
    assert (real["created"], real["updated"]) == (metadata["would_create"], metadata["would_update"])
