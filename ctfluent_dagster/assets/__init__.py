"""The assets, checks, jobs and schedules of every registered entity, built from their declarations."""

from __future__ import annotations

from ctfluent_dagster.assets.factory import EntityDefinitions, build_entity
from ctfluent_dagster.entities import ENTITIES
from ctfluent_dagster.settings import load_settings

TARGETS = {target.name: target for entity in ENTITIES for target in entity.targets}
ENTITY_DEFINITIONS: dict[str, EntityDefinitions] = {
    entity.name: build_entity(entity, TARGETS, load_settings().messages) for entity in ENTITIES
}
