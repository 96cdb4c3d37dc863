"""The assets, checks, jobs and schedules of every registered entity, built from their declarations."""

from __future__ import annotations

from ctfluent_dagster.assets.factory import EntityDefinitions, build_entity
from ctfluent_dagster.configuration import load_settings
from ctfluent_dagster.entities import ENTITIES

ENTITY_DEFINITIONS: dict[str, EntityDefinitions] = {
    entity.name: build_entity(entity, ENTITIES, load_settings().messages) for entity in ENTITIES
}
