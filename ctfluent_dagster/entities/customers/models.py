"""A commercetools customer as read, and a Fluent customer as the sync sends it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from ctfluent_dagster.commercetools.models import Address, CtModel, CustomFields, StoreKeyReference
from ctfluent_dagster.fluent.models import DEFAULT_STRING_LIMIT, AttributeInput, FluentModel, RetailerId

# "Max character limit: N" from the descriptions of CreateCustomerInput/UpdateCustomerInput in Fluent's schema.
ENTITY_TYPE = "customer"  # the ledger's

CUSTOMER_FIELD_LIMITS: dict[str, int] = {
    "username": 250,
    "title": 50,
    "department": DEFAULT_STRING_LIMIT,
    "country": 100,
    "firstName": 50,
    "lastName": 50,
    "primaryEmail": 250,
    "primaryPhone": 20,
    "timezone": 32,
}


class Customer(CtModel):
    id: str
    version: int
    created_at: datetime
    last_modified_at: datetime
    email: str
    key: str | None = None
    customer_number: str | None = None
    external_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    middle_name: str | None = None
    title: str | None = None
    salutation: str | None = None
    company_name: str | None = None
    date_of_birth: str | None = None
    addresses: list[Address] = Field(default_factory=list)
    default_shipping_address_id: str | None = None
    default_billing_address_id: str | None = None
    locale: str | None = None
    stores: list[StoreKeyReference] = Field(default_factory=list)
    custom: CustomFields | None = None


class FluentCustomer(FluentModel):
    """A Fluent customer as the sync wants it: the fields of ``CreateCustomerInput``."""

    username: str
    first_name: str
    primary_email: str
    timezone: str
    promotion_opt_in: bool
    retailer: RetailerId
    last_name: str | None = None
    primary_phone: str | None = None
    title: str | None = None
    department: str | None = None
    country: str | None = None
    attributes: list[AttributeInput] = Field(default_factory=list)

    def create_input(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


# CreateCustomerInput fields that UpdateCustomerInput does not have.
_CREATE_ONLY_CUSTOMER_FIELDS = ("department", "retailer")


def customer_update_input(create_input: dict[str, Any], username: str) -> dict[str, Any]:
    """``UpdateCustomerInput`` from a create input: identified by ``username`` (which never changes)."""
    fields = {k: v for k, v in create_input.items() if k not in _CREATE_ONLY_CUSTOMER_FIELDS}
    return fields | {"username": username}
