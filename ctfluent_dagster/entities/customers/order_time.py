"""The customer at order time, as the customers offer it to orders: "ensure these customers exist for these orders".

An order is created in Fluent with a customer. A registered customer's is the customers' own record (the ledger's,
else synced on demand through the customers' target); otherwise the order's customer is found by username
(``<retailerId>_<email>``, one ``customers(username: [...])`` query per batch) or, when Fluent has none, created
from the order through the customers' own sync: their operations and payload, field and variables hooks (which
receive the order). An existing customer is never updated from an order.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ctfluent_dagster.commercetools.models import CtModel
from ctfluent_dagster.entities.customers.settings import CustomerMappingSettings
from ctfluent_dagster.entities.customers.sync import OPERATIONS, CustomerPush, CustomerSync
from ctfluent_dagster.fluent.client import FluentAlreadyExistsError, FluentClient
from ctfluent_dagster.records import PlannedPush
from ctfluent_dagster.transport import ApiError, PermanentApiError, TemporaryApiError

# Usernames per customers(username: [...]) query (a page of Fluent's connection).
LOOKUP_PAGE = 100
# The error code of a customer the customers' hooks make too long for Fluent: the order fails with it.
CUSTOMER_TOO_LONG = "TOO_LONG"


@dataclass(frozen=True)
class OrderCustomer:
    """A customer an order needs: its ``CreateCustomerInput`` as the order maps it, and the order (for the hooks;
    None when no hook needs it)."""

    create_input: Mapping[str, Any]
    order: CtModel | None = None

    @property
    def username(self) -> str:
        return str(self.create_input["username"])


class CustomersAtOrderTime:
    """Finds or creates the customers of a run's orders, each once: ids are remembered for the run (thread-safe:
    the engine pushes batches concurrently)."""

    def __init__(self, fluent: FluentClient, settings: CustomerMappingSettings, default_retailer_id: str | None):
        self.fluent = fluent
        self.sync = CustomerSync(fluent, settings, default_retailer_id)
        self._find = OPERATIONS["CustomersByUsername"]
        self._ids: dict[str, str] = {}  # username -> Fluent customer id, found or created in this run
        self._lock = threading.Lock()

    @property
    def hooked(self) -> bool:
        """Whether the customers' hooks need the order a customer is created from."""
        return self.sync.hooks.any

    def id_of(self, username: str) -> str:
        """The Fluent id of a customer :meth:`ensure` found or created."""
        return self._ids[username]

    def ensure(self, customers: Sequence[OrderCustomer], batch_size: int | None = None) -> None:
        """Every one of these customers exists in Fluent: found by username, else created (in batches of
        ``batch_size``, default all in one; one by one when a batch is refused)."""
        wanted: dict[str, OrderCustomer] = {}
        for customer in customers:
            if customer.username not in self._ids:
                wanted.setdefault(customer.username, customer)
        usernames = list(wanted)
        for start in range(0, len(usernames), LOOKUP_PAGE):
            self._lookup(usernames[start : start + LOOKUP_PAGE])
        absent = [customer for username, customer in wanted.items() if username not in self._ids]
        size = batch_size or len(absent) or 1
        for start in range(0, len(absent), size):
            self._create_batch(absent[start : start + size])

    def _create_batch(self, absent: Sequence[OrderCustomer]) -> None:
        if len(absent) > 1:
            try:
                self._create(absent)
                return
            except TemporaryApiError:
                raise
            except ApiError:  # one of them is taken or refused: each on its own, below
                pass
        for customer in absent:
            self._create_alone(customer)

    def _lookup(self, usernames: list[str]) -> None:
        data = self.fluent.execute(self._find, {"usernames": usernames, "first": len(usernames)})
        found = {edge["node"]["username"]: edge["node"]["id"] for edge in data["customers"]["edges"]}
        with self._lock:
            self._ids.update(found)

    def _push(self, customer: OrderCustomer) -> PlannedPush[CustomerPush]:
        """The customer to create with the order, through the customers' payload hooks."""
        push = self.sync.push_for_order(dict(customer.create_input), customer.order)
        if isinstance(push, str):
            raise PermanentApiError(f"the order's customer cannot be created in Fluent: {push}",
                                    code=CUSTOMER_TOO_LONG)  # fmt: skip
        return push

    def _create(self, customers: Sequence[OrderCustomer]) -> None:
        created = self.sync.create_many([self._push(customer) for customer in customers])
        with self._lock:
            for customer, identity in zip(customers, created, strict=True):
                self._ids[customer.username] = str(identity.id)

    def _create_alone(self, customer: OrderCustomer) -> None:
        try:
            created = self.sync.create(self._push(customer))
        except FluentAlreadyExistsError:  # created meanwhile (another order of the same shopper)
            self._lookup([customer.username])
            if customer.username in self._ids:
                return
            raise
        except ApiError as exc:
            exc.message = f"creating the order's customer in Fluent failed: {exc.message}"
            raise
        with self._lock:
            self._ids[customer.username] = str(created.id)
