"""Customer sync end to end: Dagster assets materialized in process against the sandbox over real HTTP."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from dagster import DagsterInstance

from ctfluent_dagster.entities.customers.sync import OPERATIONS
from ctfluent_dagster.entities.shared import fluent_username
from tests.harness import Sandbox, modified_on
from tests.support import (
    COMMERCETOOLS_CUSTOMERS_ASSET,
    FLUENT_CUSTOMERS_ASSET,
    busiest_day,
    check_passed,
    ledger,
    materialization_metadata,
    run_redrive,
    today,
)


def test_a_partition_pushes_exactly_the_customers_modified_that_day(sandbox: Sandbox) -> None:
    day = busiest_day(sandbox)
    expected = modified_on(sandbox.ct_customers(), day)
    result = sandbox.sync(day)

    metadata = materialization_metadata(result)
    assert metadata["records_read"] == len(expected)
    assert metadata["created"] + metadata["skipped"] == len(expected)  # default retailer only: one each
    assert metadata["failed"] == 0 and check_passed(result)
    in_fluent = sandbox.fluent_by_username()
    assert len(in_fluent) == metadata["created"]
    for customer in expected:
        username = fluent_username("1", customer["email"])
        entries = ledger(sandbox).entries("customer", source_ids=[customer["id"]])
        assert [e.status for e in entries] in (["synced"], ["skipped"])
        if entries[0].status == "synced":
            fluent = in_fluent[username]
            assert (fluent["primaryEmail"], fluent["retailer"]["id"]) == (customer["email"].strip(), "1")
            assert {"name": "ctCustomerId", "type": "STRING", "value": customer["id"]} in fluent["attributes"]
            assert entries[0].fluent_ref == username and entries[0].source_version == customer["version"]


@pytest.mark.parametrize("batch_size", [1, 10])
def test_a_range_backfill_then_a_rerun_that_sends_nothing(
    sandbox: Sandbox, batch_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTFLUENT_FLUENT_BATCH_SIZE", str(batch_size))
    days = sorted(sandbox.days_with_customers())
    first = sandbox.sync((days[0], days[-1]))
    metadata = materialization_metadata(first)
    assert metadata["records_read"] == len(sandbox.ct_customers())
    created = metadata["created"]
    assert created == len(sandbox.fluent_customers()) > 0 and metadata["updated"] == 0
    requests = sandbox.mutations()["createCustomer"]
    if batch_size == 1:
        assert requests == created  # one request per customer
    else:
        assert created / batch_size <= requests < created / batch_size + 2 * len(days)  # full batches but per chunk
    quoted = next(c for c in sandbox.ct_customers() if '"' in c["email"])
    assert fluent_username("1", quoted["email"]) in sandbox.fluent_by_username()

    sandbox.fluent_admin.clear_request_counts()
    again = materialization_metadata(sandbox.sync((days[0], days[-1])))
    assert sandbox.mutations() == {"createCustomer": 0, "updateCustomer": 0}
    assert (again["unchanged"], again["created"], again["updated"]) == (created, 0, 0)


def test_an_email_change_updates_the_same_fluent_customer(sandbox: Sandbox) -> None:
    day = busiest_day(sandbox)
    sandbox.sync(day)
    sandbox.sync(today(sandbox))
    target = next(c for c in modified_on(sandbox.ct_customers(), day) if "'" not in c["email"])
    old_username = fluent_username("1", target["email"])
    before = sandbox.fluent_by_username()[old_username]

    changed = sandbox.ct_update(target["id"], {"action": "changeEmail", "email": "Renamed.Person@Example.org"})
    sandbox.fluent_admin.clear_request_counts()
    sandbox.sync(changed["lastModifiedAt"][:10])

    after = sandbox.fluent_by_username()
    assert fluent_username("1", "Renamed.Person@Example.org") not in after  # the identity never changes
    assert after[old_username]["id"] == before["id"]
    assert after[old_username]["primaryEmail"] == "Renamed.Person@Example.org"
    assert sandbox.mutations() == {"createCustomer": 0, "updateCustomer": 1}


def test_customers_in_several_mapped_stores_go_to_each_retailer(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTFLUENT_CUSTOMERS__STORE_RETAILERS", '{"eu-store": "1", "us-store": "2", "au-store": "3"}')
    days = sorted(sandbox.days_with_customers())
    metadata = materialization_metadata(sandbox.sync((days[0], days[-1])))
    assert metadata["failed"] == 0
    in_fluent = sandbox.fluent_by_username()
    multi = [c for c in sandbox.ct_customers() if len(c.get("stores", [])) > 1]
    assert multi, "the seed has customers in several stores"
    store_retailer = {"eu-store": "1", "us-store": "2", "au-store": "3"}
    in_several_retailers = 0
    for customer in multi:
        entries = {e.key.target_key: e for e in ledger(sandbox).entries("customer", source_ids=[customer["id"]])}
        if set(entries) == {""}:  # not mappable at all (e.g. no email): one skip, with its reason
            assert entries[""].status == "skipped" and entries[""].error_message
            continue
        # One Fluent customer per retailer of its stores: each in Fluent under that retailer, or skipped with why.
        assert set(entries) == {store_retailer[store["key"]] for store in customer["stores"]}
        for retailer, entry in entries.items():
            assert entry.status in ("synced", "skipped"), entry
            if entry.status == "skipped":
                assert entry.error_message
                continue
            assert in_fluent[fluent_username(retailer, customer["email"])]["retailer"]["id"] == retailer
        in_several_retailers += sum(e.status == "synced" for e in entries.values()) > 1
    assert in_several_retailers > 0


def test_an_older_staged_version_is_never_pushed(sandbox: Sandbox) -> None:
    day = busiest_day(sandbox)
    sandbox.sync(day)
    target = modified_on(sandbox.ct_customers(), day)[0]
    changed = sandbox.ct_update(target["id"], {"action": "setFirstName", "firstName": "Newer"})
    sandbox.sync(changed["lastModifiedAt"][:10])
    sandbox.fluent_admin.clear_request_counts()

    # Re-run only the Fluent asset of the old day: its staged dataset still holds the older version.
    metadata = materialization_metadata(sandbox.sync(day, assets=[FLUENT_CUSTOMERS_ASSET]))
    assert metadata["superseded"] == 1
    assert sandbox.mutations() == {"createCustomer": 0, "updateCustomer": 0}
    assert sandbox.fluent_by_username()[fluent_username("1", target["email"])]["firstName"] == "Newer"


def test_create_only_links_an_existing_fluent_customer_without_updating_it(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTFLUENT_CUSTOMERS__UPDATE_POLICY", "create_only")
    day = busiest_day(sandbox)
    target = modified_on(sandbox.ct_customers(), day)[0]
    existing = create_in_fluent(sandbox, fluent_username("1", target["email"]), first_name="Kept")

    metadata = materialization_metadata(sandbox.sync(day))
    assert metadata["linked"] == 1
    fluent = sandbox.fluent_by_username()[existing["username"]]
    assert (fluent["id"], fluent["firstName"]) == (existing["id"], "Kept")
    assert sandbox.mutations()["updateCustomer"] == 0


def test_upsert_heals_an_existing_customer_and_a_vanished_one(sandbox: Sandbox) -> None:
    day = busiest_day(sandbox)
    first, second = modified_on(sandbox.ct_customers(), day)[:2]
    existing = create_in_fluent(sandbox, fluent_username("1", first["email"]), first_name="Stale")
    metadata = materialization_metadata(sandbox.sync(day))
    assert metadata["failed"] == 0
    healed = sandbox.fluent_by_username()[existing["username"]]
    assert healed["id"] == existing["id"] and healed["firstName"] != "Stale"  # created hit "exists": updated

    sandbox.fluent.reset_store()  # Fluent lost every customer (e.g. a re-created sandbox account)
    changed = sandbox.ct_update(second["id"], {"action": "setLastName", "lastName": "Changed"})
    sandbox.fluent_admin.clear_request_counts()
    metadata = materialization_metadata(sandbox.sync(changed["lastModifiedAt"][:10]))
    assert metadata["created"] >= 1 and metadata["failed"] == 0  # update hit "not found": created again
    assert sandbox.fluent_by_username()[fluent_username("1", second["email"])]["lastName"] == "Changed"


def test_faults_end_without_duplicates_and_every_failure_is_recorded_then_redriven(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTFLUENT_FLUENT_BATCH_SIZE", "1")  # each fault hits one customer's own request
    days = sorted(sandbox.days_with_customers())
    for rule in (
        {"match": "createCustomer", "drop": "after", "times": 5},  # written, answer lost
        {"match": "createCustomer", "drop": "before", "times": 3},
        {"match": "createCustomer", "status": 503, "times": 4},
        {"match": "createCustomer", "status": 429, "retry_after": 0, "times": 2},
        {"match": "createCustomer", "error_code": "C0011E", "times": 3},
        {"match": "createCustomer", "latency_ms": 5, "times": 50},
    ):
        sandbox.fluent_admin.add_fault(**rule)
    # Then an outage long enough to exhaust the retries of some customers.
    sandbox.fluent_admin.add_fault(match="createCustomer", status=500, after=60, times=40)
    result = sandbox.sync((days[0], days[-1]), retry_max_attempts=3)

    metadata = materialization_metadata(result)
    failed = ledger(sandbox).entries("customer", status="failed")
    assert metadata["failed"] == len(failed) > 0
    assert not check_passed(result)
    assert all(f.error_code and f.error_message and f.run_id == result.run_id for f in failed)
    assert {row.data["commercetools_id"] for row in metadata["failures"].records} == {f.key.source_id for f in failed}
    synced = ledger(sandbox).entries("customer", status="synced")
    counts = ledger(sandbox).status_counts("customer")
    assert sum(counts.values()) == metadata["records_read"]  # every record accounted for
    in_fluent = set(sandbox.fluent_by_username())  # asserts no duplicate username
    assert {e.fluent_ref for e in synced} <= in_fluent
    # A create whose answer was lost may exist although its record failed; nothing else is in Fluent.
    by_id = {c["id"]: c for c in sandbox.ct_customers()}
    lost_answers = {fluent_username("1", by_id[f.key.source_id]["email"]) for f in failed}
    assert in_fluent <= {e.fluent_ref for e in synced} | lost_answers

    sandbox.fluent_admin.clear_faults()
    redrive = run_redrive(sandbox)
    assert redrive.success
    assert ledger(sandbox).entries("customer", status="failed") == []
    assert check_passed(redrive)
    synced_after = ledger(sandbox).entries("customer", status="synced")
    assert len(synced_after) == len(synced) + len(failed)
    assert set(sandbox.fluent_by_username()) == {e.fluent_ref for e in synced_after}


def test_a_green_partition_does_not_hide_a_red_one(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTFLUENT_FLUENT_BATCH_SIZE", "1")
    days = [day for day, _ in sandbox.days_with_customers().most_common(2)]
    sandbox.fluent_admin.add_fault(match="createCustomer", status=500, times=1)
    red = sandbox.sync(days[0], retry_max_attempts=1)
    assert materialization_metadata(red)["failed"] == 1 and not check_passed(red)
    green = sandbox.sync(days[1])
    assert materialization_metadata(green)["failed"] == 0
    assert not check_passed(green)  # the failure of the other partition is still outstanding


def test_a_record_fluent_refuses_fails_alone_inside_a_batch(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTFLUENT_CUSTOMERS__STORE_RETAILERS", '{"eu-store": "1", "au-store": "99"}')  # no retailer 99
    days = sorted(sandbox.days_with_customers())
    metadata = materialization_metadata(sandbox.sync((days[0], days[-1])))
    in_au = [c for c in sandbox.ct_customers() if any(s["key"] == "au-store" for s in c.get("stores", []))]
    failed = ledger(sandbox).entries("customer", status="failed")
    assert {(f.key.source_id, f.key.target_key) for f in failed} <= {(c["id"], "99") for c in in_au}
    assert len(failed) == metadata["failed"] > 0
    assert {f.error_code for f in failed} == {"C0120E"}
    synced = ledger(sandbox).entries("customer", status="synced")
    assert metadata["created"] == len(synced) == len(sandbox.fluent_by_username())
    assert all(e.key.target_key == "1" for e in synced)


def test_two_runs_on_one_partition_at_once_push_each_customer_once(sandbox: Sandbox) -> None:
    days = sorted(sandbox.days_with_customers())
    sandbox.sync((days[0], days[-1]), assets=[COMMERCETOOLS_CUSTOMERS_ASSET])  # stage once
    sandbox.fluent_admin.add_fault(match="createCustomer", latency_ms=20)  # keep both runs in flight together
    results: list[Any] = []
    # Two runs in one process stand in for two run processes. Dagster creates an instance with Alembic, whose
    # proxies are process-global, so the instances are made before the threads start.
    instances = [DagsterInstance.ephemeral() for _ in range(2)]

    def run(instance: DagsterInstance) -> None:
        results.append(sandbox.sync((days[0], days[-1]), assets=[FLUENT_CUSTOMERS_ASSET], instance=instance))

    threads = [threading.Thread(target=run, args=(instance,)) for instance in instances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and all(r.success for r in results)  # both runs completed
    metadata = [materialization_metadata(r) for r in results]
    # Each customer created exactly once: a second push would have hit "already exists" and become an update.
    assert sum(m["created"] for m in metadata) == len(sandbox.fluent_by_username())
    assert sum(m["updated"] for m in metadata) == 0
    assert ledger(sandbox).status_counts("customer").get("failed", 0) == 0


def create_in_fluent(sandbox: Sandbox, username: str, first_name: str) -> dict[str, Any]:
    client = sandbox.resources()["fluent"].get_client()
    created: dict[str, Any] = client.execute(
        OPERATIONS["CreateCustomer"],
        {
            "input": {
                "username": username,
                "firstName": first_name,
                "primaryEmail": username.split("_", 1)[1],
                "timezone": "UTC",
                "promotionOptIn": False,
                "retailer": {"id": "1"},
            }
        },
    )["createCustomer"]
    sandbox.fluent_admin.clear_request_counts()
    return {"id": created["id"], "username": username}
