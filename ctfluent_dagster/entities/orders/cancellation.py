"""commercetools cancellations into Fluent: an order cancelled in commercetools (``orderState`` ``Cancelled``) sends
the configured event (``orders.cancellation_event``, e.g. ``CancelOrder``) to its Fluent order through Fluent's
Event API, whose workflow then cancels it. A second target of the orders entity: the same staged orders, routed by
``OrderStateChanged``.

* an order that is not cancelled plans nothing here (no ledger row);
* it waits for its Fluent order (the orders target's record); an order that never went to Fluent (history, skipped)
  is skipped with it;
* verify, then act: the Fluent order is read first, and an order already in a cancelled status
  (``orders.cancelled_statuses``: one Fluent cancelled itself, whose status the back-sync wrote to commercetools, or
  one this event already cancelled) gets no event. So the event is sent at most once per cancellation, also when a
  run is retried after the event may have been applied.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ctfluent_dagster.entities.customers import CustomerMappingSettings
from ctfluent_dagster.entities.orders import ENTITY_TYPE as ORDER
from ctfluent_dagster.entities.orders.mapping import order_ref, order_retailer
from ctfluent_dagster.entities.orders.models import Order
from ctfluent_dagster.entities.orders.settings import OrderSettings
from ctfluent_dagster.entities.orders.sync import OPERATIONS
from ctfluent_dagster.fluent.client import FluentClient
from ctfluent_dagster.records import (
    Dependency,
    FluentIdentity,
    LedgerKey,
    PlannedPush,
    PlannedSkip,
    payload_fingerprint,
)
from ctfluent_dagster.sync.invalid import invalid_record_skip
from ctfluent_dagster.transport import PermanentApiError

ENTITY_TYPE = "order_cancellation"
CANCELLED = "Cancelled"


@dataclass(frozen=True)
class Cancellation:
    order_id: str
    order_number: str | None
    retailer_id: str
    fluent_order: Dependency


def cancellation_event(name: str, retailer_id: str, fluent_order: Mapping[str, Any], order_id: str,
                       order_number: str | None) -> dict[str, Any]:  # fmt: skip
    """The Event API body that asks the Fluent order's workflow to cancel it (pure)."""
    return {
        "name": name,
        "retailerId": retailer_id,
        "entityType": "ORDER",
        "entityId": str(fluent_order["id"]),
        "entityRef": str(fluent_order["ref"]),
        "entitySubtype": fluent_order.get("type") or "",
        "rootEntityType": "ORDER",
        "rootEntityRef": str(fluent_order["ref"]),
        "attributes": {"ctOrderId": order_id, **({"ctOrderNumber": order_number} if order_number else {})},
    }


class CancellationSync:
    """An :class:`~ctfluent_dagster.records.EntitySync` whose records are commercetools orders and whose writes are
    Fluent events."""

    entity_type = ENTITY_TYPE

    def __init__(self, fluent: FluentClient, settings: OrderSettings, customers: CustomerMappingSettings,
                 default_retailer_id: str | None) -> None:  # fmt: skip
        self.fluent = fluent
        self.settings = settings
        self.customers = customers
        self.default_retailer_id = default_retailer_id

    def plan(self, record: Mapping[str, Any]) -> list[PlannedPush[Cancellation] | PlannedSkip]:
        try:
            order = Order.model_validate(record)
        except ValidationError as exc:
            return [invalid_record_skip(ENTITY_TYPE, record, exc)]
        if order.order_state != CANCELLED or not self.settings.cancellation_event:
            return []
        key = LedgerKey(ENTITY_TYPE, order.id, "")
        label = (order.order_number or order.id).strip()
        retailer = order_retailer(order, self.customers, self.default_retailer_id)
        if retailer is None:
            return [PlannedSkip(key, order.version, "no Fluent retailer for the order's store", label, lookup=label)]
        fluent_order = Dependency(ORDER, source_id=order.id, label=label, unavailable="skip")
        ref = order_ref(order, self.settings)
        push = Cancellation(order.id, order.order_number, retailer, fluent_order)
        return [PlannedPush(key, order.version, ref, payload_fingerprint([self.settings.cancellation_event, ref]), push,
                            label, requires=(fluent_order,), lookup=label)]  # fmt: skip

    def prepare(self, creates: Sequence[PlannedPush[Cancellation]], batch_size: int) -> None:
        """Nothing to do before events: each verifies its order itself."""

    def create(self, push: PlannedPush[Cancellation]) -> FluentIdentity:
        lookup = OPERATIONS["OrderByRef"]
        known = push.resolved.get(push.payload.fluent_order)
        ref = known.ref if known else push.ref
        found = self.fluent.execute(lookup, {"ref": ref})[lookup.root_field]
        if not found:
            raise PermanentApiError(f"Fluent order {ref} is not there to cancel", code="C0120E")
        if found.get("status") in self.settings.cancelled_statuses:  # cancelled already: nothing to ask
            return FluentIdentity(ref=str(found["ref"]), id=str(found["id"]))
        name = str(self.settings.cancellation_event)
        cancellation = push.payload
        event = cancellation_event(name, cancellation.retailer_id, found, cancellation.order_id,
                                   cancellation.order_number)  # fmt: skip
        answer = self.fluent.send_event(event)
        status = str(answer.get("eventStatus") or "")
        if status and status not in ("COMPLETE", "SUCCESS"):
            raise PermanentApiError(f"Fluent answered the {name} event with {status}", code="EVENT_" + status)
        return FluentIdentity(ref=str(found["ref"]), id=str(found["id"]))

    def update(self, push: PlannedPush[Cancellation], ref: str) -> FluentIdentity:
        return self.create(push)

    def create_many(self, pushes: Sequence[PlannedPush[Cancellation]]) -> list[FluentIdentity]:
        return [self.create(push) for push in pushes]

    def update_many(self, pushes: Sequence[tuple[PlannedPush[Cancellation], str]]) -> list[FluentIdentity]:
        return [self.create(push) for push, _ in pushes]

    def find(self, push: PlannedPush[Cancellation]) -> FluentIdentity | None:
        return None

    def deactivate(self, ref: str) -> FluentIdentity:
        raise NotImplementedError("a cancellation is never undone")

    def differences(self, push: PlannedPush[Cancellation], ref: str) -> list[str]:
        return [f"send {self.settings.cancellation_event} to Fluent order {push.ref}"]
