"""Payments: each successful commercetools payment transaction -> a Fluent financial transaction on the payment's
order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ctfluent_dagster.commercetools.client import IDS_PER_QUERY, CommercetoolsClient
from ctfluent_dagster.entities.payments.models import ORDER_LINK
from ctfluent_dagster.entities.payments.settings import PaymentSettings
from ctfluent_dagster.entities.payments.sync import ENTITY_TYPE, FinancialTransactionSync
from ctfluent_dagster.entity import CommercetoolsSource, EntityDeclaration, SyncContext, Target


def with_orders(client: CommercetoolsClient, page: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each payment with the order that references it (``where=paymentInfo(payments(id in ...))``: a payment does
    not reference its order), one query per 100 payments; a payment no order references yet gets none."""
    owners: dict[str, dict[str, Any]] = {}
    ids = [payment["id"] for payment in page]
    for start in range(0, len(ids), IDS_PER_QUERY):  # a page of ids in one URL would be too long for the API
        for orders in client.iterate_by_id("orders", where="paymentInfo(payments(id in :ids))",
                                           variables={"ids": ids[start : start + IDS_PER_QUERY]}):  # fmt: skip
            owners.update(_owners(orders))
    return [{**payment, ORDER_LINK: owners.get(payment["id"])} for payment in page]


def _owners(orders: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Payment id -> the order (id, number) that references it."""
    owners: dict[str, dict[str, Any]] = {}
    for order in orders:
        link = {"id": order["id"], "orderNumber": order.get("orderNumber")}
        for reference in order.get("paymentInfo", {}).get("payments", ()):
            owners.setdefault(reference["id"], link)
    return owners


def _build(context: SyncContext) -> FinancialTransactionSync:
    return FinancialTransactionSync(context.fluent, context.entity_settings(PaymentSettings))


ENTITY = EntityDeclaration(
    name="payments",
    source=CommercetoolsSource(
        name="payments",
        type_id="payment",
        resource="payments",
        scopes=("view_payments", "view_orders"),  # orders: to find each payment's order
        description="commercetools payments whose current lastModifiedAt falls in the day (UTC), each with the order "
        "that references it, staged as Parquet.",
        enrich=with_orders,
        after=("orders",),
        routes=Path(__file__).with_name("routes.yaml"),
    ),
    targets=(
        Target(
            name="financial_transactions",
            entity_type=ENTITY_TYPE,
            description="Fluent financial transactions on their orders: one per successful commercetools payment "
            "transaction, created once.",
            build=_build,
            after=("orders",),
            gone_status="deleted",
            deactivate_gone=False,  # a payment deleted in commercetools leaves its transactions in Fluent
        ),
    ),
    settings=PaymentSettings,
    # Whether an order is sent decides whether its transactions are: a change there maps them anew.
    uses_settings=("orders",),
)
