"""Payments: the queryable fields, ``PaymentDraft`` -> ``Payment``, the transaction update actions and their
messages.

* A payment does not reference its order: an order lists its payments (``addPayment``), and a payment's order is
  found with ``paymentInfo(payments(id = ...))`` on orders. A payment may exist long before (or without) an order.
* A transaction gets an id and, unless its draft says otherwise, the state ``Initial``; ``timestamp`` and
  ``interactionId`` only when given. Any state may follow any other: the docs give no transition rule.
* Messages: ``PaymentCreated`` (the payment), ``addTransaction`` -> ``PaymentTransactionAdded`` (the transaction),
  ``changeTransactionState`` -> ``PaymentTransactionStateChanged`` (``transactionId``, ``state``).
  ``changeTransactionInteractionId`` and the deletion have no message type in the spec and produce none.
* Not emulated: the deprecated ``amountAuthorized``/``amountPaid``/``amountRefunded``, payment states
  (``paymentStatus.state``), interface interactions and the other update actions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctfluent_sandbox.commercetools.errors import invalid_input, invalid_json, referenced_resource_not_found
from ctfluent_sandbox.commercetools.messages import Change
from ctfluent_sandbox.commercetools.money import cent_precision
from ctfluent_sandbox.commercetools.predicates import ANY_SCHEMA, Schema
from ctfluent_sandbox.commercetools.projections import MONEY_SCHEMA
from ctfluent_sandbox.commercetools.resources import (
    BASE_RESOURCE_FIELDS,
    CUSTOM_FIELDS_SCHEMA,
    REFERENCE_SCHEMA,
    ActionHandler,
    ResourceKind,
    WriteContext,
    custom_fields,
    localized,
    new_resource_fields,
    optional_enum,
    optional_key,
    optional_list,
    optional_str,
    reference,
    required_enum,
    required_str,
    resolve,
)
from ctfluent_sandbox.commercetools.store import Collection, Resource

TRANSACTION_TYPES = ("Authorization", "CancelAuthorization", "Charge", "Refund", "Chargeback")
TRANSACTION_STATES = ("Initial", "Pending", "Success", "Failure")
_OPTIONAL_TEXT = ("anonymousId", "externalId", "interfaceId")

PAYMENT_SCHEMA = Schema(
    {
        **BASE_RESOURCE_FIELDS,
        "key": "string",
        **dict.fromkeys(_OPTIONAL_TEXT, "string"),
        "customer": REFERENCE_SCHEMA,
        "amountPlanned": MONEY_SCHEMA,
        "paymentMethodInfo": Schema(
            {
                "paymentInterface": "string",
                "method": "string",
                "name": ANY_SCHEMA,
                "interfaceAccount": "string",
                "token": ANY_SCHEMA,
                "custom": CUSTOM_FIELDS_SCHEMA,
            }
        ),
        "paymentStatus": Schema({"interfaceCode": "string", "interfaceText": "string", "state": REFERENCE_SCHEMA}),
        "transactions": Schema(
            {
                "id": "string",
                "timestamp": "string",
                "type": "string",
                "amount": MONEY_SCHEMA,
                "interactionId": "string",
                "state": "string",
                "interfaceId": "string",
                "custom": CUSTOM_FIELDS_SCHEMA,
            }
        ),
        "interfaceInteractions": ANY_SCHEMA,
        "custom": CUSTOM_FIELDS_SCHEMA,
    }
)


def new_collection() -> Collection:
    return Collection(PAYMENT_SCHEMA, indexed=("lastModifiedAt", "createdAt"), unique={"key": lambda p: p.get("key")})


def identifiers(payment: Resource) -> dict[str, str]:
    return {name: payment[name] for name in ("key", "externalId") if name in payment}


def create(draft: Mapping[str, Any], ctx: WriteContext) -> tuple[Resource, list[Change]]:
    if draft.get("amountPlanned") is None:
        raise invalid_json("amountPlanned: Missing required value")
    payment: Resource = new_resource_fields(ctx)
    key = optional_key(draft)
    if key is not None:
        payment["key"] = key
    if draft.get("customer") is not None:
        payment["customer"] = reference("customer", resolve(draft["customer"], "customer", ctx, "customer")["id"])
    for name in _OPTIONAL_TEXT:
        value = optional_str(draft, name)
        if value is not None:
            payment[name] = value
    payment["amountPlanned"] = cent_precision(draft["amountPlanned"], "amountPlanned")
    payment["paymentMethodInfo"] = _method_info(draft.get("paymentMethodInfo") or {})
    payment["paymentStatus"] = _status(draft.get("paymentStatus") or {})
    payment["transactions"] = [
        _transaction(raw, f"transactions -> [{position}]", ctx)
        for position, raw in enumerate(optional_list(draft, "transactions"))
    ]
    payment["interfaceInteractions"] = []
    if draft.get("custom") is not None:
        payment["custom"] = custom_fields(draft["custom"], ctx)
    return payment, [Change("PaymentCreated", {"payment": payment})]


def _method_info(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise invalid_json("paymentMethodInfo: expected a PaymentMethodInfoDraft")
    info: dict[str, Any] = {}
    for name in ("paymentInterface", "method", "interfaceAccount"):
        value = optional_str(raw, name)
        if value is not None:
            info[name] = value
    name_text = localized(raw, "name")
    if name_text is not None:
        info["name"] = name_text
    return info


def _status(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise invalid_json("paymentStatus: expected a PaymentStatusDraft")
    if raw.get("state") is not None:  # no States API: whatever it names cannot be found
        raise referenced_resource_not_found("state", id=str(raw["state"].get("id")))
    return {name: raw[name] for name in ("interfaceCode", "interfaceText") if optional_str(raw, name) is not None}


def _transaction(raw: Any, field: str, ctx: WriteContext) -> dict[str, Any]:
    """A ``TransactionDraft`` as the ``Transaction`` it becomes."""
    if not isinstance(raw, dict):
        raise invalid_json(f"{field}: expected a TransactionDraft")
    if raw.get("amount") is None:
        raise invalid_json(f"{field} -> amount: Missing required value")
    transaction: dict[str, Any] = {"id": ctx.ids.uuid()}
    timestamp = optional_str(raw, "timestamp")
    if timestamp is not None:
        transaction["timestamp"] = timestamp
    transaction["type"] = required_enum(raw, "type", TRANSACTION_TYPES)
    transaction["amount"] = cent_precision(raw["amount"], f"{field}.amount")
    for name in ("interactionId", "interfaceId"):
        value = optional_str(raw, name)
        if value is not None:
            transaction[name] = value
    transaction["state"] = optional_enum(raw, "state", TRANSACTION_STATES) or "Initial"
    if raw.get("custom") is not None:
        transaction["custom"] = custom_fields(raw["custom"], ctx)
    return transaction


def _find_transaction(payment: Resource, action: Mapping[str, Any]) -> dict[str, Any]:
    transaction_id = required_str(action, "transactionId")
    for transaction in payment["transactions"]:
        if transaction["id"] == transaction_id:
            found: dict[str, Any] = transaction
            return found
    raise invalid_input(f"The payment does not have a transaction with the id '{transaction_id}'.")


def _add_transaction(payment: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    transaction = _transaction(action.get("transaction"), "transaction", ctx)
    payment["transactions"].append(transaction)
    return [Change("PaymentTransactionAdded", {"transaction": transaction})]


def _change_transaction_state(payment: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    transaction = _find_transaction(payment, action)
    transaction["state"] = required_enum(action, "state", TRANSACTION_STATES)
    return [
        Change("PaymentTransactionStateChanged", {"transactionId": transaction["id"], "state": transaction["state"]})
    ]


def _change_transaction_interaction_id(payment: Resource, action: Mapping[str, Any], ctx: WriteContext) -> list[Change]:
    _find_transaction(payment, action)["interactionId"] = required_str(action, "interactionId")
    return []


ACTIONS: dict[str, ActionHandler] = {
    "addTransaction": _add_transaction,
    "changeTransactionState": _change_transaction_state,
    "changeTransactionInteractionId": _change_transaction_interaction_id,
}


def kind(collection: Collection) -> ResourceKind:
    return ResourceKind(
        type_id="payment",
        collection=collection,
        create=create,
        actions=ACTIONS,
        identifiers=identifiers,
        deleted=lambda payment: [],
    )
