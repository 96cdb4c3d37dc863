"""Hooks, delta runs, pre-flight, secrets and personal data in the event log, Dagster on PostgreSQL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from dagster import DagsterInstance
from dagster._serdes import serialize_value

from ctfluent_dagster.entities.shared import fluent_username
from ctfluent_dagster.jobs import preflight
from ctfluent_dagster.ledger.store import Ledger
from ctfluent_dagster.resources import CommercetoolsWriteResource
from tests.harness import Sandbox, modified_on
from tests.support import FLUENT_CUSTOMERS, busiest_day, materialization_metadata, personal_data_found

EXAMPLE_HOOKS = "ctfluent_dagster.examples.customer_hooks"


def test_the_example_hooks_change_payload_selection_and_variables(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "CTFLUENT_CUSTOMERS__HOOKS",
        json.dumps(
            {
                "payload": [f"{EXAMPLE_HOOKS}:add_loyalty_tier"],
                "query_fields": [f"{EXAMPLE_HOOKS}:also_select_status"],
                "query_variables": [f"{EXAMPLE_HOOKS}.tag_integration"],
            }
        ),
    )
    target = modified_on(sandbox.ct_customers(), busiest_day(sandbox))[0]
    preferences = {"typeId": "type", "key": "customer-preferences"}
    changed = sandbox.ct_update(
        target["id"], {"action": "setCustomType", "type": preferences, "fields": {"loyaltyTier": "gold"}}
    )
    metadata = materialization_metadata(sandbox.sync(changed["lastModifiedAt"][:10], ids=[target["id"]]))
    assert metadata["failed"] == 0

    fluent = sandbox.fluent_by_username()[fluent_username("1", target["email"])]
    attributes = {a["name"]: a["value"] for a in fluent["attributes"]}
    assert attributes["loyaltyTier"] == "gold"  # payload hook
    assert attributes["syncedBy"] == "ctfluent"  # variables hook
    # The changed document was checked against the server's schema (one introspection) before it was sent.
    assert sandbox.fluent_admin.request_counts()["by_target"].get("IntrospectionQuery", 0) == 1


def test_a_hook_selecting_a_field_fluent_lacks_fails_before_sending(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    module = tmp_path / "bad_hooks.py"
    module.write_text("def select_points(fields, operation):\n    return [*fields, 'loyaltyPoints']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("CTFLUENT_CUSTOMERS__HOOKS", json.dumps({"query_fields": ["bad_hooks:select_points"]}))
    metadata = materialization_metadata(sandbox.sync(busiest_day(sandbox)))
    assert metadata["created"] == 0 and metadata["failed"] > 0
    messages = {row.data["message"] for row in metadata["failures"].records}
    assert any("Cannot query field 'loyaltyPoints'" in m for m in messages), messages
    assert sandbox.mutations() == {"createCustomer": 0, "updateCustomer": 0}


def test_a_delta_run_rereads_and_pushes_only_the_given_ids(sandbox: Sandbox) -> None:
    day = busiest_day(sandbox)
    targets = [c["id"] for c in modified_on(sandbox.ct_customers(), day)[:3]]
    metadata = materialization_metadata(sandbox.sync(day, ids=targets))
    assert (metadata["mode"], metadata["ids_requested"], metadata["records_read"]) == ("delta", 3, 3)
    assert {e.key.source_id for e in Ledger(sandbox.ledger_url).entries("customer")} == set(targets)


def test_preflight_reports_each_check(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    result = preflight.execute_in_process(resources=sandbox.resources())
    assert result.success
    (output,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    details = {k: v.value for k, v in output.step_output_data.metadata.items()}
    assert details["commercetools token and scopes"].startswith("OK: granted: ")
    assert "view_customers:ctfluent-demo" in details["commercetools token and scopes"]
    assert details["commercetools project"].startswith("OK: project ctfluent-demo (")
    assert details["commercetools project"].endswith("; messages enabled, kept 15 days")
    assert details["Fluent login"].startswith("OK: logged in")
    assert details["Fluent retailer 1"].startswith("OK: retailer 1: ")
    write_client = details["commercetools write client (order status back-sync)"]
    assert write_client.startswith("OK: granted: ") and "manage_orders:ctfluent-demo" in write_client

    without_writer = {**sandbox.resources(), "commercetools_write": CommercetoolsWriteResource(project_key="x")}
    off = preflight.execute_in_process(resources=without_writer)
    assert off.success  # the back-sync is optional: off is no failure, but it says so
    (output,) = [e for e in off.all_events if e.event_type_value == "STEP_OUTPUT"]
    assert (
        "the back-sync is OFF"
        in output.step_output_data.metadata["commercetools write client (order status back-sync)"].value
    )

    monkeypatch.setenv("CTFLUENT_CUSTOMERS__STORE_RETAILERS", '{"eu-store": "99"}')
    failed = preflight.execute_in_process(resources=sandbox.resources(), raise_on_error=False)
    assert not failed.success
    (failure,) = [e for e in failed.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "Fluent retailer 99" in failure.step_failure_data.error.message


def test_no_secret_and_no_raw_personal_data_in_the_event_log(sandbox: Sandbox) -> None:
    sandbox.fluent_admin.add_fault(match="createCustomer", status=500, times=4)  # some failures with messages
    instance = DagsterInstance.ephemeral()
    days = sorted(sandbox.days_with_customers())
    result = sandbox.sync((days[0], days[-1]), instance=instance, retry_max_attempts=1)
    assert materialization_metadata(result)["failed"] > 0 and materialization_metadata(result)["skipped"] > 0

    log = "\n".join(serialize_value(entry) for entry in instance.all_logs(result.run_id))
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    log += json.dumps(run.run_config) + json.dumps(dict(run.tags))
    secrets = [sandbox.env[name] for name in ("CTP_CLIENT_SECRET", "FLUENT_CLIENT_SECRET", "FLUENT_PASSWORD")]
    assert not [s for s in secrets if s in log]
    leaks = personal_data_found(log, sandbox.ct_customers())
    assert not leaks, leaks[:5]
    assert re.search(r"[^\s\"]\*\*\*@[^\s\"]\*\*\*\.", log)  # masked emails are there


@pytest.mark.postgres
@pytest.mark.parametrize("ledger_url", ["postgresql"], indirect=True)  # Dagster's storage shares its database
def test_dagster_runs_on_postgres_storage_with_the_ledger_in_the_same_database(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    postgres_database = sandbox.ledger_url
    url = postgres_database.replace("postgresql+psycopg2://", "postgresql://")
    (home / "dagster.yaml").write_text(f"storage:\n  postgres:\n    postgres_url: {url}\n")
    with DagsterInstance.from_config(str(home)) as instance:
        day = busiest_day(sandbox)
        result = sandbox.sync(day, instance=instance)
        assert result.success
        event = instance.get_latest_materialization_event(FLUENT_CUSTOMERS)
        assert event is not None and event.run_id == result.run_id
        assert event.asset_materialization is not None and event.asset_materialization.partition == day
    from sqlalchemy import create_engine, inspect

    engine = create_engine(postgres_database)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"event_logs", "runs", "alembic_version", "ctfluent_sync_state", "ctfluent_ledger_version"} <= tables
