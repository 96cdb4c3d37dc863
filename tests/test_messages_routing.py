"""Routes, handlers and grouping of messages into runs (pure: no HTTP)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import pytest
from dagster import validate_run_config
from pydantic import ValidationError

from ctfluent_dagster.commercetools.client import CommercetoolsClient
from ctfluent_dagster.commercetools.models import Message
from ctfluent_dagster.definitions import defs
from ctfluent_dagster.entities import ENTITIES
from ctfluent_dagster.examples.message_handlers import TaggedCustomerUpsert
from ctfluent_dagster.messages.handlers import SyncHandler
from ctfluent_dagster.messages.routing import HandlerRegistry, Route, RunPlan, load_routes, route_messages
from ctfluent_dagster.records import RunScope
from ctfluent_dagster.sensors.messages import commercetools_sources, plan_run_request, shipped_handlers

# What the messages sensor uses: the routes and handlers of every entity read from commercetools.
ROUTES = load_routes([source.routes for _, source in commercetools_sources(ENTITIES)])
SHIPPED_HANDLERS = shipped_handlers(ENTITIES)
REGISTRY = HandlerRegistry(SHIPPED_HANDLERS)


def message(type_: str, resource_id: str, created_at: str = "2026-11-20T10:00:00.000Z", type_id: str = "customer",
            message_id: str | None = None, **payload: Any) -> Message:  # fmt: skip
    return Message.model_validate(
        {
            "id": message_id or f"m-{type_}-{resource_id}-{created_at}",
            "type": type_,
            "createdAt": created_at,
            "sequenceNumber": 1,
            "resource": {"typeId": type_id, "id": resource_id},
            "resourceVersion": 2,
            **payload,
        }
    )


def test_customer_changes_become_one_delta_run_per_day() -> None:
    messages = [
        message("CustomerCreated", "c1"),
        message("CustomerFirstNameSet", "c2"),
        message("CustomerEmailChanged", "c1", created_at="2026-11-20T11:00:00.000Z"),  # same customer, same day
        message("CustomerAddressAdded", "c3", created_at="2026-11-21T00:00:00.001Z"),
    ]
    result = route_messages(messages, ROUTES, REGISTRY, max_ids_per_run=100)
    plans = {plan.partition_key: plan for plan in result.plans}
    assert set(plans) == {"2026-11-20", "2026-11-21"}
    assert plans["2026-11-20"].job_name == "customers_sync"
    assert plans["2026-11-20"].scope.ids == ("c1", "c2")
    assert result.routed == {"commercetools.connect.customer.upsert": 4}


def test_deletions_become_a_deletion_run_and_unknown_types_are_counted() -> None:
    messages = [
        message("CustomerDeleted", "c9"),
        message("CustomerPasswordUpdated", "c1"),
        message("CustomerPasswordTokenCreated", "c1", value="secret-token"),
        message("OrderShipmentStateChanged", "o1", type_id="order", shipmentState="Shipped"),
    ]
    result = route_messages(messages, ROUTES, REGISTRY, max_ids_per_run=100)
    (plan,) = result.plans
    # A run of the customers' own sync job for the day, scoped to the deleted ids (no re-read).
    assert (plan.job_name, plan.partition_key) == ("customers_sync", "2026-11-20")
    assert (plan.scope.deleted_ids, plan.scope.ids) == (("c9",), ())
    # A shipment state change (the fulfilments write them) is no work for Fluent.
    assert result.unrouted == {"CustomerPasswordUpdated": 1, "CustomerPasswordTokenCreated": 1,
                               "OrderShipmentStateChanged": 1}  # fmt: skip


def test_an_order_state_change_re_reads_the_order_for_its_cancellation() -> None:
    """A cancellation in commercetools goes to Fluent: the orders' sync job re-reads the order (its cancellation
    target sends the event when it is Cancelled, and reads Fluent first: a state the back-sync wrote sends none)."""
    messages = [message("OrderStateChanged", "o1", type_id="order", orderState="Cancelled")]
    (plan,) = route_messages(messages, ROUTES, REGISTRY, max_ids_per_run=100).plans
    assert (plan.job_name, plan.scope.ids) == ("orders_sync", ("o1",))


def test_new_orders_and_payment_changes_become_runs_of_their_entities() -> None:
    messages = [
        message("OrderCreated", "o1", type_id="order"),
        message("OrderImported", "o2", type_id="order"),
        message("PaymentTransactionStateChanged", "p1", type_id="payment", transactionId="t1", state="Success"),
        # An order's message about a payment: work for the payment it names, not for the order.
        message("OrderPaymentAdded", "o1", type_id="order", paymentRef={"typeId": "payment", "id": "p2"}),
        message("OrderPaymentAdded", "o3", type_id="order"),  # no paymentRef: nothing to re-read
    ]
    result = route_messages(messages, ROUTES, REGISTRY, max_ids_per_run=100)
    ids: dict[str, list[str]] = {}
    for plan in result.plans:
        ids.setdefault(plan.job_name, []).extend(plan.scope.ids)
    assert {job: sorted(found) for job, found in ids.items()} == {"orders_sync": ["o1", "o2"],
                                                                  "payments_sync": ["p1", "p2"]}  # fmt: skip
    assert result.unrouted == {"OrderPaymentAdded": 1}


class RecordingHandler:
    """Accepts whatever it is given and remembers it."""

    name = "customer.upsert"
    priority = 0

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def plan(self, route: Route, day: str, resource_ids: Sequence[str], messages: Sequence[Message]) -> list[RunPlan]:
        self.messages += messages
        return [RunPlan(job_name="j", run_key=f"{route.name}:{day}", scope=RunScope(ids=tuple(resource_ids)))]


def test_token_messages_reach_no_handler_even_through_a_route_that_takes_them() -> None:
    # A routes file cannot include token messages (see test_routes_files_are_checked); should a route take them
    # all the same (built without validation), routing still drops them before any handler sees their payload.
    careless = Route.model_construct(
        name="careless", type_id="customer", handler="customer.upsert",
        inclusion_filter=("CustomerPasswordTokenCreated", "CustomerEmailTokenCreated", "CustomerCreated"),
    )  # fmt: skip
    handler = RecordingHandler()
    messages = [
        message("CustomerPasswordTokenCreated", "c1", value="secret-token"),
        message("CustomerEmailTokenCreated", "c2", value="other-secret"),
        message("CustomerCreated", "c3"),
    ]
    result = route_messages(messages, [careless], HandlerRegistry([handler]), max_ids_per_run=100)
    assert [m.type for m in handler.messages] == ["CustomerCreated"]
    assert result.unrouted == {"CustomerPasswordTokenCreated": 1, "CustomerEmailTokenCreated": 1}
    assert [plan.scope.ids for plan in result.plans] == [("c3",)]
    assert "secret" not in repr(result)


def test_a_burst_makes_a_handful_of_runs() -> None:
    messages = [message("CustomerFirstNameSet", f"c{i:05d}") for i in range(10_000)]
    result = route_messages(messages, ROUTES, REGISTRY, max_ids_per_run=2000)
    assert len(result.plans) == 5
    ids = [i for plan in result.plans for i in plan.scope.ids]
    assert sorted(ids) == sorted({m.resource.id for m in messages})


def test_run_keys_repeat_for_the_same_messages_and_change_with_new_ones() -> None:
    first = [message("CustomerFirstNameSet", "c1", message_id="a"), message("CustomerTitleSet", "c2", message_id="b")]
    again = route_messages(list(reversed(first)), ROUTES, REGISTRY, 100).plans[0].run_key
    assert route_messages(first, ROUTES, REGISTRY, 100).plans[0].run_key == again
    later = [*first, message("CustomerTitleSet", "c1", message_id="c")]
    assert route_messages(later, ROUTES, REGISTRY, 100).plans[0].run_key != again


def test_shipped_handlers_request_runs_the_code_location_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "CTP_PROJECT_KEY",
        "CTP_CLIENT_ID",
        "CTP_CLIENT_SECRET",
        "FLUENT_HOST",
        "FLUENT_CLIENT_ID",
        "FLUENT_CLIENT_SECRET",
        "FLUENT_USERNAME",
        "FLUENT_PASSWORD",
        "FLUENT_RETAILER_ID",
    ):
        monkeypatch.setenv(name, "placeholder")  # validation resolves the resources' EnvVars too
    messages = [message("CustomerCreated", "c1"), message("CustomerDeleted", "c2")]
    for plan in route_messages(messages, ROUTES, REGISTRY, 100).plans:
        job = defs.resolve_job_def(plan.job_name)
        request = plan_run_request(plan, ENTITIES)  # what the sensor requests: the scope as each asset's config
        assert validate_run_config(job, request.run_config)
        assert {op["config"]["trigger"] for op in request.run_config["ops"].values()} == {plan.scope.trigger}
        if plan.partition_key:
            assert job.partitions_def is not None
            assert job.partitions_def.has_partition_key(plan.partition_key)


def test_a_configured_handler_with_higher_priority_replaces_the_shipped_one() -> None:
    shipped = REGISTRY.get("customer.upsert")
    registry = HandlerRegistry.with_configured(
        SHIPPED_HANDLERS, ["ctfluent_dagster.examples.message_handlers:TaggedCustomerUpsert"]
    )
    configured = registry.get("customer.upsert")
    assert isinstance(configured, TaggedCustomerUpsert) and configured.replaces is shipped  # it wraps what it replaces
    (plan,) = route_messages([message("CustomerCreated", "c1")], ROUTES, registry, 100).plans
    (original,) = route_messages([message("CustomerCreated", "c1")], ROUTES, REGISTRY, 100).plans
    assert plan.tags == {**original.tags, "team": "crm"}
    assert (plan.job_name, plan.scope, plan.run_key) == (original.job_name, original.scope, original.run_key)
    lower = SyncHandler("customer.upsert", "another_job", priority=-1)
    assert HandlerRegistry([*SHIPPED_HANDLERS, lower]).get("customer.upsert") is shipped


def test_a_route_to_an_unknown_handler_fails_clearly(tmp_path: Path) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(
        "routes:\n  - {name: r, type_id: customer, handler: customer.nothing, inclusion_filter: [CustomerCreated]}\n"
    )
    with pytest.raises(KeyError, match=r"no message handler named 'customer\.nothing'"):
        route_messages([message("CustomerCreated", "c1")], load_routes(routes), REGISTRY, 100)


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("routes:\n  - {name: r, type_id: customer, handler: h, inclusion_filter: [CustomerEmailTokenCreated]}\n",
         "carry secrets"),
        ("routes:\n  - {name: r, type_id: customer, handler: h, inclusion_filter: [A]}\n"
         "  - {name: r, type_id: order, handler: h, inclusion_filter: [B]}\n", "unique"),
    ],
)  # fmt: skip
def test_routes_files_are_checked(tmp_path: Path, content: str, error: str) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(content)
    with pytest.raises((ValidationError, ValueError), match=error):
        load_routes(routes)


def product_of_price(client: object, messages: Sequence[Message]) -> dict[str, list[str]]:
    """A resolver for the test below: a price message's product is in its payload here (the real one reads it)."""
    assert client == "the sensor's client"
    return {m.id: [m.model_extra["product"]] for m in messages if m.model_extra and "product" in m.model_extra}


def test_a_route_with_a_resolver_requests_runs_of_the_records_it_resolves_to() -> None:
    prices = Route(name="prices", type_id="standalone-price", handler="product.upsert",
                   resolve_ids="tests.test_messages_routing:product_of_price",
                   inclusion_filter=("StandalonePriceValueChanged",))  # fmt: skip
    messages = [
        message("StandalonePriceValueChanged", f"sp{n}", type_id="standalone-price", product=product)
        for n, product in enumerate(["p1", "p2", "p1", "p3"])
    ]
    messages.append(message("StandalonePriceValueChanged", "sp9", type_id="standalone-price"))  # no product
    reader = cast(CommercetoolsClient, "the sensor's client")
    result = route_messages(messages, [prices], REGISTRY, max_ids_per_run=2, reader=reader)
    assert result.routed == {"prices": 5}
    scopes = [plan.scope for plan in result.plans]
    assert [scope.ids for scope in scopes] == [("p1", "p2"), ("p3",)]
    assert [scope.trigger for scope in scopes] == ["prices: 3 message(s)", "prices: 1 message(s)"]
    assert len({plan.run_key for plan in result.plans}) == 2  # each run keyed by its own messages
    with pytest.raises(ValueError, match="a client is needed"):
        route_messages(messages, [prices], REGISTRY, max_ids_per_run=2)


def test_standalone_price_messages_are_routed_to_their_products() -> None:
    (route,) = [r for r in ROUTES if r.type_id == "standalone-price"]
    assert route.handler == "product.upsert" and route.resolver() is not None
    assert {"StandalonePriceCreated", "StandalonePriceValueChanged", "StandalonePriceDeleted"} <= set(
        route.inclusion_filter
    )
