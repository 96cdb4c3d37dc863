"""Customers: commercetools customers -> Fluent customers (one per Fluent retailer).

What customers offer other entities (orders):

* :data:`ENTITY_TYPE`: the ledger's entity type of a customer; an order of a registered customer references the
  customers' own record (synced on demand, through the customers' target, when it is not in Fluent yet);
* :class:`CustomersAtOrderTime`: "ensure these customers exist for these orders", through the customers' own sync
  (their operations and hooks), for the customers an order is created with (a guest's);
* how an order maps its customer as customers do: :class:`FluentCustomer` and its :data:`CUSTOMER_FIELD_LIMITS`,
  and the customers' settings section (:class:`CustomerMappingSettings`: the username rule's case, the store
  retailers, the time zones).
"""

from ctfluent_dagster.entities.customers.models import CUSTOMER_FIELD_LIMITS, ENTITY_TYPE, FluentCustomer
from ctfluent_dagster.entities.customers.order_time import CUSTOMER_TOO_LONG, CustomersAtOrderTime, OrderCustomer
from ctfluent_dagster.entities.customers.settings import CustomerMappingSettings

__all__ = [
    "CUSTOMER_FIELD_LIMITS",
    "CUSTOMER_TOO_LONG",
    "ENTITY_TYPE",
    "CustomerMappingSettings",
    "CustomersAtOrderTime",
    "FluentCustomer",
    "OrderCustomer",
]
