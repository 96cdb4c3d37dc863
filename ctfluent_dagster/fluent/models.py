"""Fluent inputs the sync sends, as pydantic models, and the documented length limits they must respect."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# "Max character limit: N" from the descriptions of CreateCustomerInput/UpdateCustomerInput in Fluent's schema;
# strings without a stated limit default to 255 (Fluent's GraphQL query limits page).
DEFAULT_STRING_LIMIT = 255
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


class FluentModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class RetailerId(FluentModel):
    id: str


class AttributeInput(FluentModel):
    name: str
    type: str
    value: Any


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


def length_violations(values: dict[str, Any], limits: dict[str, int]) -> list[str]:
    """Fields longer than Fluent accepts, described for a skip reason: ``primaryPhone is 23 characters (max 20)``."""
    return [
        f"{name} is {len(value)} characters (max {limit})"
        for name, limit in limits.items()
        if isinstance(value := values.get(name), str) and len(value) > limit
    ]
