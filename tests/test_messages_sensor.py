"""The Messages API poller, the sensor, deletions and reconciliation, against the sandbox over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dagster import RunRequest, SensorResult, build_schedule_context, build_sensor_context, materialize

from ctfluent_dagster.assets.customers import fluent_customers
from ctfluent_dagster.jobs import customer_sync_job, delete_customers, reconcile_customer_deletions
from ctfluent_dagster.ledger.store import Ledger
from ctfluent_dagster.mapping.customers import fluent_username
from ctfluent_dagster.messages.poller import MessagePoller, MessagesDisabledError, PollCursor
from ctfluent_dagster.schedules import build_reconciliation_schedules
from ctfluent_dagster.sensors.messages import build_messages_sensor
from ctfluent_dagster.settings import MessagesSettings
from tests.harness import CUSTOMER_ASSETS, Sandbox, modified_on
from tests.test_customer_sync import busiest_day, materialization_metadata, run_redrive

SENSOR = build_messages_sensor(
    MessagesSettings(),
    jobs=[customer_sync_job, delete_customers, reconcile_customer_deletions],
    deletions_job=reconcile_customer_deletions.name,
)


@pytest.fixture(autouse=True)
def quick_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTFLUENT_MESSAGES__SETTLE_SECONDS", "0")
    monkeypatch.setenv("CTFLUENT_MESSAGES__OVERLAP_SECONDS", "60")


def poller(sandbox: Sandbox, **options: Any) -> MessagePoller:
    settings: dict[str, Any] = {"settle": timedelta(0), "overlap": timedelta(seconds=60), "max_pages": 20}
    return MessagePoller(sandbox.resources()["commercetools"].get_client(), clock=sandbox.ct.clock.now,
                         **(settings | options))  # fmt: skip


def tick(sandbox: Sandbox, cursor: str | None = None, resources: dict[str, Any] | None = None) -> SensorResult:
    with build_sensor_context(cursor=cursor, resources=resources or sandbox.resources()) as context:
        result = SENSOR(context)
    assert isinstance(result, SensorResult)
    return result


def execute(sandbox: Sandbox, request: RunRequest) -> Any:
    """Run what the sensor requested, in process, as the daemon would."""
    if request.job_name == customer_sync_job.name:
        return materialize(
            CUSTOMER_ASSETS, resources=sandbox.resources(), partition_key=request.partition_key,
            run_config=request.run_config, tags=request.tags,
        )  # fmt: skip
    job = {delete_customers.name: delete_customers, reconcile_customer_deletions.name: reconcile_customer_deletions}
    return job[str(request.job_name)].execute_in_process(run_config=request.run_config, resources=sandbox.resources())


def change_names(sandbox: Sandbox, count: int) -> list[dict[str, Any]]:
    customers = sandbox.ct_customers()[:count]
    return [
        sandbox.ct_update(c["id"], {"action": "setFirstName", "firstName": f"Changed{i}"})
        for i, c in enumerate(customers)
    ]


# -- the poller -------------------------------------------------------------------------------------


def test_each_change_is_read_once(sandbox: Sandbox) -> None:
    changed = change_names(sandbox, 3)
    first = poller(sandbox).poll(PollCursor())
    assert sorted(m.resource.id for m in first.messages) == sorted(c["id"] for c in changed)
    assert {m.type for m in first.messages} == {"CustomerFirstNameSet"}
    second = poller(sandbox).poll(PollCursor.decode(first.cursor.encode()))
    assert second.messages == [] and second.duplicates == 3  # the overlap was read again, nothing kept


def test_the_settle_delay_holds_back_fresh_messages(sandbox: Sandbox) -> None:
    change_names(sandbox, 2)
    settled = poller(sandbox, settle=timedelta(seconds=60))
    early = settled.poll(PollCursor())
    assert early.messages == []
    sandbox.ct.clock.advance(61)
    assert len(settled.poll(early.cursor).messages) == 2


def test_a_message_that_appears_late_is_still_read_once(sandbox: Sandbox) -> None:
    sandbox.ct_admin.call("PUT", "/messages", {"visibility_delay_by_type": {"CustomerFirstNameSet": 30}})
    late, on_time = sandbox.ct_customers()[:2]
    sandbox.ct_update(late["id"], {"action": "setFirstName", "firstName": "Late"})
    sandbox.ct.clock.advance(1)
    sandbox.ct_update(on_time["id"], {"action": "setLastName", "lastName": "OnTime"})
    reader = poller(sandbox)
    first = reader.poll(PollCursor())
    assert [m.resource.id for m in first.messages] == [on_time["id"]]
    sandbox.ct.clock.advance(31)
    second = reader.poll(first.cursor)  # the cursor is past the late message's createdAt
    assert [m.resource.id for m in second.messages] == [late["id"]] and second.late == 1
    assert reader.poll(second.cursor).messages == []


def test_a_backlog_is_read_in_bounded_ticks(sandbox: Sandbox) -> None:
    change_names(sandbox, 250)
    reader = poller(sandbox, page_size=100, max_pages=1)
    cursor, seen, mores = PollCursor(), [], []
    for _ in range(4):
        polled = reader.poll(cursor)
        cursor = polled.cursor
        seen += [m.id for m in polled.messages]
        mores.append(polled.more)
    assert len(seen) == len(set(seen)) == 250
    assert mores == [True, True, False, False]


def test_disabled_messages_fail_with_instructions(sandbox: Sandbox) -> None:
    sandbox.ct_admin.call("PUT", "/messages", {"enabled": False})
    with pytest.raises(MessagesDisabledError, match="changeMessagesConfiguration"):
        poller(sandbox).poll(PollCursor())


def test_a_cursor_older_than_the_retention_reports_the_gap(sandbox: Sandbox) -> None:
    old = sandbox.ct.clock.now() - timedelta(days=20)
    polled = poller(sandbox).poll(PollCursor(created_at=old, id="x"))
    assert polled.gap is not None and polled.gap.since == old and polled.retention_days == 15
    assert polled.cursor.created_at is not None and polled.cursor.created_at > old + timedelta(days=4)


# -- the sensor -------------------------------------------------------------------------------------


def test_sensor_runs_bring_changes_to_fluent(sandbox: Sandbox) -> None:
    days = sorted(sandbox.days_with_customers())
    sandbox.sync((days[0], days[-1]))
    target, other = sandbox.ct_customers()[:2]
    sandbox.ct_update(target["id"], {"action": "changeEmail", "email": "Moved.Here@Example.org"})
    sandbox.ct_update(other["id"], {"action": "setFirstName", "firstName": "Sensed"})
    sandbox.ct_update(other["id"], {"action": "setMiddleName", "middleName": "NoMessage"})

    result = tick(sandbox)
    (request,) = result.run_requests or []
    assert request.job_name == "customer_sync" and request.partition_key == datetime.now(UTC).strftime("%Y-%m-%d")
    scope = request.run_config["ops"]["fluent__customers"]["config"]
    assert sorted(scope["ids"]) == sorted([target["id"], other["id"]])
    assert tick(sandbox).run_requests[0].run_key == request.run_key  # re-evaluation: the same run, not a new one

    metadata = materialization_metadata(execute(sandbox, request))
    assert (metadata["mode"], metadata["records_read"], metadata["updated"]) == ("delta", 2, 2)
    in_fluent = sandbox.fluent_by_username()
    assert in_fluent[fluent_username("1", target["email"])]["primaryEmail"] == "Moved.Here@Example.org"
    assert in_fluent[fluent_username("1", other["email"])]["firstName"] == "Sensed"

    quiet = tick(sandbox, result.cursor)
    assert quiet.run_requests == [] and "no routed messages" in str(quiet.skip_reason)


def test_a_configured_handler_shapes_the_runs(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "CTFLUENT_MESSAGES__HANDLERS", '["ctfluent_dagster.examples.message_handlers:TaggedCustomerUpsert"]'
    )
    change_names(sandbox, 1)
    (request,) = tick(sandbox).run_requests or []
    assert request.tags["team"] == "crm" and request.tags["ctfluent/trigger"] == "messages"


def test_a_failing_commercetools_fails_the_tick(sandbox: Sandbox) -> None:
    change_names(sandbox, 1)
    sandbox.ct_admin.add_fault(match="GET /*/messages", status=503, error_code="OverCapacity")
    resources = sandbox.resources()
    resources["commercetools"] = resources["commercetools"].model_copy(update={"retry_max_attempts": 2})
    with pytest.raises(Exception, match="OverCapacity"):
        tick(sandbox, resources=resources)
    sandbox.ct_admin.clear_faults()
    assert len(tick(sandbox).run_requests or []) == 1  # nothing was lost: the next tick reads it


def test_disabled_messages_fail_the_tick_with_instructions(sandbox: Sandbox) -> None:
    sandbox.ct_admin.call("PUT", "/messages", {"enabled": False})
    with pytest.raises(MessagesDisabledError, match="changeMessagesConfiguration"):
        tick(sandbox)


def test_a_retention_gap_requests_full_days_and_a_deletion_reconciliation(sandbox: Sandbox) -> None:
    since = datetime.now(UTC) - timedelta(days=20)
    old_cursor = PollCursor(created_at=since, id="x").encode()
    requests = tick(sandbox, old_cursor).run_requests or []
    full_days = sorted(r.partition_key for r in requests if r.job_name == "customer_sync")
    assert full_days[0] == since.strftime("%Y-%m-%d") and full_days[-1] == datetime.now(UTC).strftime("%Y-%m-%d")
    assert len(full_days) == 21
    assert all(r.run_config["ops"]["fluent__customers"]["config"]["ids"] == [] for r in requests if r.partition_key)
    assert [r.job_name for r in requests if r.job_name != "customer_sync"] == ["reconcile_customer_deletions"]


# -- deletions and reconciliation ---------------------------------------------------------------------


def test_a_deleted_customer_is_marked_in_fluent_and_later_changes_are_ignored(sandbox: Sandbox) -> None:
    day = busiest_day(sandbox)
    sandbox.sync(day)
    target = next(c for c in modified_on(sandbox.ct_customers(), day) if not c.get("stores"))
    sandbox.ct_delete(target["id"])

    (request,) = tick(sandbox).run_requests or []
    assert request.job_name == "delete_customers"
    assert execute(sandbox, request).success
    fluent = sandbox.fluent_by_username()[fluent_username("1", target["email"])]
    attributes = {a["name"]: a["value"] for a in fluent["attributes"]}
    assert attributes["ctDeleted"] is True and fluent["promotionOptIn"] is False
    assert [e.status for e in Ledger(sandbox.ledger_url).entries("customer", source_ids=[target["id"]])] == ["deleted"]

    sandbox.fluent_admin.clear_request_counts()
    stale = materialization_metadata(sandbox.sync(day, assets=[fluent_customers]))  # its staged copy still exists
    assert stale["superseded"] >= 1 and sandbox.mutations() == {"createCustomer": 0, "updateCustomer": 0}


def test_reconciliation_marks_deletions_that_sent_no_message(sandbox: Sandbox) -> None:
    day = busiest_day(sandbox)
    sandbox.sync(day)
    sandbox.ct_admin.call("PUT", "/messages", {"enabled": False})
    gone = modified_on(sandbox.ct_customers(), day)[:2]
    for customer in gone:
        sandbox.ct_delete(customer["id"])
    result = reconcile_customer_deletions.execute_in_process(resources=sandbox.resources())
    output = result.get_step_success_events()[0]
    assert result.success and output is not None
    statuses = {e.key.source_id: e.status for e in Ledger(sandbox.ledger_url).entries("customer")}
    assert {statuses[c["id"]] for c in gone} == {"deleted"}
    assert sum(status == "deleted" for status in statuses.values()) == 2


def test_redrive_marks_a_failed_customer_that_was_deleted_meanwhile(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTFLUENT_FLUENT_BATCH_SIZE", "1")
    day = busiest_day(sandbox)
    sandbox.fluent_admin.add_fault(match="createCustomer", status=500, times=1)
    sandbox.sync(day, retry_max_attempts=1)
    ledger = Ledger(sandbox.ledger_url)
    (failed,) = ledger.entries("customer", status="failed")
    sandbox.ct_delete(failed.key.source_id)
    result = run_redrive(sandbox)
    assert result.success and ledger.entries("customer", status="failed") == []
    assert [e.status for e in ledger.entries("customer", source_ids=[failed.key.source_id])] == ["deleted"]
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed


def test_the_reconciliation_schedule_resyncs_the_last_days() -> None:
    schedule, deletions = build_reconciliation_schedules(MessagesSettings(reconciliation_days=3))
    when = datetime.now(UTC).replace(hour=2, minute=0, second=0, microsecond=0)
    requests = schedule(build_schedule_context(scheduled_execution_time=when))
    assert [r.partition_key for r in requests] == [
        (when - timedelta(days=n)).strftime("%Y-%m-%d") for n in (3, 2, 1, 0)
    ]
    assert all(r.run_config["ops"]["commercetools__customers"]["config"]["ids"] == [] for r in requests)
    assert deletions.job_name == "reconcile_customer_deletions"
