"""Products: published commercetools product projections -> Fluent standard products and variant products in the
catalogue ``FLUENT_CATALOGUE_REF``, linked to each other and to their categories."""

from __future__ import annotations

from pathlib import Path

from ctfluent_dagster.entities.products import STANDARD_PRODUCT, VARIANT_PRODUCT
from ctfluent_dagster.entities.products.preflight import product_checks
from ctfluent_dagster.entities.products.pricing import resolved_ids, with_standalone_prices
from ctfluent_dagster.entities.products.settings import ProductSettings
from ctfluent_dagster.entities.products.sync import StandardProductSync, VariantProductSync
from ctfluent_dagster.entities.shared import CATALOGUE, catalogue_ref
from ctfluent_dagster.entity import CommercetoolsSource, EntityDeclaration, SyncContext, Target


def _standard(context: SyncContext) -> StandardProductSync:
    return StandardProductSync(context.fluent, context.entity_settings(ProductSettings), catalogue_ref(context))


def _variant(context: SyncContext) -> VariantProductSync:
    settings = context.entity_settings(ProductSettings)
    channel_id, customer_group_id = resolved_ids(context.commercetools, settings.prices)
    return VariantProductSync(context.fluent, settings, catalogue_ref(context), channel_id=channel_id,
                              customer_group_id=customer_group_id)  # fmt: skip


ENTITY = EntityDeclaration(
    name="products",
    source=CommercetoolsSource(
        name="products",
        type_id="product",
        resource="product-projections",
        extra=(("staged", "false"),),  # published projections only, with their current data
        # Product types: for pre-flight (where the GTINs are). Standalone Prices need view_standalone_prices too,
        # but only projects that use them: it is not asked for unless CTP_SCOPES names it (pre-flight says so).
        scopes=("view_published_products", "view_product_types"),
        page_size=100,  # a projection with its variants is ~7 KB of JSON: 100 per page keeps a page small
        description="Published commercetools product projections whose lastModifiedAt falls in the day (UTC), "
        "those in the Standalone price mode with their Standalone Prices, staged as Parquet.",
        enrich=with_standalone_prices,
        routes=Path(__file__).with_name("routes.yaml"),
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
    preflight=product_checks,
    context=(CATALOGUE,),
)
