"""The sync's settings as the registered entities make them: the core settings and one section per entity.

The composition of :mod:`ctfluent_dagster.settings` (the core's, which knows no entity) with the registry
(:mod:`ctfluent_dagster.entities`): what the Dagster wiring, the command-line tools and the webhook service read.
"""

from __future__ import annotations

from functools import cache

from ctfluent_dagster.entities import ENTITIES
from ctfluent_dagster.settings import SyncSettings, with_sections


def settings_class() -> type[SyncSettings]:
    """:class:`~ctfluent_dagster.settings.SyncSettings` with a section per registered entity, each with its
    defaults."""
    return with_sections(tuple((entity.name, entity.settings) for entity in ENTITIES))


def read_settings() -> SyncSettings:
    """The settings as the environment and the settings file say now."""
    return settings_class()()


@cache
def load_settings() -> SyncSettings:
    """The settings of this process (read once: the code location and its runs share one environment)."""
    return read_settings()
