"""commercetools category -> Fluent category: pure functions, no I/O.

* ref: the category key; without key, per ``without_key``: the commercetools id, or a skip with the reason;
* name and summary (the description): in the ``locales`` chain; no name at all is a skip; a summary longer than
  Fluent's 255 characters is cut, and the cut is recorded with the run;
* the parent is a reference to another category, resolved by the engine through the ledger (the category waits
  until its parent is in Fluent), so parents are created before their children;
* attributes keep the commercetools identity: id, key, slug (in the locale chain).
"""

from __future__ import annotations

from dataclasses import dataclass

from ctfluent_dagster.commercetools.models import localized
from ctfluent_dagster.entities.categories.models import CATEGORY_FIELD_LIMITS, Category
from ctfluent_dagster.entities.categories.settings import CategorySettings
from ctfluent_dagster.fluent.models import AttributeInput, cut_to_limit, length_violations


@dataclass(frozen=True)
class MappedCategory:
    """A Fluent category without its catalogue and parent key (added when sent)."""

    ref: str
    fields: dict[str, object]  # type, name, summary?, attributes
    parent_id: str | None  # the commercetools id of the parent category
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SkippedCategory:
    reason: str


def category_ref(category: Category, settings: CategorySettings) -> str | None:
    if category.key:
        return category.key
    return category.id if settings.without_key == "id" else None


def map_category(category: Category, settings: CategorySettings) -> MappedCategory | SkippedCategory:
    ref = category_ref(category, settings)
    if ref is None:
        return SkippedCategory("the category has no key (without_key: skip)")
    name = localized(category.name, settings.locales, settings.any_locale)
    if not name:
        return SkippedCategory(f"the category has no name in {', '.join(settings.locales)}")
    notes: list[str] = []
    summary = cut_to_limit(
        localized(category.description, settings.locales, settings.any_locale), 255, "summary", notes
    )
    attributes = [AttributeInput(name="ctCategoryId", type="STRING", value=category.id)]
    if category.key:
        attributes.append(AttributeInput(name="ctKey", type="STRING", value=category.key))
    slug = localized(category.slug, settings.locales, settings.any_locale)
    if slug:
        attributes.append(AttributeInput(name="ctSlug", type="STRING", value=slug))
    fields: dict[str, object] = {"ref": ref, "type": settings.type, "name": name}
    if summary:
        fields["summary"] = summary
    problems = length_violations(fields, CATEGORY_FIELD_LIMITS)
    if problems:
        return SkippedCategory("too long for Fluent: " + "; ".join(problems))
    fields["attributes"] = [a.model_dump(by_alias=True) for a in attributes]
    return MappedCategory(ref, fields, category.parent.id if category.parent else None, tuple(notes))
