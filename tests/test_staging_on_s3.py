"""Syncs staging on S3 (a real S3 server over HTTP: moto in server mode, started by the `s3_endpoint` fixture).

Production runs on Kubernetes: a run's steps, a retried run and a re-executed step may each run in another pod,
with no disk in common. Here the steps run in separate processes and find, through S3 alone, what the
commercetools step staged."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from dagster import (
    DagsterEventType,
    DagsterInstance,
    Definitions,
    JobDefinition,
    ReexecutionOptions,
    execute_job,
    multiprocess_executor,
    reconstructable,
)

from ctfluent_dagster.assets import ENTITY_DEFINITIONS
from ctfluent_dagster.entities.customers.declaration import ENTITY as CUSTOMERS
from ctfluent_dagster.entities.shared import fluent_username
from tests.harness import Sandbox, modified_on, sandbox_resources
from tests.support import (
    COMMERCETOOLS_CUSTOMERS_ASSET,
    FLUENT_CUSTOMERS,
    FLUENT_CUSTOMERS_ASSET,
    S3_BUCKET,
    busiest_day,
    ledger,
    materialization_metadata,
    s3_client,
    today,
)


def staged(url: str, endpoint: str) -> dict[str, bytes]:
    """The objects under a staging URL, by key below it; the content of the `.gone.json` ones."""
    client = s3_client(endpoint)
    prefix = url.removeprefix(f"s3://{S3_BUCKET}/") + "/"
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=S3_BUCKET, Prefix=prefix).get("Contents", [])]
    return {
        key.removeprefix(prefix): client.get_object(Bucket=S3_BUCKET, Key=key)["Body"].read()
        if key.endswith(".gone.json") else b""
        for key in keys
    }  # fmt: skip


def customers_sync_in_processes() -> JobDefinition:
    """The customers' sync job (both assets and the failures check) with a process per step. Rebuilt in each step's
    process from the environment the test sets (the sandbox's connection settings, the ledger, the staging URL)."""
    customers = ENTITY_DEFINITIONS[CUSTOMERS.name]
    return Definitions(
        assets=customers.assets,
        asset_checks=customers.checks,
        jobs=customers.jobs,
        executor=multiprocess_executor,
        resources=sandbox_resources(os.environ, os.environ["CTFLUENT_LEDGER_URL"]),
    ).resolve_job_def(CUSTOMERS.sync_job)


def test_a_sync_whose_steps_run_in_separate_processes_stages_on_s3(
    sandbox: Sandbox, s3_staging: str, s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in sandbox.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CTFLUENT_LEDGER_URL", sandbox.ledger_url)
    monkeypatch.setenv("CTFLUENT_STAGING_DIR", s3_staging)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").touch()  # the defaults: SQLite storage under it
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # where staging would default to, were it local
    day = busiest_day(sandbox)
    expected = modified_on(sandbox.ct_customers(), day)
    job = reconstructable(customers_sync_in_processes)

    with DagsterInstance.local_temp(str(home)) as instance:
        result = execute_job(job, instance=instance, tags={"dagster/partition": day})
        assert result.success
        steps = {COMMERCETOOLS_CUSTOMERS_ASSET.op.name, FLUENT_CUSTOMERS_ASSET.op.name}
        pids = {
            event.step_key: event.pid
            for event in result.all_events
            if event.event_type == DagsterEventType.STEP_START and event.step_key in steps
        }
        assert len(pids) == 2 and len(set(pids.values())) == 2 and os.getpid() not in pids.values()
        (staging,) = [e for e in result.get_asset_materialization_events() if e.asset_key != FLUENT_CUSTOMERS]
        dataset = staging.materialization.metadata["dataset"].value
        assert dataset == f"{s3_staging}/customers"  # the URL, nothing more
        (pushed,) = [e for e in result.get_asset_materialization_events() if e.asset_key == FLUENT_CUSTOMERS]
        created = pushed.materialization.metadata["created"].value
        assert created + pushed.materialization.metadata["skipped"].value == len(expected)

        # The Fluent step again, alone, in yet another process (a retried or re-executed step in another pod).
        again = execute_job(
            job,
            instance=instance,
            tags={"dagster/partition": day},
            reexecution_options=ReexecutionOptions(result.run_id, step_selection=[FLUENT_CUSTOMERS_ASSET.op.name]),
        )
        assert again.success
        (repushed,) = again.get_asset_materialization_events()
        assert repushed.materialization.metadata["records_read"].value == len(expected)
        assert repushed.materialization.metadata["unchanged"].value == created

    # The customers reached Fluent.
    in_fluent = sandbox.fluent_by_username()
    synced = {e.key.source_id for e in ledger(sandbox).entries("customer") if e.status == "synced"}
    assert len(in_fluent) == len(synced) == created > 0
    assert {fluent_username("1", c["email"]) for c in expected if c["id"] in synced} == set(in_fluent)
    # The staged dataset is in the bucket, and nothing was staged on the local disk.
    assert staged(s3_staging, s3_endpoint) == {f"customers/{day}/full.parquet": b""}
    assert not list(tmp_path.rglob("*.parquet*")) and not (home / "ctfluent" / "staging").exists()


def test_delta_runs_stage_on_s3_and_a_full_run_of_the_day_supersedes_them(
    sandbox: Sandbox, s3_staging: str, s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delta run of a few ids stages them too (on the same store), with the ids found gone beside them."""
    monkeypatch.setenv("CTFLUENT_STAGING_DIR", s3_staging)
    day = busiest_day(sandbox)
    sandbox.sync(day)
    in_fluent = {e.key.source_id for e in ledger(sandbox).entries("customer") if e.status == "synced"}
    candidates = [c for c in modified_on(sandbox.ct_customers(), day) if c["id"] in in_fluent and not c.get("stores")]
    changed, deleted = candidates[:2]
    sandbox.ct_update(changed["id"], {"action": "setFirstName", "firstName": "Renamed"})
    sandbox.ct_delete(deleted["id"])
    current = today(sandbox)

    metadata = materialization_metadata(sandbox.sync(current, ids=[changed["id"], deleted["id"]]))
    assert (metadata["mode"], metadata["updated"], metadata["deactivated"], metadata["failed"]) == ("delta", 1, 1, 0)
    assert sandbox.fluent_by_username()[fluent_username("1", changed["email"])]["firstName"] == "Renamed"
    objects = staged(s3_staging, s3_endpoint)
    (delta,) = [key for key in objects if key.startswith(f"customers/{current}/delta-") and key.endswith(".parquet")]
    assert objects == {
        f"customers/{day}/full.parquet": b"",
        delta: b"",
        delta.replace(".parquet", ".gone.json"): f'["{deleted["id"]}"]'.encode(),
    }

    sandbox.sync(current)  # the day in full: its deltas are superseded and removed
    assert staged(s3_staging, s3_endpoint) == {
        f"customers/{day}/full.parquet": b"",
        f"customers/{current}/full.parquet": b"",
    }
    assert not list(tmp_path.rglob("*.parquet*"))
