"""The order status back-sync, Fluent -> commercetools: the actions a status needs (pure), the polling cursor, and
end to end against the sandbox: a status found by polling or by a recorded webhook event reaches commercetools once,
a repeat writes nothing, a 409 race ends in the right state, unmatched orders are counted, and without a write
client the back-sync is off."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dagster import AssetKey, SensorResult, build_sensor_context

from ctfluent_dagster.assets import ENTITY_DEFINITIONS
from ctfluent_dagster.entities.order_status.declaration import ENTITY as ORDER_STATUS
from ctfluent_dagster.entities.order_status.mapping import actions_needed
from ctfluent_dagster.entities.order_status.settings import OrderStatusSettings, StatusTarget
from ctfluent_dagster.entities.shared import commercetools_orders
from ctfluent_dagster.entity import SyncContext
from ctfluent_dagster.fluent.changes import FluentChangesSettings, PollCursor
from ctfluent_dagster.ledger.schema import fluent_events
from ctfluent_dagster.resources import CommercetoolsWriteResource
from ctfluent_dagster.sensors.fluent_changes import build_fluent_changes_sensor
from ctfluent_dagster.sensors.retry import build_retry_sensor
from ctfluent_dagster.settings import SyncSettings
from ctfluent_dagster.webhooks.events import FluentEvent, FluentEventStore
from tests.harness import Sandbox
from tests.support import materialization_metadata
from tests.test_order_sync import EVERYTHING, fluent_orders, ledger, sync

BACK_SYNC = ENTITY_DEFINITIONS[ORDER_STATUS.name]
Change = dict[str, Any]


@pytest.mark.parametrize(
    ("order", "target", "expected"),
    [
        ({"orderState": "Open"}, StatusTarget(order_state="Complete"),
         [{"action": "changeOrderState", "orderState": "Complete"}]),
        ({"orderState": "Complete"}, StatusTarget(order_state="Complete"), []),  # there already: nothing to write
        ({"orderState": "Confirmed", "shipmentState": "Shipped"},
         StatusTarget(order_state="Complete", shipment_state="Delivered", payment_state="Paid"),
         [{"action": "changeOrderState", "orderState": "Complete"},
          {"action": "changeShipmentState", "shipmentState": "Delivered"},
          {"action": "changePaymentState", "paymentState": "Paid"}]),
        ({"orderState": "Open", "shipmentState": "Canceled"},
         StatusTarget(order_state="Cancelled", shipment_state="Canceled"),
         [{"action": "changeOrderState", "orderState": "Cancelled"}]),
        ({"orderState": "Open"}, StatusTarget(), []),  # a status that maps to no state
    ],
)  # fmt: skip
def test_the_actions_a_status_needs(order: dict[str, Any], target: StatusTarget, expected: list[Any]) -> None:
    assert actions_needed(order, target) == expected


def change(order_id: str, status: str, at: datetime) -> Change:
    return {"id": order_id, "ref": f"R{order_id}", "status": status, "updatedOn": at.isoformat()}


def poll(
    cursor: PollCursor, pages: Iterator[list[Change]], now: datetime, settings: FluentChangesSettings
) -> tuple[list[Change], PollCursor]:
    fresh, after = cursor.poll(pages, now, settings, key_of=lambda record: str(record["id"]))
    return [dict(record) for record in fresh], after


def test_polling_drops_what_it_has_seen_and_moves_the_watermark_only_after_a_full_pass() -> None:
    settings = FluentChangesSettings(overlap_seconds=600, initial_lookback_hours=1)
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    first = [change("1", "COMPLETE", now - timedelta(minutes=5)), change("2", "CANCELLED", now - timedelta(minutes=2))]
    fresh, cursor = poll(PollCursor(), iter([first]), now, settings)
    assert fresh == first and cursor.watermark == now - timedelta(minutes=2)
    assert cursor.since(now, settings) == now - timedelta(minutes=12)  # the overlap is read again

    later = now + timedelta(minutes=1)
    again = [*first, change("1", "CANCELLED", later), change("3", "COMPLETE", later - timedelta(seconds=30))]
    fresh, cursor = poll(cursor, iter([again[:2], again[2:]]), later, settings)
    assert [(c["id"], c["status"]) for c in fresh] == [("1", "CANCELLED"), ("3", "COMPLETE")]  # seen ones dropped
    assert cursor.watermark == later

    def broken() -> Iterator[list[Change]]:
        yield [change("4", "COMPLETE", later + timedelta(minutes=1))]
        raise ConnectionError("Fluent went away mid-pass")

    with pytest.raises(ConnectionError):
        poll(cursor, broken(), later + timedelta(minutes=2), settings)
    assert cursor.watermark == later  # unchanged: the next tick reads the same window again

    much_later = later + timedelta(hours=2)
    _, pruned = poll(cursor, iter([[change("5", "COMPLETE", much_later)]]), much_later, settings)
    assert set(pruned.seen) == {"5"}  # what fell out of the overlap is forgotten


# -- against the sandbox ------------------------------------------------------------------------------------


def tick(
    sandbox: Sandbox, cursor: str | None = None, settings: OrderStatusSettings | None = None, **resources: Any
) -> SensorResult:
    sensor = build_fluent_changes_sensor(ORDER_STATUS, [BACK_SYNC.sync_job], settings)
    with build_sensor_context(cursor=cursor, resources={**sandbox.resources(), **resources}) as context:
        result = sensor(context)
    assert isinstance(result, SensorResult)
    return result


def synced_orders(sandbox: Sandbox) -> list[tuple[str, str]]:
    """(commercetools id, Fluent ref) of the orders in Fluent."""
    return [(e.key.source_id, e.fluent_ref or "") for e in ledger(sandbox).entries("order", status="synced")]


def ct_order(sandbox: Sandbox, order_id: str) -> dict[str, Any]:
    return next(o for o in sandbox.ct.state()["orders"] if o["id"] == order_id)


def test_a_page_of_fluent_orders_finds_its_commercetools_orders_in_urls_the_api_accepts(sandbox: Sandbox) -> None:
    """A page of 250 Fluent orders the ledger knows: their commercetools ids go in queries short enough for the
    API's request line (the emulator, like common servers, refuses lines over 8 KB); 200 ids a query did not."""
    ids = {f"FLUENT-{n}": str(uuid.UUID(int=n)) for n in range(250)}
    context = SyncContext(fluent=None, settings=OrderStatusSettings(),  # type: ignore[arg-type]
                          commercetools=sandbox.resources()["commercetools"].get_client(),
                          sources_by_fluent_ref=lambda _type, refs: {ref: ids[ref] for ref in refs})  # fmt: skip
    assert commercetools_orders(context, sorted(ids)) == {}  # none of them exists, and every query was answered


def test_a_completed_order_is_complete_in_commercetools_once_and_a_repeat_writes_nothing(shop: Sandbox) -> None:
    assert sync(shop, EVERYTHING).success
    (done_id, done_ref), (gone_id, gone_ref) = synced_orders(shop)[:2]
    shop.fluent_admin.call("POST", f"/orders/{done_ref}/status", {"status": "COMPLETE"})
    shop.fluent_admin.call("POST", f"/orders/{gone_ref}/status", {"status": "CANCELLED"})
    shop.fluent_admin.call("POST", f"/orders/{gone_ref}/status", {"status": "BOOKED"})  # not written back
    shop.fluent_admin.call("POST", f"/orders/{gone_ref}/status", {"status": "CANCELLED"})
    record_event(shop, "evt-twice", done_ref, "COMPLETE")  # the same change by webhook and by polling: once

    first = tick(shop)
    (request,) = first.run_requests or []
    result = shop.run_request(request)
    assert result.success
    assert ct_order(shop, done_id)["orderState"] == "Complete"
    assert ct_order(shop, gone_id)["orderState"] == "Cancelled"
    versions = {i: ct_order(shop, i)["version"] for i in (done_id, gone_id)}
    assert tick(shop, first.cursor).run_requests == []  # polled again: nothing new

    assert shop.run_request(request).success  # the same changes again: nothing is written
    assert {i: ct_order(shop, i)["version"] for i in versions} == versions
    entries = {e.key.source_id: e for e in ledger(shop).entries("order_status")}
    assert entries[done_ref].status == "synced" and entries[done_ref].payload_hash == "COMPLETE"
    assert entries[gone_ref].status == "synced" and entries[gone_ref].payload_hash == "CANCELLED"


def record_event(sandbox: Sandbox, event_id: str, ref: str, status: str) -> None:
    """What ctfluent-webhooks does with a verified event."""
    events = FluentEventStore(sandbox.ledger_url)
    body = {"id": event_id, "name": "OrderStatus", "entityType": "ORDER", "entityId": fluent_orders(sandbox)[ref]["id"],
            "entityRef": ref, "entityStatus": status, "retailerId": "1"}  # fmt: skip
    assert events.record(FluentEvent.from_json(body))
    events.close()


def pending_events(sandbox: Sandbox) -> list[FluentEvent]:
    events = FluentEventStore(sandbox.ledger_url)
    try:
        return events.pending()
    finally:
        events.close()


def test_a_recorded_webhook_event_is_written_back_at_the_next_tick_without_waiting_for_the_poll(
    shop: Sandbox,
) -> None:
    assert sync(shop, EVERYTHING).success
    cursor = tick(shop).cursor  # the first poll is done: the next is a minute away
    order_id, ref = synced_orders(shop)[0]
    shop.fluent_admin.call("POST", f"/orders/{ref}/status", {"status": "COMPLETE"})
    record_event(shop, "evt-1", ref, "COMPLETE")
    # When the receiver launches the webhook job itself, the sensor leaves it the fresh events.
    assert tick(shop, cursor, OrderStatusSettings(webhook_grace_seconds=60)).run_requests == []
    result = tick(shop, cursor)
    (request,) = result.run_requests or []
    assert "1 from webhook" in request.run_config["ops"]["commercetools__order_status"]["config"]["trigger"]
    assert shop.run_request(request).success
    assert ct_order(shop, order_id)["orderState"] == "Complete"
    assert pending_events(shop) == []  # handled


def test_the_job_the_receiver_launches_writes_back_the_recorded_events(shop: Sandbox) -> None:
    assert sync(shop, EVERYTHING).success
    (order_id, ref), (other_id, other_ref) = synced_orders(shop)[:2]
    shop.fluent_admin.call("POST", f"/orders/{ref}/status", {"status": "CANCELLED"})
    record_event(shop, "evt-2", ref, "CANCELLED")
    record_event(shop, "evt-3", other_ref, "BOOKED")  # a status that is not written back
    assert BACK_SYNC.webhook_job is not None
    assert shop.run_job(BACK_SYNC.webhook_job.name, None).success  # its default config takes the recorded events
    assert ct_order(shop, order_id)["orderState"] == "Cancelled"
    assert ct_order(shop, other_id)["orderState"] in ("Open", "Confirmed")
    assert pending_events(shop) == []


def test_an_event_is_verified_then_fetched_so_a_stale_or_replayed_one_changes_nothing(shop: Sandbox) -> None:
    """An event only names the order: what is written is Fluent's own status, versioned by Fluent's updatedOn."""
    assert sync(shop, EVERYTHING).success
    cursor = tick(shop).cursor  # the first poll is done: the next is a minute away
    order_id, ref = synced_orders(shop)[0]
    shop.fluent_admin.call("POST", f"/orders/{ref}/status", {"status": "COMPLETE"})
    record_event(shop, "claims-cancelled", ref, "CANCELLED")  # signed, but its status is stale (or made up)
    (request,) = tick(shop, cursor).run_requests or []
    assert "changes" not in request.run_config["ops"]["commercetools__order_status"]["config"]
    assert shop.run_request(request).success
    assert ct_order(shop, order_id)["orderState"] == "Complete"  # Fluent's status, not the event's
    (entry,) = [e for e in ledger(shop).entries("order_status") if e.key.source_id == ref]
    updated_on = fluent_orders(shop)[ref]["updatedOn"]
    assert entry.source_version == int(datetime.fromisoformat(updated_on.replace("Z", "+00:00")).timestamp() * 1000)

    # The same event again, under a new id (as after the events table is pruned): nothing is written.
    version = ct_order(shop, order_id)["version"]
    record_event(shop, "claims-cancelled-again", ref, "CANCELLED")
    (replay,) = tick(shop, cursor).run_requests or []
    assert shop.run_request(replay).success
    assert ct_order(shop, order_id)["version"] == version and ct_order(shop, order_id)["orderState"] == "Complete"
    assert pending_events(shop) == []


def test_a_flood_of_events_of_other_types_never_hides_an_order_event(shop: Sandbox) -> None:
    assert sync(shop, EVERYTHING).success
    cursor = tick(shop).cursor
    order_id, ref = synced_orders(shop)[0]
    events = FluentEventStore(shop.ledger_url)
    for number in range(1000):  # recorded by an older receiver, or another consumer's: not the back-sync's
        body = {"id": f"position-{number}", "entityType": "INVENTORY_POSITION", "entityRef": f"P{number}",
                "entityStatus": "ACTIVE", "retailerId": "1"}  # fmt: skip
        assert events.record(FluentEvent.from_json(body))
    events.close()
    shop.fluent_admin.call("POST", f"/orders/{ref}/status", {"status": "COMPLETE"})
    record_event(shop, "the-order", ref, "COMPLETE")
    (request,) = tick(shop, cursor).run_requests or []
    assert request.run_config["ops"]["commercetools__order_status"]["config"]["ids"] == [ref]
    assert shop.run_request(request).success
    assert ct_order(shop, order_id)["orderState"] == "Complete"


def test_a_write_racing_an_edit_ends_in_the_right_state(shop: Sandbox) -> None:
    assert sync(shop, EVERYTHING).success
    order_id, ref = synced_orders(shop)[0]
    # Someone edits the order between our read and our write, twice: each write meets a newer version (409).
    shop.ct_admin.add_fault(match=f"POST /ctfluent-demo/orders/{order_id}", error_code="ConcurrentModification",
                            status=409, times=2)  # fmt: skip
    shop.fluent_admin.call("POST", f"/orders/{ref}/status", {"status": "COMPLETE"})
    (request,) = tick(shop).run_requests or []
    assert shop.run_request(request).success
    assert ct_order(shop, order_id)["orderState"] == "Complete"
    assert ledger(shop).entries("order_status", source_ids=[ref])[0].status == "synced"


def test_a_failed_write_back_is_retried_automatically_as_fluent_has_it_now(
    shop: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTFLUENT_RETRY_BACKOFF_SECONDS", "0")
    assert sync(shop, EVERYTHING).success
    order_id, ref = synced_orders(shop)[0]
    shop.ct_admin.add_fault(match=f"POST /ctfluent-demo/orders/{order_id}", status=400,
                            error_code="InvalidOperation", times=1)  # fmt: skip
    shop.fluent_admin.call("POST", f"/orders/{ref}/status", {"status": "COMPLETE"})
    (request,) = tick(shop).run_requests or []
    shop.run_request(request)
    assert ledger(shop).entries("order_status", source_ids=[ref])[0].status == "failed"

    retry = build_retry_sensor(SyncSettings(retry_backoff_seconds=0), [ORDER_STATUS], jobs=[BACK_SYNC.sync_job])
    with build_sensor_context(resources=shop.resources()) as context:
        result = retry(context)
    assert isinstance(result, SensorResult)
    # No new change in Fluent: the sensor asks for the retry (and for the seed's failed orders, in their own job).
    (again,) = [r for r in result.run_requests or [] if r.job_name == BACK_SYNC.sync_job.name]
    assert again.tags["ctfluent/trigger"] == "automatic-retry"
    run = shop.run_request(again)
    assert ct_order(shop, order_id)["orderState"] == "Complete"
    assert ledger(shop).entries("order_status", source_ids=[ref])[0].status == "synced"
    metadata = materialization_metadata(run, AssetKey(["commercetools", "order_status"]))
    assert (metadata["mode"], metadata["retried"]) == ("retry", 1)


def test_orders_this_project_did_not_create_are_counted_and_skipped(shop: Sandbox) -> None:
    assert sync(shop, EVERYTHING).success
    foreign = [ref for _, ref in synced_orders(shop) if ref.startswith("CT_")]  # no order number to match by
    assert foreign
    with ledger(shop).engine.begin() as conn:  # the ledger never knew them
        conn.exec_driver_sql("DELETE FROM ctfluent_sync_state WHERE entity_type = 'order'")
    shop.fluent_admin.call("POST", f"/orders/{foreign[0]}/status", {"status": "COMPLETE"})
    (request,) = tick(shop).run_requests or []
    result = shop.run_request(request)
    assert result.success
    (entry,) = ledger(shop).entries("order_status", source_ids=[foreign[0]])
    assert entry.status == "skipped" and "no commercetools order" in (entry.error_message or "")


def test_without_a_write_client_the_back_sync_is_off_and_says_so(shop: Sandbox) -> None:
    off = CommercetoolsWriteResource(project_key=shop.env["CTP_PROJECT_KEY"], api_url=shop.env["CTP_API_URL"],
                                     auth_url=shop.env["CTP_AUTH_URL"])  # fmt: skip
    result = tick(shop, commercetools_write=off)
    assert result.run_requests == [] and "back-sync is off" in str(result.skip_reason)


def test_handled_webhook_events_are_pruned_daily_after_their_retention(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ctfluent_dagster.configuration import read_settings
    from ctfluent_dagster.jobs import prune_webhook_events, webhook_events_schedule
    from ctfluent_dagster.resources import LedgerResource, SyncSettingsResource

    monkeypatch.setenv("CTFLUENT_WEBHOOK_EVENT_RETENTION_DAYS", "2")
    events = FluentEventStore(ledger_url)
    base = {"entityType": "ORDER", "entityRef": "R1", "entityStatus": "COMPLETE"}
    for event_id in ("old", "recent", "pending"):
        assert events.record(FluentEvent.from_json({"id": event_id, **base}))
    events.mark_handled(["old", "recent"])
    with events.engine.begin() as conn:  # handled three days ago
        conn.execute(fluent_events.update().where(fluent_events.c.event_id == "old")
                     .values(handled_at=datetime.now(UTC) - timedelta(days=3)))  # fmt: skip
    resources = {"ledger": LedgerResource(url=ledger_url), "sync_settings": SyncSettingsResource()}
    assert prune_webhook_events.execute_in_process(resources=resources).success
    assert {e.event_id for e in events.pending()} == {"pending"} and events.counts() == {"pending": 1, "handled": 1}
    events.close()
    assert webhook_events_schedule(read_settings()).job_name == "prune_webhook_events"


def test_a_cancelled_order_is_never_made_complete_unless_configured(
    shop: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sync(shop, EVERYTHING).success
    (order_id, ref), (other_id, other_ref) = synced_orders(shop)[:2]
    writer = shop.resources()["commercetools_write"].get_client()
    for number in (order_id, other_id):  # cancelled in commercetools (by the shop, or by an earlier write back)
        cancel = [{"action": "changeOrderState", "orderState": "Cancelled"}]
        writer.update("orders", number, ct_order(shop, number)["version"], cancel)
    shop.fluent_admin.call("POST", f"/orders/{ref}/status", {"status": "COMPLETE"})  # Fluent says so later
    (request,) = tick(shop).run_requests or []
    assert shop.run_request(request).success
    assert ct_order(shop, order_id)["orderState"] == "Cancelled"
    (entry,) = ledger(shop).entries("order_status", source_ids=[ref])
    assert entry.status == "skipped" and "never made Complete" in (entry.error_message or "")

    monkeypatch.setenv("CTFLUENT_ORDER_STATUS__KEEP_ORDER_STATES", "[]")  # as releases before this one did
    shop.fluent_admin.call("POST", f"/orders/{other_ref}/status", {"status": "COMPLETE"})
    (request,) = tick(shop).run_requests or []
    assert shop.run_request(request).success
    assert ct_order(shop, other_id)["orderState"] == "Complete"
