"""A Fluent order's status -> the commercetools order's states: pure functions, table-tested."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctfluent_dagster.entities.order_status.settings import StatusTarget

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
