"""The products section of the settings (``products:`` in ``ctfluent.yaml``, ``CTFLUENT_PRODUCTS__*``).

The catalogue itself is ``FLUENT_CATALOGUE_REF`` (environment), shared with the categories.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ctfluent_dagster.hooks import HookSettings


class TaxType(BaseModel):
    """Fluent's ``TaxTypeInput``, sent with every product when configured."""

    model_config = ConfigDict(frozen=True)

    country: str
    group: str
    tariff: str


class ResourceRef(BaseModel):
    """A commercetools resource by id or by key (its ``ResourceIdentifier``): exactly one of them."""

    model_config = ConfigDict(frozen=True)

    id: str | None = None
    key: str | None = None

    @model_validator(mode="after")
    def _one_of_them(self) -> ResourceRef:
        if (self.id is None) == (self.key is None):
            raise ValueError("give either an id or a key")
        return self


class PriceSelection(BaseModel):
    """Which of a variant's prices Fluent gets, per currency: commercetools' price selection (the scope a cart of
    this country, channel and customer group would be priced in), at the time of the sync."""

    model_config = ConfigDict(frozen=True)

    # The currencies sent; empty: every currency the variant has a price in.
    currencies: tuple[str, ...] = ()
    # The selection's country (ISO 3166-1 alpha-2), channel and customer group; None: prices without that scope.
    country: str | None = None
    # A country per currency, instead of `country` for that currency (e.g. {USD: US, JPY: JP}).
    country_by_currency: dict[str, str] = Field(default_factory=dict)
    channel: ResourceRef | None = None
    customer_group: ResourceRef | None = None

    def country_for(self, currency: str) -> str | None:
        return self.country_by_currency.get(currency, self.country)


class ProductSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    # Names, summaries and localized attribute values: the first of these locales the product has (``en`` also
    # matches ``en-US``), else, with `any_locale`, its first locale in alphabetical order.
    locales: tuple[str, ...] = ("en", "de")
    any_locale: bool = True
    # Fluent product types (they select the workflow): per commercetools product type id, else these.
    standard_type: str = "STANDARD"
    variant_type: str = "VARIANT"
    type_by_product_type: dict[str, str] = Field(default_factory=dict)
    # Standard product ref = the product key. Without key: "id" uses the commercetools id; "skip" skips the product
    # (and its variants, which wait for it) with that reason.
    without_key: Literal["id", "skip"] = "id"
    # Standard and variant products share one ref namespace per catalogue and a variant's ref is its SKU (orders
    # reference SKUs). When the standard ref equals one of the product's SKUs, the variant keeps the SKU and the
    # standard product takes: "suffix" its ref + `collision_suffix`, or "id" the commercetools id.
    ref_collision: Literal["suffix", "id"] = "suffix"
    collision_suffix: str = "-product"
    # GTIN (required by Fluent, max 20): the value of this variant attribute. The standard product takes its master
    # variant's. Missing: "skip" the variant with the reason, or "sku": the SKU stands in when it fits 20 characters.
    gtin_attribute: str = "gtin"
    missing_gtin: Literal["skip", "sku"] = "skip"
    # Prices: per currency, the price commercetools' own price selection picks for `prices` (see PriceSelection),
    # from the variant's embedded prices or, for a product in the Standalone price mode, its Standalone Prices; sent
    # as Fluent prices of this type.
    prices: PriceSelection = Field(default_factory=PriceSelection)
    price_type: str = "DEFAULT"
    # Variant attributes copied to Fluent (enum -> its label, localized -> the locale chain); images always go as
    # the JSON attribute `imageUrls`.
    attributes: tuple[str, ...] = ()
    tax_type: TaxType | None = None
    # Unpublished or deleted in commercetools -> this status in Fluent; published again -> `active_status`.
    inactive_status: str = "INACTIVE"
    active_status: str = "ACTIVE"
    # Fluent's create inputs carry no status: a new standard or variant product stays CREATED unless a Fluent workflow
    # moves it. On: each create (a batch of them) is followed by one update setting `active_status`. Off: the status
    # is left to Fluent's workflow until the product's first update.
    activate_after_create: bool = True
    update_policy: Literal["upsert", "create_only"] = "upsert"
    hooks: HookSettings = Field(default_factory=HookSettings)
