"""Order status back to commercetools: when Fluent's workflows complete or cancel an order, the commercetools order
gets the states ``status_back_sync.statuses`` maps that status to.

* the commercetools order: the one the ledger holds for the Fluent order (this project created it), else the one
  whose order number is the Fluent ref; an order neither finds is counted and skipped, not an error;
* writing (with the write client, ``manage_orders``): read the order, compute the actions still needed (none: the
  order is in that state already, nothing is written), post them with its version; a 409 (the order changed in
  between) re-reads it and tries again, a bounded number of times. Repeating a status changes nothing.

The writes emit ``OrderStateChanged`` and kin; no order route takes those, so they never come back as work for
Fluent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ctfluent_dagster.backsync import BackSyncContext, Change, change_version
from ctfluent_dagster.commercetools.client import CommercetoolsApiError, CommercetoolsClient
from ctfluent_dagster.entities.orders.settings import OrderSettings, StatusTarget
from ctfluent_dagster.entities.orders.sync import ENTITY_TYPE as ORDER
from ctfluent_dagster.fluent.client import FluentClient
from ctfluent_dagster.fluent.operations import OperationSet
from ctfluent_dagster.ledger.store import Ledger
from ctfluent_dagster.records import FluentIdentity, LedgerKey, PlannedPush, PlannedSkip

ENTITY_TYPE = "order_status"
OPERATIONS = OperationSet(Path(__file__).with_name("operations"))
PAGE_SIZE = 200
# commercetools field -> StatusTarget field -> update action
_STATES = (
    ("orderState", "order_state", "changeOrderState"),
    ("shipmentState", "shipment_state", "changeShipmentState"),
    ("paymentState", "payment_state", "changePaymentState"),
)


def actions_needed(order: Mapping[str, Any], target: StatusTarget) -> list[dict[str, str]]:
    """The update actions that bring ``order`` to ``target``: none when it is there already (pure)."""
    actions = []
    for field, attribute, action in _STATES:
        wanted = getattr(target, attribute)
        if wanted is not None and order.get(field) != wanted:
            actions.append({"action": action, field: wanted})
    return actions


@dataclass(frozen=True)
class StatusPush:
    commercetools_id: str
    target: StatusTarget
    fluent_id: str


class OrderStatusSync:
    """The back-sync as an :class:`~ctfluent_dagster.sync.engine.EntitySync` (records: status changes) plus what
    the back-sync needs to find them (:class:`~ctfluent_dagster.backsync.BackSyncEntity`)."""

    entity_type = ENTITY_TYPE

    def __init__(
        self,
        fluent: FluentClient,
        reader: CommercetoolsClient,
        writer: CommercetoolsClient,
        ledger: Ledger,
        settings: OrderSettings,
    ) -> None:
        self.fluent = fluent
        self.reader = reader
        self.writer = writer
        self.ledger = ledger
        self.settings = settings.status_back_sync
        self._since = OPERATIONS["OrdersUpdatedSince"]
        self._by_ref = OPERATIONS["OrdersByRef"]

    # -- finding changes -------------------------------------------------------------------------------

    def changed_since(self, since: datetime) -> Iterator[list[Change]]:
        after: str | None = None
        while True:
            variables = {"status": sorted(self.settings.statuses), "from": since.isoformat(), "first": PAGE_SIZE,
                         "after": after}  # fmt: skip
            connection = self.fluent.execute(self._since, variables)["orders"]
            edges = connection["edges"]
            if edges:
                yield [_change(edge["node"]) for edge in edges]
            if not edges or not connection["pageInfo"]["hasNextPage"]:
                return
            after = edges[-1]["cursor"]

    def current(self, refs: Sequence[str]) -> list[Change]:
        found: list[Change] = []
        for start in range(0, len(refs), PAGE_SIZE):
            chunk = list(refs[start : start + PAGE_SIZE])
            connection = self.fluent.execute(self._by_ref, {"refs": chunk, "first": len(chunk)})["orders"]
            found += [_change(edge["node"]) for edge in connection["edges"]]
        return found

    def locate(self, changes: Sequence[Change]) -> list[Change]:
        """Through the ledger (the orders this project created), else by order number."""
        known = self.ledger.sources_by_fluent_ref(ORDER, [str(c["ref"]) for c in changes])
        located = []
        for change in changes:
            source = known.get(str(change["ref"]))
            if source is None:
                order = self.reader.get("orders", f"order-number={change['ref']}")
                source = order["id"] if order else None
            located.append({**change, "commercetoolsId": source})
        return located

    # -- EntitySync ------------------------------------------------------------------------------------

    def plan(self, record: Mapping[str, Any]) -> list[PlannedPush[StatusPush] | PlannedSkip]:
        ref, status = str(record["ref"]), str(record["status"])
        key = LedgerKey(ENTITY_TYPE, ref, "")
        version = change_version(record)
        target = self.settings.statuses.get(status)
        if target is None:
            return [PlannedSkip(key, version, f"Fluent status {status} is not written back (status_back_sync)", ref)]
        if not record.get("commercetoolsId"):
            reason = "no commercetools order: not created by this project, and no order has this order number"
            return [PlannedSkip(key, version, reason, ref)]
        push = StatusPush(str(record["commercetoolsId"]), target, str(record["id"]))
        return [PlannedPush(key, version, ref, status, push, ref)]

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


def _change(node: Mapping[str, Any]) -> Change:
    return {"id": node["id"], "ref": node["ref"], "status": node["status"], "updatedOn": node["updatedOn"]}


def build_status_sync(context: BackSyncContext) -> OrderStatusSync:
    if not isinstance(context.settings, OrderSettings):
        raise TypeError(f"expected OrderSettings, got {type(context.settings).__name__}")
    return OrderStatusSync(context.fluent, context.commercetools, context.writer, context.ledger, context.settings)
