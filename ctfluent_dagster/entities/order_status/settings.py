"""The order status section of the settings (``order_status:`` in ``ctfluent.yaml``, ``CTFLUENT_ORDER_STATUS__*``):
Fluent's order statuses written back to commercetools, and how ``fluent_order_status_sensor`` finds them.

(Until issue 18 it was ``orders.status_back_sync``: the same keys, moved to the entity's own section.)
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ctfluent_dagster.fluent.changes import FluentChangesSettings


class StatusTarget(BaseModel):
    """What a Fluent order status means in commercetools: the states the order should have (unset: untouched)."""

    model_config = ConfigDict(frozen=True)

    order_state: Literal["Open", "Confirmed", "Complete", "Cancelled"] | None = None
    shipment_state: (
        Literal["Shipped", "Delivered", "Ready", "Pending", "Delayed", "Partial", "Backorder", "Canceled"] | None
    ) = None
    payment_state: Literal["BalanceDue", "Failed", "Pending", "CreditOwed", "Paid"] | None = None


class OrderStatusSettings(FluentChangesSettings):
    """The order status back-sync (Fluent -> commercetools): ``fluent_order_status_sensor`` and its runs."""

    # Fluent order status -> commercetools states, like the Fluent connector's order status mapping table. Statuses
    # not listed are not written back (and not polled).
    statuses: dict[str, StatusTarget] = Field(
        default_factory=lambda: {
            "COMPLETE": StatusTarget(order_state="Complete"),
            "CANCELLED": StatusTarget(order_state="Cancelled"),
        }
    )
    # A 409 (the order changed between read and write) re-reads it and tries again, at most this many times.
    max_conflict_retries: int = Field(default=5, ge=0)
    # commercetools orders in these states are never changed by the back-sync: a cancelled order is not made
    # Complete because Fluent said so later (an empty list writes whatever Fluent says, as releases before did).
    keep_order_states: tuple[str, ...] = ("Cancelled",)
