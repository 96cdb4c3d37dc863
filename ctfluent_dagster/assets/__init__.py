"""The assets, checks, jobs and schedules of every registered entity, built from their declarations."""

from __future__ import annotations

from ctfluent_dagster.assets.factory import EntityDefinitions, build_changes_job, build_entity
from ctfluent_dagster.configuration import load_settings
from ctfluent_dagster.entities import ENTITIES

ENTITY_DEFINITIONS: dict[str, EntityDefinitions] = {
    entity.name: build_entity(entity, ENTITIES, load_settings().messages) for entity in ENTITIES
}
# One run for the commercetools changes of one tick and day across entities (a category, its products, their
# orders): its steps in dependency order.
CHANGES_JOB = build_changes_job(list(ENTITY_DEFINITIONS.values()))
