"""The commercetools payloads the sync reads, as pydantic models (API field names via camelCase aliases).

Unknown fields are ignored, so new API fields never break parsing; message types the project does not model
keep their payload in ``Message.model_extra``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
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


def money_amount(cent_amount: int, fraction_digits: int) -> Decimal:
    """A commercetools money value as a decimal: ``centAmount / 10**fractionDigits``, exactly."""
    return Decimal(cent_amount).scaleb(-fraction_digits)


class Money(CtModel):
    """``CentPrecisionMoney``: the value is ``centAmount / 10**fractionDigits``; ``HighPrecisionMoney``:
    ``preciseAmount / 10**fractionDigits`` (its ``centAmount`` is rounded to the currency's own digits)."""

    currency_code: str
    cent_amount: int
    fraction_digits: int = 2
    type: str = "centPrecision"
    precise_amount: int | None = None  # HighPrecisionMoney: in 10**-fractionDigits (centAmount is then rounded)

    @property
    def amount(self) -> Decimal:
        if self.type == "highPrecision" and self.precise_amount is not None:
            return money_amount(self.precise_amount, self.fraction_digits)
        return money_amount(self.cent_amount, self.fraction_digits)


LocalizedString = dict[str, str]


def localized(value: LocalizedString | None, chain: Sequence[str], any_locale: bool = True) -> str | None:
    """The text in the first locale of ``chain`` that has one (``en`` also matches ``en-US``); else, with
    ``any_locale``, the text of the first locale in alphabetical order; else None."""
    if not value:
        return None
    for locale in chain:
        if value.get(locale):
            return value[locale]
        language = locale.split("-")[0]
        for candidate in sorted(value):
            if candidate.split("-")[0] == language and value[candidate]:
                return value[candidate]
    if any_locale:
        return next((value[locale] for locale in sorted(value) if value[locale]), None)
    return None


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
