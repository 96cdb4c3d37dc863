"""End to end where production runs: Dagster's own storage and the sync ledger on PostgreSQL (one database, as the
README allows), the sandbox and Dagster (webserver + daemon) as real processes.

The seeded history starts before ``start_date``: a backfill launched through the webserver from the first partition
to today loads all of it, the older records with the first partition. Then orders completed in Fluent are written
back to commercetools by the order status back-sync, whose ledger version is Fluent's ``updatedOn`` in epoch
milliseconds (past 2^31: a 32-bit column refused it on PostgreSQL after the commercetools write, and the run failed).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from sqlalchemy import create_engine, inspect

from ctfluent_dagster.ledger.store import Ledger
from ctfluent_sandbox.dagster_webserver import recent_days
from ctfluent_sandbox.stack import LocalStack
from ctfluent_sandbox.storefront import Storefront
from tests.support import fresh_postgres_database, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
REPO = Path(__file__).resolve().parent.parent
DAYS = 4  # seeded history; the start date is yesterday, so most of it lies before
ENTITY_TYPES = ("category", "standard_product", "variant_product", "customer", "order", "financial_transaction")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, postgres_server: str) -> Iterator[LocalStack]:
    workdir = tmp_path_factory.mktemp("e2e-production")
    with fresh_postgres_database(postgres_server) as database:
        dagster_url = database.replace("postgresql+psycopg2://", "postgresql://")
        instance_file = workdir / "dagster.yaml"
        instance_file.write_text((REPO / "dagster.local.yaml").read_text()
                                 + f"\nstorage:\n  postgres:\n    postgres_url: {dagster_url}\n")  # fmt: skip
        settings = {
            "CTFLUENT_SETTINGS_FILE": str(REPO / "ctfluent.example.yaml"),
            "FLUENT_CATALOGUE_REF": "PC:MASTER:1",
            "CTFLUENT_START_DATE": recent_days(1)[0],
            "CTFLUENT_PRODUCTS__MISSING_GTIN": "sku",  # every variant sendable: every open order can go
            "CTFLUENT_ORDER_STATUS__TICK_SECONDS": "1",
            "CTFLUENT_ORDER_STATUS__POLL_INTERVAL_SECONDS": "3",
            "CTFLUENT_FAIL_RUNS_WITH_FAILED_RECORDS": "true",
        }
        with LocalStack(workdir, customers=60, products=15, orders=40, days=DAYS, extra_env=settings,
                        dagster_yaml=instance_file, ledger_url=database) as running:  # fmt: skip
            yield running


def ledger_of(stack: LocalStack) -> Ledger:
    return Ledger(stack.ledger_url())


def step_failures(stack: LocalStack) -> list[str]:
    """Every failed step of the instance's runs, with its error: what an assertion reports when a run failed."""
    with DagsterInstance.from_config(str(stack.home)) as instance:
        return [f"{entry.dagster_event.step_key}: {str(entry.dagster_event.event_specific_data)[:2000]}"
                for run in instance.get_runs() for entry in instance.all_logs(run.run_id)
                if entry.dagster_event and entry.dagster_event.is_step_failure]  # fmt: skip


def test_a_backfill_from_the_start_date_loads_the_history_before_it_on_postgresql(stack: LocalStack) -> None:
    state = stack.ct_admin.state()
    first = recent_days(1)[0]
    older = [c for c in state["customers"] if c["lastModifiedAt"][:10] < first]
    assert older, "the seed has history before the start date"

    backfill = stack.webserver.finished_backfill(stack.webserver.launch_backfill(recent_days(1), title="production"))
    assert backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), (backfill, step_failures(stack))
    assert {stack.webserver.run(run["runId"])["status"] for run in backfill["runs"]} == {"SUCCESS"}

    ledger = ledger_of(stack)
    try:
        unfinished = [(t, e.status, e.error_code) for t in ENTITY_TYPES
                      for e in ledger.entries(t, status=["failed", "waiting"])]  # fmt: skip
        assert unfinished == []
        known = {e.key.source_id for e in ledger.entries("customer")}
        assert {c["id"] for c in state["customers"]} <= known  # the older ones too
        synced_refs = {e.fluent_ref for e in ledger.entries("customer", status="synced")}
        assert synced_refs and synced_refs <= {c["username"] for c in stack.fluent_admin.state()["customers"]}
        assert len(ledger.entries("order", status="synced")) >= 10
    finally:
        ledger.engine.dispose()

    # Dagster's runs and the ledger share the PostgreSQL database.
    engine = create_engine(stack.ledger_url())
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"runs", "event_logs", "ctfluent_sync_state", "ctfluent_sync_attempts"} <= tables


def test_orders_completed_in_fluent_are_complete_in_commercetools_and_the_back_sync_runs_succeed(
    stack: LocalStack,
) -> None:
    ledger = ledger_of(stack)
    try:
        synced = [(e.key.source_id, e.fluent_ref or "") for e in ledger.entries("order", status="synced")]
    finally:
        ledger.engine.dispose()
    states = {o["id"]: o["orderState"] for o in stack.ct_admin.state()["orders"]}
    chosen = [(order_id, ref) for order_id, ref in synced if states[order_id] in ("Open", "Confirmed")][:3]
    assert len(chosen) == 3

    assert stack.webserver.start_sensor("fluent_order_status_sensor") == "RUNNING"
    storefront = Storefront(stack.env)
    started = time.monotonic()
    for _, ref in chosen:
        stack.fluent_admin.call("POST", f"/orders/{ref}/status", {"status": "COMPLETE"})  # as a Fluent workflow would
    for order_id, _ in chosen:
        wait_for("the order to be Complete in commercetools",
                 lambda order_id=order_id: storefront.order(order_id)["orderState"] == "Complete",
                 seconds=90, every=0.5)  # fmt: skip
    assert time.monotonic() - started < 90

    with DagsterInstance.from_config(str(stack.home)) as instance:

        def back_sync_runs_ended() -> list[DagsterRunStatus] | None:
            runs = instance.get_runs(RunsFilter(job_name="order_status_back_sync"))
            statuses = [run.status for run in runs]
            return statuses if runs and all(run.is_finished for run in runs) else None

        statuses = wait_for("the back-sync runs to end", back_sync_runs_ended, seconds=60)
    assert set(statuses) == {DagsterRunStatus.SUCCESS}, (statuses, step_failures(stack))

    ledger = ledger_of(stack)
    try:
        written = ledger.entries("order_status", status="synced")
    finally:
        ledger.engine.dispose()
    assert {e.key.source_id for e in written} >= {ref for _, ref in chosen}
    assert all((e.source_version or 0) > 2**31 for e in written)  # updatedOn in epoch milliseconds
