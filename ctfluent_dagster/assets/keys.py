"""The asset keys and ops of an entity's assets, in either direction, and the API pool of each system."""

from dagster import AssetKey

from ctfluent_dagster.entity import EntityDeclaration, Target
from ctfluent_dagster.partitions import COMMERCETOOLS_POOL, FLUENT_POOL

POOLS = {"commercetools": COMMERCETOOLS_POOL, "fluent": FLUENT_POOL}


def source_key(entity: EntityDeclaration) -> AssetKey:
    """``commercetools/<source>`` or, staged, ``fluent/<source>``."""
    return AssetKey([entity.source.system, entity.source.name])


def target_key(entity: EntityDeclaration, target: Target) -> AssetKey:
    """``fluent/<target>`` or ``commercetools/<target>``."""
    return AssetKey([entity.target_system, target.name])


def asset_keys(entity: EntityDeclaration) -> list[AssetKey]:
    """The keys of the entity's assets: its staged source's (when partitioned) and its targets'."""
    sources = [source_key(entity)] if entity.partitioned else []
    return [*sources, *(target_key(entity, t) for t in entity.targets)]


def op_names(entity: EntityDeclaration) -> tuple[str, ...]:
    """The ops of the entity's assets (the run config of its jobs is keyed by them)."""
    return tuple(key.to_python_identifier() for key in asset_keys(entity))
