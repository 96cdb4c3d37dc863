"""The categories section of the settings (``categories:`` in ``ctfluent.yaml``, ``CTFLUENT_CATEGORIES__*``).

The catalogue itself is ``FLUENT_CATALOGUE_REF`` (environment), shared with the products.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ctfluent_dagster.hooks import HookSettings


class CategorySettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    # Name and summary: the first of these locales the category has (``en`` also matches ``en-US``), else, with
    # `any_locale`, the first locale it has in alphabetical order.
    locales: tuple[str, ...] = ("en", "de")
    any_locale: bool = True
    # The Fluent category type (selects its workflow).
    type: str = "DEFAULT"
    # Fluent ref = the category key. Without key: "id" uses the commercetools id (stable, unlike the slug);
    # "skip" skips the category with that reason (its children then wait for it).
    without_key: Literal["id", "skip"] = "id"
    # A category deleted in commercetools gets this status in Fluent (which has no category delete).
    inactive_status: str = "INACTIVE"
    # Fluent's create inputs carry no status: a new category stays CREATED unless a Fluent workflow moves it. On: each
    # create (a batch of them) is followed by one update setting `active_status`, and updates send it too (so a
    # category whose activation failed gets it with its next push). Off: the status is Fluent's workflow's.
    activate_after_create: bool = True
    active_status: str = "ACTIVE"
    update_policy: Literal["upsert", "create_only"] = "upsert"
    hooks: HookSettings = Field(default_factory=HookSettings)
