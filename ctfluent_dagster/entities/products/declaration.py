"""Products: published commercetools product projections -> Fluent standard products and variant products in the
catalogue ``FLUENT_CATALOGUE_REF``, linked to each other and to their categories."""

from __future__ import annotations

from pathlib import Path

from ctfluent_dagster.entities.categories.catalogue import catalogue_checks, catalogue_ref
from ctfluent_dagster.entities.products.settings import ProductSettings
from ctfluent_dagster.entities.products.sync import (
    STANDARD_PRODUCT,
    VARIANT_PRODUCT,
    StandardProductSync,
    VariantProductSync,
)
from ctfluent_dagster.entity import EntityDeclaration, Source, SyncContext, Target


def _standard(context: SyncContext) -> StandardProductSync:
    return StandardProductSync(context.fluent, context.entity_settings(ProductSettings), catalogue_ref(context))


def _variant(context: SyncContext) -> VariantProductSync:
    return VariantProductSync(context.fluent, context.entity_settings(ProductSettings), catalogue_ref(context))


ENTITY = EntityDeclaration(
    name="products",
    source=Source(
        name="products",
        type_id="product",
        resource="product-projections",
        extra=(("staged", "false"),),  # published projections only, with their current data
        scopes=("view_published_products",),
        page_size=100,  # a projection with its variants is ~7 KB of JSON: 100 per page keeps a page small
        description="Published commercetools product projections whose lastModifiedAt falls in the day (UTC), "
        "staged as Parquet.",
    ),
    targets=(
        Target(
            name="standard_products",
            entity_type=STANDARD_PRODUCT,
            description="Fluent standard products (one per commercetools product), linked to their categories.",
            build=_standard,
            after=("categories",),
            gone_status="inactive",  # unpublished (or deleted): inactive, active again when published
        ),
        Target(
            name="variant_products",
            entity_type=VARIANT_PRODUCT,
            description="Fluent variant products (one per variant, ref = SKU), linked to their standard product "
            "and categories, with prices per currency.",
            build=_variant,
            after=("categories", "standard_products"),
            gone_status="inactive",
            deactivate_dropped=True,  # a removed variant (or a changed SKU) becomes inactive
        ),
    ),
    settings=ProductSettings,
    routes=Path(__file__).with_name("routes.yaml"),
    preflight=catalogue_checks,
)
