"""Locations: Fluent locations -> commercetools channels (and, when configured, stores).

What locations offer other entities (inventory):

* :data:`CHANNEL`: the ledger's entity type of a location's channel (an inventory entry waits for the channel of
  its location, referenced by the channel key);
* :func:`synced_location_refs`: which of some Fluent refs are locations this project syncs (of the configured
  networks, with their :class:`LocationSettings`), and :func:`channel_key_of` their channel's key.
"""

from ctfluent_dagster.entities.locations.models import CHANNEL
from ctfluent_dagster.entities.locations.settings import LocationSettings
from ctfluent_dagster.entities.locations.sync import channel_key_of, synced_location_refs

__all__ = ["CHANNEL", "LocationSettings", "channel_key_of", "synced_location_refs"]
