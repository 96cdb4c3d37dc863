"""The assets, checks, jobs and schedules of every registered entity, built from their declarations."""

from __future__ import annotations

from ctfluent_dagster.assets.back_sync import build_back_sync
from ctfluent_dagster.assets.factory import EntityDefinitions, build_entity
from ctfluent_dagster.configuration import load_settings
from ctfluent_dagster.entities import ENTITIES
from ctfluent_dagster.entity import EntityDeclaration

TARGETS = {target.name: target for entity in ENTITIES for target in entity.targets}


def _definitions(entity: EntityDeclaration) -> EntityDefinitions:
    built = build_entity(entity, ENTITIES, load_settings().messages)
    if entity.back_sync is not None:
        built += build_back_sync(entity, entity.back_sync, TARGETS)
    return built


ENTITY_DEFINITIONS: dict[str, EntityDefinitions] = {entity.name: _definitions(entity) for entity in ENTITIES}
