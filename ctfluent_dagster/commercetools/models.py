"""The commercetools payloads the sync reads, as pydantic models (API field names via camelCase aliases).

Unknown fields are ignored, so new API fields never break parsing; message types the project does not model
keep their payload in ``Message.model_extra``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class CtModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class Reference(CtModel):
    type_id: str
    id: str


class StoreKeyReference(CtModel):
    type_id: str = "store"
    key: str


class CustomFields(CtModel):
    type: Reference
    fields: dict[str, Any] = Field(default_factory=dict)


class Address(CtModel):
    id: str | None = None
    key: str | None = None
    title: str | None = None
    salutation: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    street_name: str | None = None
    street_number: str | None = None
    additional_street_info: str | None = None
    postal_code: str | None = None
    city: str | None = None
    region: str | None = None
    state: str | None = None
    country: str
    company: str | None = None
    department: str | None = None
    building: str | None = None
    apartment: str | None = None
    p_o_box: str | None = None
    phone: str | None = None
    mobile: str | None = None
    email: str | None = None


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


class MessagesConfiguration(CtModel):
    enabled: bool
    delete_days_after_creation: int | None = None


class Project(CtModel):
    key: str
    name: str
    version: int
    messages: MessagesConfiguration


class Message(CtModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=True)

    id: str
    type: str
    created_at: datetime
    sequence_number: int
    resource: Reference
    resource_version: int
    resource_user_provided_identifiers: dict[str, Any] | None = None


class TokenInfo(CtModel):
    """`POST /oauth/introspect`."""

    active: bool
    scope: str | None = None
    exp: int | None = None
    client_id: str | None = None


ItemT = TypeVar("ItemT")


class PagedQueryResponse(CtModel, Generic[ItemT]):
    limit: int
    offset: int
    count: int
    total: int | None = None
    results: list[ItemT]
