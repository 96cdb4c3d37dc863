"""Order status back to commercetools: when Fluent's workflows complete or cancel an order, the commercetools order
gets the states ``order_status.statuses`` maps that status to.

* reading (:class:`OrderStatusReader`): Fluent's orders in a written-back status, by ``updatedOn`` (polling) or by
  ref (what a webhook event names, a retry, a re-drive: the status is always Fluent's own, read now), each, when read
  to be written, with the commercetools order it belongs to (:func:`locate_orders`): the one the ledger holds for
  the Fluent order (this project created it), else the one whose order number is the Fluent ref;
* writing (:class:`OrderStatusSync`, with the write client, ``manage_orders``, through the core's versioned writes):
  read the order, compute the actions still needed (none: the order is in that state already, nothing is written),
  post them with its version; a 409 (the order changed in between) re-reads it and tries again, a bounded number of
  times. Repeating a status changes nothing. An order neither finds is skipped, not an error; so is one in a state
  the back-sync never changes (``keep_order_states``: a cancelled order is not made Complete).

The writes emit ``OrderStateChanged`` and kin; no order route takes those, so they never come back as work for
Fluent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ctfluent_dagster.commercetools.client import CommercetoolsClient
from ctfluent_dagster.entities.order_status.mapping import actions_needed
from ctfluent_dagster.entities.order_status.models import FluentOrderStatus
from ctfluent_dagster.entities.order_status.settings import OrderStatusSettings, StatusTarget
from ctfluent_dagster.entities.shared import commercetools_orders
from ctfluent_dagster.entity import Pages, SyncContext
from ctfluent_dagster.fluent.changes import updated_on_version
from ctfluent_dagster.fluent.operations import OperationSet
from ctfluent_dagster.fluent.paging import date_range, nodes, nodes_by_refs
from ctfluent_dagster.records import FluentIdentity, LedgerKey, PlannedPush, PlannedSkip
from ctfluent_dagster.sync.commercetools_entity import CommercetoolsEntitySync, VersionedWrites, describe_actions
from ctfluent_dagster.sync.invalid import invalid_fluent_record_skip

ENTITY_TYPE = "order_status"
OPERATIONS = OperationSet(Path(__file__).with_name("operations"))


class OrderStatusReader:
    """Fluent's orders in a written-back status: ``{id, ref, status, updatedOn}``."""

    def __init__(self, context: SyncContext) -> None:
        self.fluent = context.fluent
        self.settings = context.entity_settings(OrderStatusSettings)

    def updated_between(self, start: datetime | None, end: datetime | None) -> Pages:
        variables = {"status": sorted(self.settings.statuses), "updatedOn": date_range(start, end)}
        return nodes(self.fluent, OPERATIONS["OrdersUpdatedBetween"], variables)

    def by_refs(self, refs: Sequence[str]) -> Pages:
        return nodes_by_refs(self.fluent, OPERATIONS["OrdersByRef"], refs)


def locate_orders(context: SyncContext, page: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each order with the commercetools order it belongs to (``commercetoolsId`` and ``commercetoolsOrderState``,
    None when there is none): the shared rule (:func:`~ctfluent_dagster.entities.shared.commercetools_orders`)."""
    orders = commercetools_orders(context, [str(node["ref"]) for node in page])
    return [{**node, "commercetoolsId": order["id"] if order else None,
             "commercetoolsOrderState": order.get("orderState") if order else None}
            for node in page for order in [orders.get(str(node["ref"]))]]  # fmt: skip


@dataclass(frozen=True)
class StatusPush:
    commercetools_id: str
    target: StatusTarget
    fluent_id: str


class OrderStatusSync(CommercetoolsEntitySync[StatusPush]):
    """An :class:`~ctfluent_dagster.records.EntitySync` whose records are Fluent orders and whose writes are the
    commercetools order's states."""

    entity_type = ENTITY_TYPE

    def __init__(self, writer: CommercetoolsClient, settings: OrderStatusSettings) -> None:
        self.writes = VersionedWrites(writer, settings.max_conflict_retries)
        self.settings = settings

    def plan(self, record: Mapping[str, Any]) -> list[PlannedPush[StatusPush] | PlannedSkip]:
        try:
            order = FluentOrderStatus.model_validate(record)
        except ValidationError as exc:
            return [invalid_fluent_record_skip(ENTITY_TYPE, record, exc)]
        key = LedgerKey(ENTITY_TYPE, order.ref, "")
        version = updated_on_version(record)
        target = self.settings.statuses.get(order.status)
        if target is None:
            reason = f"Fluent status {order.status} is not written back (order_status.statuses)"
            return [PlannedSkip(key, version, reason, order.ref)]
        if not order.commercetools_id:
            reason = "no commercetools order: not created by this project, and no order has this order number"
            return [PlannedSkip(key, version, reason, order.ref)]
        state = order.commercetools_order_state
        if state in self.settings.keep_order_states and target.order_state not in (None, state):
            reason = (f"the commercetools order is {state}: never made {target.order_state} by the back-sync "
                      "(order_status.keep_order_states)")  # fmt: skip
            return [PlannedSkip(key, version, reason, order.ref)]
        push = StatusPush(order.commercetools_id, target, order.id)
        return [PlannedPush(key, version, order.ref, order.status, push, order.ref)]

    def write(self, push: PlannedPush[StatusPush]) -> FluentIdentity:
        """Write the status (also when the ledger knew the order: "create" and "update" are the same here)."""
        self.writes.apply("orders", push.payload.commercetools_id, partial(self._actions, push.payload.target))
        return FluentIdentity(ref=push.ref, id=push.payload.fluent_id)

    def _actions(self, target: StatusTarget, order: Mapping[str, Any]) -> list[dict[str, str]]:
        if order.get("orderState") in self.settings.keep_order_states:  # written nothing, whatever Fluent says
            return []
        return actions_needed(order, target)

    def differences(self, push: PlannedPush[StatusPush], ref: str) -> list[str]:
        order = self.writes.client.get("orders", push.payload.commercetools_id) or {}
        return describe_actions(self._actions(push.payload.target, order))


def build_reader(context: SyncContext) -> OrderStatusReader:
    return OrderStatusReader(context)


def build_sync(context: SyncContext) -> OrderStatusSync:
    if context.writer is None:
        raise ValueError("the order status back-sync writes with the write client: set CTP_WRITE_CLIENT_ID and "
                         "CTP_WRITE_CLIENT_SECRET (a client with manage_orders)")  # fmt: skip
    return OrderStatusSync(context.writer, context.entity_settings(OrderStatusSettings))
