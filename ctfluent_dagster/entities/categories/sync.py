"""Categories: how the sync engine maps, creates, updates, finds and deactivates them in Fluent.

A category without parent (a root category, or one moved to the root) is updated with ``parentCategory: null``:
Fluent's update input declares the field nullable, and null is the only way the input can say "no parent" (leaving
it out leaves the parent as it is). What Fluent does with null is undocumented, so each such push is noted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ctfluent_dagster.entities.categories import ENTITY_TYPE
from ctfluent_dagster.entities.categories.mapping import SkippedCategory, map_category
from ctfluent_dagster.entities.categories.models import CATEGORY_FIELD_LIMITS, Category
from ctfluent_dagster.entities.categories.settings import CategorySettings
from ctfluent_dagster.entities.shared import CatalogueEntitySync, catalogue_entity_key
from ctfluent_dagster.fluent.client import FluentClient
from ctfluent_dagster.fluent.operations import OperationSet
from ctfluent_dagster.hooks import LoadedHooks
from ctfluent_dagster.records import Dependency, LedgerKey, PlannedPush, PlannedSkip, payload_fingerprint
from ctfluent_dagster.sync.invalid import invalid_record_skip

OPERATIONS = OperationSet(Path(__file__).with_name("operations"))


@dataclass(frozen=True)
class CategoryPush:
    fields: dict[str, Any]  # CreateCategoryInput without catalogue and parent
    category: Category
    parent: Dependency | None


ROOT_NOTE = (
    "no parent: an update sends parentCategory: null, to clear a former parent (what Fluent does with null "
    "is undocumented: check that the category has no parent in Fluent)"
)


class CategorySync(CatalogueEntitySync[CategoryPush]):
    entity_type = ENTITY_TYPE

    def __init__(
        self, fluent: FluentClient, settings: CategorySettings, catalogue: str, hooks: LoadedHooks | None = None
    ) -> None:
        super().__init__(
            fluent,
            create=OPERATIONS["CreateCategory"],
            update=OPERATIONS["UpdateCategory"],
            find=OPERATIONS["CategoryByRef"],
            hooks=hooks or LoadedHooks.load(settings.hooks),
        )
        self.settings = settings
        self.catalogue = catalogue
        self.active_status = settings.active_status if settings.activate_after_create else None

    def plan(self, record: Mapping[str, Any]) -> list[PlannedPush[CategoryPush] | PlannedSkip]:
        try:
            category = Category.model_validate(record)
        except ValidationError as exc:
            return [invalid_record_skip(ENTITY_TYPE, record, exc)]
        key = LedgerKey(ENTITY_TYPE, category.id, self.catalogue)
        label = category.key or category.id
        mapped = map_category(category, self.settings)
        if isinstance(mapped, SkippedCategory):
            return [PlannedSkip(key, category.version, mapped.reason, label)]
        fields = self.hooked_payload(mapped.fields, category, CATEGORY_FIELD_LIMITS)
        if isinstance(fields, str):
            return [PlannedSkip(key, category.version, fields, label)]
        parent = None
        if mapped.parent_id:
            parent = Dependency(ENTITY_TYPE, source_id=mapped.parent_id, target_key=self.catalogue,
                                label=f"parent category {mapped.parent_id}")  # fmt: skip
        return [
            PlannedPush(
                key=key,
                version=category.version,
                ref=mapped.ref,
                payload_hash=payload_fingerprint({"fields": fields, "parent": mapped.parent_id}),
                payload=CategoryPush(fields, category, parent),
                label=label,
                requires=(parent,) if parent else (),
                notes=mapped.notes if parent else (*mapped.notes, ROOT_NOTE),
            )
        ]

    def _input(self, push: PlannedPush[CategoryPush], ref: str) -> dict[str, Any]:
        value = {**push.payload.fields, **catalogue_entity_key(ref, self.catalogue)}
        parent = push.payload.parent
        if parent is not None:
            value["parentCategory"] = catalogue_entity_key(push.resolved[parent].ref, self.catalogue)
        return value

    def create_input(self, push: PlannedPush[CategoryPush]) -> dict[str, Any]:
        return self._input(push, push.ref)

    def update_input(self, push: PlannedPush[CategoryPush], ref: str) -> dict[str, Any]:
        value = {"parentCategory": None, **self._input(push, ref)}  # no parent: null clears a former one
        if self.active_status is not None:
            value["status"] = self.active_status
        return value

    def deactivate_input(self, ref: str) -> dict[str, Any]:
        return self.status_input(ref, self.settings.inactive_status)

    def hook_subject(self, push: PlannedPush[CategoryPush]) -> Category:
        return push.payload.category
