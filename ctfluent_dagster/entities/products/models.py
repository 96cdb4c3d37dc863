"""A commercetools product projection (published, current data) as read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from ctfluent_dagster.commercetools.models import CtModel, LocalizedString, Money, Reference
from ctfluent_dagster.fluent.models import DEFAULT_STRING_LIMIT

# "Max character limit: N" from Create{Standard,Variant}ProductInput's descriptions; the rest default to 255.
PRODUCT_FIELD_LIMITS = {"ref": 100, "type": 50, "gtin": 20, "name": DEFAULT_STRING_LIMIT}
SUMMARY_LIMIT = 255


class Price(CtModel):
    value: Money
    country: str | None = None
    channel: Reference | None = None
    customer_group: Reference | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    @property
    def scoped(self) -> bool:
        return any((self.country, self.channel, self.customer_group, self.valid_from, self.valid_until))


class Attribute(CtModel):
    name: str
    value: Any


class Image(CtModel):
    url: str


class Variant(CtModel):
    id: int
    sku: str | None = None
    key: str | None = None
    prices: list[Price] = Field(default_factory=list)
    attributes: list[Attribute] = Field(default_factory=list)
    images: list[Image] = Field(default_factory=list)

    def attribute(self, name: str) -> Any:
        return next((a.value for a in self.attributes if a.name == name), None)


class ProductProjection(CtModel):
    id: str
    version: int
    last_modified_at: datetime
    key: str | None = None
    name: LocalizedString
    description: LocalizedString | None = None
    product_type: Reference
    categories: list[Reference] = Field(default_factory=list)
    master_variant: Variant
    variants: list[Variant] = Field(default_factory=list)

    @property
    def all_variants(self) -> list[Variant]:
        return [self.master_variant, *self.variants]
