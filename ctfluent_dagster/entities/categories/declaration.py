"""Categories: commercetools categories -> Fluent categories in the catalogue ``FLUENT_CATALOGUE_REF``."""

from __future__ import annotations

from pathlib import Path

from ctfluent_dagster.entities.categories import ENTITY_TYPE
from ctfluent_dagster.entities.categories.settings import CategorySettings
from ctfluent_dagster.entities.categories.sync import CategorySync
from ctfluent_dagster.entities.shared import CATALOGUE, catalogue_checks, catalogue_ref
from ctfluent_dagster.entity import CommercetoolsSource, EntityDeclaration, SyncContext, Target


def _build(context: SyncContext) -> CategorySync:
    return CategorySync(context.fluent, context.entity_settings(CategorySettings), catalogue_ref(context))


ENTITY = EntityDeclaration(
    name="categories",
    source=CommercetoolsSource(
        name="categories",
        type_id="category",
        resource="categories",
        scopes=("view_categories",),
        description="commercetools categories whose current lastModifiedAt falls in the day (UTC), staged as Parquet.",
        routes=Path(__file__).with_name("routes.yaml"),
    ),
    targets=(
        Target(
            name="categories",
            entity_type=ENTITY_TYPE,
            description="Fluent categories in the product catalogue; a parent is created before its children.",
            build=_build,
            gone_status="deleted",  # commercetools never reuses an id; Fluent gets the inactive status
        ),
    ),
    settings=CategorySettings,
    preflight=catalogue_checks,
    context=(CATALOGUE,),
)
