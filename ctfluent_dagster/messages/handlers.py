"""The shipped message handlers. Override one by registering a handler of the same name with a higher priority
(see ``examples/message_handlers.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ctfluent_dagster.commercetools.models import Message
from ctfluent_dagster.messages.routing import MessageHandler, Route, RunPlan, run_key

# Names in the code location these handlers request runs of (checked against the definitions by a test).
CUSTOMER_SYNC_JOB = "customer_sync"
CUSTOMER_SYNC_OPS = ("commercetools__customers", "fluent__customers")
DELETE_CUSTOMERS_JOB = "delete_customers"
DELETE_CUSTOMERS_OP = "mark_customers_deleted"


def _trigger(route: Route, messages: Sequence[Message]) -> str:
    return f"{route.name}: {len(messages)} message(s)"


def customer_sync_run_config(ids: Sequence[str], trigger: str) -> dict[str, Any]:
    """Run config of the customer sync job: the same scope for both assets (empty ids: the whole partition)."""
    scope = {"config": {"ids": list(ids), "trigger": trigger}}
    return {"ops": dict.fromkeys(CUSTOMER_SYNC_OPS, scope)}


class CustomerUpsertHandler:
    """A delta run of the customer sync for the day's partition: re-read these customers, push them."""

    name = "customer.upsert"
    priority = 0

    def plan(self, route: Route, day: str, resource_ids: Sequence[str], messages: Sequence[Message]) -> list[RunPlan]:
        return [
            RunPlan(
                job_name=CUSTOMER_SYNC_JOB,
                run_key=run_key(route, day, messages),
                partition_key=day,
                run_config=customer_sync_run_config(resource_ids, _trigger(route, messages)),
                tags={"ctfluent/route": route.name},
            )
        ]


class CustomerDeleteHandler:
    """Fluent has no customer delete: mark these customers deleted there and in the ledger."""

    name = "customer.delete"
    priority = 0

    def plan(self, route: Route, day: str, resource_ids: Sequence[str], messages: Sequence[Message]) -> list[RunPlan]:
        config = {"ids": list(resource_ids), "partition": day, "trigger": _trigger(route, messages)}
        return [
            RunPlan(
                job_name=DELETE_CUSTOMERS_JOB,
                run_key=run_key(route, day, messages),
                run_config={"ops": {DELETE_CUSTOMERS_OP: {"config": config}}},
                tags={"ctfluent/route": route.name},
            )
        ]


SHIPPED_HANDLERS: tuple[MessageHandler, ...] = (CustomerUpsertHandler(), CustomerDeleteHandler())
