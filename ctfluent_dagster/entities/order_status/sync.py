"""Order status back to commercetools: when Fluent's workflows complete or cancel an order, the commercetools order
gets the states ``order_status.statuses`` maps that status to.

* reading (:class:`OrderStatusReader`): Fluent's orders in a written-back status, by ``updatedOn`` (polling) or by
  ref (what a webhook event names, a retry, a re-drive: the status is always Fluent's own, read now), each, when read
  to be written, with the commercetools order it belongs to (:func:`locate_orders`): the one the ledger holds for
  the Fluent order (this project created it), else the one whose order number is the Fluent ref;
* writing (:class:`OrderStatusSync`, with the write client, ``manage_orders``): read the order, compute the actions
  still needed (none: the order is in that state already, nothing is written), post them with its version; a 409
  (the order changed in between) re-reads it and tries again, a bounded number of times. Repeating a status
  changes nothing. An order neither finds is skipped, not an error.

The writes emit ``OrderStateChanged`` and kin; no order route takes those, so they never come back as work for
Fluent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ctfluent_dagster.commercetools.client import CommercetoolsApiError, CommercetoolsClient
from ctfluent_dagster.entities.order_status.mapping import actions_needed
from ctfluent_dagster.entities.order_status.models import FluentOrderStatus
from ctfluent_dagster.entities.order_status.settings import OrderStatusSettings, StatusTarget
from ctfluent_dagster.entities.orders import ENTITY_TYPE as ORDER
from ctfluent_dagster.entity import Pages, SyncContext
from ctfluent_dagster.fluent.changes import updated_on_version
from ctfluent_dagster.fluent.operations import OperationSet
from ctfluent_dagster.fluent.paging import date_range, nodes
from ctfluent_dagster.records import FluentIdentity, LedgerKey, PlannedPush, PlannedSkip
from ctfluent_dagster.sync.invalid import invalid_record_skip

ENTITY_TYPE = "order_status"
OPERATIONS = OperationSet(Path(__file__).with_name("operations"))
REFS_PER_QUERY = 200


class OrderStatusReader:
    """Fluent's orders in a written-back status: ``{id, ref, status, updatedOn}``."""

    def __init__(self, context: SyncContext) -> None:
        self.fluent = context.fluent
        self.settings = context.entity_settings(OrderStatusSettings)

    def updated_between(self, start: datetime | None, end: datetime | None) -> Pages:
        variables = {"status": sorted(self.settings.statuses), "updatedOn": date_range(start, end)}
        return nodes(self.fluent, OPERATIONS["OrdersUpdatedBetween"], variables)

    def by_refs(self, refs: Sequence[str]) -> Pages:
        unique = sorted(set(refs))
        for start in range(0, len(unique), REFS_PER_QUERY):
            chunk = unique[start : start + REFS_PER_QUERY]
            yield from nodes(self.fluent, OPERATIONS["OrdersByRef"], {"refs": chunk}, page_size=len(chunk))


def locate_orders(context: SyncContext, page: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each order with the commercetools order it belongs to (``commercetoolsId``, None when neither finds one):
    through the ledger (the orders this project created), else by order number."""
    if context.commercetools is None or context.sources_by_fluent_ref is None:
        raise ValueError("finding the commercetools orders needs the commercetools client and the ledger's lookup")
    known = context.sources_by_fluent_ref(ORDER, [str(node["ref"]) for node in page])
    located = []
    for node in page:
        source = known.get(str(node["ref"]))
        if source is None:
            order = context.commercetools.get("orders", f"order-number={node['ref']}")
            source = order["id"] if order else None
        located.append({**node, "commercetoolsId": source})
    return located


@dataclass(frozen=True)
class StatusPush:
    commercetools_id: str
    target: StatusTarget
    fluent_id: str


class OrderStatusSync:
    """An :class:`~ctfluent_dagster.records.EntitySync` whose records are Fluent orders and whose writes are the
    commercetools order's states."""

    entity_type = ENTITY_TYPE

    def __init__(self, writer: CommercetoolsClient, settings: OrderStatusSettings) -> None:
        self.writer = writer
        self.settings = settings

    def plan(self, record: Mapping[str, Any]) -> list[PlannedPush[StatusPush] | PlannedSkip]:
        try:
            order = FluentOrderStatus.model_validate(record)
        except ValidationError as exc:
            return [invalid_record_skip(ENTITY_TYPE, record, exc)]
        key = LedgerKey(ENTITY_TYPE, order.ref, "")
        version = updated_on_version(record)
        target = self.settings.statuses.get(order.status)
        if target is None:
            reason = f"Fluent status {order.status} is not written back (order_status.statuses)"
            return [PlannedSkip(key, version, reason, order.ref)]
        if not order.commercetools_id:
            reason = "no commercetools order: not created by this project, and no order has this order number"
            return [PlannedSkip(key, version, reason, order.ref)]
        push = StatusPush(order.commercetools_id, target, order.id)
        return [PlannedPush(key, version, order.ref, order.status, push, order.ref)]

    def create(self, push: PlannedPush[StatusPush]) -> FluentIdentity:
        """Write the status (also when the ledger knew the order: "create" and "update" are the same here)."""
        payload = push.payload
        for _ in range(self.settings.max_conflict_retries + 1):
            order = self.writer.get("orders", payload.commercetools_id)
            if order is None:
                raise CommercetoolsApiError(f"order {payload.commercetools_id} is gone from commercetools",
                                            status=404, code="ResourceNotFound")  # fmt: skip
            actions = actions_needed(order, payload.target)
            if not actions:  # there already (a repeat, or someone else did it)
                break
            try:
                self.writer.update("orders", payload.commercetools_id, int(order["version"]), actions)
                break
            except CommercetoolsApiError as exc:
                if exc.status != 409:
                    raise
        else:
            raise CommercetoolsApiError(f"the order kept changing: {self.settings.max_conflict_retries + 1} "
                                        "attempts ended in 409", status=409, code="ConcurrentModification")  # fmt: skip
        return FluentIdentity(ref=push.ref, id=payload.fluent_id)

    def update(self, push: PlannedPush[StatusPush], ref: str) -> FluentIdentity:
        return self.create(push)

    def create_many(self, pushes: Sequence[PlannedPush[StatusPush]]) -> list[FluentIdentity]:
        return [self.create(push) for push in pushes]

    def update_many(self, pushes: Sequence[tuple[PlannedPush[StatusPush], str]]) -> list[FluentIdentity]:
        return [self.create(push) for push, _ in pushes]

    def find(self, push: PlannedPush[StatusPush]) -> FluentIdentity | None:
        return None  # a write never answers "already exists"

    def deactivate(self, ref: str) -> FluentIdentity:
        raise NotImplementedError("a status is never deactivated")

    def differences(self, push: PlannedPush[StatusPush], ref: str) -> list[str]:
        order = self.writer.get("orders", push.payload.commercetools_id) or {}
        return [f"{a['action']}: {next(v for k, v in a.items() if k != 'action')}"
                for a in actions_needed(order, push.payload.target)]  # fmt: skip


def build_reader(context: SyncContext) -> OrderStatusReader:
    return OrderStatusReader(context)


def build_sync(context: SyncContext) -> OrderStatusSync:
    if context.writer is None:
        raise ValueError("the order status back-sync writes with the write client: set CTP_WRITE_CLIENT_ID and "
                         "CTP_WRITE_CLIENT_SECRET (a client with manage_orders)")  # fmt: skip
    return OrderStatusSync(context.writer, context.entity_settings(OrderStatusSettings))
