"""Categories: how the sync engine maps, creates, updates, finds and deactivates them in Fluent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ctfluent_dagster.entities.categories.catalogue import OPERATIONS, catalogue_entity_key
from ctfluent_dagster.entities.categories.mapping import ENTITY_TYPE, SkippedCategory, map_category
from ctfluent_dagster.entities.categories.models import CATEGORY_FIELD_LIMITS, Category
from ctfluent_dagster.entities.categories.settings import CategorySettings
from ctfluent_dagster.fluent.client import FluentClient
from ctfluent_dagster.hooks import LoadedHooks
from ctfluent_dagster.ledger.store import Dependency, LedgerKey, payload_fingerprint
from ctfluent_dagster.sync.engine import PlannedPush, PlannedSkip
from ctfluent_dagster.sync.graphql_entity import GraphQLEntitySync
from ctfluent_dagster.sync.invalid import invalid_record_skip


@dataclass(frozen=True)
class CategoryPush:
    fields: dict[str, Any]  # CreateCategoryInput without catalogue and parent
    category: Category
    parent: Dependency | None


class CategorySync(GraphQLEntitySync[CategoryPush]):
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
                notes=mapped.notes,
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
        return self._input(push, ref)

    def find_variables(self, ref: str) -> dict[str, Any]:
        return {"ref": ref, "catalogue": self.catalogue}

    def deactivate_input(self, ref: str) -> dict[str, Any]:
        return {**catalogue_entity_key(ref, self.catalogue), "status": self.settings.inactive_status}

    def hook_subject(self, push: PlannedPush[CategoryPush]) -> Category:
        return push.payload.category
