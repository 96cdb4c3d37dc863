"""A commercetools payment as read (with the order that references it, found at staging), and a Fluent financial
transaction as the sync creates it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import Field

from ctfluent_dagster.commercetools.models import CtModel, CustomFields, Money
from ctfluent_dagster.fluent.models import FluentModel

# "Max character limit: N" of CreateFinancialTransactionInput in Fluent's schema; 255 elsewhere.
TRANSACTION_FIELD_LIMITS: dict[str, int] = {
    "ref": 255,
    "type": 25,
    "currency": 3,
    "paymentMethod": 255,
    "paymentProvider": 255,
    "externalTransactionId": 255,
    "cardType": 255,
}
# The key under which staging adds a payment's order (a payment does not reference it).
ORDER_LINK = "ctfluentOrder"


class Transaction(CtModel):
    id: str
    type: str
    amount: Money
    state: str
    timestamp: datetime | None = None
    interaction_id: str | None = None


class PaymentMethodInfo(CtModel):
    payment_interface: str | None = None
    method: str | None = None


class OrderLink(CtModel):
    """The order whose ``paymentInfo`` references the payment, as staging found it."""

    id: str
    order_number: str | None = None


class Payment(CtModel):
    id: str
    version: int
    key: str | None = None
    payment_method_info: PaymentMethodInfo = Field(default_factory=PaymentMethodInfo)
    transactions: list[Transaction] = Field(default_factory=list)
    custom: CustomFields | None = None
    order: OrderLink | None = Field(default=None, alias=ORDER_LINK)


class FluentFinancialTransaction(FluentModel):
    """``CreateFinancialTransactionInput`` without ``order``, which the sync resolves through the ledger."""

    ref: str
    type: str
    amount: Decimal
    currency: str
    payment_method: str
    payment_provider: str | None = None
    external_transaction_id: str | None = None
    card_type: str | None = None

    def create_input(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)
