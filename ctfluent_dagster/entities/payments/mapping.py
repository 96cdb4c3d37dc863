"""A commercetools payment -> one Fluent financial transaction per successful transaction (pure; table-tested).

* ref = the transaction id; type by ``transaction_types`` (every commercetools type, a cancelled authorisation
  included); amount (``Decimal``, the currency's digits) and currency;
* ``paymentMethod`` from ``paymentMethodInfo.method`` through ``payment_methods``, else the fallback;
  ``paymentProvider`` = ``paymentInterface``; ``externalTransactionId`` = ``interactionId``; ``cardType`` from the
  configured custom field;
* a transaction that is ``Initial``, ``Pending`` or ``Failure`` is not sent (skipped with its state; a later
  ``Success`` is a new payment version, and sends it).
"""

from __future__ import annotations

from dataclasses import dataclass

from ctfluent_dagster.entities.payments.models import (
    TRANSACTION_FIELD_LIMITS,
    FluentFinancialTransaction,
    Payment,
    Transaction,
)
from ctfluent_dagster.entities.payments.settings import PaymentSettings
from ctfluent_dagster.fluent.models import length_violations

SUCCESS = "Success"


@dataclass(frozen=True)
class MappedTransaction:
    transaction: Transaction
    fluent: FluentFinancialTransaction


@dataclass(frozen=True)
class SkippedTransaction:
    transaction: Transaction
    reason: str


def payment_method(payment: Payment, settings: PaymentSettings) -> str:
    method = (payment.payment_method_info.method or "").strip()
    return settings.payment_methods.get(method, settings.payment_method_fallback)


def card_type(payment: Payment, settings: PaymentSettings) -> str | None:
    if not settings.card_type_field or payment.custom is None:
        return None
    value = payment.custom.fields.get(settings.card_type_field)
    return value.strip().upper() if isinstance(value, str) and value.strip() else None


def map_transactions(payment: Payment, settings: PaymentSettings) -> list[MappedTransaction | SkippedTransaction]:
    results: list[MappedTransaction | SkippedTransaction] = []
    for transaction in payment.transactions:
        if transaction.state != SUCCESS:
            reason = f"the {transaction.type} is {transaction.state}: only successful transactions are sent"
            results.append(SkippedTransaction(transaction, reason))
            continue
        kind = settings.transaction_types.get(transaction.type)
        if kind is None:
            reason = f"transaction type {transaction.type} is not mapped (payments.transaction_types)"
            results.append(SkippedTransaction(transaction, reason))
            continue
        fluent = FluentFinancialTransaction(
            ref=transaction.id,
            type=kind,
            amount=transaction.amount.amount,
            currency=transaction.amount.currency_code,
            payment_method=payment_method(payment, settings),
            payment_provider=payment.payment_method_info.payment_interface,
            external_transaction_id=transaction.interaction_id,
            card_type=card_type(payment, settings),
        )
        problems = length_violations(fluent.create_input(), TRANSACTION_FIELD_LIMITS)
        if problems:
            results.append(SkippedTransaction(transaction, "too long for Fluent: " + "; ".join(problems)))
        else:
            results.append(MappedTransaction(transaction, fluent))
    return results
