"""The products section of the settings (``products:`` in ``ctfluent.yaml``, ``CTFLUENT_PRODUCTS__*``).

The catalogue itself is ``FLUENT_CATALOGUE_REF`` (environment), shared with the categories.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ctfluent_dagster.hooks import HookSettings


class TaxType(BaseModel):
    """Fluent's ``TaxTypeInput``, sent with every product when configured."""

    model_config = ConfigDict(frozen=True)

    country: str
    group: str
    tariff: str


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
    # Prices: per currency, the variant's price without country, channel, customer group or validity window, as
    # Fluent prices of this type.
    price_type: str = "DEFAULT"
    # Variant attributes copied to Fluent (enum -> its label, localized -> the locale chain); images always go as
    # the JSON attribute `imageUrls`.
    attributes: tuple[str, ...] = ()
    tax_type: TaxType | None = None
    # Unpublished or deleted in commercetools -> this status in Fluent; published again -> `active_status`.
    inactive_status: str = "INACTIVE"
    active_status: str = "ACTIVE"
    update_policy: Literal["upsert", "create_only"] = "upsert"
    hooks: HookSettings = Field(default_factory=HookSettings)
