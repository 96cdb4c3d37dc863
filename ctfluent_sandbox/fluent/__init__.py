"""Local emulator of the Fluent Commerce API (OAuth token endpoint and GraphQL), see :mod:`.emulator`.

Adding an entity: restate its types and root fields in ``schema.graphql`` and its "Max character limit" values in
``limits.MAX_LENGTHS`` (tests/sandbox/test_fluent_schema_subset.py checks both against the real schema); write a
module like :mod:`.customers` with ``TABLES`` (a ``TableSpec`` per entity, with its unique keys) and ``RESOLVERS``
(``@RESOLVERS.query``/``mutation``/``field``), using the store and :func:`.connections.search`; list the module in
``emulator.MODULES``. Input validation, complexity, all-or-nothing requests, error codes and request targets need
nothing more.
"""

from ctfluent_sandbox.fluent.emulator import FluentEmulator

__all__ = ["FluentEmulator"]
