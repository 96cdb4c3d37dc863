"""Orders: how the sync engine maps them, finds or creates their customer, and creates them in Fluent.

The customer at order time (Fluent's best-practice flow, as in the Adobe module), one Fluent customer per person and
retailer:

* a registered customer's order (``customerId``) links to the Fluent customer the ledger holds for that commercetools
  customer and the order's retailer, whatever the order's email says now (a changed email does not make a second
  customer). When the ledger has none, the customer is synced on demand in this run through the customers' own sync
  (their mapping and hooks) and recorded as the customers' own record, so that a later customer sync updates it;
* else (a guest, or a customer the customers' sync does not send to this retailer) by username
  ``<retailerId>_<email>``: the ledger's customer of that username, else Fluent's (one ``customers(username: [...])``
  query per batch), else one created from the order, through the customers' hooks (which receive the order).

An existing customer is never updated from an order. Orders are created once and never updated: a create answered
"already exists" links the existing order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ctfluent_dagster.entities.customers import ENTITY_TYPE as CUSTOMER
from ctfluent_dagster.entities.customers import CustomerMappingSettings, CustomersAtOrderTime, OrderCustomer
from ctfluent_dagster.entities.orders import ENTITY_TYPE
from ctfluent_dagster.entities.orders.mapping import SkippedOrder, map_order
from ctfluent_dagster.entities.orders.models import ORDER_FIELD_LIMITS, Order
from ctfluent_dagster.entities.orders.settings import OrderSettings
from ctfluent_dagster.entities.products import VARIANT_PRODUCT
from ctfluent_dagster.fluent.client import FluentClient
from ctfluent_dagster.fluent.operations import OperationSet
from ctfluent_dagster.hooks import LoadedHooks
from ctfluent_dagster.privacy import mask_email
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

OPERATIONS = OperationSet(Path(__file__).with_name("operations"))


@dataclass(frozen=True)
class OrderPush:
    order: dict[str, Any]  # CreateOrderInput without the customer
    customer: dict[str, Any]  # CreateCustomerInput, used only when Fluent has no customer of that username
    customer_ref: Dependency  # the customer, by username: resolved through the ledger when it knows it
    # A registered customer's: the customers' own record of that commercetools customer in the order's retailer
    # (synced on demand when the ledger has none).
    registered: Dependency | None
    source: Order | None  # kept only for hooks (the orders', and the customers' for a customer created with it)


class OrderSync(GraphQLEntitySync[OrderPush]):
    entity_type = ENTITY_TYPE

    def __init__(
        self,
        fluent: FluentClient,
        settings: OrderSettings,
        customers: CustomerMappingSettings,
        default_retailer_id: str | None,
        catalogue: str,
        hooks: LoadedHooks | None = None,
    ) -> None:
        super().__init__(fluent, create=OPERATIONS["CreateOrder"], update=None, find=OPERATIONS["OrderByRef"],
                         hooks=hooks or LoadedHooks.load(settings.hooks))  # fmt: skip
        self.settings = settings
        self.customers = customers
        self.default_retailer_id = default_retailer_id
        self.catalogue = catalogue
        # Customers found or created at order time: the customers' own sync, its operations and hooks.
        self._customers = CustomersAtOrderTime(fluent, customers, default_retailer_id)

    # -- mapping ---------------------------------------------------------------------------------------

    def plan(self, record: Mapping[str, Any]) -> list[PlannedPush[OrderPush] | PlannedSkip]:
        try:
            order = Order.model_validate(record)
        except ValidationError as exc:
            return [invalid_record_skip(ENTITY_TYPE, record, exc)]
        key = LedgerKey(ENTITY_TYPE, order.id, "")
        label = (order.order_number or order.id).strip()
        lookup = label  # found by its order number in the history, also while it has no Fluent ref (failed)
        mapped = map_order(order, self.settings, self.customers, self.default_retailer_id, self.catalogue,
                           datetime.now(UTC))  # fmt: skip
        if isinstance(mapped, SkippedOrder):
            return [PlannedSkip(key, order.version, mapped.reason, label, before_create=mapped.failure_code is None,
                                lookup=lookup,
                                failure_code=mapped.failure_code)]  # fmt: skip
        order_input = self.hooked_payload(mapped.order.create_input(), order, ORDER_FIELD_LIMITS)
        if isinstance(order_input, str):
            return [PlannedSkip(key, order.version, order_input, label, before_create=True, lookup=lookup)]
        customer = mapped.customer.create_input()
        username = customer["username"]
        customer_ref = Dependency(CUSTOMER, ref=username, label=mask_email(username), optional=True)
        registered = (
            Dependency(CUSTOMER, source_id=order.customer_id, target_key=mapped.retailer_id, optional=True,
                       on_demand=True, label=f"{mask_email(username)} (the order's customer)")
            if order.customer_id else None
        )  # fmt: skip
        products = tuple(
            Dependency(VARIANT_PRODUCT, ref=sku, target_key=f"{self.catalogue}:{sku}", label=sku, unavailable="fail")
            for sku in mapped.skus
        )
        hooked = self.hooks.any or self._customers.hooked
        return [
            PlannedPush(
                key=key,
                version=order.version,
                ref=order_input["ref"],
                payload_hash=payload_fingerprint({"order": order_input, "customer": username}),
                payload=OrderPush(order_input, customer, customer_ref, registered, order if hooked else None),
                label=label,
                lookup=lookup,
                requires=(*products, *((registered,) if registered else ()), customer_ref),
                notes=mapped.notes,
            )
        ]

    # -- Fluent ----------------------------------------------------------------------------------------

    def prepare(self, creates: Sequence[PlannedPush[OrderPush]], batch_size: int) -> None:
        """The customers of a whole chunk of orders, looked up and created in full batches, rather than a few per
        batch of orders."""
        self._ensure_customers(creates, batch_size)

    def create(self, push: PlannedPush[OrderPush]) -> FluentIdentity:
        self._ensure_customers([push])
        return super().create(push)

    def create_many(self, pushes: Sequence[PlannedPush[OrderPush]]) -> list[FluentIdentity]:
        self._ensure_customers(pushes)
        return super().create_many(pushes)

    def create_input(self, push: PlannedPush[OrderPush]) -> dict[str, Any]:
        return {**push.payload.order, "customer": {"id": self._customer_id(push)}}

    def find_variables(self, ref: str) -> dict[str, Any]:
        return {"ref": ref}

    def hook_subject(self, push: PlannedPush[OrderPush]) -> Order | None:
        return push.payload.source

    # -- the customer at order time --------------------------------------------------------------------

    def _known_customer(self, push: PlannedPush[OrderPush]) -> str | None:
        """The Fluent id of the order's customer when the ledger resolved it: the registered customer's own record,
        else the customer of that username."""
        for reference in (push.payload.registered, push.payload.customer_ref):
            known = push.resolved.get(reference) if reference is not None else None
            if known is not None and known.id:
                return known.id
        return None

    def _customer_id(self, push: PlannedPush[OrderPush]) -> str:
        return self._known_customer(push) or self._customers.id_of(push.payload.customer["username"])

    def _ensure_customers(self, pushes: Sequence[PlannedPush[OrderPush]], batch_size: int | None = None) -> None:
        """Every push's customer has a Fluent id: resolved by the ledger, else found by username or created from
        the order (the customers' :class:`CustomersAtOrderTime`), in requests of ``batch_size`` (default: all)."""
        self._customers.ensure([OrderCustomer(push.payload.customer, push.payload.source) for push in pushes
                                if self._known_customer(push) is None], batch_size)  # fmt: skip
