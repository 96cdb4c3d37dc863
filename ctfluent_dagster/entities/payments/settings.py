"""The payments section of the settings (``payments:`` in ``ctfluent.yaml``, ``CTFLUENT_PAYMENTS__*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ctfluent_dagster.hooks import HookSettings


class PaymentSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    # commercetools transaction type -> Fluent financial transaction type (max 25 characters; Fluent enforces no
    # values, its workflow for FINANCIAL_TRANSACTION::<type> decides). Every commercetools type is mapped; a type
    # left out of the map is skipped with that reason. A voided authorisation (CancelAuthorization) has no value in
    # Fluent's documentation: AUTHORISATION_REVERSAL, in the AUTHORISATION family, is this project's choice to
    # confirm against the account's workflow.
    transaction_types: dict[str, str] = Field(
        default_factory=lambda: {
            "Authorization": "AUTHORISATION",
            "CancelAuthorization": "AUTHORISATION_REVERSAL",
            "Charge": "PAYMENT",
            "Refund": "REFUND",
            "Chargeback": "CHARGEBACK",
        }
    )
    # paymentMethodInfo.method -> Fluent paymentMethod (Fluent's platform values: CREDITCARD, PAYPAL, GIFTVOUCHER,
    # CASH, AFTERPAY; configurable there); others get the fallback.
    payment_methods: dict[str, str] = Field(
        default_factory=lambda: {
            "creditCard": "CREDITCARD",
            "card": "CREDITCARD",
            "paypal": "PAYPAL",
            "giftCard": "GIFTVOUCHER",
            "cash": "CASH",
            "afterpay": "AFTERPAY",
        }
    )
    payment_method_fallback: str = "OTHER"
    # A payment custom field that holds the card type (VISA, MASTERCARD, ...), sent as cardType when set.
    card_type_field: str | None = None
    # Financial transactions are created once: Fluent's workflows own them afterwards.
    update_policy: Literal["create_only"] = "create_only"
    hooks: HookSettings = Field(default_factory=HookSettings)
