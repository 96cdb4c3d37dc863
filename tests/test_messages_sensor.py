from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from dagster import RunRequest, SensorResult, build_schedule_context, build_sensor_context

from ctfluent_dagster.assets import ENTITY_DEFINITIONS
from ctfluent_dagster.assets.factory import build_entity
from ctfluent_dagster.entities import ENTITIES
from ctfluent_dagster.entities.customers.declaration import ENTITY as CUSTOMERS
from ctfluent_dagster.entities.shared import fluent_username
from ctfluent_dagster.ledger.store import Claim, Ledger
from ctfluent_dagster.messages.poller import MessagePoller, MessagesDisabledError, PollCursor
from ctfluent_dagster.partitions import days_between
from ctfluent_dagster.records import Dependency, LedgerKey, Outcome
from ctfluent_dagster.resources import LedgerResource
from ctfluent_dagster.sensors.messages import build_messages_sensor
from ctfluent_dagster.sensors.waiting import build_waiting_sensor
from ctfluent_dagster.settings import MessagesSettings
from tests.harness import Sandbox, modified_on
from tests.support import (
    FLUENT_CUSTOMERS_ASSET,
    busiest_day,
    check_passed,
    materialization_metadata,
    midday_in_the_past,
    run_redrive,
)

# The sensor for the customers alone (the code location's covers every entity; see test_messages_routing.py).
SENSOR = build_messages_sensor(MessagesSettings(), [CUSTOMERS], jobs=ENTITY_DEFINITIONS["customers"].jobs[:1])


def scope_of(request: RunRequest, op: str = "fluent__customers") -> dict[str, Any]:
    config: dict[str, Any] = request.run_config["ops"][op]["config"]
    return config


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
    # The changes happen at 12:00 UTC yesterday by the emulator's clock: their day is known, whatever the time now.
    changed_at = midday_in_the_past(sandbox)
    cursor = PollCursor(created_at=changed_at - timedelta(seconds=1)).encode()
    target, other = sandbox.ct_customers()[:2]
    sandbox.ct_update(target["id"], {"action": "changeEmail", "email": "Moved.Here@Example.org"})
    sandbox.ct_update(other["id"], {"action": "setFirstName", "firstName": "Sensed"})
    sandbox.ct_update(other["id"], {"action": "setMiddleName", "middleName": "NoMessage"})

    result = tick(sandbox, cursor)
    (request,) = result.run_requests or []
    assert request.job_name == "customers_sync" and request.partition_key == changed_at.strftime("%Y-%m-%d")
    assert sorted(scope_of(request)["ids"]) == sorted([target["id"], other["id"]])
    assert scope_of(request, "commercetools__customers") == scope_of(request)  # both assets: one scope
    assert [r.run_key for r in tick(sandbox, cursor).run_requests or []] == [
        request.run_key
    ]  # re-evaluation: the same run

    metadata = materialization_metadata(sandbox.run_request(request))
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
    before = sandbox.ct.clock.now()  # the emulator's clock (not moved here) and the sensor's agree
    since = before - timedelta(days=20)
    old_cursor = PollCursor(created_at=since, id="x").encode()
    requests = tick(sandbox, old_cursor).run_requests or []
    after = sandbox.ct.clock.now()
    assert {r.job_name for r in requests} == {"customers_sync"}
    resyncs = [r for r in requests if not scope_of(r).get("reconcile_deletions")]
    full_days = sorted(str(r.partition_key) for r in resyncs)
    # The gap ends with the tick's day: the day of `before`, or of `after` should midnight have passed meanwhile.
    last = full_days[-1]
    assert last in {before.strftime("%Y-%m-%d"), after.strftime("%Y-%m-%d")}
    assert full_days == days_between(since.date(), date.fromisoformat(last))
    assert len(full_days) == 21 + (last != before.strftime("%Y-%m-%d"))
    assert all(
        scope_of(r).get("ids", []) == [] and scope_of(r, "commercetools__customers").get("ids", []) == []
        for r in resyncs
    )
    (deletions,) = [r for r in requests if scope_of(r).get("reconcile_deletions")]
    assert deletions.partition_key == last
    assert scope_of(deletions, "commercetools__customers")["reconcile_deletions"] is True


# -- deletions and reconciliation ---------------------------------------------------------------------


def test_a_deleted_customer_is_marked_in_fluent_and_later_changes_are_ignored(sandbox: Sandbox) -> None:
    day = busiest_day(sandbox)
    sandbox.sync(day)
    # One in Fluent (the seed skips some customers of each day, e.g. for their email).
    synced = {entry.key.source_id for entry in Ledger(sandbox.ledger_url).entries("customer", status="synced")}
    target = next(c for c in modified_on(sandbox.ct_customers(), day) if not c.get("stores") and c["id"] in synced)
    sandbox.ct_delete(target["id"])

    (request,) = tick(sandbox).run_requests or []
    assert request.job_name == "customers_sync" and scope_of(request)["deleted_ids"] == [target["id"]]
    result = sandbox.run_request(request)
    assert result.success
    metadata = materialization_metadata(result)
    assert (metadata["mode"], metadata["deactivated"], metadata["failed"]) == ("delete", 1, 0)
    fluent = sandbox.fluent_by_username()[fluent_username("1", target["email"])]
    attributes = {a["name"]: a["value"] for a in fluent["attributes"]}
    assert attributes["ctDeleted"] is True and fluent["promotionOptIn"] is False
    assert [e.status for e in Ledger(sandbox.ledger_url).entries("customer", source_ids=[target["id"]])] == ["deleted"]

    sandbox.fluent_admin.clear_request_counts()
    stale = materialization_metadata(sandbox.sync(day, assets=[FLUENT_CUSTOMERS_ASSET]))  # its staged copy exists
    assert stale["superseded"] >= 1 and sandbox.mutations() == {"createCustomer": 0, "updateCustomer": 0}


def test_reconciliation_marks_deletions_that_sent_no_message(sandbox: Sandbox) -> None:
    day = busiest_day(sandbox)
    sandbox.sync(day)
    sandbox.ct_admin.call("PUT", "/messages", {"enabled": False})
    gone = modified_on(sandbox.ct_customers(), day)[:2]
    for customer in gone:
        sandbox.ct_delete(customer["id"])
    schedule = next(s for s in ENTITY_DEFINITIONS["customers"].schedules if s.name.endswith("deletion_reconciliation"))
    request = schedule(build_schedule_context(scheduled_execution_time=sandbox.ct.clock.now()))
    assert isinstance(request, RunRequest)
    result = sandbox.run_request(request)
    assert result.success
    metadata = materialization_metadata(result)
    # Both were pushed before (marked in Fluent); nothing else is missing from commercetools.
    assert (metadata["mode"], metadata["deactivated"], metadata["gone"], metadata["failed"]) == (
        "reconcile-deletions", 2, 0, 0
    )  # fmt: skip
    statuses = {e.key.source_id: e.status for e in Ledger(sandbox.ledger_url).entries("customer")}
    assert {statuses[c["id"]] for c in gone} == {"deleted"}
    assert sum(status == "deleted" for status in statuses.values()) == 2
    in_fluent = sandbox.fluent_by_username()
    for customer in gone:  # marked in Fluent, which cannot delete customers
        fluent = in_fluent[fluent_username("1", customer["email"])]
        assert {"name": "ctDeleted", "type": "BOOLEAN", "value": True} in fluent["attributes"]


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
    assert materialization_metadata(result)["gone"] == 1  # never reached Fluent: only the ledger learns it
    assert check_passed(result)


def test_the_reconciliation_schedules_resync_the_last_days_and_look_for_deletions() -> None:
    schedule, deletions = build_entity(CUSTOMERS, ENTITIES, MessagesSettings(reconciliation_days=3)).schedules
    when = date(2026, 11, 20)
    context = build_schedule_context(scheduled_execution_time=datetime_at(when, 2))
    requests = schedule(context)
    assert isinstance(requests, list)
    assert [r.partition_key for r in requests] == [str(when - timedelta(days=n)) for n in (3, 2, 1, 0)]
    assert all(r.job_name == "customers_sync" for r in requests)
    assert all(scope_of(r, "commercetools__customers").get("ids", []) == [] for r in requests)
    request = deletions(build_schedule_context(scheduled_execution_time=datetime_at(when, 2)))
    assert isinstance(request, RunRequest)
    assert (deletions.job_name, request.partition_key) == ("customers_sync", str(when))
    assert scope_of(request)["reconcile_deletions"] is True and scope_of(request).get("ids", []) == []


def datetime_at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


# -- waiting records -----------------------------------------------------------------------------------------


def test_the_waiting_sensor_requests_a_run_once_what_a_record_waits_for_has_synced(ledger_url: str) -> None:
    url = ledger_url
    ledger = Ledger(url)
    ledger.migrate()
    sensor = build_waiting_sensor(MessagesSettings(), [CUSTOMERS], jobs=ENTITY_DEFINITIONS["customers"].jobs[:1])

    def waiting_tick() -> SensorResult:
        with build_sensor_context(resources={"ledger": LedgerResource(url=url)}) as context:
            result = sensor(context)
        assert isinstance(result, SensorResult)
        return result

    def record(outcome: Outcome) -> None:
        ledger.claim([Claim(outcome.key, 1)], owner="r", lease_seconds=60)
        ledger.record([outcome], owner="r", run_id="r")

    def waiting_on(source_id: str, *needs: str) -> Outcome:
        return Outcome(LedgerKey("customer", source_id, "1"), "waiting", 1, partition_key="2026-11-20",
                       waiting_for=tuple(Dependency("customer", source_id=n) for n in needs))  # fmt: skip

    record(waiting_on("c1", "p1"))
    record(waiting_on("c2", "p1", "p2"))
    assert waiting_tick().run_requests == []  # nothing it waits for is in Fluent
    record(Outcome(LedgerKey("customer", "p1", "1"), "synced", 1, fluent_ref="1_p1", fluent_id="9"))

    (request,) = waiting_tick().run_requests or []
    assert (request.job_name, request.partition_key) == ("customers_sync", "2026-11-20")
    assert scope_of(request)["ids"] == ["c1"] and scope_of(request, "commercetools__customers")["ids"] == ["c1"]
    assert [r.run_key for r in waiting_tick().run_requests or []] == [request.run_key]  # the same run, not a new one
    time.sleep(0.01)
    record(waiting_on("c1", "p1"))  # that run could not push it after all: it waits again
    assert [r.run_key for r in waiting_tick().run_requests or []] != [request.run_key]  # so it is tried again
    ledger.engine.dispose()
