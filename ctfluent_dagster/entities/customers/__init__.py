"""Customers: commercetools customers -> Fluent customers (one per Fluent retailer).

What other entities use of customers (orders: the customer at order time) is named here.
"""

from ctfluent_dagster.entities.customers.mapping import configured_retailers, fluent_username
from ctfluent_dagster.entities.customers.models import CUSTOMER_FIELD_LIMITS, FluentCustomer
from ctfluent_dagster.entities.customers.settings import CustomerMappingSettings
from ctfluent_dagster.entities.customers.sync import ENTITY_TYPE, CustomerPush, CustomerSync

__all__ = [
    "CUSTOMER_FIELD_LIMITS",
    "ENTITY_TYPE",
    "CustomerMappingSettings",
    "CustomerPush",
    "CustomerSync",
    "FluentCustomer",
    "configured_retailers",
    "fluent_username",
]
