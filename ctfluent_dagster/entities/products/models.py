"""A commercetools product projection (published, current data) as read, with the Standalone Prices of its variants
when its price mode says so."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AliasChoices, Field

from ctfluent_dagster.commercetools.models import CtModel, LocalizedString, Money, Reference
from ctfluent_dagster.fluent.models import DEFAULT_STRING_LIMIT

# "Max character limit: N" from Create{Standard,Variant}ProductInput's descriptions; the rest default to 255.
PRODUCT_FIELD_LIMITS = {"ref": 100, "type": 50, "gtin": 20, "name": DEFAULT_STRING_LIMIT}
SUMMARY_LIMIT = 255


# Staging keys the products' enrich step adds to a projection in the Standalone price mode (see standalone.py): its
# variants' Standalone Prices, and its version, moved here from ``version`` (see there why).
STANDALONE_PRICES = "ctfluentStandalonePrices"
PRODUCT_VERSION = "ctfluentProductVersion"
STANDALONE = "Standalone"  # ProductPriceMode; without one, or "Embedded", variants use their embedded prices


class Price(CtModel):
    """An embedded ``Price`` (and the scope of a ``StandalonePrice``): a value for a currency, and optionally a
    country, channel, customer group and validity window it applies to."""

    value: Money
    country: str | None = None
    channel: Reference | None = None
    customer_group: Reference | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    @property
    def scope(self) -> tuple[str | None, str | None, str | None]:
        """(customer group id, channel id, country): what price selection matches."""
        return (
            self.customer_group.id if self.customer_group else None,
            self.channel.id if self.channel else None,
            self.country,
        )

    @property
    def dated(self) -> bool:
        return self.valid_from is not None or self.valid_until is not None

    def valid_at(self, moment: datetime) -> bool:
        return (self.valid_from is None or self.valid_from <= moment) and (
            self.valid_until is None or moment < self.valid_until
        )


class StandalonePrice(Price):
    sku: str
    active: bool = True  # an inactive Standalone Price is not considered by price selection


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
    version: int = Field(validation_alias=AliasChoices(PRODUCT_VERSION, "version"))
    last_modified_at: datetime
    key: str | None = None
    name: LocalizedString
    description: LocalizedString | None = None
    product_type: Reference
    categories: list[Reference] = Field(default_factory=list)
    master_variant: Variant
    variants: list[Variant] = Field(default_factory=list)
    price_mode: str | None = None
    standalone_prices: list[StandalonePrice] = Field(default_factory=list, alias=STANDALONE_PRICES)

    @property
    def all_variants(self) -> list[Variant]:
        return [self.master_variant, *self.variants]

    def prices_of(self, variant: Variant) -> list[Price]:
        """The prices price selection considers for ``variant``: its embedded ones, or in the Standalone price mode
        the active Standalone Prices of its SKU."""
        if self.price_mode != STANDALONE:
            return list(variant.prices)
        return [price for price in self.standalone_prices if price.sku == variant.sku and price.active]
