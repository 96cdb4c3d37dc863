"""The framework carries the Fluent -> commercetools direction in its partitioned shape too (the next entities'
shape: locations, inventory, fulfilments), not only the unstaged order status: a test entity read from Fluent is
declared like any other, and gets a staged ``fluent/<source>`` asset and a ``commercetools/<target>`` asset on the
shared daily partitions (by ``updatedOn``), its sync, re-drive and webhook jobs and its changes sensor; the ledger
keys its records by Fluent ref and versions them by ``updatedOn``, so a re-run writes nothing, a change found by the
sensor is written once, and a recorded webhook event's record is read from Fluent and written."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pytest
from dagster import Definitions, SensorResult, build_sensor_context, in_process_executor

from ctfluent_dagster.assets.factory import EntityDefinitions, build_entity
from ctfluent_dagster.assets.keys import op_names, target_key
from ctfluent_dagster.entities import ENTITIES
from ctfluent_dagster.entities.order_status.sync import OPERATIONS
from ctfluent_dagster.entity import EntityDeclaration, FluentSource, Pages, SyncContext, Target
from ctfluent_dagster.fluent.changes import FluentChangesSettings, parse_time, updated_on_version
from ctfluent_dagster.fluent.paging import date_range, nodes
from ctfluent_dagster.partitions import partition_for
from ctfluent_dagster.records import FluentIdentity, LedgerKey, PlannedPush, PlannedSkip
from ctfluent_dagster.sensors.fluent_changes import build_fluent_changes_sensor
from ctfluent_dagster.settings import MessagesSettings, with_sections
from ctfluent_dagster.webhooks.events import FluentEvent, FluentEventStore
from tests.harness import Sandbox
from tests.support import materialization_metadata
from tests.test_order_sync import EVERYTHING, fluent_orders, ledger, sync

WRITTEN: list[tuple[str, str]] = []  # what the test target "wrote": (ref, status)


class CopySettings(FluentChangesSettings):
    pass


class FluentOrders:
    """Every Fluent order, whatever its status."""

    def __init__(self, context: SyncContext) -> None:
        self.fluent = context.fluent

    def updated_between(self, start: datetime | None, end: datetime | None) -> Pages:
        return nodes(
            self.fluent, OPERATIONS["OrdersUpdatedBetween"], {"status": None, "updatedOn": date_range(start, end)}
        )

    def by_refs(self, refs: Sequence[str]) -> Pages:
        return nodes(self.fluent, OPERATIONS["OrdersByRef"], {"refs": sorted(set(refs))})


class RecordingWrite:
    """A commercetools target that records what it would write."""

    entity_type = "order_copy"

    def plan(self, record: Mapping[str, Any]) -> list[PlannedPush[str] | PlannedSkip]:
        key = LedgerKey(self.entity_type, str(record["ref"]), "")
        version = updated_on_version(record)
        return [
            PlannedPush(key, version, str(record["ref"]), str(record["status"]), str(record["status"]), key.source_id)
        ]

    def prepare(self, creates: Sequence[PlannedPush[str]], batch_size: int) -> None:
        pass

    def create(self, push: PlannedPush[str]) -> FluentIdentity:
        WRITTEN.append((push.ref, push.payload))
        return FluentIdentity(ref=push.ref, id=push.ref)

    def update(self, push: PlannedPush[str], ref: str) -> FluentIdentity:
        return self.create(push)

    def create_many(self, pushes: Sequence[PlannedPush[str]]) -> list[FluentIdentity]:
        return [self.create(push) for push in pushes]

    def update_many(self, pushes: Sequence[tuple[PlannedPush[str], str]]) -> list[FluentIdentity]:
        return [self.create(push) for push, _ in pushes]

    def find(self, push: PlannedPush[str]) -> FluentIdentity | None:
        return None

    def deactivate(self, ref: str) -> FluentIdentity:
        raise NotImplementedError

    def differences(self, push: PlannedPush[str], ref: str) -> list[str]:
        return []


COPY = EntityDeclaration(
    name="order_copies",
    source=FluentSource(name="order_copies", description="Fluent orders, staged per day of updatedOn.",
                        reader=FluentOrders, event_types=("ORDER",)),
    targets=(Target(name="order_copies", entity_type="order_copy", description="what the test target writes",
                    build=lambda context: RecordingWrite(), scopes=("manage_orders",)),),
    settings=CopySettings,
)  # fmt: skip


@pytest.fixture
def copies(shop: Sandbox, monkeypatch: pytest.MonkeyPatch) -> EntityDefinitions:
    """The test entity's definitions, its settings section beside the registered ones, the shop's orders in Fluent."""
    sections = tuple((entity.name, entity.settings) for entity in (*ENTITIES, COPY))
    monkeypatch.setattr("ctfluent_dagster.resources.read_settings", with_sections(sections))
    WRITTEN.clear()
    assert sync(shop, EVERYTHING).success
    return build_entity(COPY, [*ENTITIES, COPY], MessagesSettings())


def days_of(sandbox: Sandbox) -> dict[str, str]:
    """Fluent order ref -> the partition of its updatedOn."""
    return {ref: partition_for(parse_time(order["updatedOn"])) for ref, order in fluent_orders(sandbox).items()}


def run(sandbox: Sandbox, built: EntityDefinitions, job: str, partition: str, config: Any = None) -> Any:
    defs = Definitions(
        assets=built.assets, jobs=built.jobs, resources=sandbox.resources(), executor=in_process_executor
    )
    return defs.resolve_job_def(job).execute_in_process(run_config=config, partition_key=partition)


def test_a_partitioned_entity_read_from_fluent_is_built_from_its_declaration(copies: EntityDefinitions) -> None:
    keys = [key.to_user_string() for asset in copies.assets for key in asset.keys]
    assert keys == ["fluent/order_copies", "commercetools/order_copies"]
    assert all(asset.partitions_def is not None for asset in copies.assets)
    assert [job.name for job in copies.jobs] == ["order_copies_sync", "redrive_failed_order_copies",
                                                 "order_copies_from_webhooks"]  # fmt: skip
    assert op_names(COPY) == ("fluent__order_copies", "commercetools__order_copies")


def test_a_day_is_read_staged_and_written_once_and_changes_arrive_by_sensor_and_by_webhook(
    shop: Sandbox, copies: EntityDefinitions
) -> None:
    days = days_of(shop)
    day = max(days.values())
    on_day = sorted(ref for ref, d in days.items() if d == day)
    assert run(shop, copies, "order_copies_sync", day).success
    assert sorted(ref for ref, _ in WRITTEN) == on_day
    entries = {e.key.source_id: e for e in ledger(shop).entries("order_copy")}
    assert set(entries) == set(on_day) and {e.partition_key for e in entries.values()} == {day}

    WRITTEN.clear()  # the same day again: every record unchanged at its updatedOn, nothing written
    result = run(shop, copies, "order_copies_sync", day)
    assert WRITTEN == [] and materialization_metadata(result, target_key(COPY, COPY.targets[0]))["unchanged"] == len(
        on_day
    )

    changed = on_day[0]
    shop.fluent_admin.call("POST", f"/orders/{changed}/status", {"status": "COMPLETE"})
    sensor = build_fluent_changes_sensor(COPY, [copies.sync_job], CopySettings(initial_lookback_hours=48))
    with build_sensor_context(resources=shop.resources()) as context:
        ticked = sensor(context)
    assert isinstance(ticked, SensorResult)
    requests = [
        r for r in ticked.run_requests or [] if changed in r.run_config["ops"]["fluent__order_copies"]["config"]["ids"]
    ]
    (request,) = requests
    assert request.partition_key == partition_for(parse_time(fluent_orders(shop)[changed]["updatedOn"]))
    WRITTEN.clear()
    for every in ticked.run_requests or []:
        assert run(shop, copies, str(every.job_name), str(every.partition_key), every.run_config).success
    assert (changed, "COMPLETE") in WRITTEN and len([w for w in WRITTEN if w[0] == changed]) == 1

    other = on_day[1]
    shop.fluent_admin.call("POST", f"/orders/{other}/status", {"status": "CANCELLED"})
    events = FluentEventStore(shop.ledger_url)
    body = {"id": "evt-copy", "entityType": "ORDER", "entityRef": other, "entityStatus": "BOOKED", "retailerId": "1"}
    assert events.record(FluentEvent.from_json(body))  # its status is stale: the record is read from Fluent
    WRITTEN.clear()
    assert copies.webhook_job is not None
    assert run(shop, copies, copies.webhook_job.name, partition_for(datetime.now().astimezone())).success
    assert [(other, "CANCELLED")] == WRITTEN
    assert events.pending() == []
    events.close()
