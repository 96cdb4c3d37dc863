"""Financial transactions: how the sync engine maps a payment's successful transactions and creates them on their
Fluent order.

A payment does not reference its order: staging adds the order that references it (``ORDER_LINK``, see
``declaration.py``). The Fluent order comes from the ledger; until the order is in Fluent its transactions wait for
it, and a payment no order references yet waits for one (``OrderPaymentAdded`` re-reads it). Transactions are
created once and never updated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ctfluent_dagster.entities.orders import ENTITY_TYPE as ORDER
from ctfluent_dagster.entities.payments.mapping import SkippedTransaction, map_transactions
from ctfluent_dagster.entities.payments.models import TRANSACTION_FIELD_LIMITS, Payment
from ctfluent_dagster.entities.payments.settings import PaymentSettings
from ctfluent_dagster.fluent.client import FluentClient
from ctfluent_dagster.fluent.operations import OperationSet
from ctfluent_dagster.hooks import LoadedHooks
from ctfluent_dagster.records import (
    Dependency,
    FluentIdentity,
    LedgerKey,
    PlannedPush,
    PlannedSkip,
    payload_fingerprint,
)
from ctfluent_dagster.sync.graphql_entity import GraphQLEntitySync
from ctfluent_dagster.sync.invalid import invalid_record_skip

ENTITY_TYPE = "financial_transaction"
OPERATIONS = OperationSet(Path(__file__).with_name("operations"))


@dataclass(frozen=True)
class TransactionPush:
    fields: dict[str, Any]  # CreateFinancialTransactionInput without the order
    order: Dependency
    payment: Payment | None  # kept only for hooks


def order_dependency(payment: Payment) -> Dependency:
    if payment.order is None:  # never resolved by the ledger: a re-read once an order adds the payment moves it
        return Dependency(ORDER, label=f"an order that references payment {payment.key or payment.id}")
    return Dependency(ORDER, source_id=payment.order.id, target_key="", unavailable="skip",
                      label=payment.order.order_number or payment.order.id)  # fmt: skip


class FinancialTransactionSync(GraphQLEntitySync[TransactionPush]):
    entity_type = ENTITY_TYPE

    def __init__(self, fluent: FluentClient, settings: PaymentSettings, hooks: LoadedHooks | None = None) -> None:
        super().__init__(fluent, create=OPERATIONS["CreateFinancialTransaction"], update=None,
                         find=OPERATIONS["FinancialTransactionOfOrder"],
                         hooks=hooks or LoadedHooks.load(settings.hooks))  # fmt: skip
        self.settings = settings

    def plan(self, record: Mapping[str, Any]) -> list[PlannedPush[TransactionPush] | PlannedSkip]:
        try:
            payment = Payment.model_validate(record)
        except ValidationError as exc:
            return [invalid_record_skip(ENTITY_TYPE, record, exc)]
        order = order_dependency(payment)
        owner = payment.order.order_number or payment.order.id if payment.order else payment.key or payment.id
        plans: list[PlannedPush[TransactionPush] | PlannedSkip] = []
        for mapped in map_transactions(payment, self.settings):
            key = LedgerKey(ENTITY_TYPE, payment.id, mapped.transaction.id)
            label = f"{owner}: {mapped.transaction.type} {mapped.transaction.amount.amount} " \
                    f"{mapped.transaction.amount.currency_code}"  # fmt: skip
            if isinstance(mapped, SkippedTransaction):
                plans.append(PlannedSkip(key, payment.version, mapped.reason, label, before_create=True, lookup=owner))
                continue
            fields = self.hooked_payload(mapped.fluent.create_input(), payment, TRANSACTION_FIELD_LIMITS)
            if isinstance(fields, str):
                plans.append(PlannedSkip(key, payment.version, fields, label, before_create=True, lookup=owner))
                continue
            plans.append(
                PlannedPush(
                    key=key,
                    version=payment.version,
                    ref=fields["ref"],
                    payload_hash=payload_fingerprint(fields),
                    payload=TransactionPush(fields, order, payment if self.hooks.any else None),
                    label=label,
                    lookup=owner,  # a payment's transactions are found by their order's number
                    requires=(order,),
                )
            )
        return plans

    def create_input(self, push: PlannedPush[TransactionPush]) -> dict[str, Any]:
        return {**push.payload.fields, "order": {"id": self._order_id(push)}}

    def find_variables(self, ref: str) -> dict[str, Any]:
        raise NotImplementedError("a financial transaction is found on its order: see find()")

    def find(self, push: PlannedPush[TransactionPush]) -> FluentIdentity | None:
        """The transaction ``push.ref`` on its order (refs are unique per order only)."""
        variables = {"order": self._order_id(push), "refs": [push.ref]}
        found = self.fluent.execute(self._find, variables)[self._find.root_field]
        edges = ((found or {}).get("financialTransactions") or {}).get("edges") or []
        return FluentIdentity(ref=edges[0]["node"]["ref"], id=edges[0]["node"]["id"]) if edges else None

    def hook_subject(self, push: PlannedPush[TransactionPush]) -> Payment | None:
        return push.payload.payment

    @staticmethod
    def _order_id(push: PlannedPush[TransactionPush]) -> str:
        order = push.resolved[push.payload.order]
        if not order.id:
            raise ValueError(f"the ledger holds no Fluent id for {push.payload.order.describe()}")
        return order.id
